package pcapfile

import (
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// PacketWriter is what a capture file writer does: pcap or pcapng.
type PacketWriter interface {
	Write(pkt *packet.Packet) error
	Flush() error
}

// IfaceInfo names one captured interface for a pcapng file.
type IfaceInfo struct {
	Index    int
	Name     string
	Hook     string          // "tc (tcx)", "xdp", ...
	LinkType packet.LinkType // 0: Ethernet
}

// Unknown marks a statistic that is not known (and is left out of the file).
const Unknown = pcapgo.NgNoValue64

// IfaceStats are the end-of-capture counters of one interface, written as
// an interface statistics block.
type IfaceStats struct {
	Received uint64 // packets captured on it
	Dropped  uint64 // lost in the ring or dropped in user space
	Comment  string
}

// PcapngWriter writes pcapng: an interface description block per captured
// interface (name, link type, snaplen, nanosecond timestamps, the filter),
// enhanced packet blocks with the direction flag and the hook as a
// comment, and interface statistics blocks at the end.
type PcapngWriter struct {
	w     *pcapgo.NgWriter
	ids   map[int]int // ifindex -> interface id in the file
	count []uint64    // packets written per interface id
	start time.Time
	opts  pcapgo.NgPacketOptions
	flags pcapgo.NgEpbFlags
	hooks [4][]string // comment per packet.Hook
	// Process attribution (SetProcessComments); comments is the reused
	// list of a packet's comments.
	procComments func(pid uint32) []string
	comments     []string
	id           uint64 // the last packet's epb_packetid
	queue        uint32 // the packet's epb_queue
	// For the interface blocks written after the header (AddInterface).
	snaplen uint32
	filter  string
}

// NewPcapngWriter writes the section header and one interface description
// block per interface.
func NewPcapngWriter(w io.Writer, snaplen uint32, ifaces []IfaceInfo, filterExpr, application string) (*PcapngWriter, error) {
	if len(ifaces) == 0 {
		return nil, fmt.Errorf("pcapng: no interface")
	}
	p := &PcapngWriter{ids: map[int]int{ifaces[0].Index: 0}, count: make([]uint64, 1), start: time.Now(), snaplen: snaplen, filter: filterExpr}
	ng, err := pcapgo.NewNgWriterInterface(w, p.idb(ifaces[0]), pcapgo.NgWriterOptions{
		SectionInfo: pcapgo.NgSectionInfo{Application: application, OS: "Linux"},
	})
	if err != nil {
		return nil, fmt.Errorf("write pcapng header: %w", err)
	}
	p.w = ng
	for _, i := range ifaces[1:] {
		if err := p.AddInterface(i); err != nil {
			return nil, err
		}
	}
	for h := range p.hooks {
		p.hooks[h] = []string{"hook: " + packet.Hook(h).String()}
	}
	p.opts.Flags = &p.flags
	return p, nil
}

// idb is the interface description block of i.
func (p *PcapngWriter) idb(i IfaceInfo) pcapgo.NgInterface {
	lt := layers.LinkTypeEthernet
	if i.LinkType != 0 {
		lt = layers.LinkType(i.LinkType)
	}
	return pcapgo.NgInterface{
		Name:                i.Name,
		Description:         "captured by bpftop-cap at " + i.Hook,
		Filter:              p.filter,
		OS:                  "Linux",
		LinkType:            lt,
		TimestampResolution: 9,
		SnapLength:          p.snaplen,
	}
}

// AddInterface writes an interface description block for i: an interface
// that appeared during the capture (-i any), before its first packet.
func (p *PcapngWriter) AddInterface(i IfaceInfo) error {
	id, err := p.w.AddInterface(p.idb(i))
	if err != nil {
		return fmt.Errorf("write pcapng interface %s: %w", i.Name, err)
	}
	p.ids[i.Index] = id
	p.count = append(p.count, 0)
	return nil
}

// Indexes are the interfaces the file describes, those added later
// included.
func (p *PcapngWriter) Indexes() []int {
	var idx []int
	for i := range p.ids {
		idx = append(idx, i)
	}
	return idx
}

// describes reports whether the file has a block for interface ifindex.
func (p *PcapngWriter) describes(ifindex uint32) bool {
	_, ok := p.ids[int(ifindex)]
	return ok
}

// Write writes one packet as an enhanced packet block.
func (p *PcapngWriter) Write(pkt *packet.Packet) error {
	id, ok := p.ids[int(pkt.Ifindex)]
	if !ok {
		return fmt.Errorf("pcapng: packet from interface %d, which the file does not describe", pkt.Ifindex)
	}
	p.flags.Direction = pcapgo.NgEpbFlagDirectionUnknown
	switch pkt.Dir {
	case packet.DirIn:
		p.flags.Direction = pcapgo.NgEpbFlagDirectionInbound
	case packet.DirOut:
		p.flags.Direction = pcapgo.NgEpbFlagDirectionOutbound
	}
	p.opts.Comments = nil
	if int(pkt.Hook) < len(p.hooks) {
		p.opts.Comments = p.hooks[pkt.Hook]
	}
	if pid := pkt.Pid(); pid != 0 && p.procComments != nil {
		if pc := p.procComments(pid); len(pc) > 0 {
			p.comments = append(append(p.comments[:0], p.opts.Comments...), pc...)
			p.opts.Comments = p.comments
		}
	}
	// A packet id unique in the file (the record's 48-bit id names the
	// interface, direction and hook, the same for all their packets), and
	// the CPU that captured it as its queue.
	p.id++
	p.opts.PacketID = &p.id
	p.opts.Queue = nil
	if cpu := pkt.CPU(); cpu >= 0 {
		p.queue = uint32(cpu)
		p.opts.Queue = &p.queue
	}
	ci := gopacket.CaptureInfo{
		Timestamp:      pkt.Time(),
		CaptureLength:  len(pkt.Data),
		Length:         int(pkt.WireLen()),
		InterfaceIndex: id,
	}
	if err := p.w.WritePacketWithOptions(ci, pkt.Data, p.opts); err != nil {
		return fmt.Errorf("write packet: %w", err)
	}
	p.count[id]++
	return nil
}

// Flush writes out what is buffered.
func (p *PcapngWriter) Flush() error {
	if err := p.w.Flush(); err != nil {
		return fmt.Errorf("flush pcapng: %w", err)
	}
	return nil
}

// Finish writes an interface statistics block per interface (stats by
// ifindex; Received defaults to the packets written) and flushes.
func (p *PcapngWriter) Finish(stats map[int]IfaceStats) error {
	end := time.Now()
	for index, id := range p.ids {
		st := stats[index]
		if st.Received == 0 {
			st.Received = p.count[id]
		}
		if err := p.w.WriteInterfaceStats(id, pcapgo.NgInterfaceStatistics{
			LastUpdate:      end,
			StartTime:       p.start,
			EndTime:         end,
			PacketsReceived: st.Received,
			PacketsDropped:  st.Dropped,
			Comment:         st.Comment,
		}); err != nil {
			return fmt.Errorf("write pcapng statistics: %w", err)
		}
	}
	return p.Flush()
}
