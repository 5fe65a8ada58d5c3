package capture

import (
	"testing"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// TestBatchKeep: a kept batch does not count against the pool (the reader
// gets another without waiting), comes back for reuse when released, and
// the pool makes no new batch while returned ones are free.
func TestBatchKeep(t *testing.T) {
	pool := newBatchPool(2, 8, 1<<16)
	a, b := pool.get(false), pool.get(false)
	if pool.get(false) != nil {
		t.Fatal("a pool of 2 gave a third batch")
	}
	p := packet.Packet{Nanos: 1, OrigLen: 60, Data: make([]byte, 60)}
	a.add(p, p.Data)
	buf, release := a.Keep()
	if len(buf) != len(p.Data) {
		t.Fatalf("kept buffer holds %d bytes", len(buf))
	}
	c := pool.get(false)
	if c == nil || c == a {
		t.Fatal("a kept batch still counts against the pool")
	}
	b.Release()
	c.Release()
	release()
	seen := map[*Batch]bool{}
	for range 3 {
		x := pool.get(false)
		if x == nil || seen[x] || len(x.Packets) != 0 || len(x.buf) != 0 {
			t.Fatalf("after the kept batch came back: got %p (seen %v)", x, seen[x])
		}
		seen[x] = true
	}
	if !seen[a] {
		t.Error("the released kept batch was not reused")
	}
	if pool.get(false) != nil {
		t.Error("the pool made a new batch while it held more than its size")
	}
}
