package ui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/bpftop-cap/bpftop-cap/decode"
)

func TestShortenEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in   string
		w    int
		want string
	}{
		{"10.0.0.1:80", 20, "10.0.0.1:80"},
		{"198.18.77.1:54321", 14, "198.…7.1:54321"},
		{"[2001:db8:aaaa:bbbb::1]:443", 16, "[2001:…b::1]:443"},
		{"fe80::483e:abcd:1234:5678", 12, "fe80::…:5678"},
		{"02:00:00:00:00:0a", 9, "02:0…0:0a"},
	} {
		got := shortenEndpoint(tc.in, tc.w)
		if got != tc.want || ansi.StringWidth(got) > tc.w {
			t.Errorf("shortenEndpoint(%q, %d) = %q, want %q", tc.in, tc.w, got, tc.want)
		}
	}
}

// TestFlowColumnsAligned: long protocol names never run into the
// endpoints, ports survive a narrow terminal, STATE is either a column
// with its header or absent, and the columns do not move as flows come
// and go.
func TestFlowColumnsAligned(t *testing.T) {
	rows := []decode.FlowView{
		{ID: 1, Proto: "ICMPv6", A: "fe80::483e:abcd:1234:5678", B: "ff02::16"},
		{ID: 2, Proto: "TCP", A: "198.18.77.2:54321", B: "[2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff]:443", State: "CLOSED", Label: "example.com"},
		{ID: 3, Proto: "0x88b5", A: "02:00:00:00:00:0a", B: "02:00:00:00:00:0b"},
	}
	st := DefaultStyles()
	for _, w := range []int{80, 120, 160} {
		ft := flowTable{}
		ft.setSize(w, 8)
		ft.setRows(rows, false)
		lines := strings.Split(ansi.Strip(ft.view(&st, true, "Flows")), "\n")
		hdr := lines[1]
		for _, l := range lines[2:5] {
			if strings.HasPrefix(l[2:], "ICMPv6") && !strings.HasPrefix(l[2:], "ICMPv6 ") {
				t.Errorf("%d cells: protocol glued to the address: %q", w, l)
			}
			if strings.Contains(l, "0x88b5") && !strings.Contains(l, "0x88b5 ") {
				t.Errorf("%d cells: EtherType glued: %q", w, l)
			}
		}
		tcp := lines[3]
		if !strings.Contains(tcp, ":54321") || !strings.Contains(tcp, ":443") {
			t.Errorf("%d cells: ports cut: %q", w, tcp)
		}
		if strings.Contains(hdr, "STATE") != strings.Contains(tcp, "CLOSED") {
			t.Errorf("%d cells: STATE header %v but the state shown %v:\n%s\n%s", w, strings.Contains(hdr, "STATE"), strings.Contains(tcp, "CLOSED"), hdr, tcp)
		}
		// The header stays where it is when the widest flow goes.
		ft.setRows(rows[:1], false)
		if again := strings.Split(ansi.Strip(ft.view(&st, true, "Flows")), "\n")[1]; again != hdr {
			t.Errorf("%d cells: headers moved when a flow went:\n%s\n%s", w, hdr, again)
		}
	}
}

// TestFlowColumnsProcessGivesWay: where the endpoints do not fit whole,
// PROCESS gives way to them (after STATE has its cells, from 100), down
// to its heading's width (its names cut), so an address loses a few
// digits and never its port; wide enough, both are whole.
func TestFlowColumnsProcessGivesWay(t *testing.T) {
	rows := []decode.FlowView{
		{ID: 1, Proto: "TCP", A: "198.18.77.2:52170", B: "198.18.77.1:5001", Process: "bpftop-cap[21828]"},
		{ID: 2, Proto: "UDP", A: "198.18.77.2:40000", B: "198.18.77.1:53", Process: "demo-dns[21830]"},
	}
	st := DefaultStyles()
	for _, tc := range []struct {
		w           int
		ends, whole bool // the endpoints whole; the process whole
	}{{80, false, false}, {100, true, false}, {102, true, false}, {120, true, true}} {
		ft := flowTable{showProc: true}
		ft.setSize(tc.w, 8)
		ft.setRows(rows, false)
		lines := strings.Split(ansi.Strip(ft.view(&st, true, "Flows")), "\n")
		if !strings.Contains(lines[1], "PROCESS") {
			t.Errorf("%d cells: no PROCESS heading: %q", tc.w, lines[1])
		}
		row := lines[2]
		if got := strings.Contains(row, "198.18.77.2:52170 <-> 198.18.77.1:5001"); got != tc.ends {
			t.Errorf("%d cells: endpoints whole %v, want %v: %q", tc.w, got, tc.ends, row)
		}
		if got := strings.Contains(row, "bpftop-cap[21828]"); got != tc.whole {
			t.Errorf("%d cells: the process whole %v, want %v: %q", tc.w, got, tc.whole, row)
		}
		// Cut, each address keeps most of itself: "198.…77.2:52170".
		if !strings.Contains(row, "198.") || !strings.Contains(row, "77.2:52170") || !strings.Contains(row, "77.1:5001") || !strings.Contains(row, "bpftop") {
			t.Errorf("%d cells: cut too much: %q", tc.w, row)
		}
		if ansi.StringWidth(row) > tc.w {
			t.Errorf("%d cells: row %d wide", tc.w, ansi.StringWidth(row))
		}
	}
}
