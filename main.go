// Command bpftop-cap is a live packet inspector built on eBPF: a tc (tcx or
// clsact) or XDP program copies packets into a per-CPU perf ring with
// bpf_perf_event_output, and user space turns them into pcap records.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/capture"
	"github.com/bpftop-cap/bpftop-cap/filter"
)

// version is set with -ldflags "-X main.version=..." by make build.
var version = ""

const usageText = `Usage: bpftop-cap [flags] [-i] IFACE [filter expression]

Capture packets on IFACE with eBPF. With -w, write them to a pcap file
(headless); without it, open the live view.

Flags:
`

// options are the parsed command line.
type options struct {
	iface     string   // the first interface
	ifaces    []string // every interface (-i may repeat or take a comma list)
	read      string
	write     string
	count     uint64
	snaplen   uint
	direction string
	xdp       bool
	tcAttach  string
	force     bool
	readyFile string
	statsFile string
	version   bool
	cpuprof   string
	demo      bool
	args      []string // the command line as given, for the demo's child
	format    string
	ringSize  string
	perfBuf   string
	ringBuf   string
	maxFlows  int
	nice      int
	niceGiven bool // --nice was on the command line
	filter    []string
	prog      filter.Program // filter compiled; nil keeps everything
}

// exitError carries an exit status with a one-line message.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageErr(format string, a ...any) error {
	return &exitError{code: 2, msg: fmt.Sprintf(format, a...)}
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("bpftop-cap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Func("i", "`interface` to capture on (also the first positional argument); repeat -i or give a comma list for several", func(v string) error {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				o.ifaces = append(o.ifaces, name)
			}
		}
		return nil
	})
	fs.StringVar(&o.read, "r", "", "read packets from a pcap or pcapng `file` (- for stdin) instead of an interface; no root needed")
	fs.StringVar(&o.write, "w", "", "write packets to this pcap `file` (- for stdout) instead of opening the live view")
	fs.Uint64Var(&o.count, "c", 0, "stop after `N` packets (0: until interrupted)")
	fs.UintVar(&o.snaplen, "s", 262144, "snapshot length: bytes kept per packet (1-262144; at most 65400 are copied)")
	fs.StringVar(&o.direction, "Q", "", "direction to capture: in, out or inout (default inout; in with --xdp)")
	fs.BoolVar(&o.xdp, "xdp", false, "attach at XDP (ingress only) instead of tc")
	fs.StringVar(&o.tcAttach, "tc-attach", "auto", "how to attach at tc: auto (tcx, else clsact), tcx or clsact")
	fs.BoolVar(&o.force, "force", false, "overwrite an existing output file")
	fs.StringVar(&o.readyFile, "ready-file", "", "create this `file` once capture is live (for scripts and tests)")
	fs.StringVar(&o.format, "format", "", "file format for -w and w: pcap or pcapng (default: pcapng when the name ends in .pcapng, else pcap)")
	fs.StringVar(&o.ringSize, "ring-size", "64MiB", "bytes of packets the live view keeps for saving with w (e.g. 16MiB, 1GiB)")
	fs.StringVar(&o.perfBuf, "perf-buffer", "", "perf ring `size` per CPU (default 32MiB with -w, 64MiB for the live view, less with more CPUs: 64MiB in all with -w, 128MiB for the live view; from 16MiB a 4MiB ring per CPU in front, on top); larger absorbs longer stalls")
	fs.StringVar(&o.ringBuf, "ringbuf", "", "write packets to one BPF ring buffer of `size` (such as 64MiB) shared by all CPUs instead of per-CPU perf rings (Linux 5.8+, 5.18+ with --xdp); --perf-buffer then does not apply")
	fs.IntVar(&o.nice, "nice", capture.DefaultNice, "scheduling priority while capturing, -20 to 19: ahead of the traffic's own programs, so that the rings are read before they fill (0 leaves it; below 0 needs CAP_SYS_NICE)")
	fs.IntVar(&o.maxFlows, "max-flows", 65536, "flows the live view tracks before evicting the least recently seen")
	fs.BoolVar(&o.demo, "demo", false, "make a private network namespace with a veth pair and realistic traffic, and capture it (root)")
	fs.StringVar(&o.statsFile, "stats-file", "", "rewrite this `file` every second with the process's counters and memory use as JSON (soak tests, monitoring)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.StringVar(&o.cpuprof, "cpuprofile", "", "write a Go CPU profile to `file` (for developers)")
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	o.args = append([]string(nil), args...)
	// Flags may come before and after the interface, as with tcpdump.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &exitError{code: 2, msg: ""} // flag already printed why
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	if o.version {
		return o, nil
	}
	fs.Visit(func(f *flag.Flag) { o.niceGiven = o.niceGiven || f.Name == "nice" })
	if o.nice < -20 || o.nice > 19 {
		return nil, usageErr("invalid --nice %d: must be -20 to 19", o.nice)
	}
	// With -r every positional word belongs to the filter expression.
	if o.read == "" && !o.demo && len(o.ifaces) == 0 && len(positional) > 0 {
		o.ifaces, positional = strings.Split(positional[0], ","), positional[1:]
	}
	if len(o.ifaces) > 0 {
		o.iface = o.ifaces[0]
	}
	o.filter = positional
	if o.snaplen < 1 || o.snaplen > 262144 {
		return nil, usageErr("invalid snapshot length %d: must be 1 to 262144", o.snaplen)
	}
	switch o.direction {
	case "":
		o.direction = "inout"
		if o.xdp {
			o.direction = "in"
		}
	case "in", "out", "inout":
	default:
		return nil, usageErr("invalid direction %q for -Q: must be in, out or inout", o.direction)
	}
	if o.xdp && o.direction != "in" {
		return nil, usageErr("-Q %s with --xdp: XDP sees ingress only; use tc (drop --xdp) for egress", o.direction)
	}
	switch bpf.TCMode(o.tcAttach) {
	case bpf.TCAuto, bpf.TCX, bpf.TCClsact:
	default:
		return nil, usageErr("invalid --tc-attach %q: must be auto, tcx or clsact", o.tcAttach)
	}
	if o.demo {
		if o.read != "" || len(o.ifaces) > 0 {
			return nil, usageErr("--demo makes its own interface: drop -i and -r")
		}
		if os.Getenv(demoChildEnv) != "" {
			return nil, usageErr("--demo inside a demo")
		}
		return o, nil
	}
	if o.read != "" {
		if o.iface != "" {
			return nil, usageErr("-r and -i do not go together: read a file or capture on an interface")
		}
		return o, nil
	}
	switch o.format {
	case "":
		o.format = "pcap"
		if strings.HasSuffix(o.write, ".pcapng") {
			o.format = "pcapng"
		}
	case "pcap", "pcapng":
	default:
		return nil, usageErr("invalid --format %q: must be pcap or pcapng", o.format)
	}
	if n, err := parseSize(o.ringSize); err != nil || n < 1<<20 {
		return nil, usageErr("invalid --ring-size %q: want a size of at least 1MiB, such as 64MiB or 1GiB", o.ringSize)
	}
	if o.perfBuf != "" {
		if n, err := parseSize(o.perfBuf); err != nil || n < 64<<10 || n > 1<<30 || n&(n-1) != 0 {
			return nil, usageErr("invalid --perf-buffer %q: want a power of two from 64KiB to 1GiB, such as 8MiB", o.perfBuf)
		}
	}
	if o.ringBuf != "" {
		if n, err := parseSize(o.ringBuf); err != nil || n < 64<<10 || n > 1<<30 || n&(n-1) != 0 {
			return nil, usageErr("invalid --ringbuf %q: want a power of two from 64KiB to 1GiB, such as 64MiB", o.ringBuf)
		}
	}
	if o.maxFlows < 1 {
		return nil, usageErr("invalid --max-flows %d: must be at least 1", o.maxFlows)
	}
	if o.iface == "" && o.write == "" {
		// The live view with no interface watches the default route's.
		if name := defaultRouteInterface(); name != "" {
			o.iface, o.ifaces = name, []string{name}
		}
	}
	if o.iface == "" {
		return nil, usageErr("no interface given: bpftop-cap [-i] IFACE (see -h)")
	}
	return o, nil
}

