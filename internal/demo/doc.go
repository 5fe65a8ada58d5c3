// Package demo builds what `bpftop-cap --demo` shows: two private network
// namespaces joined by a veth pair, and realistic traffic between them
// (DNS, HTTP, TLS with SNI, ICMP echo, UDP bursts, TCP bulk transfers),
// each kind from a process of its own (the bpftop-cap binary run again
// under a demo-* name, RunChild), so process attribution has processes to
// tell apart. It removes everything again; its processes die with the
// demo, even killed. It imports netns, netlink, internal/nsutil and the
// standard library; it must not import anything of the capture path.
package demo
