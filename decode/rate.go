package decode

// ewmaAlpha is the weight of the latest complete second in the smoothed
// rates: with 0.5 a step change is 94% visible after four seconds.
const ewmaAlpha = 0.5

// rate measures packets and bits per second from packet timestamps:
// packets are counted in one-second buckets and each completed bucket is
// folded into an exponentially weighted moving average. The open bucket
// is not part of the rate yet, so a rate lags by up to one second.
type rate struct {
	sec         int64   // second of the open bucket (Unix seconds)
	pkts, bytes uint64  // open bucket
	pps, bps    float64 // smoothed rates up to the end of second sec-1
	seeded      bool    // a bucket has been folded in
}

func unixSec(ns int64) int64 {
	s := ns / 1e9
	if ns < 0 && s*1e9 != ns {
		s--
	}
	return s
}

// add counts one packet of n bytes seen at ts (Unix nanoseconds). A packet
// older than the open bucket is counted in it.
func (r *rate) add(ts int64, n int) {
	if sec := unixSec(ts); sec > r.sec {
		r.pps, r.bps, r.seeded = r.advance(sec)
		r.sec, r.pkts, r.bytes = sec, 0, 0
	}
	r.pkts++
	r.bytes += uint64(n)
}

// advance returns the smoothed rates as of the start of second sec > r.sec.
func (r *rate) advance(sec int64) (pps, bps float64, seeded bool) {
	pps, bps, seeded = r.pps, r.bps, r.seeded
	if r.pkts > 0 || seeded {
		p, b := float64(r.pkts), float64(r.bytes)*8
		if seeded {
			pps = ewmaAlpha*p + (1-ewmaAlpha)*pps
			bps = ewmaAlpha*b + (1-ewmaAlpha)*bps
		} else {
			pps, bps, seeded = p, b, true
		}
	}
	// Seconds with no packets at all.
	gap := sec - r.sec - 1
	if gap >= 30 { // 0.5^30: nothing left worth showing
		return 0, 0, seeded
	}
	for ; gap > 0; gap-- {
		pps *= 1 - ewmaAlpha
		bps *= 1 - ewmaAlpha
	}
	return pps, bps, seeded
}

// at returns the smoothed packets and bits per second as of now (Unix
// nanoseconds) without changing r.
func (r *rate) at(now int64) (pps, bps float64) {
	if sec := unixSec(now); sec > r.sec {
		pps, bps, _ = r.advance(sec)
		return pps, bps
	}
	return r.pps, r.bps
}
