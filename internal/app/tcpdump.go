package app

import (
	"bytes"
	"fmt"
	"io"
	"math/bits"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/bpftop-cap/bpftop-cap/capture"
	"github.com/bpftop-cap/bpftop-cap/packet"
	"github.com/bpftop-cap/bpftop-cap/pcapfile"
)

// validateTcpdump checks the flags taken from tcpdump and fills in what
// follows from them: the filter of -F, the perf rings of -B, the files of
// -C, -W and -G, the user of -Z.
func (c *Config) validateTcpdump() error {
	if c.FilterFile != "" {
		if len(c.Filter) > 0 {
			return usageErr("-F %s gives the filter expression: drop %q after the flags", c.FilterFile, strings.Join(c.Filter, " "))
		}
		b, err := os.ReadFile(c.FilterFile)
		if err != nil {
			return fmt.Errorf("read filter file: %w", err)
		}
		if c.Filter, err = filterFileWords(b); err != nil {
			return fmt.Errorf("filter file %s: %w", c.FilterFile, err)
		}
	}
	switch c.Precision {
	case "", "nano", "micro":
	default:
		return usageErr("invalid --time-stamp-precision %q: must be micro or nano", c.Precision)
	}
	if err := c.bufferSize(); err != nil {
		return err
	}
	if err := c.validateRotation(); err != nil {
		return err
	}
	if c.LinkType != "" && c.Read != "" {
		return usageErr("-y chooses the link type of a capture; a file read with -r has its own")
	}
	return c.lookupUser()
}

// filterFileWords is the filter expression of a -F file: its words, a #
// starting a comment to the end of its line (as tcpdump reads it).
func filterFileWords(b []byte) ([]string, error) {
	if bytes.IndexByte(b, 0) >= 0 {
		return nil, fmt.Errorf("a NUL byte in the expression")
	}
	var words []string
	for _, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		words = append(words, strings.Fields(line)...)
	}
	return words, nil
}

// bufferSize turns -B (KiB for the whole capture, as tcpdump's buffer for
// an interface) into the perf rings' size per CPU: the share of each CPU,
// up to a power of two.
func (c *Config) bufferSize() error {
	switch {
	case c.BufferKiB == 0:
		return nil
	case c.BufferKiB < 0:
		return usageErr("invalid buffer size %d for -B: KiB, more than 0", c.BufferKiB)
	case c.PerfBuffer != "" || c.RingBuf != "":
		return usageErr("-B sets the size of the perf rings: give it, --perf-buffer or --ringbuf, not two")
	}
	c.PerfBuffer = sizeString(perCPUBuffer(int64(c.BufferKiB)<<10, runtime.NumCPU()))
	return nil
}

// perCPUBuffer is total's share of each of n CPUs, up to a power of two
// from 64KiB to 1GiB (what --perf-buffer takes).
func perCPUBuffer(total int64, n int) int {
	share := (total + int64(n) - 1) / int64(n)
	switch {
	case share <= 64<<10:
		return 64 << 10
	case share >= 1<<30:
		return 1 << 30
	}
	return 1 << bits.Len64(uint64(share-1))
}

// linkTypeDOCSIS is DLT_DOCSIS, which libpcap offers on every Ethernet
// interface: the frames as they are, the file saying DOCSIS (for DOCSIS
// frames a cable modem termination system sends to a capture host).
const linkTypeDOCSIS packet.LinkType = 143

// offeredLinkTypes are the link types an interface can be captured as,
// the first its own, as tcpdump -L lists them: DOCSIS too on Ethernet but
// loopback; -i any: LINUX_SLL2 only, where libpcap offers LINUX_SLL too.
func offeredLinkTypes(name string) ([]packet.LinkType, error) {
	if name == capture.AnyName {
		return []packet.LinkType{packet.LinkTypeSLL2}, nil
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("no such interface: %q", name)
	}
	lt := capture.LinkTypeOf(ifi)
	if lt == packet.LinkTypeEthernet && ifi.Flags&net.FlagLoopback == 0 { // libpcap: not on loopback
		return []packet.LinkType{lt, linkTypeDOCSIS}, nil
	}
	return []packet.LinkType{lt}, nil
}

// linkTypeName is the name -y takes and -L prints (EN10MB), and what
// follows it there.
func linkTypeName(lt packet.LinkType) (name, rest string) {
	if lt == linkTypeDOCSIS {
		return "DOCSIS", "(DOCSIS) (printing not supported)"
	}
	name, rest, _ = strings.Cut(lt.Name(), " ")
	return name, rest
}

// fileLinkTypeName is lt as the first line names it: EN10MB (Ethernet).
func fileLinkTypeName(lt packet.LinkType) string {
	if lt == linkTypeDOCSIS {
		return "DOCSIS (DOCSIS)"
	}
	return lt.Name()
}