// perfBufferBytes is --perf-buffer, or def when not given.
func (o *options) perfBufferBytes(def int) int {
	if n, err := parseSize(o.perfBuf); err == nil && n > 0 {
		return int(n)
	}
	return def
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

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		if v != "" {
			return v
		}
	}
	return "devel"
}

func main() {
	watchDemoParent()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil {
		err = noPanic(func() error { return dispatch(o, stdout, stderr) })()
	}
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(stderr, "bpftop-cap: "+ee.msg)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "bpftop-cap: "+userMessage(err))
	return 1
}

func dispatch(o *options, stdout, stderr io.Writer) error {
	if o.version {
		fmt.Fprintln(stdout, "bpftop-cap", versionString())
		return nil
	}
	if len(o.filter) > 0 {
		prog, err := filter.CompileArgs(o.filter, uint32(o.snaplen))
		if err != nil {
			return usageErr("%v", err)
		}
		o.prog = prog
	}
	if o.cpuprof != "" {
		f, err := os.Create(o.cpuprof)
		if err != nil {
			return fmt.Errorf("create CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("start CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if o.demo {
		return runDemo(o, stderr)
	}
	if o.read != "" {
		if o.write == "" {
			return liveFile(o, stdout, stderr)
		}
		return convert(o, stdout, stderr)
	}
	if o.write == "" {
		if o.iface == "" {
			if o.iface = defaultRouteInterface(); o.iface == "" {
				return usageErr("no interface given and no default route: bpftop-cap [-i] IFACE (see -h)")
			}
			o.ifaces = []string{o.iface}
		}
		return live(o, stdout, stderr)
	}
	return headless(o, stdout, stderr)
}

// userMessage adds the remedy to the errors a user can act on.
func userMessage(err error) string {
	msg := err.Error()
	switch {
	case errors.Is(err, capture.ErrPrivileges), errors.Is(err, bpf.ErrPermission):
		msg += "; run as root or grant CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON"
	case errors.Is(err, bpf.ErrUnsupported):
		msg += "; this kernel lacks it (tcx needs Linux 6.6, clsact 4.5, XDP 4.8; try --tc-attach=clsact or drop --xdp)"
	}
	return strings.ReplaceAll(msg, "\n", " ")
}
