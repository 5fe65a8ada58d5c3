package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/bpftop-cap/bpftop-cap/internal/app"
)

// flagDef is one flag: where it goes in the help (group "" hides it: the
// developers' flags) and how it is defined on a FlagSet.
type flagDef struct {
	name, arg, group, usage string
	define                  func(fs *flag.FlagSet, name string)
}

func strFlag(p *string, def string) func(*flag.FlagSet, string) {
	return func(fs *flag.FlagSet, name string) { fs.StringVar(p, name, def, "") }
}

func boolFlag(p *bool) func(*flag.FlagSet, string) {
	return func(fs *flag.FlagSet, name string) { fs.BoolVar(p, name, false, "") }
}

func intFlag(p *int, def int) func(*flag.FlagSet, string) {
	return func(fs *flag.FlagSet, name string) { fs.IntVar(p, name, def, "") }
}

func funcFlag(fn func(string) error) func(*flag.FlagSet, string) {
	return func(fs *flag.FlagSet, name string) { fs.Func(name, "", fn) }
}

// funcBoolFlag calls fn each time the flag is given; it takes no value.
func funcBoolFlag(fn func()) func(*flag.FlagSet, string) {
	return func(fs *flag.FlagSet, name string) {
		fs.BoolFunc(name, "", func(v string) error {
			if v != "true" {
				return fmt.Errorf("takes no value")
			}
			fn()
			return nil
		})
	}
}

// Help groups, in the order -h shows them (tcpdump's manual's order).
var groups = []string{"Capture", "Output", "Compatibility", "Live view", "Tuning", "Other"}

const usageHead = `Usage: bpftop-cap [flags] [-i] IFACE [filter expression]
       bpftop-cap -r FILE [flags] [filter expression]
       bpftop-cap --demo

Capture packets with eBPF and show them in a live view, or write them to a
pcap or pcapng file (-w). The filter is a pcap-filter expression, as for
tcpdump, run in the kernel.
`

const usageExamples = `Examples:
  sudo bpftop-cap eth0                            the live view of eth0
  sudo bpftop-cap -i eth0 -w dns.pcapng port 53   DNS traffic to a file
  bpftop-cap -r dns.pcapng udp and host 10.0.0.1  a saved capture, filtered
`