// validateListLinkTypes checks -L: an interface to list (the default
// route's, given none).
func (c *Config) validateListLinkTypes() error {
	if len(c.Ifaces) == 0 {
		if name := defaultRouteInterface(); name != "" {
			c.Ifaces = []string{name}
		}
	}
	if len(c.Ifaces) == 0 {
		return usageErr("no interface given for -L: bpftop-cap -L -i IFACE")
	}
	return nil
}

// listLinkTypes is -L, in tcpdump's words.
func listLinkTypes(cfg *Config, stdout io.Writer) error {
	for _, name := range cfg.Ifaces {
		lts, err := offeredLinkTypes(name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Data link types for %s (use option -y to set):\n", name)
		for _, lt := range lts {
			n, rest := linkTypeName(lt)
			fmt.Fprintf(stdout, "  %s %s\n", n, rest)
		}
	}
	return nil
}

// validateCaptureTcpdump checks, for a capture on interfaces, -y and the
// time stamp precision.
func (c *Config) validateCaptureTcpdump() error {
	if c.micro() && c.Format == "pcapng" {
		return usageErr("--time-stamp-precision=micro writes pcap's classic format; pcapng is written in nanoseconds, which its readers all take")
	}
	return c.validateLinkType()
}

// validateLinkType checks -y against what the interfaces offer.
func (c *Config) validateLinkType() error {
	if c.LinkType == "" {
		return nil
	}
	want := strings.ToUpper(strings.TrimPrefix(strings.ToUpper(c.LinkType), "DLT_"))
	for _, name := range c.Ifaces {
		lts, err := offeredLinkTypes(name)
		if err != nil {
			return err
		}
		var names []string
		found := false
		for _, lt := range lts {
			n, _ := linkTypeName(lt)
			names = append(names, n)
			if n == want {
				found = true
				c.linkType = lt
			}
		}
		if !found {
			return usageErr("-y %s: %s is captured as %s (see -L)", c.LinkType, name, strings.Join(names, " or "))
		}
	}
	if c.linkType == linkTypeDOCSIS {
		switch {
		case c.Write == "":
			return usageErr("-y DOCSIS writes the frames as DOCSIS with -w; the live view shows Ethernet")
		case len(c.Filter) > 0:
			return usageErr("DOCSIS link-layer type filtering not implemented") // as libpcap
		case len(c.Ifaces) > 1 && c.Format == "pcap":
			return usageErr("-y DOCSIS on several interfaces: one at a time")
		}
	}
	return nil
}

// fileLinkType is the link type -w writes for an interface captured as lt:
// DOCSIS where -y asks for it, else lt.
func (c *Config) fileLinkType(lt packet.LinkType) packet.LinkType {
	if c.linkType == linkTypeDOCSIS && lt == packet.LinkTypeEthernet {
		return linkTypeDOCSIS
	}
	return lt
}

// micro reports whether files get microsecond time stamps.
func (c *Config) micro() bool { return c.Precision == "micro" }

// validateRotation checks -C, -W and -G.
func (c *Config) validateRotation() error {
	var r rotation
	if c.FileSize != "" {
		n, err := parseFileSize(c.FileSize)
		if err != nil {
			return usageErr("invalid file size %q for -C: a number of million bytes, or with k, m or g (KiB, MiB, GiB)", c.FileSize)
		}
		r.size = n
	}
	if c.RotateSeconds < 0 {
		return usageErr("invalid rotation seconds %d for -G", c.RotateSeconds)
	}
	r.every = time.Duration(c.RotateSeconds) * time.Second
	if c.FileCount < 0 {
		return usageErr("invalid number of output files %d for -W", c.FileCount)
	}
	r.count = c.FileCount
	switch {
	case r.count > 0 && !r.on():
		return usageErr("-W needs -C or -G")
	case !r.on():
	case c.Write == "":
		return usageErr("-C and -G rotate -w's file: give -w FILE")
	case c.Write == "-":
		return usageErr("-C and -G rotate -w's file: not stdout")
	}
	c.rot = r
	return nil
}

// parseFileSize is -C: millions of bytes, or KiB, MiB or GiB with k, m or
// g after the number (as tcpdump 4.99.4 and later take it).
func parseFileSize(s string) (int64, error) {
	mult := int64(1_000_000)
	switch s[len(s)-1] {
	case 'k', 'K':
		mult, s = 1<<10, s[:len(s)-1]
	case 'm', 'M':
		mult, s = 1<<20, s[:len(s)-1]
	case 'g', 'G':
		mult, s = 1<<30, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || n > (1<<50)/mult {
		return 0, fmt.Errorf("bad size")
	}
	return n * mult, nil
}

// newPcapWriter starts a pcap file in the precision asked for.
func (c *Config) newPcapWriter(w io.Writer, snaplen, linkType uint32) (*pcapfile.PcapWriter, error) {
	if c.micro() {
		return pcapfile.NewPcapWriterMicro(w, snaplen, linkType)
	}
	return pcapfile.NewPcapWriter(w, snaplen, linkType)
}
