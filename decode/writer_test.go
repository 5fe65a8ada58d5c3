package decode

import (
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// A Writer adds what Add adds, holds the engine's lock from a Write to the
// next Flush or for writerRun packets at most, and tells the view at
// Flush.
func TestWriter(t *testing.T) {
	viaAdd, viaWriter := NewEngine(Config{}), NewEngine(Config{})
	w := viaWriter.Writer()
	frames := testFrames(t)
	var last time.Time
	for i := range writerRun + 10 {
		tf := frames[i%len(frames)]
		last = testTS.Add(time.Duration(i) * time.Millisecond)
		p := packet.Packet{Nanos: packet.Nanos(last), Ifindex: 1, OrigLen: uint32(max(tf.origLen, len(tf.data))), Data: tf.data}
		viaAdd.Add(p)
		if err := w.Write(&p); err != nil {
			t.Fatal(err)
		}
		held := !viaWriter.mu.TryLock()
		if !held {
			viaWriter.mu.Unlock()
		}
		if want := (i+1)%writerRun != 0; held != want {
			t.Fatalf("after packet %d the lock is held: %v, want %v", i+1, held, want)
		}
	}
	select {
	case <-viaWriter.Changed():
	default:
		t.Error("no change signalled after a run of writerRun packets")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !viaWriter.mu.TryLock() {
		t.Fatal("lock held after Flush")
	}
	viaWriter.mu.Unlock()
	select {
	case <-viaWriter.Changed():
	default:
		t.Error("no change signalled at Flush")
	}
	if err := w.Flush(); err != nil { // nothing written since: nothing to let go
		t.Fatal(err)
	}
	diffStates(t, stateOf(viaWriter, last), stateOf(viaAdd, last))

	// Big packets: the run ends at writerBytes.
	big := make([]byte, 64<<10)
	for i := range writerBytes / len(big) {
		if err := w.Write(&packet.Packet{Nanos: packet.Nanos(last), OrigLen: uint32(len(big)), Data: big}); err != nil {
			t.Fatal(err)
		}
		held := !viaWriter.mu.TryLock()
		if !held {
			viaWriter.mu.Unlock()
		}
		if want := i+1 < writerBytes/len(big); held != want {
			t.Fatalf("after %d big packets the lock is held: %v, want %v", i+1, held, want)
		}
	}
}
