package capture

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/pcapfile"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

func testPackets() []packet.Packet {
	ts := time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)
	var ps []packet.Packet
	for i, n := range []int{60, 1514, 1, 300} {
		d := make([]byte, n)
		for j := range d {
			d[j] = byte(i*7 + j)
		}
		ps = append(ps, packet.Packet{Nanos: ts.Add(time.Duration(i) * 1001 * time.Nanosecond).UnixNano(), Ifindex: 3, Dir: packet.DirIn, OrigLen: uint32(n + i*100), Data: d})
	}
	return ps
}

func TestWriteBatchesCountAndRelease(t *testing.T) {
	pool := newBatchPool(3, 8, 1<<16)
	in := make(chan *Batch, 4)
	for range 3 {
		b := pool.get(false)
		for _, p := range testPackets() {
			b.add(p, p.Data)
		}
		in <- b
	}
	close(in)
	var buf bytes.Buffer
	w, _ := pcapfile.NewPcapWriter(&buf, 65535, 1)
	stops := 0
	res := WriteBatches(in, w, 5, func() { stops++ })
	if res.Err != nil || res.Written != 5 || stops != 1 {
		t.Fatalf("written %d, err %v, stop called %d times", res.Written, res.Err, stops)
	}
	if pool.len() != 3 {
		t.Errorf("%d of 3 batches released", pool.len())
	}
	r, _ := pcapgo.NewReader(&buf)
	n := 0
	for {
		if _, _, err := r.ReadPacketData(); err != nil {
			break
		}
		n++
	}
	if n != 5 {
		t.Errorf("file holds %d packets, want 5", n)
	}
}

// TestWriteBatchesMergesAcrossBatches: packets of a later batch older than
// packets of the batch before it (another CPU's ring read later) are
// written in time order.
func TestWriteBatchesMergesAcrossBatches(t *testing.T) {
	base := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	mk := func(offsets ...int) *Batch {
		b := &Batch{Packets: make([]packet.Packet, 0, 8), buf: make([]byte, 0, 1024)}
		for _, o := range offsets {
			b.add(packet.Packet{Nanos: base.Add(time.Duration(o) * time.Microsecond).UnixNano(), OrigLen: 60}, make([]byte, 60))
		}
		return b
	}
	in := make(chan *Batch, 4)
	in <- mk(1, 3, 5, 9)
	in <- mk(2, 4, 6, 10)
	in <- mk(7, 8, 11)
	close(in)
	var buf bytes.Buffer
	w, _ := pcapfile.NewPcapWriter(&buf, 65535, 1)
	res := WriteBatches(in, w, 0, func() {})
	if res.Err != nil || res.Written != 11 {
		t.Fatalf("written %d, %v", res.Written, res.Err)
	}
	r, _ := pcapgo.NewReader(&buf)
	var last time.Time
	for i := 0; ; i++ {
		_, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		if ci.Timestamp.Before(last) {
			t.Fatalf("packet %d at %v is older than the one before (%v)", i, ci.Timestamp, last)
		}
		last = ci.Timestamp
	}
}

// TestWriteBatchesRandomOverlap: up to maxHeld batches, each sorted,
// overlapping at random, come out as one sorted stream with nothing lost.
func TestWriteBatchesRandomOverlap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for round := range 50 {
		in := make(chan *Batch, maxHeld)
		total := 0
		for range 1 + rng.IntN(maxHeld) {
			n := 1 + rng.IntN(40)
			offs := make([]int, n)
			for i := range offs {
				offs[i] = rng.IntN(1000)
			}
			slices.Sort(offs)
			b := &Batch{Packets: make([]packet.Packet, 0, n), buf: make([]byte, 0, n*8)}
			for _, o := range offs {
				b.add(packet.Packet{Nanos: base.Add(time.Duration(o) * time.Microsecond).UnixNano(), OrigLen: 8}, make([]byte, 8))
			}
			in <- b
			total += n
		}
		close(in)
		var buf bytes.Buffer
		w, _ := pcapfile.NewPcapWriter(&buf, 65535, 1)
		if res := WriteBatches(in, w, 0, func() {}); res.Err != nil || res.Written != uint64(total) {
			t.Fatalf("round %d: wrote %d of %d: %v", round, res.Written, total, res.Err)
		}
		r, _ := pcapgo.NewReader(&buf)
		var last time.Time
		for {
			_, ci, err := r.ReadPacketData()
			if err != nil {
				break
			}
			if ci.Timestamp.Before(last) {
				t.Fatalf("round %d: out of order", round)
			}
			last = ci.Timestamp
		}
	}
}

// TestBatchKeep: a kept batch does not count against the pool (the reader
// gets another without waiting), comes back for reuse when released, and
// the pool makes no new batch while returned ones are free.
func TestBatchKeep(t *testing.T) {
	pool := newBatchPool(2, 8, 1<<16)
	a, b := pool.get(false), pool.get(false)
	if pool.get(false) != nil {
		t.Fatal("a pool of 2 gave a third batch")
	}
	a.add(testPackets()[0], testPackets()[0].Data)
	buf, release := a.Keep()
	if len(buf) != len(testPackets()[0].Data) {
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
