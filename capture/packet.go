package capture

import (
	"sync/atomic"
	"time"

	"github.com/bpftop-cap/bpftop-cap/bpf"
)

// Packet is one captured frame. Data is owned by the Batch it came in.
type Packet struct {
	TS      time.Time
	Ifindex int
	Dir     bpf.Dir
	Hook    bpf.Hook
	OrigLen int // length on the wire; len(Data) is what was captured
	Data    []byte
}

// Batch is a group of packets sharing one byte buffer. The receiver calls
// Release when done with every packet in it, which returns the batch to the
// reader's pool; a batch must not be touched after Release.
type Batch struct {
	Packets []Packet
	buf     []byte
	pool    chan *Batch
}

// Release hands the batch back to its reader.
func (b *Batch) Release() {
	b.Packets = b.Packets[:0]
	b.buf = b.buf[:0]
	if b.pool != nil {
		select {
		case b.pool <- b:
		default: // pool full: a batch made outside it; let it go
		}
	}
}

// add copies data into the batch's buffer and appends a packet for it.
// The caller has checked room().
func (b *Batch) add(p Packet, data []byte) {
	off := len(b.buf)
	b.buf = append(b.buf, data...)
	p.Data = b.buf[off:len(b.buf):len(b.buf)]
	b.Packets = append(b.Packets, p)
}

// room reports whether a packet of n bytes fits without reallocating the
// buffer (earlier packets' Data alias it).
func (b *Batch) room(n int) bool {
	return len(b.Packets) < cap(b.Packets) && len(b.buf)+n <= cap(b.buf)
}

// Stats are the user-space capture counters, safe for concurrent use.
type Stats struct {
	Received   atomic.Uint64 // packets read from the perf ring and handed on
	Bytes      atomic.Uint64 // their captured bytes
	Lost       atomic.Uint64 // samples perf reported lost (ring full)
	BadRecords atomic.Uint64 // records that failed validation
	Dropped    atomic.Uint64 // packets dropped because the consumer was slow
}
