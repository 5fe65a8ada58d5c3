package capture

import (
	"time"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// PacketWriter is where a capture writes its packets: a pcap or pcapng
// writer of package pcapfile (or any sink with the same two methods).
type PacketWriter interface {
	Write(pkt *packet.Packet) error
	Flush() error
}

// WriteResult says how writing to a file ended (RunDirect).
type WriteResult struct {
	Written uint64
	Err     error // the first write error; later packets are only read
}

// flushEvery is how often, at most, a steady stream of packets flushes the
// writer's buffer (which also goes out whenever it is full): a write call
// per batch once woke the runtime's sysmon hundreds of times a second.
const flushEvery = 100 * time.Millisecond

// fileSink is RunDirect's writing: packets go to w until limit of them
// (0: no limit) or the first error, which is kept in res; then stop is
// called, once, and later packets are dropped.
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
