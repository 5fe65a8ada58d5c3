package ansisvg

import (
	"testing"
)

func TestParseSGR(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want Style // of the cell "x"
	}{
		{"plain", "x", Style{}},
		{"bold", "\x1b[1mx", Style{Bold: true}},
		{"faint italic underline", "\x1b[2;3;4mx", Style{Faint: true, Italic: true, Underline: true}},
		{"reverse", "\x1b[7mx", Style{Reverse: true}},
		{"reset", "\x1b[1;7;31m\x1b[mx", Style{}},
		{"reset 0", "\x1b[1;7;31m\x1b[0mx", Style{}},
		{"off", "\x1b[1;2;3;4;7m\x1b[22;23;24;27mx", Style{}},
		{"underline 4:0", "\x1b[4m\x1b[4:0mx", Style{}},
		{"underline 4:3", "\x1b[4:3mx", Style{Underline: true}},
		{"16 fg", "\x1b[31mx", Style{Fg: Indexed(1)}},
		{"16 bg", "\x1b[46mx", Style{Bg: Indexed(6)}},
		{"bright fg", "\x1b[90mx", Style{Fg: Indexed(8)}},
		{"bright bg", "\x1b[107mx", Style{Bg: Indexed(15)}},
		{"default fg bg", "\x1b[31;42m\x1b[39;49mx", Style{}},
		{"256 fg", "\x1b[38;5;208mx", Style{Fg: Indexed(208)}},
		{"256 bg", "\x1b[48;5;17mx", Style{Bg: Indexed(17)}},
		{"256 colon", "\x1b[38:5:99mx", Style{Fg: Indexed(99)}},
		{"truecolor fg", "\x1b[38;2;1;2;3mx", Style{Fg: RGB(1, 2, 3)}},
		{"truecolor bg", "\x1b[48;2;250;128;0mx", Style{Bg: RGB(250, 128, 0)}},
		{"truecolor colon", "\x1b[38:2:10:20:30mx", Style{Fg: RGB(10, 20, 30)}},
		{"truecolor colon space", "\x1b[48:2::10:20:30mx", Style{Bg: RGB(10, 20, 30)}},
		{"after truecolor", "\x1b[38;2;1;2;3;1mx", Style{Fg: RGB(1, 2, 3), Bold: true}},
		{"after 256", "\x1b[48;5;4;7mx", Style{Bg: Indexed(4), Reverse: true}},
		{"out of range", "\x1b[38;5;999mx", Style{Fg: Indexed(255)}},
		{"truncated 38", "\x1b[38;5mx", Style{}},
		{"unknown", "\x1b[53;1mx", Style{Bold: true}},
		{"other CSI", "\x1b[1m\x1b[2J\x1b[Hx", Style{Bold: true}},
		{"OSC BEL", "\x1b]8;;http://a\ax", Style{}},
		{"OSC ST", "\x1b]0;title\x1b\\x", Style{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Parse([]byte(tc.in))
			if len(s.Lines) != 1 || len(s.Lines[0]) != 1 || s.Lines[0][0].Rune != 'x' {
				t.Fatalf("Parse(%q) = %+v, want one cell x", tc.in, s.Lines)
			}
			if got := s.Lines[0][0].Style; got != tc.want {
				t.Errorf("Parse(%q) style = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseText(t *testing.T) {
	s := Parse([]byte("ab\tc\r\n\x07é\xff\u0085z\n\n\x1b[31"))
	want := []string{"ab      c", "é\uFFFDz", ""}
	if len(s.Lines) != len(want) {
		t.Fatalf("%d lines, want %d: %+v", len(s.Lines), len(want), s.Lines)
	}
	for i, w := range want {
		var got []rune
		for _, c := range s.Lines[i] {
			got = append(got, c.Rune)
		}
		if string(got) != w {
			t.Errorf("line %d = %q, want %q", i, string(got), w)
		}
	}
	if s.Cols() != 9 {
		t.Errorf("Cols = %d, want 9", s.Cols())
	}
}

func TestPalette(t *testing.T) {
	for i, want := range map[uint8]string{
		1: DefaultPalette[1], 16: "#000000", 21: "#0000ff", 196: "#ff0000", 231: "#ffffff",
		208: "#ff8700", 232: "#080808", 255: "#eeeeee",
	} {
		if got := paletteHex(&DefaultPalette, i); got != want {
			t.Errorf("colour %d = %s, want %s", i, got, want)
		}
	}
}
