// Package demo builds what `bpftop-cap --demo` shows: two private network
// namespaces joined by a veth pair, and realistic traffic between them
// (DNS, HTTP, TLS with SNI, ICMP echo, UDP bursts, TCP bulk transfers). It
// removes everything again. It imports netns, netlink, internal/nsutil and
// the standard library; it must not import anything of the capture path.
package demo
