package ansisvg

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Options shape the picture. Zero values take the defaults.
type Options struct {
	Cols, Rows int     // the grid; 0: the screen's longest line, its line count
	FontSize   float64 // pixels (default 14)
	Padding    float64 // pixels around the grid (default 12)
	Title      string  // the SVG's <title>, for screen readers
	Foreground string  // the terminal's default colours, as CSS colours
	Background string  // (defaults: #d4d4d4 on #1e1e1e)
	Palette    *[16]string
}

// DefaultPalette is the 16 ANSI colours (VS Code's terminal colours, which
// read well on a dark background).
var DefaultPalette = [16]string{
	"#000000", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5",
	"#666666", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff",
}

// Font is the font-family of the text: the first monospace font the viewer has.
const Font = `'DejaVu Sans Mono', 'Cascadia Mono', Menlo, Consolas, 'Liberation Mono', monospace`

func (o *Options) defaults(s *Screen) {
	if o.Cols <= 0 {
		o.Cols = max(s.Cols(), 1)
	}
	if o.Rows <= 0 {
		o.Rows = max(len(s.Lines), 1)
	}
	if o.FontSize <= 0 {
		o.FontSize = 14
	}
	if o.Padding <= 0 {
		o.Padding = 12
	}
	if o.Foreground == "" {
		o.Foreground = "#d4d4d4"
	}
	if o.Background == "" {
		o.Background = "#1e1e1e"
	}
	if o.Palette == nil {
		o.Palette = &DefaultPalette
	}
}

// hex resolves c to a CSS colour; def is the default's.
func (o *Options) hex(c Color, def string) string {
	switch c.Kind {
	case ColorIndexed:
		return paletteHex(o.Palette, c.Index)
	case ColorRGB:
		return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B)
	}
	return def
}

// paletteHex is xterm's 256-colour palette: the 16 given, a 6×6×6 cube,
// then 24 greys.
func paletteHex(p *[16]string, i uint8) string {
	switch {
	case i < 16:
		return p[i]
	case i < 232:
		i -= 16
		lv := func(v uint8) uint8 {
			if v == 0 {
				return 0
			}
			return 55 + v*40
		}
		return fmt.Sprintf("#%02x%02x%02x", lv(i/36), lv(i/6%6), lv(i%6))
	}
	g := 8 + (i-232)*10
	return fmt.Sprintf("#%02x%02x%02x", g, g, g)
}

// look is how a cell is drawn: its style resolved to colours.
type look struct {
	fg, bg                         string
	bold, faint, italic, underline bool
}

func (o *Options) lookOf(st Style) look {
	fg, bg := o.hex(st.Fg, o.Foreground), o.hex(st.Bg, o.Background)
	if st.Reverse {
		fg, bg = bg, fg
	}
	return look{fg: fg, bg: bg, bold: st.Bold, faint: st.Faint, italic: st.Italic, underline: st.Underline}
}

// Render draws s as an SVG document on w: a rounded rectangle of the
// default background, a rectangle for each run of another background,
// and a <text> for each run of characters drawn alike, stretched to its
// cells (textLength) so that the grid holds whatever the font's advance.
func Render(w io.Writer, s *Screen, opt Options) error {
	opt.defaults(s)
	bw := bufio.NewWriter(w)
	cw := round(opt.FontSize * 0.6)
	lh := round(opt.FontSize * 1.25)
	pad := opt.Padding
	width := round(2*pad + float64(opt.Cols)*cw)
	height := round(2*pad + float64(opt.Rows)*lh)
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" xml:space="preserve">`+"\n",
		num(width), num(height), num(width), num(height))
	if opt.Title != "" {
		fmt.Fprintf(bw, "<title>%s</title>\n", escapeXML(opt.Title))
	}
	fmt.Fprintf(bw, "<style>text{font-family:%s;font-size:%spx;white-space:pre}.b{font-weight:bold}.i{font-style:italic}.u{text-decoration:underline}.f{opacity:.6}</style>\n",
		Font, num(opt.FontSize)) // a constant: nothing to escape
	fmt.Fprintf(bw, `<rect width="%s" height="%s" rx="6" fill="%s"/>`+"\n", num(width), num(height), escapeXML(opt.Background))

	for row := 0; row < opt.Rows && row < len(s.Lines); row++ {
		line := s.Lines[row]
		if len(line) > opt.Cols {
			line = line[:opt.Cols]
		}
		looks := make([]look, len(line))
		for i, c := range line {
			looks[i] = opt.lookOf(c.Style)
		}
		top := pad + float64(row)*lh
		// Backgrounds first, so that no later rectangle covers text.
		for i := 0; i < len(line); {
			j := i + 1
			for j < len(line) && looks[j].bg == looks[i].bg {
				j++
			}
			if looks[i].bg != opt.Background {
				fmt.Fprintf(bw, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"/>`+"\n",
					num(round(pad+float64(i)*cw)), num(round(top)), num(round(float64(j-i)*cw)), num(lh), escapeXML(looks[i].bg))
			}
			i = j
		}
		baseline := round(top + lh*0.78)
		for i := 0; i < len(line); {
			a := looks[i]
			a.bg = ""
			j := i + 1
			for j < len(line) {
				b := looks[j]
				b.bg = ""
				if b != a {
					break
				}
				j++
			}
			writeRun(bw, line[i:j], a, pad+float64(i)*cw, baseline, cw)
			i = j
		}
	}
	fmt.Fprintln(bw, "</svg>")
	return bw.Flush()
}

// writeRun writes one run of cells drawn alike, without its leading and
// trailing blanks (an underlined run keeps them: the line shows).
func writeRun(w io.Writer, cells []Cell, lk look, x, y, cw float64) {
	lo, hi := 0, len(cells)
	if !lk.underline {
		for lo < hi && cells[lo].Rune == ' ' {
			lo++
		}
		for hi > lo && cells[hi-1].Rune == ' ' {
			hi--
		}
	}
	if lo == hi {
		return
	}
	var text strings.Builder
	for _, c := range cells[lo:hi] {
		text.WriteRune(c.Rune)
	}
	var class []string
	for _, c := range []struct {
		on   bool
		name string
	}{{lk.bold, "b"}, {lk.italic, "i"}, {lk.underline, "u"}, {lk.faint, "f"}} {
		if c.on {
			class = append(class, c.name)
		}
	}
	cls := ""
	if len(class) > 0 {
		cls = ` class="` + strings.Join(class, " ") + `"`
	}
	fmt.Fprintf(w, `<text x="%s" y="%s" fill="%s" textLength="%s" lengthAdjust="spacingAndGlyphs"%s>%s</text>`+"\n",
		num(round(x+float64(lo)*cw)), num(y), escapeXML(lk.fg), num(round(float64(hi-lo)*cw)), cls, escapeXML(text.String()))
}

// escapeXML escapes text for an attribute or element content, and replaces
// what XML 1.0 cannot hold (most control characters, lone surrogates,
// U+FFFE and U+FFFF) with U+FFFD.
func escapeXML(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"':
			b.WriteString("&quot;")
		case r == '\'':
			b.WriteString("&apos;")
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteRune(r)
		case r < 0x20, r >= 0xd800 && r <= 0xdfff, r == 0xfffe, r == 0xffff:
			b.WriteRune('\uFFFD')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func round(v float64) float64 { return math.Round(v*100) / 100 }

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
