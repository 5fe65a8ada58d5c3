package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"

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

// Help groups, in the order -h shows them (tcpdump's manual's order).
var groups = []string{"Capture", "Output", "Live view", "Tuning", "Other"}

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

// flags is the flag table, setting cfg (and showVersion).
func flags(cfg *app.Config, showVersion *bool) []flagDef {
	var force bool
	cfg.Snaplen = 262144
	return []flagDef{
		{"i", "IFACE", "Capture", "interface to capture on (also the first word); several: -i a -i b or -i a,b; any: all (with -w)",
			funcFlag(func(v string) error { cfg.Ifaces = append(cfg.Ifaces, splitList(v)...); return nil })},
		{"c", "N", "Capture", "stop after N packets", func(fs *flag.FlagSet, name string) { fs.Uint64Var(&cfg.Count, name, 0, "") }},
		{"s", "SNAPLEN", "Capture", "bytes kept per packet, 1 to 262144 (default 262144)", funcFlag(func(v string) error {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return fmt.Errorf("not a number")
			}
			cfg.Snaplen = uint32(n)
			return nil
		})},
		{"Q", "in|out|inout", "Capture", "direction (default inout; in with --xdp)", strFlag(&cfg.Direction, "")},
		{"p", "", "Capture", "do not put the interface in promiscuous mode", boolFlag(&cfg.NoPromisc)},
		{"D", "", "Capture", "list the interfaces (index, name, state, link type, attach modes) and exit", boolFlag(&cfg.ListIfaces)},
		{"xdp", "", "Capture", "attach at XDP (ingress only) instead of tc", boolFlag(&cfg.XDP)},
		{"tc-attach", "MODE", "Capture", "tc attach mode: auto (tcx on Linux 6.6+, else clsact), tcx or clsact",
			strFlag(&cfg.TCAttach, "auto")},
		{"egress-at", "HOOK", "Capture", "egress recorded at xmit (after the qdisc, as tcpdump), tc (before it) or auto (xmit behind a shaper)",
			strFlag(&cfg.EgressAt, "auto")},
		{"r", "FILE", "Capture", "read a pcap or pcapng file (- for stdin) instead; no root needed", strFlag(&cfg.Read, "")},
		{"demo", "", "Capture", "capture realistic traffic in a private network namespace (root)", boolFlag(&cfg.Demo)},
		{"w", "FILE", "Output", "write to FILE (- for stdout) instead of the live view; overwrites a file", strFlag(&cfg.Write, "")},
		{"format", "pcap|pcapng", "Output", "format for -w and w (default: pcapng for a .pcapng name, else pcap)", strFlag(&cfg.Format, "")},
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
		{"ring-size", "SIZE", "Live view", "bytes of packets kept for the lists and for w (default 64MiB)", strFlag(&cfg.RingSize, "64MiB")},
		{"max-flows", "N", "Live view", "flows kept before the least recently seen goes (default 65536)", intFlag(&cfg.MaxFlows, 65536)},
		{"perf-buffer", "SIZE", "Tuning", "perf ring per CPU, a power of two (default 32MiB with -w, 64MiB for the view)", strFlag(&cfg.PerfBuffer, "")},
		{"ringbuf", "SIZE", "Tuning", "one BPF ring buffer of SIZE for all CPUs instead of perf rings (Linux 5.8+)", strFlag(&cfg.RingBuf, "")},
		{"nice", "N", "Tuning", "scheduling priority while capturing, -20 to 19 (default -10; 0 leaves it)", intFlag(&cfg.Nice, app.DefaultNice)},
		{"version", "", "Other", "print the version", boolFlag(showVersion)},
		{"stats-file", "FILE", "", "rewrite FILE every second with the counters as JSON (developers)", strFlag(&cfg.StatsFile, "")},
		{"cpuprofile", "FILE", "", "write a Go CPU profile (developers)", strFlag(&cfg.CPUProfile, "")},
	}
}

// writeHelp writes -h: the flags by group, then examples.
func writeHelp(w io.Writer) {
	var cfg app.Config
	var v bool
	defs := flags(&cfg, &v)
	fmt.Fprint(w, usageHead+"\n")
	for _, g := range groups {
		fmt.Fprintf(w, "%s:\n", g)
		for _, d := range defs {
			if d.group != g {
				continue
			}
			dash := "-"
			if len(d.name) > 1 {
				dash = "--"
			}
			left := dash + d.name
			if d.arg != "" {
				left += " " + d.arg
			}
			fmt.Fprintf(w, "  %-21s %s\n", left, d.usage)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprint(w, usageExamples)
}
