package pcapfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// tailPoll is how often a followed file at its end is looked at again:
// well under the view's refresh, and a read that finds nothing costs
// little.
const tailPoll = 50 * time.Millisecond

// OpenFollow is OpenFile for a capture that may still be written. A
// regular file is followed, as tail -f does: at its end a read waits for
// more, and a record written in part waits for its rest, while a process
// holds the file open for writing (Writers), or until Close when always
// (--follow, for a writer that /proc does not show). Once the writers are
// gone, the file ends where they left it: a record cut there is a
// truncated file. A pipe, a FIFO or stdin is opened as OpenFile does: its
// end is its writer's anyway.
//
// The file header is read before OpenFollow returns: it may wait for it
// (Stop cannot end that wait; the caller's exit does).
func OpenFollow(path string, always bool) (*File, error) {
	if path == "-" {
		return OpenFile(path)
	}
	f, err := os.Open(path) // a FIFO's open waits for its writer
	if err != nil {
		return nil, fmt.Errorf("open capture: %w", err)
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		// Opened once: a FIFO's writer may be gone before a second open.
		cf, err := newFile(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		cf.f = f
		return cf, nil
	}
	t := &tail{f: f, always: always, watch: writerWatch{file: st}, stop: make(chan struct{})}
	cf, err := newFile(t)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	cf.f, cf.tail = f, t
	next := cf.next
	cf.next = func() (pcapRecord, []byte, error) {
		rec, data, err := next()
		if err != nil && t.stopped() {
			return pcapRecord{}, nil, io.EOF // stopped: not a truncated file
		}
		return rec, data, err
	}
	return cf, nil
}

// Following reports whether the file is followed and still growing: its
// writers (or --follow) have not let it end yet.
func (cf *File) Following() bool {
	return cf.tail != nil && !cf.tail.ended()
}

// Stop ends the following of a followed file: a read waiting at its end
// returns io.EOF, as at the end of a file. Safe to call from another
// goroutine, and more than once; Close stops too.
func (cf *File) Stop() {
	if cf.tail != nil {
		cf.tail.stopOnce.Do(func() { close(cf.tail.stop) })
	}
}

// tail reads a regular file that may be growing: at its end it waits and
// reads again while the file is written.
type tail struct {
	f        *os.File
	always   bool // --follow: until Stop, writers seen or not
	watch    writerWatch
	off      int64 // bytes read so far
	stop     chan struct{}
	stopOnce sync.Once
	mu       sync.Mutex
	done     bool // the writers left: the end is the end
}

func (t *tail) stopped() bool {
	select {
	case <-t.stop:
		return true
	default:
		return false
	}
}

func (t *tail) ended() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.done || t.stopped()
}

func (t *tail) Read(p []byte) (int, error) {
	for {
		n, err := t.f.Read(p)
		t.off += int64(n)
		if n > 0 || !errors.Is(err, io.EOF) || t.ended() {
			return n, err
		}
		// A writer that starts the file again (tcpdump -w run anew)
		// leaves nothing at our offset ever again.
		if st, err := t.f.Stat(); err == nil && st.Size() < t.off {
			return 0, fmt.Errorf("the file was truncated to %d bytes while being read at %d", st.Size(), t.off)
		}
		if !t.always && !t.watch.writing() {
			// What the writers wrote before they closed the file is
			// there now: read it, then the end is the end.
			t.mu.Lock()
			t.done = true
			t.mu.Unlock()
			continue
		}
		timer := time.NewTimer(tailPoll)
		select {
		case <-t.stop:
			timer.Stop()
			return 0, io.EOF
		case <-timer.C:
		}
	}
}
