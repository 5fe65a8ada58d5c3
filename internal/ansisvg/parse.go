package ansisvg

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// ColorKind says how a Color is given.
type ColorKind uint8

// Colour kinds.
const (
	ColorDefault ColorKind = iota // the terminal's own foreground or background
	ColorIndexed                  // an entry of the 256-colour palette (0-15: the 16 ANSI colours)
	ColorRGB                      // 24-bit
)

// Color is a foreground or background colour as the escapes gave it.
type Color struct {
	Kind    ColorKind
	Index   uint8 // ColorIndexed
	R, G, B uint8 // ColorRGB
}

// Indexed returns palette colour i.
func Indexed(i uint8) Color { return Color{Kind: ColorIndexed, Index: i} }

// RGB returns a 24-bit colour.
func RGB(r, g, b uint8) Color { return Color{Kind: ColorRGB, R: r, G: g, B: b} }

// Style is the SGR state a cell was written with.
type Style struct {
	Fg, Bg    Color
	Bold      bool
	Faint     bool
	Italic    bool
	Underline bool
	Reverse   bool
}

// Cell is one character cell.
type Cell struct {
	Rune  rune
	Style Style
}

// Screen is parsed terminal text: one slice of cells per line, as long as
// the line was written (trailing cells are not padded).
type Screen struct {
	Lines [][]Cell
}

// Cols is the length of the longest line.
func (s *Screen) Cols() int {
	n := 0
	for _, l := range s.Lines {
		n = max(n, len(l))
	}
	return n
}

const tabWidth = 8

// Parse reads terminal text: printable characters, newlines, tabs and SGR
// escapes (ESC [ ... m). Other CSI sequences, OSC strings (ESC ] ... BEL or
// ST), two-byte escapes and the remaining control characters are dropped;
// invalid UTF-8 becomes U+FFFD. A final newline does not start a line.
func Parse(b []byte) *Screen {
	s := &Screen{}
	var line []Cell
	var st Style
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == 0x1b:
			i = escape(b, i, &st)
			continue
		case c == '\n':
			s.Lines = append(s.Lines, line)
			line = nil
		case c == '\t':
			for {
				line = append(line, Cell{Rune: ' ', Style: st})
				if len(line)%tabWidth == 0 {
					break
				}
			}
		case c < 0x20 || c == 0x7f:
			// \r, bells, backspaces and the rest: nothing on the grid.
		default:
			r, n := utf8.DecodeRune(b[i:])
			i += n
			if r >= 0x80 && r < 0xa0 { // C1 controls
				continue
			}
			line = append(line, Cell{Rune: r, Style: st})
			continue
		}
		i++
	}
	if len(line) > 0 {
		s.Lines = append(s.Lines, line)
	}
	return s
}

// escape consumes the escape sequence at b[i] (an ESC), applying it to st
// if it is SGR, and returns the index after it.
func escape(b []byte, i int, st *Style) int {
	if i+1 >= len(b) {
		return len(b)
	}
	switch b[i+1] {
	case '[': // CSI: parameter and intermediate bytes, then a final byte
		j := i + 2
		for j < len(b) && b[j] >= 0x20 && b[j] <= 0x3f {
			j++
		}
		if j >= len(b) {
			return len(b)
		}
		if b[j] == 'm' {
			sgr(string(b[i+2:j]), st)
		}
		return j + 1
	case ']', 'P', '_', '^': // OSC, DCS, APC, PM: up to BEL or ESC \
		for j := i + 2; j < len(b); j++ {
			if b[j] == 0x07 {
				return j + 1
			}
			if b[j] == 0x1b && j+1 < len(b) && b[j+1] == '\\' {
				return j + 2
			}
		}
		return len(b)
	}
	return i + 2
}

// sgr applies one SGR parameter string ("1;38;5;208", "38:2::1:2:3", "")
// to st. Unknown parameters are ignored.
func sgr(params string, st *Style) {
	fields := strings.Split(params, ";")
	for k := 0; k < len(fields); k++ {
		sub := strings.Split(fields[k], ":")
		n := atoi(sub[0])
		switch {
		case n == 0:
			*st = Style{}
		case n == 1:
			st.Bold = true
		case n == 2:
			st.Faint = true
		case n == 3:
			st.Italic = true
		case n == 4:
			st.Underline = len(sub) < 2 || atoi(sub[1]) != 0 // 4:0 is off, 4:1-5 kinds of on
		case n == 7:
			st.Reverse = true
		case n == 21: // doubly underlined (ECMA-48); a few terminals: bold off
			st.Underline = true
		case n == 22:
			st.Bold, st.Faint = false, false
		case n == 23:
			st.Italic = false
		case n == 24:
			st.Underline = false
		case n == 27:
			st.Reverse = false
		case n >= 30 && n <= 37:
			st.Fg = Indexed(uint8(n - 30))
		case n == 38, n == 48:
			var c Color
			var ok bool
			if len(sub) > 1 {
				c, ok = extColor(sub[1:])
			} else {
				var used int
				c, ok, used = extColorFields(fields[k+1:])
				k += used
			}
			if ok && n == 38 {
				st.Fg = c
			} else if ok {
				st.Bg = c
			}
		case n == 39:
			st.Fg = Color{}
		case n >= 40 && n <= 47:
			st.Bg = Indexed(uint8(n - 40))
		case n == 49:
			st.Bg = Color{}
		case n >= 90 && n <= 97:
			st.Fg = Indexed(uint8(n - 90 + 8))
		case n >= 100 && n <= 107:
			st.Bg = Indexed(uint8(n - 100 + 8))
		}
	}
}

// extColor reads the colon form after 38 or 48: 5:N, 2:R:G:B or
// 2:COLORSPACE:R:G:B.
func extColor(sub []string) (Color, bool) {
	switch atoi(sub[0]) {
	case 5:
		if len(sub) >= 2 {
			return Indexed(uint8(clamp(atoi(sub[1])))), true
		}
	case 2:
		rgb := sub[1:]
		if len(rgb) >= 4 {
			rgb = rgb[1:] // the colour space id, empty or not
		}
		if len(rgb) >= 3 {
			return RGB(uint8(clamp(atoi(rgb[0]))), uint8(clamp(atoi(rgb[1]))), uint8(clamp(atoi(rgb[2])))), true
		}
	}
	return Color{}, false
}

// extColorFields reads the semicolon form after 38 or 48 (5;N or 2;R;G;B)
// and says how many fields it used.
func extColorFields(f []string) (Color, bool, int) {
	if len(f) == 0 {
		return Color{}, false, 0
	}
	switch atoi(f[0]) {
	case 5:
		if len(f) >= 2 {
			return Indexed(uint8(clamp(atoi(f[1])))), true, 2
		}
	case 2:
		if len(f) >= 4 {
			return RGB(uint8(clamp(atoi(f[1]))), uint8(clamp(atoi(f[2]))), uint8(clamp(atoi(f[3])))), true, 4
		}
	}
	return Color{}, false, len(f)
}

// atoi reads a decimal parameter; empty or bad is 0, as terminals take it.
func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func clamp(n int) int { return min(n, 255) }
