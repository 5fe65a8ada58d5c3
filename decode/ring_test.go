package decode

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// TestRingRandom adds frames of random sizes, some bigger than a chunk
// (a segment of their own), into rings of random budgets and checks,
// after every step, every retained packet's bytes and the budget.
func TestRingRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 30 {
		ringBytes := 4<<10 + rng.IntN(256<<10)
		e := NewEngine(Config{RingBytes: ringBytes})
		want := map[uint64][]byte{}
		next := uint64(1)
		for step := range 1000 {
			n := rng.IntN(1500)
			if rng.IntN(20) == 0 {
				n = rng.IntN(ringBytes / 2)
			}
			data := udpFrame(t, uint16(step), n)
			data[len(data)-1] = byte(step)
			e.Add(packet.Packet{Nanos: packet.Nanos(testTS), OrigLen: uint32(len(data)), Data: data})
			want[next] = bytes.Clone(data)
			next++
			if e.ring.held > ringBytes {
				t.Fatalf("round %d step %d: ring holds %d bytes of a %d budget", round, step, e.ring.held, ringBytes)
			}
			st := e.Stats(testTS)
			if st.RingPackets == 0 || st.LastSeq != next-1 {
				t.Fatalf("round %d step %d: %d packets, last seq %d, want %d", round, step, st.RingPackets, st.LastSeq, next-1)
			}
			for s := st.FirstSeq; s <= st.LastSeq; s++ {
				if f, ok := e.Packet(s); !ok || !bytes.Equal(f.Data, want[s]) {
					t.Fatalf("round %d step %d: packet %d differs", round, step, s)
				}
			}
		}
	}
}

// TestRingBigFrameEvicted: a frame bigger than a chunk gets a segment of
// its own, freed with it; it must not stay counted against the budget
// once evicted, or every later frame would push the ring over its budget
// and evict all that came before (found in review).
func TestRingBigFrameEvicted(t *testing.T) {
	const ringBytes = 16 << 10 // chunks of 1 KiB
	e := NewEngine(Config{RingBytes: ringBytes})
	big := udpFrame(t, 1, 15000-42)
	e.Add(packet.Packet{Nanos: packet.Nanos(testTS), OrigLen: uint32(len(big)), Data: big})
	for i := range 6 {
		f := udpFrame(t, uint16(10+i), 2000-42) // bigger than a chunk too
		e.Add(packet.Packet{Nanos: packet.Nanos(testTS), OrigLen: uint32(len(f)), Data: f})
		if e.ring.held > ringBytes {
			t.Errorf("after frame %d: ring holds %d bytes of a %d budget", i, e.ring.held, ringBytes)
		}
	}
	if n := e.ring.count(); n != 6 {
		t.Errorf("%d packets retained, want the 6 after the big one", n)
	}
}
