package ui

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/decode"
	"github.com/bpftop-cap/bpftop-cap/packet"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

func TestSparkline(t *testing.T) {
	h := make(decode.History, decode.HistorySeconds)
	for i := range h {
		h[i] = uint32(i) // 0 .. 29: rising
	}
	tests := []struct {
		h    decode.History
		w    int
		want string
	}{
		{nil, 4, "    "},
		{decode.History{0, 0, 0}, 3, "   "},
		{decode.History{0, 1, 8, 4}, 4, " ▁█▄"},
		{decode.History{1, 1000}, 2, "▁█"}, // tiny but not nothing
		{h, 30, " ▁▁▁▁▂▂▂▂▃▃▃▃▄▄▄▄▅▅▅▅▆▆▆▆▇▇▇▇█"},       // one cell a second
		{h, 10, "▁▂▂▃▄▅▅▆▇█"},                           // three seconds a cell
		{decode.History{5, 0, 0, 0, 0, 9}, 3, "▄ █"},    // two seconds a cell
		{decode.History{7, 1, 1, 1, 1, 1, 1}, 3, " ██"}, // the oldest second does not fill a cell
	}
	for _, tc := range tests {
		if got := sparkline(tc.h, tc.w); got != tc.want {
			t.Errorf("sparkline(%v, %d) = %q, want %q", tc.h, tc.w, got, tc.want)
		}
	}
}

// fillHistory adds traffic over the 30 seconds before t0: a flow that
// ramps up, one that bursts in the middle and stops, and one steady.
func (e *env) fillHistory() {
	t := e.t
	at := func(sec, i int) int64 {
		return packet.Nanos(t0.Add(time.Duration(sec-decode.HistorySeconds)*time.Second + time.Duration(i)*time.Millisecond))
	}
	payload := make([]byte, 1000)
	for s := range decode.HistorySeconds {
		for i := range s + 1 { // ramp: 1 .. 30 packets a second
			e.eng.Add(packet.Packet{Nanos: at(s, i), Ifindex: 2, Dir: packet.DirOut, Data: tcpFrame(t, "10.1.0.1", 40000, "10.1.0.2", 443, false, true, payload)})
		}
		if s >= 10 && s < 15 { // burst
			for i := range 40 {
				e.eng.Add(packet.Packet{Nanos: at(s, 100+i), Ifindex: 2, Dir: packet.DirIn, Data: udpFrame(t, "10.1.0.3", 5353, "10.1.0.4", 9000, payload)})
			}
		}
		for i := range 5 { // steady
			e.eng.Add(packet.Packet{Nanos: at(s, 200+i), Ifindex: 2, Dir: packet.DirIn, Data: udpFrame(t, "10.1.0.5", 123, "10.1.0.6", 123, []byte("ntp"))})
		}
	}
}

