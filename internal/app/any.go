package app

import (
	"fmt"
	"io"
	"slices"

	"github.com/bpftop-cap/bpftop-cap/capture"
	"github.com/bpftop-cap/bpftop-cap/filter"
	"github.com/bpftop-cap/bpftop-cap/packet"
	"github.com/bpftop-cap/bpftop-cap/pcapfile"
)

// captureAny reports whether the capture is on every interface (-i any).
func (c *Config) captureAny() bool { return slices.Contains(c.Ifaces, capture.AnyName) }

// validateAny checks what goes with -i any.
func (c *Config) validateAny() error {
	switch {
	case !c.captureAny():
	case len(c.Ifaces) > 1:
		return usageErr("-i any captures on every interface: give no other")
	case c.XDP:
		return usageErr("-i any captures at tc: drop --xdp")
	case c.Snaplen <= pcapfile.SLL2HeaderLen:
		// As libpcap: room for the cooked header and a byte.
		c.Snaplen = pcapfile.SLL2HeaderLen + 1
	}
	return nil
}

// anyFilter compiles the capture filter for -i any. It runs in the kernel
// on each interface's own packets, Ethernet frames or IP packets, so it
// is compiled for the link type the interfaces that are up share (libpcap
// compiles it once, for LINUX_SLL2); interfaces of both kinds up with a
// filter are refused. An interface of the other kind, down (as the tunl0
// and sit0 the ipip and sit modules put in every namespace) or appearing
// later, is passed over, and capture.Session says so.
func anyFilter(cfg *Config) (packet.LinkType, error) {
	if len(cfg.Filter) == 0 {
		return packet.LinkTypeEthernet, nil
	}
	links, err := capture.Links()
	if err != nil {
		return 0, err
	}
	var first *capture.Link
	lt := packet.LinkTypeEthernet
	for i := range links {
		t, ok := links[i].Captured()
		switch {
		case !ok || !links[i].Up:
		case first == nil:
			first, lt = &links[i], t
		case t != lt:
			return 0, usageErr("a capture filter with -i any needs interfaces of one link type, and %s is %s, %s %s: capture without a filter, or on the interfaces of one type (-i %s,...)",
				first.Name, lt.Name(), links[i].Name, t.Name(), first.Name)
		}
	}
	if lt == packet.LinkTypeEthernet {
		return lt, nil // compiled so already (dispatch)
	}
	prog, err := filter.CompileArgsLink(cfg.Filter, cfg.Snaplen, uint32(lt))
	if err != nil {
		return 0, usageErr("%v (on -i any, whose interfaces are link-type %s)", err, lt.Name())
	}
	cfg.prog = prog
	return lt, nil
}

// anyNote prints a line the -i any session says of an interface.
func anyNote(stderr io.Writer) func(string) {
	return func(s string) { fmt.Fprintf(stderr, "bpftop-cap: %s\n", s) }
}

// anyWriter is -w's writer for -i any: LINUX_SLL2 as tcpdump -i any
// writes it, in pcap, or in pcapng with one interface block per interface
// (those that appear later get theirs before their first packet), all
// LINUX_SLL2, since libpcap refuses a pcapng file of mixed link types.
func anyWriter(cfg *Config, sess *capture.Session, w io.Writer) (capture.PacketWriter, *pcapfile.PcapngWriter, error) {
	var inner pcapfile.PacketWriter
	var ng *pcapfile.PcapngWriter
	var err error
	if cfg.Format == "pcapng" {
		var ifaces []pcapfile.IfaceInfo
		for i, ifi := range sess.Ifaces {
			ifaces = append(ifaces, pcapfile.IfaceInfo{Index: ifi.Index, Name: ifi.Name, Hook: sess.Attachments[i].Mode, LinkType: packet.LinkTypeSLL2})
		}
		ng, err = pcapfile.NewPcapngWriter(w, cfg.Snaplen, ifaces, cfg.filterText(), "bpftop-cap "+cfg.Version)
		inner = ng
	} else {
		inner, err = cfg.newPcapWriter(w, cfg.Snaplen, uint32(packet.LinkTypeSLL2))
	}
	if err != nil {
		return nil, nil, err
	}
	cw, err := pcapfile.NewCookedWriter(inner, cfg.Snaplen, func(ifindex uint32) (pcapfile.CookedIface, bool) {
		l, ok := sess.Link(ifindex)
		return pcapfile.CookedIface{Name: l.Name, HAType: l.HWType, Addr: l.Addr, Hook: l.Hook}, ok
	})
	return cw, ng, err
}