// flags is the flag table, setting cfg (and m). A name may have
// aliases after a "|" (tcpdump's long names): -h, the man page and the
// completions show them too.
func flags(cfg *app.Config, m *mainFlags) []flagDef {
	var force, ignored bool
	cfg.Snaplen = 262144
	return []flagDef{
		{"i|interface", "IFACE", "Capture", "interface to capture on (also the first word); several: -i a -i b or -i a,b; any: all (with -w)",
			funcFlag(func(v string) error { cfg.Ifaces = append(cfg.Ifaces, splitList(v)...); return nil })},
		{"c", "N", "Capture", "stop after N packets", func(fs *flag.FlagSet, name string) { fs.Uint64Var(&cfg.Count, name, 0, "") }},
		{"s|snapshot-length", "SNAPLEN", "Capture", "bytes kept per packet, 1 to 262144; 0: 262144 (the default)", funcFlag(func(v string) error {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return fmt.Errorf("not a number")
			}
			if n == 0 {
				n = 262144 // tcpdump's -s 0
			}
			cfg.Snaplen = uint32(n)
			return nil
		})},
		{"Q|direction", "in|out|inout", "Capture", "direction (default inout; in with --xdp)", strFlag(&cfg.Direction, "")},
		{"p|no-promiscuous-mode", "", "Capture", "do not put the interface in promiscuous mode", boolFlag(&cfg.NoPromisc)},
		{"D|list-interfaces", "", "Capture", "list the interfaces (index, name, state, link type, attach modes) and exit", boolFlag(&cfg.ListIfaces)},
		{"L|list-data-link-types", "", "Capture", "list the link types the interface can be captured as, and exit", boolFlag(&cfg.ListLinkTypes)},
		{"y|linktype", "TYPE", "Capture", "link type to capture as, from -L (EN10MB for Ethernet)", strFlag(&cfg.LinkType, "")},
		{"F", "FILE", "Capture", "the filter expression from FILE (# starts a comment), none on the command line", strFlag(&cfg.FilterFile, "")},
		{"B|buffer-size", "KiB", "Capture", "kernel buffer in KiB, for all CPUs: sets --perf-buffer to its share per CPU", intFlag(&cfg.BufferKiB, 0)},
		{"xdp", "", "Capture", "attach at XDP (ingress only) instead of tc", boolFlag(&cfg.XDP)},
		{"tc-attach", "MODE", "Capture", "tc attach mode: auto (tcx on Linux 6.6+, else clsact), tcx or clsact",
			strFlag(&cfg.TCAttach, "auto")},
		{"egress-at", "HOOK", "Capture", "egress recorded at xmit (after the qdisc, as tcpdump), tc (before it) or auto (xmit behind a shaper)",
			strFlag(&cfg.EgressAt, "auto")},
		{"no-proc", "", "Capture", "do not name the process of each packet (cgroup socket hooks, sock_diag at start)", boolFlag(&cfg.NoProc)},
		{"pid", "PID", "Capture", "only the packets of process PID (and its threads), dropped in the kernel", intFlag(&cfg.Pid, 0)},
		{"comm", "NAME", "Capture", "only the packets of processes named NAME (as ps -o comm shows, 15 bytes)", strFlag(&cfg.Comm, "")},
		{"cgroup", "PATH|ID", "Capture", "only the packets of processes in cgroup v2 PATH (or below it), or in container ID", strFlag(&cfg.Cgroup, "")},
		{"r", "FILE", "Capture", "read a pcap or pcapng file (- for stdin) instead; no root needed", strFlag(&cfg.Read, "")},
		{"follow", "", "Capture", "with -r FILE: follow it as it grows, as tail -f, until Ctrl-C (the view does while a process writes it)", boolFlag(&cfg.Follow)},
		{"Z|relinquish-privileges", "USER", "Capture", "as root, become USER (and its group) once capturing, the output file then USER's", strFlag(&cfg.User, "")},
		{"demo", "", "Capture", "capture realistic traffic in a private network namespace (root)", boolFlag(&cfg.Demo)},
		{"remote", "[USER@]HOST[:PORT]", "Capture", "capture on HOST over ssh (sudo -n there unless root; copied there if missing); again for more hosts",
			funcFlag(func(v string) error { cfg.Remotes = append(cfg.Remotes, v); return nil })},
		{"ssh", "COMMAND", "Capture", "the ssh command line --remote runs (default ssh), as rsync -e", strFlag(&cfg.SSH, "")},
		{"w", "FILE", "Output", "write to FILE (- for stdout) instead of the live view; overwrites a file", strFlag(&cfg.Write, "")},
		{"C", "SIZE", "Output", "with -w: a new file past SIZE million bytes (SIZEk, m, g: KiB, MiB, GiB): FILE, FILE1, ...",
			strFlag(&cfg.FileSize, "")},
		{"W", "N", "Output", "with -C: a ring of N files (FILE0 to FILE<N-1>); with -G: stop after N files", intFlag(&cfg.FileCount, 0)},
		{"G", "SECONDS", "Output", "with -w: a new file every SECONDS, named by FILE as a strftime format (dump-%H%M%S.pcap)", intFlag(&cfg.RotateSeconds, 0)},
		{"format", "pcap|pcapng", "Output", "format for -w and w (default: pcapng for a .pcapng name, else pcap)", strFlag(&cfg.Format, "")},
		{"time-stamp-precision", "micro|nano", "Output", "time stamps in files (default nano; micro: the classic pcap, for old readers)", strFlag(&cfg.Precision, "")},
		{"micro", "", "Output", "--time-stamp-precision=micro", funcBoolFlag(func() { cfg.Precision = "micro" })},
		{"nano", "", "Output", "--time-stamp-precision=nano", funcBoolFlag(func() { cfg.Precision = "nano" })},
		{"U|packet-buffered", "", "Output", "packet-buffered -w: the rings read every 200 ms at least, the file written after each read", boolFlag(&cfg.PacketBuffered)},
		{"ready-file", "FILE", "Output", "create FILE (holding the PID) once capture is live", strFlag(&cfg.ReadyFile, "")},
		{"force", "", "Output", "accepted for old scripts: -w overwrites anyway", boolFlag(&force)},
		{"print", "", "Output", "print each packet as a line even with -w (text mode is on without a terminal)", boolFlag(&cfg.Print)},
		{"l", "", "Output", "flush each line (always to a pipe)", boolFlag(&cfg.LineBuffered)},
		{"n", "", "Output", "accepted (-nn too): addresses and ports are never resolved to names", countFlag(&cfg.NoResolve)},
		{"v", "", "Output", "more on each line: the IP header's fields (-vv: more)", countFlag(&cfg.Verbose)},
		{"e", "", "Output", "print the link-layer header: MACs, ethertype, VLAN", boolFlag(&cfg.LinkHeader)},
		{"q", "", "Output", "quiet: less protocol detail on each line", boolFlag(&cfg.Quiet)},
		{"t", "", "Output", "-t no time, -tt seconds since 1970, -ttt since the previous packet, -tttt date and time, -ttttt since the first", countFlag(&cfg.TimeFormat)},
		{"x", "", "Output", "hex of each packet after its line, from the network header (-xx: the link header)", countFlag(&cfg.Hex)},
		{"X", "", "Output", "hex and ASCII of each packet (-XX: from the link header)", countFlag(&cfg.HexASCII)},
		{"A", "", "Output", "ASCII of each packet (-AA: from the link header)", countFlag(&cfg.ASCII)},
		{"K|dont-verify-checksums", "", "Compatibility", "accepted: checksums are not verified", boolFlag(&ignored)},
		{"N", "", "Compatibility", "accepted: host names are never printed", boolFlag(&ignored)},
		{"S|absolute-tcp-sequence-numbers", "", "Compatibility", "TCP sequence numbers as they are, not relative to the first", boolFlag(&cfg.AbsoluteSeq)},
		{"immediate-mode", "", "Compatibility", "accepted: packets are read as they come", boolFlag(&ignored)},
		{"ring-size", "SIZE", "Live view", "bytes of packets kept for the lists and for w (default 64MiB)", strFlag(&cfg.RingSize, "64MiB")},
		{"max-flows", "N", "Live view", "flows kept before the least recently seen goes (default 65536)", intFlag(&cfg.MaxFlows, 65536)},
		{"perf-buffer", "SIZE", "Tuning", "perf ring per CPU, a power of two (default 32MiB with -w, 64MiB for the view)", strFlag(&cfg.PerfBuffer, "")},
		{"ringbuf", "SIZE", "Tuning", "one BPF ring buffer of SIZE for all CPUs instead of perf rings (Linux 5.8+)", strFlag(&cfg.RingBuf, "")},
		{"nice", "N", "Tuning", "scheduling priority while capturing, -20 to 19 (default -10; 0 leaves it)", intFlag(&cfg.Nice, app.DefaultNice)},
		{"h|help", "", "Other", "print this help", boolFlag(&ignored)},
		{"version", "", "Other", "print the version", boolFlag(&m.version)},
		// Wireshark's extcap protocol (internal/app/extcap.go): Wireshark
		// types these, so -h leaves them out; the README names them.
		{"extcap-interfaces", "", "", "list the extcap interfaces (Wireshark)", boolFlag(&cfg.Extcap.Interfaces)},
		{"extcap-version", "VERSION", "", "Wireshark's version (Wireshark)", strFlag(&cfg.Extcap.Version, "")},
		{"extcap-interface", "bpftop-cap:IFACE", "", "the extcap interface asked about or captured on (Wireshark)", strFlag(&cfg.Extcap.Interface, "")},
		{"extcap-dlts", "", "", "list the extcap interface's link type (Wireshark)", boolFlag(&cfg.Extcap.DLTs)},
		{"extcap-config", "", "", "list the extcap interface's settings (Wireshark)", boolFlag(&cfg.Extcap.Config)},
		{"extcap-capture-filter", "EXPR", "", "the capture filter; without --capture, check it (Wireshark)",
			funcFlag(func(v string) error { cfg.Extcap.Filter, cfg.Extcap.FilterGiven = v, true; return nil })},
		{"capture", "", "", "capture on the extcap interface to --fifo (Wireshark)", boolFlag(&cfg.Extcap.Capture)},
		{"fifo", "PATH", "", "the FIFO an extcap capture writes pcapng to (Wireshark)", strFlag(&cfg.Extcap.Fifo, "")},
		{"extcap-control-in", "PATH", "", "Wireshark's control pipe: held open, unread (Wireshark)", strFlag(&cfg.Extcap.ControlIn, "")},
		{"extcap-control-out", "PATH", "", "the control pipe to Wireshark: not used (Wireshark)", strFlag(&cfg.Extcap.ControlOut, "")},
		{"extcap-hook", "tc|xmit|xdp", "", "an extcap capture's hook: tc, tc with egress at xmit, or XDP (Wireshark)", strFlag(&cfg.Extcap.Hook, "")},
		{"stats-file", "FILE", "", "rewrite FILE every second with the counters as JSON (developers)", strFlag(&cfg.StatsFile, "")},
		{"cpuprofile", "FILE", "", "write a Go CPU profile (developers)", strFlag(&cfg.CPUProfile, "")},
		{"man-page", "", "", "write the man page (make man)", boolFlag(&m.man)},
		{"completion", "bash|zsh", "", "write a shell completion script (make man)", strFlag(&m.completion, "")},
	}
}

