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
	// task holds the process owning the packet's socket (Pid) in bits
	// 0-21 and the CPU + 1 (CPU) above, as the kernel's record does.
	task uint32
	// link is the link type XOR 1, so that the zero value, which every
	// Packet built without one has, is Ethernet (see LinkType). Link types
	// are 16 bits (pcapng's field; a pcap header's upper bits are flags).
	link uint16
	Dir  Dir
	Hook Hook
}

// LinkType is how the packet's bytes begin: Ethernet unless SetLinkType
// said otherwise.
func (p *Packet) LinkType() LinkType { return LinkType(p.link ^ 1) }

// SetLinkType sets the packet's link type.
func (p *Packet) SetLinkType(t LinkType) { p.link = uint16(t) ^ 1 }

// PidBits is how many bits a pid takes: Linux's pids are below 2^22
// (PID_MAX_LIMIT).
const PidBits = 22

// maxCPU is the highest CPU number a Packet holds.
const maxCPU = 1<<(32-PidBits) - 2

// Pid is the process (tgid) whose socket sent or receives the packet on
// this host, 0 when none is known (forwarded traffic, a socket that
// closed, a capture without attribution).
func (p *Packet) Pid() uint32 { return p.task & (1<<PidBits - 1) }

// CPU is the CPU the capture program ran on, -1 when not known.
func (p *Packet) CPU() int { return int(p.task>>PidBits) - 1 }

// SetTask sets Pid (a pid of more than 22 bits as 0, none) and CPU (a
// CPU number beyond 1022, or negative, as unknown).
func (p *Packet) SetTask(pid uint32, cpu int) {
	if pid >= 1<<PidBits {
		pid = 0
	}
	c := uint32(0)
	if cpu >= 0 && cpu <= maxCPU {
		c = uint32(cpu + 1)
	}
	p.task = pid | c<<PidBits
}

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
