package pcapfile

import (
	"fmt"
	"maps"
	"math/bits"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// ngState is what a pcapng file says beyond the packets: which interface
// each came on, its direction, and what the writing capture lost.
type ngState struct {
	base    int            // interfaces of the sections before this one
	names   map[int]string // ifindex -> the IDB's name
	dropped map[int]uint64 // ifindex -> the latest ISB's isb_ifdrop
	ifindex uint32         // of the packet read last
	dir     packet.Dir     // of the packet read last
	pid     uint32         // of the packet read last, from its comments (0: none)
	procs   procNames      // what the comments said of each pid
}

// sectionEnd numbers the next section's interfaces after this one's:
// interface ids restart with each section.
func (s *ngState) sectionEnd(ifaces []pcapgo.NgInterface, _ pcapgo.NgSectionInfo) {
	s.base += len(ifaces)
}

func (s *ngState) statistics(id int, st pcapgo.NgInterfaceStatistics) {
	if st.PacketsDropped == pcapgo.NgNoValue64 {
		return
	}
	if s.dropped == nil {
		s.dropped = map[int]uint64{}
	}
	s.dropped[s.base+id+1] = st.PacketsDropped // cumulative: the latest counts
}

// packet notes the interface (id in its section), the EPB flags and the
// process comments of the packet just read, of time ts.
func (s *ngState) packet(id int, name string, opts *pcapgo.NgPacketOptions, bigEndian bool, ts time.Time) {
	s.pid = 0
	if p, ok := procComments(opts.Comments); ok {
		s.pid = p.Pid
		s.procs.note(p, ts.UnixNano())
	}
	flags := opts.Flags
	s.ifindex = uint32(s.base + id + 1) // 0 stays "unknown"
	if _, ok := s.names[int(s.ifindex)]; !ok {
		if s.names == nil {
			s.names = map[int]string{}
		}
		if name == "" {
			name = fmt.Sprintf("if%d", s.base+id)
		}
		s.names[int(s.ifindex)] = name
	}
	s.dir = packet.DirUnknown
	if flags == nil {
		return
	}
	v := flags.ToUint32()
	if bigEndian {
		// pcapgo reads epb_flags little-endian whatever the file's order;
		// the direction bits land in the (kept) top byte.
		v = bits.ReverseBytes32(v)
	}
	switch pcapgo.NgEpbFlag(v) & pcapgo.NgEpbFlagDirectionMask {
	case pcapgo.NgEpbFlagDirectionInbound:
		s.dir = packet.DirIn
	case pcapgo.NgEpbFlagDirectionOutbound:
		s.dir = packet.DirOut
	}
}

// Interfaces names the interfaces of a pcapng file seen so far, by the
// Ifindex NextPacket gives their packets (the interface's number in the
// file, counted from 1 across sections). Nil for a pcap file.
func (cf *File) Interfaces() map[int]string {
	if cf.ng == nil {
		return nil
	}
	return maps.Clone(cf.ng.names)
}

// InterfaceCount is len(Interfaces()) without the copy: a reader polls it
// to learn that an interface appeared.
func (cf *File) InterfaceCount() int {
	if cf.ng == nil {
		return 0
	}
	return len(cf.ng.names)
}

// CaptureDropped is what the capture that wrote the file says it lost:
// the sum of the latest isb_ifdrop of each interface of a pcapng file
// (bpftop-cap writes ring losses and user-space drops there), 0 when no
// statistics block said.
func (cf *File) CaptureDropped() uint64 {
	if cf.ng == nil {
		return 0
	}
	var n uint64
	for _, d := range cf.ng.dropped {
		n += d
	}
	return n
}
