// Package bpf owns bpftop-cap's kernel side: the C source of the tc (tcx or
// clsact) and XDP capture programs and of the transmit hook (a tracing
// program on net_dev_start_xmit recording egress after the qdisc), the bpf2go bindings and objects generated
// from it (committed, so building needs Go alone), loading them with their
// load-time constants, attaching them to an interface, reading the per-CPU
// counters and the kernel flow table (the live view's flow counts, kept
// exact when a ring overflows), and parsing the bpf_pcap_hdr records they
// emit.
//
// It imports cilium/ebpf, netlink, filter (the compiled filter it loads)
// and packet. It must not import capture, pcapfile, decode, ui,
// internal/app or main; generated bpf2go identifiers stay unexported here.
package bpf
