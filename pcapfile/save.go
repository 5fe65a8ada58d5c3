package pcapfile

import (
	"fmt"
	"os"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// Save says how SaveFile writes packets: the format and what the file
// says of them.
type Save struct {
	Format  string // "pcap" or "pcapng"
	Snaplen uint32
	// pcapng only: the interfaces (with each one's hook), the filter, the
	// writing application, and a comment on each interface's statistics.
	Ifaces      []IfaceInfo
	Hooks       map[int]packet.Hook
	OutHooks    map[int]packet.Hook // where egress is recorded at another hook
	Filter      string
	Application string
	Comment     string
	// Cooked, when set, writes every packet as LINUX_SLL2 (-i any), each
	// interface as it says.
	Cooked func(ifindex uint32) (CookedIface, bool)
	// Processes, when set, names each packet's process in a pcapng
	// file's comments (PcapngWriter.SetProcessComments).
	Processes func(pid uint32) []string
}

// SaveFile writes pkts to a new file at path (mode 0600, never replacing a
// file: the live view's w picks a fresh name), syncs and closes it, and
// says how many it wrote. A failed save removes what it wrote: the caller
// still has the packets and can try again.
func SaveFile(path string, pkts []packet.Packet, s Save) (n int, err error) {
	out, err := CreateOutput(path)
	if err != nil {
		return 0, err
	}
	f := out.File()
	defer func() {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %s: %w", path, cerr)
		}
		if err != nil {
			_ = out.Discard()
			n = 0
		}
	}()
	switch {
	case s.Cooked != nil:
		n, err = saveCooked(f, pkts, s)
	case s.Format == "pcapng":
		n, err = savePcapng(f, pkts, s)
	default:
		n, err = savePcap(f, pkts, s)
	}
	if err != nil {
		return 0, err
	}
	return n, f.Sync()
}

func savePcap(f *os.File, pkts []packet.Packet, s Save) (int, error) {
	// A pcap file has one link type: the packets'.
	lt := packet.LinkTypeEthernet
	for i := range pkts {
		if t := pkts[i].LinkType(); i == 0 {
			lt = t
		} else if t != lt {
			return 0, fmt.Errorf("the packets are of several link types (%s, %s): pcap holds one; save as pcapng", lt.Name(), t.Name())
		}
	}
	pw, err := NewPcapWriter(f, s.Snaplen, uint32(lt))
	if err != nil {
		return 0, err
	}
	for i := range pkts {
		p := &pkts[i]
		data := p.Data[:min(len(p.Data), int(s.Snaplen))]
		if err := pw.WriteRecord(p.Time(), uint32(len(data)), p.WireLen(), data); err != nil {
			return 0, err
		}
	}
	return int(pw.Count()), pw.Flush()
}

func savePcapng(f *os.File, pkts []packet.Packet, s Save) (int, error) {
	ng, err := NewPcapngWriter(f, s.Snaplen, s.Ifaces, s.Filter, s.Application)
	if err != nil {
		return 0, err
	}
	if s.Processes != nil {
		ng.SetProcessComments(s.Processes)
	}
	for i := range pkts {
		p := pkts[i]
		p.Hook = s.Hooks[int(p.Ifindex)]
		if h, ok := s.OutHooks[int(p.Ifindex)]; ok && p.Dir == packet.DirOut {
			p.Hook = h
		}
		if err := ng.Write(&p); err != nil {
			return 0, err
		}
	}
	stats := map[int]IfaceStats{}
	for _, ifi := range s.Ifaces {
		stats[ifi.Index] = IfaceStats{Dropped: Unknown, Comment: s.Comment}
	}
	return len(pkts), ng.Finish(stats)
}

// saveCooked writes pkts as LINUX_SLL2, in a pcap file or in a pcapng file
// with one interface block per interface met.
func saveCooked(f *os.File, pkts []packet.Packet, s Save) (int, error) {
	var inner PacketWriter
	var ng *PcapngWriter
	var err error
	if s.Format == "pcapng" {
		var ifaces []IfaceInfo
		seen := map[uint32]bool{}
		for i := range pkts {
			if idx := pkts[i].Ifindex; !seen[idx] {
				seen[idx] = true
				ifc, _ := s.Cooked(idx)
				ifaces = append(ifaces, IfaceInfo{Index: int(idx), Name: ifc.Name, Hook: ifc.Hook, LinkType: packet.LinkTypeSLL2})
			}
		}
		if len(ifaces) == 0 {
			ifaces = append(ifaces, IfaceInfo{Name: "any", LinkType: packet.LinkTypeSLL2})
		}
		ng, err = NewPcapngWriter(f, s.Snaplen, ifaces, s.Filter, s.Application)
		if err == nil && s.Processes != nil {
			ng.SetProcessComments(s.Processes)
		}
		inner = ng
	} else {
		inner, err = NewPcapWriter(f, s.Snaplen, uint32(packet.LinkTypeSLL2))
	}
	if err != nil {
		return 0, err
	}
	cw, err := NewCookedWriter(inner, s.Snaplen, s.Cooked)
	if err != nil {
		return 0, err
	}
	for i := range pkts {
		if err := cw.Write(&pkts[i]); err != nil {
			return 0, err
		}
	}
	if ng != nil {
		stats := map[int]IfaceStats{}
		for _, ifi := range ng.Indexes() {
			stats[ifi] = IfaceStats{Dropped: Unknown, Comment: s.Comment}
		}
		return len(pkts), ng.Finish(stats)
	}
	return len(pkts), cw.Flush()
}
