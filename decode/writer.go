package decode

import "github.com/bpftop-cap/bpftop-cap/packet"

// Writer adds packets to an Engine one at a time, from where the capture
// read them (the live view: capture's RunPasses calls it in its reading
// goroutine, with the packet still in the kernel's ring), so that no
// batch is copied and handed to another goroutine. It holds the engine's
// lock across up to writerRun packets or writerBytes bytes, and lets it
// go at Flush, which the capture calls at the end of every pass over its
// rings.
type Writer struct {
	e     *Engine
	held  int // packets added since the lock was taken; 0 when not held
	bytes int // their captured bytes
}

// writerRun and writerBytes bound what a Writer adds per hold of the
// lock: how long a view method may wait behind it (a run of 64 KiB
// segments is bounded by the bytes copied, one of small packets by their
// number).
const (
	writerRun   = 256
	writerBytes = 1 << 20
)

// Writer returns a Writer that adds to e. Like Add, it is for one
// producer goroutine.
func (e *Engine) Writer() *Writer { return &Writer{e: e} }

// Write adds p as Add does (p.Data is copied). It never fails.
func (w *Writer) Write(p *packet.Packet) error {
	if w.held == 0 {
		w.e.lockAdd()
	}
	w.held++
	w.bytes += len(p.Data)
	done := false
	defer func() {
		if !done {
			w.release() // a panic must not leave the lock held
		}
	}()
	w.e.addLocked(p)
	done = true
	if w.held == writerRun || w.bytes >= writerBytes {
		w.release()
	}
	return nil
}

// Flush lets the lock go and tells the view (Changed) that packets came.
func (w *Writer) Flush() error {
	if w.held > 0 {
		w.release()
	}
	return nil
}

func (w *Writer) release() {
	w.held, w.bytes = 0, 0
	w.e.unlockAdd()
	w.e.notify()
}
