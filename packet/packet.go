package packet

import "time"

// Dir is the direction a packet was seen in, relative to the host. The
// values are those the kernel program encodes in bits 32-39 of a record's
// flags.
type Dir uint8

// Directions.
const (
	DirUnknown Dir = 0
	DirIn      Dir = 1 // ingress
	DirOut     Dir = 2 // egress
)

// String returns "in", "out" or "?".
func (d Dir) String() string {
	switch d {
	case DirIn:
		return "in"
	case DirOut:
		return "out"
	}
	return "?"
}

// Hook is where the program that saw a packet was attached; the values are
// those the kernel program encodes in bits 40-47 of a record's flags.
type Hook uint8

// Hooks.
const (
	HookUnknown Hook = 0
	HookTC      Hook = 1
	HookXDP     Hook = 2
	HookXmit    Hook = 3 // at transmit, after the qdisc (net_dev_start_xmit)
)

// String returns "tc", "xdp", "xmit" or "?".
func (h Hook) String() string {
	switch h {
	case HookTC:
		return "tc"
	case HookXDP:
		return "xdp"
	case HookXmit:
		return "xmit"
	}
	return "?"
}

// Packet is one captured frame: what the reader hands on, what the files
// hold, what the flow table and the view take. Data is owned by whoever
// handed the packet over (a capture batch, a file reader's buffer).
//
// It is kept small (48 bytes) and its time is plain nanoseconds: at line
// rate the reader writes and the consumers read millions of them a second,
// and their size is memory traffic.
type Packet struct {
	Data    []byte
	Nanos   int64  // capture time, Unix nanoseconds (UTC); 0 when unknown
	OrigLen uint32 // length on the wire; len(Data) is what was captured
	Ifindex uint32 // interface it was seen on (0: unknown, e.g. from a pcap file)
	// link is the link type XOR 1, so that the zero value, which every
	// Packet built without one has, is Ethernet (see LinkType).
	link LinkType
	Dir  Dir
	Hook Hook
}

// LinkType is how the packet's bytes begin: Ethernet unless SetLinkType
// said otherwise.
func (p *Packet) LinkType() LinkType { return p.link ^ 1 }

// SetLinkType sets the packet's link type.
func (p *Packet) SetLinkType(t LinkType) { p.link = t ^ 1 }

// Time is the capture time (the zero Time when Nanos is 0).
func (p *Packet) Time() time.Time {
	if p.Nanos == 0 {
		return time.Time{}
	}
	return time.Unix(0, p.Nanos).UTC()
}

// WireLen is the length on the wire, never less than what was captured.
func (p *Packet) WireLen() uint32 { return max(p.OrigLen, uint32(len(p.Data))) }

// Nanos converts t to Unix nanoseconds, mapping the zero Time to 0
// (time.Time{}.UnixNano is undefined).
func Nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