func TestTUISparklines(t *testing.T) {
	for _, sz := range []struct{ w, h int }{{80, 24}, {120, 40}, {200, 60}} {
		name := fmt.Sprintf("graphs-%dx%d", sz.w, sz.h)
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, sz.w, sz.h, Config{})
			e.fillHistory()
			e.tick()
			got := e.m.View()
			checkScreen(t, got, sz.w, sz.h)
			lines := strings.Split(got, "\n")
			// The total graph, under the status bar, at every size: the
			// ramp and the burst add up to a rise with a bump.
			if !strings.Contains(lines[1], "pkts/s") || !strings.ContainsAny(lines[1], "▁▂▃▄▅▆▇█") {
				t.Errorf("no total sparkline under the status bar: %q", lines[1])
			}
			// Per flow from 120 cells, in the LAST 30s column: the ramp
			// rises to a full bar, the burst stands alone between blanks,
			// the steady flow is level.
			var hdr, ramp, burst, steady []rune
			for _, l := range lines {
				switch {
				case strings.Contains(l, "LAST 30s"):
					hdr = []rune(l)
				case ramp == nil && strings.Contains(l, ":443 "): // the flow row, not its packets'
					ramp = []rune(l)
				case burst == nil && strings.Contains(l, ":5353 "):
					burst = []rune(l)
				case steady == nil && strings.Contains(l, ":123 "):
					steady = []rune(l)
				}
			}
			col := slices.Index(hdr, 'L')
			for col >= 0 && string(hdr[col:col+4]) != "LAST" {
				col++
			}
			want := map[int][3]string{
				120: {"▁▁▂▂▃▃▄▄▅▅▆▆▇▇█", "     ██▄       ", strings.Repeat("█", 15)},
				200: {"▁▁▁▁▂▂▂▂▃▃▃▃▄▄▄▄▄▅▅▅▅▆▆▆▆▇▇▇▇█", strings.Repeat(" ", 10) + "█████" + strings.Repeat(" ", 15), strings.Repeat("█", 30)},
			}[sz.w]
			if sz.w < 120 {
				if hdr != nil {
					t.Errorf("a sparkline column at %d cells: %q", sz.w, string(hdr))
				}
			} else {
				gw := len([]rune(want[0]))
				for i, row := range [][]rune{ramp, burst, steady} {
					if got := string(row[col : col+gw]); got != want[i] {
						t.Errorf("row %d sparkline %q, want %q", i, got, want[i])
					}
				}
			}
			golden(t, name, got)
		})
	}
}

// TestTUILayoutSteady: Enter and Tab move the focus, not the panes; a
// short list does not keep empty rows from the detail; a pane grows with
// its content but does not shrink back when the selection changes.
func TestTUILayoutSteady(t *testing.T) {
	e := newEnv(t, 220, 60, Config{})
	e.fill()
	e.tick()
	sizes := func() [3]int { return [3]int{e.m.fh, e.m.ph, e.m.hh} }
	if e.m.ph != len(e.m.packets.rows)+1 {
		t.Errorf("packet pane of %d lines for %d packets: rows wasted", e.m.ph, len(e.m.packets.rows))
	}
	if e.m.fh != len(e.m.flows.rows)+2 {
		t.Errorf("flow pane of %d lines for %d flows: rows wasted", e.m.fh, len(e.m.flows.rows))
	}
	e.press("j") // the flow of 6 packets: the packet pane grows
	if e.m.ph != 7 {
		t.Errorf("packet pane of %d lines for 6 packets", e.m.ph)
	}
	first := sizes()
	for _, k := range []string{"enter", "enter", "tab", "tab", "esc", "esc", "k", "G", "g", "j", "enter", "esc"} {
		e.press(k)
		if got := sizes(); got != first {
			t.Fatalf("after %q the panes are %v, were %v", k, got, first)
		}
	}
	checkScreen(t, e.m.View(), 220, 60)
}

// TestTUIPalette: with colours, protocol classes and directions are
// coloured, except on the cursor row (its reverse video stays whole).
func TestTUIPalette(t *testing.T) {
	lipgloss.SetColorProfile(termenv.ANSI)
	defer lipgloss.SetColorProfile(termenv.Ascii)
	e := newEnv(t, 120, 40, Config{})
	e.fill()
	e.tick()
	e.press("a")
	v := e.m.View()
	blue, magenta, green, cyan := "\x1b[34m", "\x1b[35m", "\x1b[32m", "\x1b[36m"
	for _, want := range []struct{ code, text string }{{magenta, "DNS"}, {blue, "HTTP"}, {green, "in"}, {cyan, "out"}} {
		if !strings.Contains(v, want.code+want.text) {
			t.Errorf("%q is not coloured %q:\n%q", want.text, want.code, v)
		}
	}
	for _, l := range strings.Split(v, "\n") {
		if strings.Contains(l, "> ") && strings.Contains(l, "  12 ") { // the cursor row
			if strings.Contains(l, cyan+"out") {
				t.Errorf("the cursor row has colours inside: %q", l)
			}
		}
	}
}
