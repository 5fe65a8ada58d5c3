package capture

import (
	"context"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// TestBellWakesIdleCapture: once idle, the flusher sleeps (the doorbell
// armed) and nothing ticks: the idle interval is an hour. A lone datagram
// must still come out at once, written and flushed, again and again: the
// programs ring the bell, the reading loop wakes and wakes the flusher.
func TestBellWakesIdleCapture(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ringBuf uint32
		passes  bool // RunPasses (the live view's) rather than RunDirect
		xdp     bool
	}{
		{"perf rings, direct", 0, false, false},
		{"perf rings, passes", 0, true, false},
		{"ring buffer, direct", 1 << 20, false, false},
		{"xdp, perf rings, direct", 0, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pair := testutil.NewPair(t)
			var sess *Session
			if err := testutil.InNetns(pair.NsA, func() (err error) {
				sess, err = Open(Config{Interface: pair.IfA,
					BPF:    bpf.Config{Snaplen: 262144, In: true, RingBuf: tc.ringBuf, XDP: tc.xdp},
					Reader: Options{FlushInterval: 5 * time.Millisecond, IdleFlushInterval: time.Hour}})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			m := sess.Reader.ps
			if rings, ok := m.src.(*perfRings); tc.ringBuf == 0 && (!ok || !rings.hot) {
				t.Fatal("the default perf rings have no hot rings in front")
			}
			if m.arm == nil || len(m.bell) == 0 {
				testutil.SkipOrFail(t, "no doorbell (the kernel's global data is not mmapable: Linux 5.5+)")
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			runErr := make(chan error, 1)
			run := sess.RunDirect
			if tc.passes {
				run = sess.RunPasses
			}
			w := &flushLog{}
			go func() { runErr <- run(ctx, w, 0, func() {}, &WriteResult{}) }()
			defer func() {
				cancel()
				<-runErr
			}()
			for round := range 3 {
				testutil.Eventually(t, 5*time.Second, m.asleep.Load, "round %d: the flusher does not sleep", round)
				before, _ := w.counts()
				sendDatagrams(t, pair, 1)
				testutil.Eventually(t, 5*time.Second, func() bool {
					n, f := w.counts()
					return n > before && f == n
				}, "round %d: the datagram did not come out (%d written before)", round, before)
			}
		})
	}
}

// A bell the programs could not ring (here: no ring in the bell's array)
// stays armed, and the next record rings it.
func TestBellRearmsWhenItCannotRing(t *testing.T) {
	bellBackstop = time.Minute // only the bell wakes the flusher here
	defer func() { bellBackstop = 5 * time.Second }()
	pair := testutil.NewPair(t)
	sess := openIn(t, pair, Options{FlushInterval: 5 * time.Millisecond, IdleFlushInterval: time.Hour})
	defer sess.Close()
	m := sess.Reader.ps
	if m.arm == nil || len(m.bell) == 0 {
		testutil.SkipOrFail(t, "no doorbell (the kernel's global data is not mmapable: Linux 5.5+)")
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &flushLog{}
	runErr := make(chan error, 1)
	go func() { runErr <- sess.RunDirect(ctx, w, 0, func() {}, &WriteResult{}) }()
	defer func() { cancel(); <-runErr }()

	testutil.Eventually(t, 5*time.Second, m.asleep.Load, "the flusher does not sleep")
	bellMap := m.bell[0].array
	for _, rg := range m.bell {
		if err := bellMap.Delete(uint32(rg.cpu)); err != nil {
			t.Fatal(err)
		}
	}
	sendDatagrams(t, pair, 1) // cannot ring
	time.Sleep(50 * time.Millisecond)
	if n, _ := w.counts(); n != 0 || !m.asleep.Load() {
		t.Fatalf("with no bell to ring: %d written, asleep %v; want 0, asleep", n, m.asleep.Load())
	}
	for _, rg := range m.bell {
		if err := bellMap.Put(uint32(rg.cpu), uint32(rg.fd)); err != nil {
			t.Fatal(err)
		}
	}
	sendDatagrams(t, pair, 1) // rings: the bell stayed armed
	testutil.Eventually(t, 5*time.Second, func() bool { n, f := w.counts(); return n >= 2 && f == n },
		"the bell did not ring for the record after the one that could not")
}
