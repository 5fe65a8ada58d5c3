package capture

import (
	"encoding/binary"
	"math"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// fakeRing is a perf ring in ordinary memory, written as the kernel writes
// one: records at increasing virtual offsets, wrapping around the end.
type fakeRing struct{ *mmapRing }

// fakePerfRings is perfRings over fake rings.
func fakePerfRings(hot bool, rings ...fakeRing) *perfRings {
	s := &perfRings{hot: hot}
	for _, rg := range rings {
		s.rings = append(s.rings, rg.mmapRing)
	}
	return s
}

// fakeReader is a Reader of src with no epoll set: for its passes, not
// its loop.
func fakeReader(src source) *Reader {
	return newReader(&pollSet{src: src}, NewClock(), Options{})
}

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
	if head+uint64(len(rec))-atomic.LoadUint64(&f.meta.Data_tail) > uint64(len(f.data)) {
		return false
	}
	for i, c := range rec {
		f.data[(head+uint64(i))&f.mask] = c
	}
	// As the kernel does: the record, then the head (a reader in another
	// goroutine reads the head first).
	atomic.StoreUint64(&f.meta.Data_head, head+uint64(len(rec)))
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
	// Ring 0 starts 40 bytes before its end, so its first records wrap.
	a, b := newFakeRing(0, 4096, 4096-40), newFakeRing(1, 4096, 0)
	src := fakePerfRings(false, a, b)
	r := fakeReader(src)
	rec := func(kt uint64, n int) bpf.Record {
		return bpf.Record{Protocol: 1, Ifindex: 7, Dir: packet.DirOut, Hook: packet.HookTC, KtimeNs: kt, TotLen: uint32(n + 10), CapLen: uint32(n)}
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
	r.writePass(math.MaxUint64, func(p *packet.Packet) {
		kt := uint64(p.Nanos - r.clock.WallNanos(0))
		if want := body(kt, len(p.Data)); string(p.Data) != string(want) || p.Ifindex != 7 || p.Dir != packet.DirOut || p.Hook != packet.HookTC {
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
	for _, rg := range src.rings {
		if rg.meta.Data_tail != rg.meta.Data_head {
			t.Errorf("CPU %d: tail %d, head %d: ring space not given back", rg.cpu, rg.meta.Data_tail, rg.meta.Data_head)
		}
	}
	// A cutoff leaves the later records in the rings for the next pass.
	out = out[:0]
	a.sample(rec(400, 8), body(400, 8))
	b.sample(rec(500, 8), body(500, 8))
	r.writePass(450, func(p *packet.Packet) { out = append(out, got{kt: uint64(p.Nanos - r.clock.WallNanos(0))}) })
	r.writePass(math.MaxUint64, func(p *packet.Packet) { out = append(out, got{kt: uint64(p.Nanos - r.clock.WallNanos(0))}) })
	if len(out) != 2 || out[0].kt != 400 || out[1].kt != 500 {
		t.Errorf("with a cutoff between them: %v, want 400 then 500", out)
	}
}

// fakeRingBuf is a BPF ring buffer in ordinary memory, its data written
// twice in a row as the kernel maps it.
type fakeRingBuf struct {
	*bpfRing
	size uint64
}

func newFakeRingBuf(size int) *fakeRingBuf {
	f := &fakeRingBuf{size: uint64(size)}
	f.bpfRing = &bpfRing{data: make([]byte, 2*size), mask: uint64(size - 1)}
	f.prodPos, f.consPos = new(uint64), new(uint64)
	return f
}

// put reserves a record of body's length at the producer position with
// the given header bits (ringBusyBit, ringDiscardBit), as
// bpf_ringbuf_reserve and _submit leave it, and returns where it starts.
func (f *fakeRingBuf) put(body []byte, bits uint32) uint64 {
	at := *f.prodPos
	rec := binary.LittleEndian.AppendUint32(nil, uint32(len(body))|bits)
	rec = binary.LittleEndian.AppendUint32(rec, 0)
	rec = append(rec, body...)
	for len(rec)%8 != 0 {
		rec = append(rec, 0)
	}
	if at+uint64(len(rec))-*f.consPos > f.size {
		panic("fake ring buffer full")
	}
	for i, c := range rec {
		o := (at + uint64(i)) & f.mask
		f.data[o], f.data[o+f.size] = c, c
	}
	*f.prodPos = at + uint64(len(rec))
	return at
}

// submit clears a busy record's busy bit.
func (f *fakeRingBuf) submit(at uint64) {
	o := at & f.mask
	h := binary.LittleEndian.Uint32(f.data[o:]) &^ ringBusyBit
	binary.LittleEndian.PutUint32(f.data[o:], h)
	binary.LittleEndian.PutUint32(f.data[o+f.size:], h)
}

// sample puts a capture record stamped kt with an n-byte payload made
// from kt.
func (f *fakeRingBuf) sample(kt uint64, n int, bits uint32) uint64 {
	return f.put(bpf.AppendRecord(nil, ringRec(kt, n), ringPayload(kt, n)), bits)
}

func ringRec(kt uint64, n int) bpf.Record {
	return bpf.Record{Protocol: 1, Ifindex: 3, Dir: packet.DirIn, Hook: packet.HookXDP, KtimeNs: kt, TotLen: uint32(n + 4), CapLen: uint32(n)}
}

func ringPayload(kt uint64, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(kt>>10) + byte(i)
	}
	return p
}

func TestMergeRingBuf(t *testing.T) {
	const ms = uint64(time.Millisecond)
	base := uint64(time.Second)
	f := newFakeRingBuf(1 << 16)
	r := fakeReader(f.bpfRing)
	var got []uint64
	pass := func(cutoff uint64) {
		t.Helper()
		r.writePass(cutoff, func(p *packet.Packet) {
			kt := uint64(p.Nanos - r.clock.WallNanos(0))
			if want := ringPayload(kt, len(p.Data)); string(p.Data) != string(want) || p.OrigLen != uint32(len(p.Data)+4) || p.Ifindex != 3 || p.Hook != packet.HookXDP {
				t.Errorf("packet stamped %d: %+v, want bytes %x", kt, p, want)
			}
			got = append(got, (kt-base)/ms)
		})
	}
	expect := func(what string, want ...uint64) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s: wrote %v (ms), want %v", what, got, want)
		}
		got = got[:0]
	}

	// Two CPUs reserving at once: stamps a little out of ring order; a
	// discarded record, and one that is not ours.
	f.sample(base+10*ms, 60, 0)
	f.sample(base+9*ms, 1, 0)
	f.sample(base+11*ms, 70, ringDiscardBit)
	f.put([]byte("not a capture record, long enough to check"), 0)
	f.sample(base+12*ms, 14, 0)
	pass(math.MaxUint64)
	expect("everything, sorted", 9, 10, 12)
	if bad := r.Stats.BadRecords.Load(); bad != 1 {
		t.Errorf("bad records %d, want 1", bad)
	}
	if *f.consPos != *f.prodPos {
		t.Errorf("consumer at %d, producer at %d: space not given back", *f.consPos, *f.prodPos)
	}

	// Records after the cutoff, all after the written ones in ring order:
	// left in the ring.
	f.sample(base+20*ms, 8, 0)
	later := f.sample(base+40*ms, 8, 0)
	pass(base + 30*ms)
	expect("before the cutoff", 20)
	if *f.consPos != later {
		t.Errorf("consumer at %d, want %d, where the unwritten record starts", *f.consPos, later)
	}
	// A record after the cutoff comes before one before it in ring order:
	// it is copied out, and written in its turn.
	f.sample(base+55*ms, 8, 0)
	f.sample(base+45*ms, 8, 0)
	pass(base + 50*ms)
	expect("before the cutoff, out of ring order", 40, 45)
	if *f.consPos != *f.prodPos || len(f.held) != 1 {
		t.Errorf("consumer at %d, producer at %d, %d held: want all given back, one held", *f.consPos, *f.prodPos, len(f.held))
	}
	f.sample(base+52*ms, 8, 0)
	pass(math.MaxUint64)
	expect("the held record in its place", 52, 55)

	// A reserved record not yet submitted: the pass stops there, and
	// writes only what no record behind it can precede.
	f.sample(base+60*ms, 8, 0)
	f.sample(base+70*ms, 8, 0)
	busy := f.sample(base+71*ms, 8, ringBusyBit)
	f.sample(base+69*ms, 8, 0)
	pass(math.MaxUint64 - 1)
	expect("up to the busy record, less the slack", 60)
	f.submit(busy)
	pass(math.MaxUint64)
	expect("after the submit", 69, 70, 71)

	// A malformed record behind one left in the ring is read again by
	// the next pass, and counted once.
	bad0 := r.Stats.BadRecords.Load()
	f.sample(base+80*ms, 8, 0)
	f.sample(base+95*ms, 8, 0)
	f.put([]byte("not ours either, and long enough to be checked"), 0)
	pass(base + 90*ms)
	pass(base + 90*ms)
	expect("before the cutoff, twice", 80)
	pass(math.MaxUint64)
	expect("the rest", 95)
	if bad := r.Stats.BadRecords.Load() - bad0; bad != 1 {
		t.Errorf("one malformed record read by three passes counted %d times", bad)
	}

	// More records than one list takes: several lists in one pass, the
	// final one included, with two records reserved out of stamp order
	// where the first list ends.
	big := newFakeRingBuf(1 << 21)
	r.ps.src = big.bpfRing
	total := rbPassRecords*2 + 100
	for k := range total {
		kt := base + 100*ms + uint64(k)*1000
		switch k {
		case rbPassRecords - 1:
			kt += 1000
		case rbPassRecords:
			kt -= 1000
		}
		big.sample(kt, 1, 0)
	}
	var stamps []int64
	r.writePass(math.MaxUint64, func(p *packet.Packet) { stamps = append(stamps, p.Nanos) })
	if len(stamps) != total || !slices.IsSorted(stamps) {
		t.Errorf("%d records written (sorted: %v), want %d in order", len(stamps), slices.IsSorted(stamps), total)
	}
	if *big.consPos != *big.prodPos || len(big.held) != 0 {
		t.Errorf("after the final pass: consumer %d, producer %d, %d held", *big.consPos, *big.prodPos, len(big.held))
	}
}

// A long pass gives every ring its space back as it goes, not only at its
// end and not only the ring it happens to be writing from.
func TestMergeRingsReleasesAsItGoes(t *testing.T) {
	a, b := newFakeRing(0, 1<<20, 0), newFakeRing(1, 1<<20, 0)
	src := fakePerfRings(false, a, b)
	r := fakeReader(src)
	const each = 5000
	for k := range each {
		a.sample(bpf.Record{Protocol: 1, Dir: packet.DirIn, KtimeNs: uint64(1e9 + 2*k), TotLen: 1, CapLen: 1}, []byte{1})
		b.sample(bpf.Record{Protocol: 1, Dir: packet.DirIn, KtimeNs: uint64(1e9 + 2*k + 1), TotLen: 1, CapLen: 1}, []byte{2})
	}
	written := 0
	r.writePass(math.MaxUint64, func(p *packet.Packet) {
		written++
		if written == 4097 { // the 4096th was written: both rings are half done
			for _, rg := range src.rings {
				if rg.meta.Data_tail == 0 {
					t.Errorf("CPU %d: no space given back after 4096 records", rg.cpu)
				}
			}
		}
	})
	if written != 2*each {
		t.Fatalf("wrote %d, want %d", written, 2*each)
	}
}

// A CPU stamps a record and writes it to its ring a little later. A pass
// that read that ring's head just before the write, and another ring's
// later-stamped record after it, must not write the later one yet: the
// cutoff (now less the slack) leaves records that recent for the next
// pass, which then finds both and writes them in order.
func TestPassCutoffWaitsForRecordsBeingWritten(t *testing.T) {
	for _, hot := range []bool{false, true} {
		slack := perfSlack
		// The race is replayed by hand: records stamped 20% and 40% of the
		// slack before the pass. Should the test itself be descheduled for
		// more than half the slack between stamping and the pass, the
		// round is void and tried again.
		for round := 0; ; round++ {
			if round == 20 {
				t.Fatal("descheduled in every round")
			}
			a, b := newFakeRing(0, 4096, 0), newFakeRing(1, 4096, 0)
			r := fakeReader(fakePerfRings(hot, a, b))
			now := Monotonic()
			early, late := now-slack*2/5, now-slack/5
			a.sample(bpf.Record{Protocol: 1, Dir: packet.DirIn, KtimeNs: late, TotLen: 1, CapLen: 1}, []byte{'a'})
			var got []byte
			write := func(p *packet.Packet) { got = append(got, p.Data[0]) }
			r.writePass(passCutoff(false), write)
			if Monotonic()-now > slack/2 {
				continue
			}
			if len(got) != 0 {
				t.Fatalf("hot %v: the first pass wrote %q, stamped %v before it: it cannot know that no CPU is still writing an earlier one",
					hot, got, time.Duration(now-late))
			}
			// CPU 1 writes what it stamped before CPU 0's record.
			b.sample(bpf.Record{Protocol: 1, Dir: packet.DirIn, KtimeNs: early, TotLen: 1, CapLen: 1}, []byte{'b'})
			r.writePass(passCutoff(true), write)
			if string(got) != "ba" || r.Stats.Late.Load() != 0 {
				t.Fatalf("hot %v: wrote %q (%d late), want \"ba\"", hot, got, r.Stats.Late.Load())
			}
			break
		}
	}
}
