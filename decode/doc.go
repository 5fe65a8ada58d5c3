// Package decode turns captured frames into what the UI shows: one-line
// packet summaries, a bounded flow table, a bounded retention ring of the
// last packets, aggregate counters and a full per-layer breakdown of one
// packet on demand.
//
// It takes packet.Packet as every stage does. It owns:
//   - packet.Packet and packet.Dir, the captured-packet type the rest of the app hands in;
//   - Decoder and Summary: an allocation-free decode of the common
//     protocols (Ethernet, 802.1Q/QinQ, ARP, IPv4, IPv6 and its extension
//     headers, TCP, UDP, ICMPv4, ICMPv6, SCTP, GRE, VXLAN, IP-in-IP) plus
//     cheap application hints (DNS question, TLS SNI, HTTP/1.x first line);
//   - the flow table (canonical bidirectional flows, TCP state, rates,
//     idle and LRU eviction), the retention ring and Engine, which ties
//     them together behind one mutex, shared by the capture (Add,
//     Writer) and the view: the view's reads that grow with the
//     ring or the table go in bounded steps and let a waiting capture in
//     between (Engine.yieldLocked), so the capture never waits for a
//     whole one;
//   - the fast path (fast.go): a plain TCP or UDP frame is accounted from
//     a few bytes read in place, with the same result as a full decode;
//   - Detail, the on-demand layer breakdown for the hex pane;
//   - Reassemble and Engine.FlowStream, follow stream: a flow's payload,
//     TCP reassembled by sequence number with its gaps marked, datagrams
//     in order, computed on demand from the packets in the ring;
//   - Engine.Statistics: the flow table summed up as conversations,
//     endpoints and a protocol hierarchy (Wireshark's Statistics menu),
//     copied in bounded steps like Flows;
//   - Engine.Processes: each process's traffic in and out (its flows'
//     packets, counted as they are added once SetProcessNames names
//     processes), GroupProcesses by container, FlowsOf a row's flows;
//   - Printable and PrintableASCII: every string derived from packet bytes
//     goes through them before it reaches the terminal;
//   - the display filter (CheckFilter): a pcap-filter expression (package
//     filter, the same matcher the kernel filter is compiled from) matched
//     against each flow's key and its retained packets, or "~" and text;
//   - KernelFlow and the merging of the kernel program's flow counts into
//     the flow table (SetKernelCounts, TakeEvicted), and KernelKeyOf, the
//     kernel's flow key described in Go (bpf/capture.c has the other).
//
// The package is pure and portable: it starts no goroutines, does no I/O
// and never reads the wall clock (callers pass now explicitly). It imports
// only the standard library, gopacket, filter and packet; it must not import
// capture, bpf, ui or main.
package decode
