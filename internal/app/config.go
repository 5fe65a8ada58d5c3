package app

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/filter"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// Config is one run of bpftop-cap, as the command line asks for it. Main
// fills it from the flags; Validate checks it and fills in what follows
// from the rest.
type Config struct {
	Ifaces     []string // interfaces to capture on (-i, or the first word)
	Read       string   // -r: a capture file ("-": stdin)
	Follow     bool     // --follow: -r's file is followed as it grows, as tail -f
	Write      string   // -w: an output file ("-": stdout)
	Format     string   // pcap or pcapng; "" picks by -w's name, or for the live view's w by what there is to keep
	Count      uint64   // -c: stop after this many packets (0: never)
	Snaplen    uint32   // -s
	Direction  string   // -Q: in, out or inout ("": inout, in with XDP)
	NoPromisc  bool     // -p: leave the interfaces' promiscuous mode alone
	ListIfaces bool     // -D: list the interfaces and what they capture as
	XDP        bool     // attach at XDP instead of tc
	TCAttach   string   // auto, tcx or clsact ("": auto)
	EgressAt   string   // auto, tc or xmit ("": auto)
	NoProc     bool     // --no-proc: no process attribution
	Pid        int      // --pid: only this process's packets (procfilter.go)
	Comm       string   // --comm: only the packets of processes of this name
	Cgroup     string   // --cgroup: only the packets of this cgroup v2's processes
	ReadyFile  string   // create once capture is live
	StatsFile  string   // rewrite every second with the counters (developers)
	CPUProfile string   // write a Go CPU profile (developers)
	RingSize   string   // the live view's retention ring
	PerfBuffer string   // perf ring per CPU ("": the mode's default)
	RingBuf    string   // one BPF ring buffer of this size instead of perf rings
	MaxFlows   int      // the live view's flow table
	Nice       int      // scheduling priority while capturing
	NiceGiven  bool     // --nice was on the command line
	Demo       bool     // make a private network and capture on it
	Args       []string // the command line as given (the demo's child gets it again)
	Filter     []string // the filter expression's words
	Version    string   // what --version prints after the name
	Remotes    []string // --remote: capture on these hosts over ssh (remote.go)
	SSH        string   // --ssh: the ssh command line ("": ssh)
	Extcap     Extcap   // Wireshark's extcap flags (extcap.go)

	// Text mode (text.go): packets printed as tcpdump's lines.
	Print        bool // --print: print even with -w
	LineBuffered bool // -l: flush every line (always to a pipe)
	NoResolve    int  // -n, -nn: accepted, names are never looked up
	Verbose      int  // -v count
	LinkHeader   bool // -e
	Quiet        bool // -q
	Hex          int  // -x count (2: from the link-layer header)
	HexASCII     int  // -X count
	ASCII        int  // -A count
	TimeFormat   int  // -t count

	// tcpdump's flags (tcpdump.go):
	ListLinkTypes  bool   // -L: list the link types the interface offers
	LinkType       string // -y: the link type to capture as
	FilterFile     string // -F: the filter expression from a file
	BufferKiB      int    // -B: the kernel buffer in KiB, for all CPUs
	User           string // -Z: the user to become once capturing (as root)
	FileSize       string // -C: rotate -w's file past this size
	FileCount      int    // -W: a ring of files (-C), or stop after (-G)
	RotateSeconds  int    // -G: rotate -w's file every so many seconds
	Precision      string // --time-stamp-precision: nano (""), micro
	PacketBuffered bool   // -U: flush -w's file after every pass
	AbsoluteSeq    bool   // -S: absolute TCP sequence numbers in text output

	rot      rotation        // -C, -W, -G checked
	user     *switchUser     // -Z looked up; nil: stay
	linkType packet.LinkType // -y checked (0: the interface's own)

	prog filter.Program // Filter compiled; nil keeps everything

	remotes    []remoteHost  // --remote checked
	ssh        []string      // --ssh split into words
	input      *os.File      // what -r reads instead of Read: --remote's merged stream
	hostStatus func() string // --remote: the view's word on failed hosts ("" none)
}

// UsageError is a mistake on the command line: one line, exit status 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usageErr(format string, a ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, a...)}
}

// ExitError carries an exit status, with a message or none (the demo's
// child already said why).
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string { return e.Msg }

