package capture

// WriteResult says how writing batches to a file ended.
type WriteResult struct {
	Written uint64
	Err     error // the first write error; later batches are only released
}

// WriteBatches writes every packet of the batches from in to w, releasing
// each batch, until in is closed. After limit packets (0: no limit), or on
// the first write error, it calls stop once and writes no more, but keeps
// draining so the reader never blocks. It flushes w at the end.
func WriteBatches(in <-chan *Batch, w PacketWriter, limit uint64, stop func()) WriteResult {
	var res WriteResult
	for b := range in {
		for i := range b.Packets {
			if res.Err != nil || (limit > 0 && res.Written >= limit) {
				break
			}
			if err := w.Write(&b.Packets[i]); err != nil {
				res.Err = err
				stop()
				break
			}
			res.Written++
			if limit > 0 && res.Written == limit {
				stop()
			}
		}
		b.Release()
		if res.Err == nil && len(in) == 0 {
			// Nothing queued: make what we have visible (for -w - | tcpdump).
			if err := w.Flush(); err != nil {
				res.Err = err
				stop()
			}
		}
	}
	if res.Err == nil {
		res.Err = w.Flush()
	}
	return res
}
