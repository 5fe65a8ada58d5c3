package decode

import (
	"math"
	"time"
)

// HistorySeconds is how many whole seconds of history each flow and the
// totals keep, for the live view's sparklines.
const HistorySeconds = 30

// series counts a quantity per second over the last HistorySeconds
// seconds, in a ring of buckets indexed by the second: adding is a compare
// and an add, so every packet can afford it.
type series struct {
	sec     int64 // the newest second counted (Unix seconds)
	started bool
	v       [HistorySeconds]uint32
}

func histIdx(sec int64) int {
	return int((sec%HistorySeconds + HistorySeconds) % HistorySeconds)
}

// add counts n in second sec. A second older than the window is dropped.
func (s *series) add(sec int64, n uint64) {
	switch {
	case !s.started || sec-s.sec >= HistorySeconds:
		s.v = [HistorySeconds]uint32{}
		s.sec, s.started = sec, true
	case sec > s.sec:
		for t := s.sec + 1; t <= sec; t++ {
			s.v[histIdx(t)] = 0
		}
		s.sec = sec
	case sec <= s.sec-HistorySeconds:
		return
	}
	i := histIdx(sec)
	s.v[i] = uint32(min(uint64(s.v[i])+n, math.MaxUint32))
}

// appendTo appends the counts of the HistorySeconds whole seconds before
// the second of now (Unix nanoseconds), oldest first: the second still
// running is left out, so the newest bar does not dip while it fills.
func (s *series) appendTo(dst []uint32, now int64) []uint32 {
	end := unixSec(now)
	for t := end - HistorySeconds; t < end; t++ {
		if !s.started || t > s.sec || t <= s.sec-HistorySeconds {
			dst = append(dst, 0)
			continue
		}
		dst = append(dst, s.v[histIdx(t)])
	}
	return dst
}

// History is a flow's bytes per second over the HistorySeconds whole
// seconds before a moment, oldest first.
type History []uint32

// Histories returns the history of each flow of ids still in the table,
// as of now. The live view asks for the rows it shows, not the whole
// table.
func (e *Engine) Histories(ids []uint64, now time.Time) map[uint64]History {
	if len(ids) == 0 {
		return nil
	}
	nowNs := unixNano(now)
	out := make(map[uint64]History, len(ids))
	buf := make([]uint32, 0, len(ids)*HistorySeconds)
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range ids {
		f := e.flows.byID(id)
		if f == nil {
			continue
		}
		n := len(buf)
		buf = f.rate.hist.appendTo(buf, nowNs)
		out[id] = History(buf[n:len(buf):len(buf)])
	}
	return out
}

// totalRate is the engine's rate of all packets, with a packet history as
// well as the bytes history every rate keeps.
type totalRate struct {
	rate
	pktHist series
}

func (r *totalRate) add(ts int64, n int) {
	r.pktHist.add(r.rate.add(ts, n), 1)
}
