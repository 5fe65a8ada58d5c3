package capture

import (
	"encoding/binary"
	"math"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/bpf"
)

// fakeRing is a perf ring in ordinary memory, written as the kernel writes
// one: records at increasing virtual offsets, wrapping around the end.
type fakeRing struct{ *mmapRing }

func newFakeRing(cpu, size int, start uint64) fakeRing {
	rg := &mmapRing{cpu: cpu, meta: new(unix.PerfEventMmapPage), data: make([]byte, size)}
	rg.mask = uint64(size - 1)
	rg.meta.Data_head, rg.meta.Data_tail = start, start
	return fakeRing{rg}
}

// put writes one record of type typ and body at the head, reporting false
// (and writing nothing) when the ring has no room.
func (f fakeRing) put(typ uint32, body []byte) bool {
	rec := binary.LittleEndian.AppendUint32(nil, typ)
	rec = binary.LittleEndian.AppendUint16(rec, 0)
	rec = binary.LittleEndian.AppendUint16(rec, uint16(8+len(body)))
	rec = append(rec, body...)
	head := f.meta.Data_head
	if head+uint64(len(rec))-f.meta.Data_tail > uint64(len(f.data)) {
		return false
	}
	for i, c := range rec {
		f.data[(head+uint64(i))&f.mask] = c
	}
	f.meta.Data_head = head + uint64(len(rec))
	return true
}

// sample writes a capture record as the programs' perf output does.
func (f fakeRing) sample(r bpf.Record, payload []byte) bool {
	raw := bpf.AppendRecord(nil, r, payload)
	return f.put(unix.PERF_RECORD_SAMPLE, append(binary.LittleEndian.AppendUint32(nil, uint32(len(raw))), raw...))
}

// lost writes the kernel's record of n samples it had no room for.
func (f fakeRing) lost(n uint64) bool {
	body := binary.LittleEndian.AppendUint64(nil, 1) // id
	return f.put(unix.PERF_RECORD_LOST, binary.LittleEndian.AppendUint64(body, n))
}

func TestMergeRingsParsesInPlace(t *testing.T) {
	r := newPoolReader(Options{})
	r.mm = &mmapRings{}
	// Ring 0 starts 40 bytes before its end, so its first records wrap.
	a, b := newFakeRing(0, 4096, 4096-40), newFakeRing(1, 4096, 0)
	r.mm.rings = []*mmapRing{a.mmapRing, b.mmapRing}
	rec := func(kt uint64, n int) bpf.Record {
		return bpf.Record{Protocol: 1, Ifindex: 7, Dir: bpf.DirOut, Hook: bpf.HookTC, KtimeNs: kt, TotLen: uint32(n + 10), CapLen: uint32(n)}
	}
	body := func(kt uint64, n int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(kt) + byte(i)
		}
		return p
	}
	ok := a.sample(rec(100, 60), body(100, 60)) &&
		b.sample(rec(150, 64), body(150, 64)) &&
		a.lost(5) &&
		a.sample(rec(200, 14), body(200, 14)) &&
		b.put(unix.PERF_RECORD_SAMPLE, binary.LittleEndian.AppendUint32(nil, 8)) && // too short to be ours
		b.sample(rec(250, 1), body(250, 1)) &&
		a.sample(rec(300, 100), body(300, 100))
	if !ok {
		t.Fatal("fake rings too small")
	}
	type got struct {
		kt   uint64
		n    int
		orig uint32
	}
	var out []got
	r.mergeRings(math.MaxUint64, func(p *Packet) {
		kt := uint64(p.Nanos - r.clock.WallNanos(0))
		if want := body(kt, len(p.Data)); string(p.Data) != string(want) || p.Ifindex != 7 || p.Dir != bpf.DirOut || p.Hook != bpf.HookTC {
			t.Errorf("packet at %d: %+v, want bytes %x", kt, p, want)
		}
		out = append(out, got{kt, len(p.Data), p.OrigLen})
	})
	want := []got{{100, 60, 70}, {150, 64, 74}, {200, 14, 24}, {250, 1, 11}, {300, 100, 110}}
	if len(out) != len(want) {
		t.Fatalf("wrote %v, want %v", out, want)
	}
	for i := range want {
		if out[i] != want[i] {
			t.Errorf("packet %d: %v, want %v", i, out[i], want[i])
		}
	}
	if l, bad := r.Stats.Lost.Load(), r.Stats.BadRecords.Load(); l != 5 || bad != 1 {
		t.Errorf("lost %d, bad %d; want 5 and 1", l, bad)
	}
	for _, rg := range r.mm.rings {
		if rg.meta.Data_tail != rg.meta.Data_head {
			t.Errorf("CPU %d: tail %d, head %d: ring space not given back", rg.cpu, rg.meta.Data_tail, rg.meta.Data_head)
		}
	}
	// A cutoff leaves the later records in the rings for the next pass.
	out = out[:0]
	a.sample(rec(400, 8), body(400, 8))
	b.sample(rec(500, 8), body(500, 8))
	r.mergeRings(450, func(p *Packet) { out = append(out, got{kt: uint64(p.Nanos - r.clock.WallNanos(0))}) })
	r.mergeRings(math.MaxUint64, func(p *Packet) { out = append(out, got{kt: uint64(p.Nanos - r.clock.WallNanos(0))}) })
	if len(out) != 2 || out[0].kt != 400 || out[1].kt != 500 {
		t.Errorf("with a cutoff between them: %v, want 400 then 500", out)
	}
}
