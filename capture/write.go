package capture

import (
	"container/heap"
	"math"
	"time"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// PacketWriter is where a capture writes its packets: a pcap or pcapng
// writer of package pcapfile (or any sink with the same two methods).
type PacketWriter interface {
	Write(pkt *packet.Packet) error
	Flush() error
}

// WriteResult says how writing batches to a file ended.
type WriteResult struct {
	Written uint64
	Err     error // the first write error; later batches are only released
}

// How WriteBatches puts packets back in time order: it holds up to
// maxHeld batches and writes a packet once it is older than the newest
// packet seen by reorderWindow, when more batches are held than that, or
// when no batch has come for holdMax.
const (
	reorderWindow = int64(100 * time.Millisecond)
	maxHeld       = 8
	holdMax       = 100 * time.Millisecond
	// flushEvery is how often, at most, a steady stream of batches flushes
	// the writer's buffer (which also goes out whenever it is full, and
	// holdMax after the last batch).
	flushEvery = 100 * time.Millisecond
)

// cursor is a held batch and its first packet not yet written.
type cursor struct {
	b *Batch
	i int
}

type cursorHeap []*cursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	return h[i].b.Packets[h[i].i].Nanos < h[j].b.Packets[h[j].i].Nanos
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(*cursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// WriteBatches writes every packet of the batches from in to w, releasing
// each batch, until in is closed. After limit packets (0: no limit), or on
// the first write error, it calls stop once and writes no more, but keeps
// draining so the reader never blocks. It flushes w when nothing is queued
// (at most every flushEvery) and at the end.
//
// The perf rings are per CPU and read one after another, so a batch can
// hold packets older than some of the batches before it. Each batch is
// sorted by the reader; WriteBatches merges the batches it holds (a heap
// of cursors), so the file is in time order as long as the skew between
// CPUs stays within the reorder bounds above.
func WriteBatches(in <-chan *Batch, w PacketWriter, limit uint64, stop func()) WriteResult {
	var (
		res    WriteResult
		held   cursorHeap
		newest int64
		timer  = time.NewTimer(holdMax)
	)
	defer timer.Stop()
	out := newFileSink(w, limit, stop, &res)
	// drain writes held packets older than upTo and, while more than keep
	// batches are held, the oldest ones anyway.
	drain := func(upTo int64, keep int) {
		for held.Len() > 0 {
			c := held[0]
			// Write a run from the oldest batch: its packets up to the
			// head of the next oldest (the root's smaller child), so the
			// heap is fixed once a run, not once a packet.
			next := int64(math.MaxInt64)
			for _, j := range []int{1, 2} {
				if j < held.Len() {
					next = min(next, held[j].b.Packets[held[j].i].Nanos)
				}
			}
			wrote := false
			for c.i < len(c.b.Packets) {
				p := &c.b.Packets[c.i]
				if held.Len() <= keep && p.Nanos >= upTo {
					break
				}
				if wrote && p.Nanos > next {
					break
				}
				out.write(p)
				c.i++
				wrote = true
			}
			switch {
			case c.i == len(c.b.Packets):
				heap.Pop(&held)
				c.b.Release()
			case !wrote:
				return // the oldest packet is to be held: so is every other
			default:
				heap.Fix(&held, 0)
			}
		}
	}
	for {
		select {
		case b, ok := <-in:
			if !ok {
				drain(math.MaxInt64, 0)
				out.flush()
				return res
			}
			if len(b.Packets) == 0 {
				b.Release()
				continue
			}
			heap.Push(&held, &cursor{b: b})
			newest = max(newest, b.Packets[len(b.Packets)-1].Nanos)
			drain(newest-reorderWindow, maxHeld)
			// With nothing queued, what is written goes out, but not more
			// often than every flushEvery: a write call per batch woke the
			// runtime's sysmon hundreds of times a second.
			if len(in) == 0 {
				out.flushDue()
			}
			timer.Reset(holdMax)
		case <-timer.C:
			drain(math.MaxInt64, 0)
			out.flush()
		}
	}
}

// fileSink is the writing WriteBatches and RunDirect share: packets go to w
// until limit of them (0: no limit) or the first error, which is kept in
// res; then stop is called, once, and later packets are dropped.
type fileSink struct {
	w         PacketWriter
	limit     uint64
	stop      func()
	res       *WriteResult
	stopped   bool
	dirty     bool // written to since the last flush
	lastFlush time.Time
}

func newFileSink(w PacketWriter, limit uint64, stop func(), res *WriteResult) *fileSink {
	// dirty: the file's header may be in the writer's buffer.
	return &fileSink{w: w, limit: limit, stop: stop, res: res, lastFlush: time.Now(), dirty: true}
}

func (s *fileSink) halt() {
	if !s.stopped {
		s.stopped = true
		s.stop()
	}
}

func (s *fileSink) write(p *packet.Packet) {
	if s.res.Err != nil || (s.limit > 0 && s.res.Written >= s.limit) {
		return
	}
	if err := s.w.Write(p); err != nil {
		s.res.Err = err
		s.halt()
		return
	}
	s.res.Written++
	s.dirty = true
	if s.limit > 0 && s.res.Written == s.limit {
		s.halt()
	}
}

func (s *fileSink) flush() {
	s.lastFlush = time.Now()
	s.dirty = false
	if s.res.Err == nil {
		if err := s.w.Flush(); err != nil {
			s.res.Err = err
			s.halt()
		}
	}
}

// flushDue flushes what was written since the last flush unless that was
// less than flushEvery ago.
func (s *fileSink) flushDue() {
	if s.dirty && time.Since(s.lastFlush) >= flushEvery {
		s.flush()
	}
}