// Validate checks the configuration and fills in what follows from it:
// the default direction and format, and the interface of the default route
// for the live view given none.
func (c *Config) Validate() error {
	if c.Extcap.On() {
		if done, err := c.validateExtcap(); done || err != nil {
			return err
		}
	}
	if len(c.Remotes) > 0 {
		return c.validateRemote()
	}
	if err := c.validateTcpdump(); err != nil {
		return err
	}
	if err := c.validateProcFilter(); err != nil {
		return err
	}
	if c.Nice < -20 || c.Nice > 19 {
		return usageErr("invalid --nice %d: must be -20 to 19", c.Nice)
	}
	if c.Snaplen < 1 || c.Snaplen > 262144 {
		return usageErr("invalid snapshot length %d: must be 1 to 262144", c.Snaplen)
	}
	switch c.Direction {
	case "":
		c.Direction = "inout"
		if c.XDP {
			c.Direction = "in"
		}
	case "in", "out", "inout":
	default:
		return usageErr("invalid direction %q for -Q: must be in, out or inout", c.Direction)
	}
	if c.XDP && c.Direction != "in" {
		return usageErr("-Q %s with --xdp: XDP sees ingress only; use tc (drop --xdp) for egress", c.Direction)
	}
	switch bpf.TCMode(c.TCAttach) {
	case "":
		c.TCAttach = string(bpf.TCAuto)
	case bpf.TCAuto, bpf.TCX, bpf.TCClsact:
	default:
		return usageErr("invalid --tc-attach %q: must be auto, tcx or clsact", c.TCAttach)
	}
	if err := c.validateEgressAt(); err != nil {
		return err
	}
	if c.Print && c.Write == "-" {
		return usageErr("--print and -w - both write to stdout: write the file elsewhere")
	}
	if c.ListIfaces {
		return nil // -D lists and ends, as tcpdump's
	}
	if c.ListLinkTypes {
		return c.validateListLinkTypes()
	}
	if c.Follow && c.Read == "" {
		return usageErr("--follow follows the file -r reads: give -r FILE")
	}
	if c.Demo {
		if c.Read != "" || len(c.Ifaces) > 0 {
			return usageErr("--demo makes its own interface: drop -i and -r")
		}
		if os.Getenv(demoChildEnv) != "" {
			return usageErr("--demo inside a demo")
		}
		return nil
	}
	if c.Read != "" {
		if len(c.Ifaces) > 0 {
			return usageErr("-r and -i do not go together: read a file or capture on an interface")
		}
		return nil
	}
	switch c.Format {
	case "":
		// The live view's w picks its own (saveFormat); -w by the name.
		if c.Write != "" {
			c.Format = "pcap"
			if strings.HasSuffix(c.Write, ".pcapng") {
				c.Format = "pcapng"
			}
		}
	case "pcap", "pcapng":
	default:
		return usageErr("invalid --format %q: must be pcap or pcapng", c.Format)
	}
	if n, err := parseSize(c.RingSize); err != nil || n < 1<<20 {
		return usageErr("invalid --ring-size %q: want a size of at least 1MiB, such as 64MiB or 1GiB", c.RingSize)
	}
	if c.PerfBuffer != "" {
		if n, err := parseSize(c.PerfBuffer); err != nil || n < 64<<10 || n > 1<<30 || n&(n-1) != 0 {
			return usageErr("invalid --perf-buffer %q: want a power of two from 64KiB to 1GiB, such as 8MiB", c.PerfBuffer)
		}
	}
	if c.RingBuf != "" {
		if n, err := parseSize(c.RingBuf); err != nil || n < 64<<10 || n > 1<<30 || n&(n-1) != 0 {
			return usageErr("invalid --ringbuf %q: want a power of two from 64KiB to 1GiB, such as 64MiB", c.RingBuf)
		}
	}
	if c.MaxFlows < 1 {
		return usageErr("invalid --max-flows %d: must be at least 1", c.MaxFlows)
	}
	if len(c.Ifaces) == 0 && c.Write == "" {
		// The live view with no interface watches the default route's.
		if name := defaultRouteInterface(); name != "" {
			c.Ifaces = []string{name}
		}
	}
	if len(c.Ifaces) == 0 {
		return usageErr("no interface given: bpftop-cap [-i] IFACE (see -h)")
	}
	if err := c.validateAny(); err != nil {
		return err
	}
	return c.validateCaptureTcpdump()
}

// perfBufferBytes is --perf-buffer, or def when not given.
func (c *Config) perfBufferBytes(def int) int {
	if n, err := parseSize(c.PerfBuffer); err == nil && n > 0 {
		return int(n)
	}
	return def
}

// ringBufBytes is --ringbuf, or 0 (the perf rings).
func (c *Config) ringBufBytes() uint32 {
	if n, err := parseSize(c.RingBuf); err == nil && n > 0 {
		return uint32(n)
	}
	return 0
}

// parseSize reads a byte count with an optional KiB/MiB/GiB (or K/M/G) suffix.
func parseSize(s string) (int64, error) {
	num := strings.TrimRight(s, "KMGiBkmgb")
	unit := strings.ToLower(strings.TrimPrefix(s, num))
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	mult := map[string]int64{"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "kb": 1 << 10,
		"m": 1 << 20, "mib": 1 << 20, "mb": 1 << 20, "g": 1 << 30, "gib": 1 << 30, "gb": 1 << 30}[unit]
	if mult == 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

// sizeString writes a byte count the way the size flags take it: 8MiB,
// 512KiB, 1000B.
func sizeString(n int) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.Itoa(n>>30) + "GiB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

// filterText is the filter expression as one string.
func (c *Config) filterText() string { return strings.Join(c.Filter, " ") }

// validateEgressAt checks --egress-at against the rest: the transmit hook
// records egress into the perf rings, and XDP sees no egress.
func (c *Config) validateEgressAt() error {
	switch bpf.EgressHook(c.EgressAt) {
	case "":
		c.EgressAt = string(bpf.EgressAuto)
	case bpf.EgressAuto, bpf.EgressTC:
	case bpf.EgressXmit:
		switch {
		case c.XDP:
			return usageErr("--egress-at xmit with --xdp: XDP sees ingress only; drop --xdp to record egress")
		case c.RingBuf != "":
			return usageErr("--egress-at xmit with --ringbuf: egress at transmit is written to the perf rings; drop --ringbuf")
		}
	default:
		return usageErr("invalid --egress-at %q: must be auto, tc or xmit", c.EgressAt)
	}
	return nil
}
