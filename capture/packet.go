package capture

import (
	"sync"
	"sync/atomic"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// Batch is a group of packets sharing one byte buffer. The receiver calls
// Release when done with every packet in it, which returns the batch to the
// reader's pool; a batch must not be touched after Release.
type Batch struct {
	Packets []packet.Packet
	buf     []byte
	pool    *batchPool
}

// Release hands the batch back to its reader.
func (b *Batch) Release() {
	b.Packets = b.Packets[:0]
	b.buf = b.buf[:0]
	if b.pool != nil {
		b.pool.put(b)
	}
}

// Keep is Release for a consumer that keeps the packets' bytes, which all
// lie in buf: the batch goes back to its reader when release is called,
// not before. Until then it no longer counts against the reader's pool, so
// the reader is not held back by what the consumer keeps. The consumer
// must call release exactly once, and not touch buf or the Packets after.
func (b *Batch) Keep() (buf []byte, release func()) {
	if b.pool != nil {
		b.pool.kept()
	}
	return b.buf, func() {
		b.Packets = b.Packets[:0]
		b.buf = b.buf[:0]
		if b.pool != nil {
			b.pool.returned(b)
		}
	}
}

// add copies data into the batch's buffer and appends a packet for it.
// The caller has checked room().
func (b *Batch) add(p packet.Packet, data []byte) {
	q := b.push(data)
	p.Data = q.Data
	*q = p
}

// push copies data into the batch and returns its new packet.Packet, with Data
// set, for the caller to fill in field by field (the reader's way: a
// packet.Packet passed by value is copied with wide loads that stall on the
// narrow stores that just built it).
func (b *Batch) push(data []byte) *packet.Packet {
	off := len(b.buf)
	b.buf = append(b.buf, data...)
	b.Packets = append(b.Packets, packet.Packet{})
	q := &b.Packets[len(b.Packets)-1]
	q.Data = b.buf[off:len(b.buf):len(b.buf)]
	return q
}

// pushTagged is push of payload with the VLAN tag of hdr put back.
func (b *Batch) pushTagged(hdr *bpf.Record, payload []byte) *packet.Packet {
	off := len(b.buf)
	b.buf = hdr.Tagged(b.buf, payload)
	b.Packets = append(b.Packets, packet.Packet{})
	q := &b.Packets[len(b.Packets)-1]
	q.Data = b.buf[off:len(b.buf):len(b.buf)]
	return q
}

// room reports whether a packet of n bytes fits without reallocating the
// buffer (earlier packets' Data alias it).
func (b *Batch) room(n int) bool {
	return len(b.Packets) < cap(b.Packets) && len(b.buf)+n <= cap(b.buf)
}

// batchPool holds the free batches last in, first out: the batch the
// writer has just released is the one still in the cache, where a FIFO
// (a channel) would cycle through every batch's memory.
//
// Batches are made on first need, up to the pool's size: a quiet capture
// never allocates (and the garbage collector never scans) the tens of
// megabytes a busy one may hold.
type batchPool struct {
	mu             sync.Mutex
	free           []*Batch
	made, size     int
	packets, bytes int           // capacity of each batch
	avail          chan struct{} // a token after a put, for a getter that waits
}

func newBatchPool(n, packets, bytes int) *batchPool {
	return &batchPool{free: make([]*Batch, 0, n), size: n, packets: packets, bytes: bytes, avail: make(chan struct{}, 1)}
}

// get takes a free batch; with wait it blocks until there is one, without
// it returns nil when there is none.
func (p *batchPool) get(wait bool) *Batch {
	for {
		p.mu.Lock()
		if n := len(p.free); n > 0 {
			b := p.free[n-1]
			p.free = p.free[:n-1]
			p.mu.Unlock()
			return b
		}
		if p.made < p.size {
			p.made++
			p.mu.Unlock()
			return &Batch{Packets: make([]packet.Packet, 0, p.packets), buf: make([]byte, 0, p.bytes), pool: p}
		}
		p.mu.Unlock()
		if !wait {
			return nil
		}
		<-p.avail
	}
}

func (p *batchPool) put(b *Batch) {
	p.mu.Lock()
	p.free = append(p.free, b)
	p.mu.Unlock()
	p.signal()
}

// kept takes a batch out of the pool's count (Batch.Keep): the reader may
// make another in its place.
func (p *batchPool) kept() {
	p.mu.Lock()
	p.made--
	p.mu.Unlock()
	p.signal()
}

// returned takes back a kept batch. The pool may then hold more than its
// size for a while; it makes no new batch until it holds fewer.
func (p *batchPool) returned(b *Batch) {
	p.mu.Lock()
	p.made++
	p.mu.Unlock()
	p.put(b)
}

func (p *batchPool) signal() {
	select {
	case p.avail <- struct{}{}:
	default: // a token is already there
	}
}

// Stats are the user-space capture counters, safe for concurrent use.
type Stats struct {
	Received   atomic.Uint64 // packets read from the perf ring and handed on
	Bytes      atomic.Uint64 // their captured bytes
	Lost       atomic.Uint64 // samples perf reported lost (ring full)
	BadRecords atomic.Uint64 // records that failed validation
	Dropped    atomic.Uint64 // packets dropped because the consumer was slow
	// Late counts packets RunDirect wrote after one stamped later: their
	// CPU wrote them too long after stamping them (perfSlack, directSlack),
	// or a ring buffer pass had to write them early (bpfRing.merge).
	Late atomic.Uint64
}
