package ui

import (
	"fmt"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

// selectField presses j in the focused detail pane until the cursor is on
// field key of layer, failing when it is not found.
func (e *env) selectField(t *testing.T, layer, key string) {
	t.Helper()
	e.press("g")
	for range len(e.m.hex.rows) {
		if l, f := e.m.hex.selectedNames(); l == layer && f == key {
			return
		}
		e.press("j")
	}
	t.Fatalf("no field %s in layer %s", key, layer)
}

// TestDetailFieldHighlight: j moves the cursor through the layers and
// fields of the packet detail and the selected field's bytes are marked in
// the dump; pgdown scrolls the dump alone, and the next move brings the
// selected bytes back into view.
func TestDetailFieldHighlight(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {120, 40}} {
		e := newEnv(t, sz[0], sz[1], Config{})
		e.fill()
		e.tick()
		e.press("enter", "enter") // packet #5: HTTP GET, 1001 bytes
		if e.m.focus != paneHex || !e.m.hex.ok {
			t.Fatalf("%v: focus %d, packet %v", sz, e.m.focus, e.m.hex.ok)
		}
		h := &e.m.hex
		e.selectField(t, "TCP", "dst port")
		if s, end := h.selection(); s != 36 || end != 38 {
			t.Fatalf("%v: dst port selects [%d:%d], want [36:38]", sz, s, end)
		}
		v := e.m.View()
		if !strings.Contains(v, "0020  00 03 9c 40[00 50]00 00") {
			t.Errorf("%v: port 80's bytes not bracketed:\n%s", sz, v)
		}
		if !strings.Contains(v, ">   dst port: 80") {
			t.Errorf("%v: no cursor on the dst port line:\n%s", sz, v)
		}
		cur, ttop := h.cur, h.ttop
		e.press("pgdown", "pgdown")
		if h.cur != cur || h.ttop != ttop || h.dtop == 0 {
			t.Errorf("%v: pgdown moved the tree (cursor %d→%d, top %d→%d) or not the dump (%d)", sz, cur, h.cur, ttop, h.ttop, h.dtop)
		}
		if v := e.m.View(); strings.Contains(v, "0020  00 03") || !strings.Contains(v, "dst port: 80") {
			t.Errorf("%v: after pgdown the dump still shows the top or the tree lost the field:\n%s", sz, v)
		}
		e.press("j") // the sequence number: its bytes scroll back into view
		if v := e.m.View(); !strings.Contains(v, "0020  00 03 9c 40 00 50[00 00  03 e8]00 00") {
			t.Errorf("%v: after j the selection is off screen:\n%s", sz, v)
		}
		e.press("end")
		if h.dtop+h.dh != h.dumpN || h.cur != cur+1 {
			t.Errorf("%v: end: dump top %d of %d lines (%d shown), cursor %d", sz, h.dtop, h.dumpN, h.dh, h.cur)
		}
		e.press("G")
		if h.cur != len(h.rows)-1 {
			t.Errorf("%v: G: cursor %d of %d rows", sz, h.cur, len(h.rows))
		}
		// Another packet of the flow: the cursor stays on the same field.
		e.selectField(t, "TCP", "dst port")
		e.press("esc", "k")
		if h.seq != 4 {
			t.Fatalf("%v: packet %d after esc k, want 4", sz, h.seq)
		}
		if l, f := h.selectedNames(); l != "TCP" || f != "dst port" {
			t.Errorf("%v: on the next packet the cursor is on %s %s, want TCP dst port", sz, l, f)
		}
		if s, end := h.selection(); s != 36 || end != 38 {
			t.Errorf("%v: next packet's dst port selects [%d:%d]", sz, s, end)
		}
	}
}

// TestDetailGolden: the detail pane with the TCP destination port
// selected, its two bytes marked in the dump.
func TestDetailGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {120, 40}} {
		name := fmt.Sprintf("detail-%dx%d", sz[0], sz[1])
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, sz[0], sz[1], Config{})
			e.fill()
			e.tick()
			e.press("enter", "enter")
			e.selectField(t, "TCP", "dst port")
			got := e.m.View()
			checkScreen(t, got, sz[0], sz[1])
			golden(t, name, got)
		})
	}
}

func TestDumpLineMarks(t *testing.T) {
	st := DefaultStyles()
	data := []byte("0123456789abcdefXY")
	for _, tt := range []struct {
		line, s, e int
		want       string
	}{
		{0, 0, 0, "0000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  0123456789abcdef"},
		{0, 0, 2, "0000 [30 31]32 33 34 35 36 37  38 39 61 62 63 64 65 66  0123456789abcdef"},
		{0, 6, 10, "0000  30 31 32 33 34 35[36 37  38 39]61 62 63 64 65 66  0123456789abcdef"},
		{0, 8, 9, "0000  30 31 32 33 34 35 36 37 [38]39 61 62 63 64 65 66  0123456789abcdef"},
		{0, 14, 17, "0000  30 31 32 33 34 35 36 37  38 39 61 62 63 64[65 66] 0123456789abcdef"},
		{1, 14, 17, "0010 [58]59" + strings.Repeat(" ", 45) + "XY"},
		{1, 17, 18, "0010  58[59]" + strings.Repeat(" ", 44) + "XY"},
		{1, 0, 4, "0010  58 59" + strings.Repeat(" ", 45) + "XY"},
	} {
		if got := dumpLine(&st, data, 16, tt.line, tt.s, tt.e); got != tt.want {
			t.Errorf("line %d marked [%d:%d]:\n got %q\nwant %q", tt.line, tt.s, tt.e, got, tt.want)
		}
	}
}

// TestDetailClick: a click on a line of the field tree selects it.
func TestDetailClick(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {120, 40}} {
		e := newEnv(t, sz[0], sz[1], Config{})
		e.fill()
		e.tick()
		e.press("enter", "enter")
		e.selectField(t, "TCP", "dst port")
		y := -1
		for i, l := range strings.Split(e.m.View(), "\n") {
			if strings.Contains(l, "  seq: 1000") {
				y = i
			}
		}
		if y < 0 {
			t.Fatalf("%v: no seq line on screen", sz)
		}
		e.m.Update(tea.MouseMsg{X: 4, Y: y, Button: tea.MouseButtonLeft, Action: tea.MouseActionPress})
		if l, f := e.m.hex.selectedNames(); l != "TCP" || f != "seq" {
			t.Errorf("%v: click on line %d selected %s %s, want TCP seq", sz, y, l, f)
		}
	}
}
