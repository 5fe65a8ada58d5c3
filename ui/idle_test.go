package ui

import (
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/decode"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// An idle view redraws every IdleInterval, and a change in the engine
// brings the view back at once (the flow shows without waiting for a tick)
// and to Interval.
func TestTUIIdleRedraws(t *testing.T) {
	e := newEnv(t, 120, 40, Config{})
	m := e.m
	e.tick() // Init's refresh saw nothing new since: the engine never changed
	if !m.idle || !m.waiting {
		t.Fatalf("no change since the last tick: idle %v, waiting %v; want both", m.idle, m.waiting)
	}
	e.tick()
	if !m.idle {
		t.Fatal("still no change: not idle")
	}

	// The wait command returns when the engine changes.
	wait := waitChange(e.eng.Changed())
	got := make(chan any, 1)
	go func() { got <- wait() }()
	e.add(packet.DirOut, udpFrame(t, "10.0.0.1", 5000, "10.0.0.2", 53, []byte("x")))
	select {
	case msg := <-got:
		if _, ok := msg.(changedMsg); !ok {
			t.Fatalf("wait returned %T", msg)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the wait did not return after a frame was added")
	}

	gen, ticks := m.tickGen, m.ticks
	_, cmd := m.Update(changedMsg{})
	e.settle(cmd)
	if m.idle || m.waiting || m.tickGen != gen+1 {
		t.Fatalf("after a change: idle %v, waiting %v, chain %d (was %d)", m.idle, m.waiting, m.tickGen, gen)
	}
	if len(m.flows.rows) != 1 {
		t.Fatalf("the new flow is not shown at once: %d rows", len(m.flows.rows))
	}
	// The idle chain's tick is dropped: one chain at a time.
	if _, cmd := m.Update(tickMsg{gen: gen}); cmd != nil || m.ticks != ticks {
		t.Fatal("a tick of the replaced chain was not dropped")
	}

	// Frames keep coming: every tick stays at Interval.
	e.add(packet.DirOut, udpFrame(t, "10.0.0.1", 5000, "10.0.0.2", 53, []byte("y")))
	e.tick()
	if m.idle {
		t.Fatal("idle after a tick that followed a change")
	}
	// A change reported by a wait while the view was not idle counts for
	// the next tick.
	e.tick() // nothing since: idle, waiting
	m.idle = false
	m.Update(changedMsg{})
	e.tick()
	if m.idle {
		t.Fatal("a change a wait reported while not idle was forgotten")
	}
}

// Lost and dropped counts wake an idle view too; setting the same counts
// again does not.
func TestEngineChangedByCounters(t *testing.T) {
	eng := decode.NewEngine(decode.Config{})
	changed := func() bool {
		select {
		case <-eng.Changed():
			return true
		default:
			return false
		}
	}
	if changed() {
		t.Fatal("a new engine says it changed")
	}
	eng.SetCaptureCounters(0, 0)
	if changed() {
		t.Fatal("the same counters signalled a change")
	}
	eng.SetCaptureCounters(3, 0)
	if !changed() {
		t.Fatal("new loss counts did not signal a change")
	}
}