// mainFlags are the flags main acts on itself.
type mainFlags struct {
	version    bool
	man        bool   // --man-page
	completion string // --completion bash|zsh
}

// names are a row's names: the first, then its aliases.
func (d flagDef) names() []string { return strings.Split(d.name, "|") }

// dashed is a flag name as typed: -c, --xdp.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// synopsis is a row as -h shows it: -s, --snapshot-length SNAPLEN.
func (d flagDef) synopsis() string {
	var names []string
	for _, n := range d.names() {
		names = append(names, dashed(n))
	}
	s := strings.Join(names, ", ")
	if d.arg != "" {
		s += " " + d.arg
	}
	return s
}

// table is the flag table with nothing set by it, for the help, the man
// page and the completions.
func table() []flagDef {
	var cfg app.Config
	var m mainFlags
	return flags(&cfg, &m)
}

// writeHelp writes -h: the flags by group, then examples.
func writeHelp(w io.Writer) {
	defs := table()
	fmt.Fprint(w, usageHead+"\n")
	for _, g := range groups {
		fmt.Fprintf(w, "%s:\n", g)
		for _, d := range defs {
			if d.group != g {
				continue
			}
			left := d.synopsis()
			if len(left) > 20 {
				fmt.Fprintf(w, "  %s\n  %-21s %s\n", left, "", d.usage)
				continue
			}
			fmt.Fprintf(w, "  %-21s %s\n", left, d.usage)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprint(w, usageExamples)
}
