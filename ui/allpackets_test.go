package ui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

func TestTUIAllPackets(t *testing.T) {
	e := newEnv(t, 120, 40, Config{})
	e.fill()
	e.tick()
	e.press("a")
	v := e.m.View()
	if !strings.Contains(v, "All packets · 12 retained, #1 to #12") {
		t.Fatalf("a does not open the list of all packets:\n%s", v)
	}
	// Newest at the bottom, selected; every packet has its row, in order.
	if !e.m.all.ok || e.m.all.selSeq != 12 {
		t.Fatalf("selected #%d (ok %v), want the newest, #12", e.m.all.selSeq, e.m.all.ok)
	}
	last := -1
	for n := 1; n <= 12; n++ {
		i := strings.Index(v, fmt.Sprintf("\n  %4d ", n))
		if n == 12 {
			i = strings.Index(v, fmt.Sprintf("\n> %4d ", n))
		}
		if i < 0 || i < last {
			t.Fatalf("row #%d missing or out of order:\n%s", n, v)
		}
		last = i
	}
	// The selection stays on its packet as more arrive.
	e.press("k", "k", "k")
	if e.m.all.selSeq != 9 {
		t.Fatalf("three up from #12: #%d", e.m.all.selSeq)
	}
	for range 5 {
		e.add(packet.DirIn, udpFrame(t, "10.9.9.9", 9, "10.0.0.1", 9, []byte("later")))
	}
	e.tick()
	if e.m.all.selSeq != 9 || e.m.all.last != 17 {
		t.Fatalf("after 5 more: selected #%d of ..#%d, want #9 of ..#17", e.m.all.selSeq, e.m.all.last)
	}
	// Enter opens the selected packet's detail; esc goes back.
	e.press("enter")
	if e.m.focus != paneHex || !e.m.hex.ok || e.m.hex.seq != 9 {
		t.Fatalf("enter: focus %d, detail of #%d (ok %v), want #9", e.m.focus, e.m.hex.seq, e.m.hex.ok)
	}
	if !strings.Contains(e.m.View(), "Packet #9 ") {
		t.Errorf("detail heading does not name packet #9")
	}
	e.press("esc")
	if e.m.focus != paneFlows {
		t.Errorf("esc from the detail: focus %d", e.m.focus)
	}
	// F follows the newest.
	e.press("F")
	e.add(packet.DirIn, udpFrame(t, "10.9.9.9", 9, "10.0.0.1", 9, []byte("later")))
	e.tick()
	if e.m.all.selSeq != 18 {
		t.Errorf("following: selected #%d, want #18", e.m.all.selSeq)
	}
	// a again: the flow table.
	e.press("a")
	if e.m.allMode || !strings.Contains(e.m.View(), "Flows 5") {
		t.Errorf("a does not go back to the flow table:\n%s", e.m.View())
	}
}

// TestTUIAllPacketsRingMoves: packets leaving the ring take their rows
// with them; the selection goes to the oldest left, and only the rows on
// screen are fetched.
func TestTUIAllPacketsRingMoves(t *testing.T) {
	e := newEnv(t, 100, 30, Config{})
	for range 6000 { // more than the ring of 1 MiB holds
		e.add(packet.DirOut, udpFrame(t, "10.0.0.1", 1, "10.0.0.2", 2, make([]byte, 200)))
	}
	e.tick()
	e.press("a", "g")
	first := e.m.all.first
	if e.m.all.selSeq != first || first <= 1 {
		t.Fatalf("g: selected #%d, ring from #%d (want the oldest, some gone)", e.m.all.selSeq, first)
	}
	if len(e.m.all.rows) > e.m.all.list.height+1 {
		t.Errorf("fetched %d rows for %d on screen", len(e.m.all.rows), e.m.all.list.height)
	}
	for range 3000 {
		e.add(packet.DirOut, udpFrame(t, "10.0.0.1", 1, "10.0.0.2", 2, make([]byte, 200)))
	}
	e.tick()
	if e.m.all.first <= first || e.m.all.selSeq != e.m.all.first {
		t.Fatalf("after the ring moved: selected #%d, ring from #%d (was #%d)", e.m.all.selSeq, e.m.all.first, first)
	}
	e.tick() // the rows of the new top are fetched
	if _, ok := e.m.all.selected(); !ok {
		t.Fatalf("selected #%d has no row", e.m.all.selSeq)
	}
	checkScreen(t, e.m.View(), 100, 30)
}

func TestTUIAllPacketsGolden(t *testing.T) {
	for _, sz := range []struct{ w, h int }{{80, 24}, {120, 40}, {200, 60}} {
		name := fmt.Sprintf("all-%dx%d", sz.w, sz.h)
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, sz.w, sz.h, Config{})
			e.fill()
			e.tick()
			e.press("a", "k", "k")
			got := e.m.View()
			checkScreen(t, got, sz.w, sz.h)
			golden(t, name, got)
		})
	}
}

// TestTUIAllPacketsStreamAndPause: f in the list of all packets follows
// the selected packet's flow (and shows it); pausing while following
// keeps the rows shown.
func TestTUIAllPacketsStreamAndPause(t *testing.T) {
	e := newEnv(t, 120, 40, Config{})
	e.fill()
	e.tick()
	e.press("a", "g", "j", "j") // #3: the HTTP flow's SYN
	if e.m.all.selSeq != 3 {
		t.Fatalf("selected #%d, want #3", e.m.all.selSeq)
	}
	e.press("f")
	v := e.m.View()
	if e.m.stream == nil || !strings.Contains(v, "Follow TCP stream") || !strings.Contains(v, "10.0.0.1:40000") {
		t.Fatalf("f in the list of all packets:\n%s", v)
	}
	e.press("esc")
	if e.m.stream != nil || !strings.Contains(e.m.View(), "All packets") {
		t.Fatalf("esc does not go back to the list:\n%s", e.m.View())
	}
	e.press("F", "space")
	for range 5 {
		e.add(packet.DirIn, udpFrame(t, "10.9.9.9", 9, "10.0.0.1", 9, []byte("later")))
	}
	e.tick()
	e.tick()
	from, to := e.m.all.list.visible()
	for i := from; i < to; i++ {
		if _, ok := e.m.all.row(e.m.all.first + uint64(i)); !ok {
			t.Fatalf("paused while following: row #%d blank:\n%s", e.m.all.first+uint64(i), e.m.View())
		}
	}
	if _, ok := e.m.all.selected(); !ok {
		t.Errorf("paused while following: the selected packet has no row")
	}
}
