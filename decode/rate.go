package decode

// rate measures packets and bits per second over the last second, from
// packet timestamps: packets are counted in one-second buckets, and the
// rate at a moment a fraction f into a second is the open bucket plus the
// (1-f) of the bucket before it that the window still covers. A burst
// shows at once, and a flow that goes quiet is at 0 one second after its
// last packet (not a decaying average: a closed flow does not keep a rate).
type rate struct {
	sec         int64  // second of the open bucket (Unix seconds)
	pkts, bytes uint64 // open bucket
	prevPkts    uint64 // the bucket of second sec-1
	prevBytes   uint64
	hist        series // bytes per second, for the sparklines
}

func unixSec(ns int64) int64 {
	s := ns / 1e9
	if ns < 0 && s*1e9 != ns {
		s--
	}
	return s
}

// add counts one packet of n bytes seen at ts (Unix nanoseconds) and
// returns its second. A packet older than the open bucket is counted in it.
func (r *rate) add(ts int64, n int) (sec int64) {
	sec = unixSec(ts)
	r.hist.add(sec, uint64(n))
	if sec > r.sec {
		if sec == r.sec+1 {
			r.prevPkts, r.prevBytes = r.pkts, r.bytes
		} else {
			r.prevPkts, r.prevBytes = 0, 0
		}
		r.sec, r.pkts, r.bytes = sec, 0, 0
	}
	r.pkts++
	r.bytes += uint64(n)
	return sec
}

// at returns packets and bits per second over the second before now (Unix
// nanoseconds) without changing r.
func (r *rate) at(now int64) (pps, bps float64) {
	sec := unixSec(now)
	frac := float64(now-sec*1e9) / 1e9 // how far into second sec now is
	var cur, prev [2]float64           // packets, bytes of seconds sec and sec-1
	switch sec {
	case r.sec:
		cur = [2]float64{float64(r.pkts), float64(r.bytes)}
		prev = [2]float64{float64(r.prevPkts), float64(r.prevBytes)}
	case r.sec + 1:
		prev = [2]float64{float64(r.pkts), float64(r.bytes)}
	default:
		if sec < r.sec { // a clock behind the packets: the open bucket
			return float64(r.pkts), float64(r.bytes) * 8
		}
		return 0, 0
	}
	p := cur[0] + prev[0]*(1-frac)
	b := cur[1] + prev[1]*(1-frac)
	return p, b * 8
}
