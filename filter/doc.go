// Package filter compiles pcap-filter expressions (the tcpdump syntax) for
// Ethernet frames and the other link types of Linux captures and saved
// files (Linux cooked, raw IP, BSD loopback, PPP: link.go) to classic BPF,
// runs classic BPF in user space, and translates classic BPF to an eBPF
// subprogram that the bpf package splices into the capture program, so the
// filter runs in the kernel.
//
// It owns:
//   - the classic BPF instruction set ([Instruction], [Program]) and its
//     disassembly in the format of tcpdump -d;
//   - the expression compiler ([Compile], [CompileArgs], per link type
//     [CompileLink], [CompileFile], for the kernel filter on tc
//     [CompileLiveTC], where vlan reads the tag the kernel moved into the
//     packet's metadata, vlan.go) and its errors ([SyntaxError],
//     [ErrRejectsAll]; mpls, pppoes and geneve move the offsets of what
//     follows, encap.go and geneve.go; protochain walks IPv6 extension
//     headers unrolled, protochain.go), with a port of libpcap's
//     optimizer (opt.go):
//     verdicts on truncated packets depend on the loads it removes, so
//     ours are those of libpcap's optimized code;
//   - the user-space matcher ([Program.Match]), which gives the same verdicts
//     as the kernel and libpcap;
//   - the partial matcher ([Program.MatchPartial]), which tells whether a
//     verdict holds whatever the bits of a packet it does not know (used
//     to match a flow's key against an expression);
//   - the classic-to-eBPF translator ([ToEBPF]) and the calling contract of
//     the subprogram it emits.
//
// The package is pure and portable: no cgo, no libpcap, no I/O, no
// goroutines, no package-level mutable state. Its non-test code imports the
// standard library and github.com/cilium/ebpf/asm only; it must not import
// github.com/cilium/ebpf itself, gopacket, golang.org/x/net/bpf, or any other
// package of this module. Tests may use gopacket, cilium/ebpf and tcpdump.
package filter
