package app

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
	"github.com/bpftop-cap/bpftop-cap/packet"
	"github.com/bpftop-cap/bpftop-cap/pcapfile"
)

// packetStart matches the first line of a packet in tcpdump's output:
// its time stamp (more than six digits for a file's invalid microseconds),
// or what tcpdump prints instead of the time or of the packet.
var packetStart = regexp.MustCompile(`^(\d\d:\d\d:\d\d\.\d{6,} |\[Error converting time\]|\[Invalid header)`)

// tcpdumpText runs tcpdump -n -r path with args; its stdout.
func tcpdumpText(t *testing.T, path string, args ...string) string {
	t.Helper()
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		testutil.SkipOrFail(t, "tcpdump not installed: %v", err)
	}
	cmd := exec.Command(tcpdump, append([]string{"-n", "-r", path}, args...)...)
	var out bytes.Buffer
	cmd.Stdout = &out
	_ = cmd.Run() // a file tcpdump gives up on part way still printed its packets
	return out.String()
}

// ourText runs the text mode on path, as -r path does without a terminal.
func ourText(t *testing.T, cfg *Config) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := printFile(cfg, &out, io.Discard)
	return out.String(), err
}

// packets splits text output into packets: each starts with a line
// packetStart matches, and takes the lines after it (tcpdump prints some
// packets on several lines: -v, hex dumps of what it does not decode).
func packets(out string) []string {
	var pk []string
	for _, line := range strings.SplitAfter(out, "\n") {
		switch {
		case line == "":
		case packetStart.MatchString(line) || len(pk) == 0:
			pk = append(pk, line)
		default:
			pk[len(pk)-1] += line
		}
	}
	return pk
}

// keyFields are the fields of a tcpdump line that the text mode must get
// right: the time, the protocol word and the endpoints (everything up to
// the first ": "), and the length (the last "length N", or a DNS
// message's "(N)").
func keyFields(line string) (time, head, length string) {
	line, _, _ = strings.Cut(line, "\n")
	time, rest, _ := strings.Cut(line, " ")
	head, body, _ := strings.Cut(rest, ": ")
	if m := lengthRE.FindAllStringSubmatch(body, -1); len(m) > 0 {
		last := m[len(m)-1]
		length = last[1] + last[2]
	}
	return time, head, length
}

// linkTypeOf is the link type of the capture at path.
func linkTypeOf(t *testing.T, path string) uint32 {
	f, err := pcapfile.OpenFile(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	return f.LinkType & packet.LinkTypeMask
}

// decodedKind reports whether tcpdump printed the packet as one of the
// protocols the text mode decodes as tcpdump does: TCP, UDP, ICMP, ICMPv6,
// DNS and ARP (the others are printed by name and length, or as
// ip-proto-N, and only counted).
func decodedKind(pk string) bool {
	line, _, _ := strings.Cut(pk, "\n")
	_, rest, _ := strings.Cut(line, " ")
	head, body, _ := strings.Cut(rest, ": ")
	switch {
	case strings.HasPrefix(head, "ARP, "):
		return true
	case !strings.HasPrefix(head, "IP ") && !strings.HasPrefix(head, "IP6 "):
		return false
	case strings.HasPrefix(body, "Flags ["), strings.HasPrefix(body, "UDP, "),
		strings.HasPrefix(body, "ICMP "), strings.HasPrefix(body, "ICMP6, "):
		return true
	}
	return dnsLine.MatchString(line)
}

var dnsLine = regexp.MustCompile(`\.53: \d+.* \(\d+\)$`)

var lengthRE = regexp.MustCompile(`length:? (\d+)|\((\d+)\)$`)

// TestTextCorpus prints every capture of tcpdump's test corpus and
// compares with tcpdump -n -r: as many packets on each (tcpdump prints
// some on several lines: packets, not lines, are counted, each starting
// with its time), and on the IP and ARP packets the time, the protocol,
// the addresses and ports and the length equal.
func TestTextCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tcpdump on the whole corpus")
	}
	t.Setenv("TZ", "UTC")
	dir := testutil.Corpus(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("corpus: %v", err)
	}
	var compared, agreed, countOK, otherIP, otherAgreed, ethCompared, ethAgreed int
	var disagree []string
	for _, f := range files {
		want := packets(tcpdumpText(t, f))
		out, err := ourText(t, &Config{Read: f, Snaplen: 262144})
		got := packets(out)
		if len(got) != len(want) {
			t.Errorf("%s: %d packets printed, tcpdump %d (%v)", filepath.Base(f), len(got), len(want), err)
			continue
		}
		countOK++
		eth := linkTypeOf(t, f) == 1
		for i := range want {
			wt, wh, wl := keyFields(want[i])
			gt, gh, gl := keyFields(got[i])
			same := wt == gt && wh == gh && wl == gl
			if !decodedKind(want[i]) {
				if strings.HasPrefix(wh, "IP") {
					otherIP++
					if same {
						otherAgreed++
					}
				}
				continue
			}
			compared++
			if eth {
				ethCompared++
			}
			if same {
				agreed++
				if eth {
					ethAgreed++
				}
			} else {
				disagree = append(disagree, filepath.Base(f)+"\n  tcpdump: "+strings.TrimSpace(want[i])+"\n  ours:    "+strings.TrimSpace(got[i]))
			}
		}
	}
	rate := float64(agreed) / float64(max(compared, 1))
	t.Logf("%d of %d files: as many packets as tcpdump", countOK, len(files))
	t.Logf("TCP, UDP, ICMP, DNS and ARP packets: %d of %d (%.2f%%) agree on time, protocol, endpoints and length", agreed, compared, 100*rate)
	ethRate := float64(ethAgreed) / float64(max(ethCompared, 1))
	t.Logf("of which in Ethernet captures: %d of %d (%.2f%%)", ethAgreed, ethCompared, 100*ethRate)
	t.Logf("other IP packets (protocols printed by name only): %d of %d agree", otherAgreed, otherIP)
	if os.Getenv("TEXT_DISAGREE") != "" {
		for _, d := range disagree {
			t.Log(d)
		}
	}
	if rate < minAgreement || ethRate < minEthernetAgreement {
		t.Errorf("agreement %.2f%% (Ethernet %.2f%%) below %.0f%% (%.0f%%); TEXT_DISAGREE=1 lists the packets",
			100*rate, 100*ethRate, 100*minAgreement, 100*minEthernetAgreement)
	}
}

