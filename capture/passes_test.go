package capture

import (
	"math"
	"testing"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// RunPasses' sink flushes at the end of every pass that wrote, however
// soon after the last flush (RunDirect's waits flushEvery), and stops at
// the limit, calling stop once.
func TestRunPassesFlushesEveryPass(t *testing.T) {
	a := newFakeRing(0, 1<<16, 0)
	r := fakeReader(fakePerfRings(false, a))
	w := &flushLog{}
	var res WriteResult
	stops := 0
	s := &passSink{directSink{r: r, out: newFileSink(w, 3, func() { stops++ }, &res)}}
	for i := range 5 {
		for j := range 2 { // two packets a pass
			kt := uint64(2*i + j + 1)
			if !a.sample(bpf.Record{Protocol: 1, Ifindex: 1, Dir: packet.DirOut, Hook: packet.HookTC, KtimeNs: kt, TotLen: 60, CapLen: 60}, make([]byte, 60)) {
				t.Fatal("fake ring full")
			}
		}
		s.pass(math.MaxUint64)
		want := min(2*(i+1), 3)
		if written, flushed := w.counts(); written != want || flushed != want {
			t.Fatalf("after pass %d: %d written, %d flushed; want %d", i+1, written, flushed, want)
		}
	}
	if stops != 1 || res.Written != 3 || !s.settled() {
		t.Errorf("stop called %d times, %d written, settled %v", stops, res.Written, s.settled())
	}
}