// TestTextFlags compares the output of the flags that shape the lines
// with tcpdump's, byte for byte: the hex and ASCII dumps (-x, -xx, -X,
// -XX, -A, -AA), the link-layer header (-e), the time formats (-t to
// -ttttt), -q and -v's IP header.
func TestTextFlags(t *testing.T) {
	t.Setenv("TZ", "UTC")
	dir := testutil.Corpus(t)
	files := []string{"dns_udp.pcap", "ipv4_tcp_http_xml.pcap", "icmp-rfc8335.pcap", "802.1ad_QinQ.pcap",
		"arp-too-long-tha.pcap", "icmpv6-ra-pref64.pcap", "gso-ipv6.pcap", "bfd-sbfd.pcap", "dns_tcp.pcap"}
	for _, tc := range []struct {
		args  []string
		set   func(*Config)
		files []string // nil: all of files
	}{
		{[]string{"-x"}, func(c *Config) { c.Hex = 1 }, nil},
		{[]string{"-xx"}, func(c *Config) { c.Hex = 2 }, nil},
		{[]string{"-X"}, func(c *Config) { c.HexASCII = 1 }, nil},
		{[]string{"-XX"}, func(c *Config) { c.HexASCII = 2 }, nil},
		{[]string{"-A"}, func(c *Config) { c.ASCII = 1 }, nil},
		{[]string{"-AA"}, func(c *Config) { c.ASCII = 2 }, nil},
		{[]string{"-e"}, func(c *Config) { c.LinkHeader = true }, nil},
		{[]string{"-t"}, func(c *Config) { c.TimeFormat = 1 }, nil},
		{[]string{"-tt"}, func(c *Config) { c.TimeFormat = 2 }, nil},
		{[]string{"-ttt"}, func(c *Config) { c.TimeFormat = 3 }, nil},
		{[]string{"-tttt"}, func(c *Config) { c.TimeFormat = 4 }, nil},
		{[]string{"-ttttt"}, func(c *Config) { c.TimeFormat = 5 }, nil},
		{[]string{"-q"}, func(c *Config) { c.Quiet = true }, nil},
		{[]string{"-c", "3", "udp"}, func(c *Config) { c.Count = 3; c.Filter = []string{"udp"} }, nil},
		// -v's IP header fields and transport checksums; what tcpdump -v
		// adds beyond (HTTP headers, ICMPv6 options) is not printed.
		{[]string{"-v"}, func(c *Config) { c.Verbose = 1 },
			[]string{"dns_udp.pcap", "bfd-sbfd.pcap", "gso-ipv6.pcap", "802.1ad_QinQ.pcap", "icmp-rfc8335.pcap", "dns_tcp.pcap"}},
		{[]string{"-v", "tcp"}, func(c *Config) { c.Verbose = 1; c.Filter = []string{"tcp"} }, []string{"dns_tcp.pcap"}},
	} {
		names := files
		if tc.files != nil {
			names = tc.files
		}
		for _, name := range names {
			path := filepath.Join(dir, name)
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			want := tcpdumpText(t, path, tc.args...)
			cfg := &Config{Read: path, Snaplen: 262144}
			tc.set(cfg)
			got, err := ourText(t, cfg)
			if err != nil {
				t.Errorf("%v %s: %v", tc.args, name, err)
				continue
			}
			if got != want {
				t.Errorf("%v %s differs from tcpdump's:\n%s", tc.args, name, firstDiff(got, want))
			}
		}
	}
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n  ours:    " + strconv.Quote(gl) + "\n  tcpdump: " + strconv.Quote(wl)
		}
	}
	return ""
}
