package ui

import (
	"strconv"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/bpftop-cap/bpftop-cap/decode"
)

// safe passes a string derived from packet bytes through decode.Printable.
// decode already sanitizes its views; this keeps the UI safe on its own.
func safe(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return decode.Printable([]byte(s))
		}
	}
	return s
}

// fit cuts plain text s to w cells (marking a cut with …) and pads it with
// spaces to exactly w cells.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	n := ansi.StringWidth(s)
	if n > w {
		s = ansi.Truncate(s, w, "…")
		n = ansi.StringWidth(s)
	}
	if n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}

// cut cuts plain text s to at most w cells without padding.
func cut(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) > w {
		return ansi.Truncate(s, w, "…")
	}
	return s
}

// right aligns plain text s right in w cells.
func right(s string, w int) string {
	n := ansi.StringWidth(s)
	if n >= w {
		return cut(s, w)
	}
	return strings.Repeat(" ", w-n) + s
}

// si formats v with a k/M/G/T suffix in at most 6 characters plus unit.
func si(v float64, unit string) string {
	switch {
	case v < 1000:
		return strconv.FormatFloat(v, 'f', 0, 64) + unit
	case v < 1e6:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k" + unit
	case v < 1e9:
		return strconv.FormatFloat(v/1e6, 'f', 1, 64) + "M" + unit
	case v < 1e12:
		return strconv.FormatFloat(v/1e9, 'f', 1, 64) + "G" + unit
	}
	return strconv.FormatFloat(v/1e12, 'f', 1, 64) + "T" + unit
}

// count formats a counter: exact below a million, else with a suffix.
func count(v uint64) string {
	if v < 1e6 {
		return strconv.FormatUint(v, 10)
	}
	return si(float64(v), "")
}

// bits formats a bit rate.
func bits(bps float64) string { return si(bps, "b/s") }

// cursorList is the selection and scroll state of a list of n rows shown
// height rows at a time.
type cursorList struct {
	n, cursor, offset, height int
}

// clamp keeps the cursor in range and on screen.
func (l *cursorList) clamp() {
	if l.cursor >= l.n {
		l.cursor = l.n - 1
	}
	if l.cursor < 0 {
		l.cursor = 0
	}
	h := max(l.height, 1)
	if l.cursor < l.offset {
		l.offset = l.cursor
	}
	if l.cursor >= l.offset+h {
		l.offset = l.cursor - h + 1
	}
	if l.offset > max(l.n-h, 0) {
		l.offset = max(l.n-h, 0)
	}
	if l.offset < 0 {
		l.offset = 0
	}
}

func (l *cursorList) move(d int) { l.cursor += d; l.clamp() }
func (l *cursorList) top()       { l.cursor = 0; l.clamp() }
func (l *cursorList) bottom()    { l.cursor = l.n - 1; l.clamp() }
func (l *cursorList) page() int  { return max(l.height-1, 1) }

// visible returns the range of rows on screen.
func (l *cursorList) visible() (from, to int) {
	return l.offset, min(l.offset+max(l.height, 0), l.n)
}

// title renders a pane title line w cells wide.
func title(st *Styles, text string, focused bool, w int) string {
	mark := "  "
	style := st.Title
	if focused {
		mark, style = "▶ ", st.TitleFocused
	}
	s := mark + text + " "
	if n := ansi.StringWidth(s); n < w {
		s += strings.Repeat("─", w-n)
	}
	return style.Render(cut(s, w))
}

// row renders one list row: a cursor mark, the text cut to the width, and
// the selection style.
func row(st *Styles, text string, selected, focused bool, w int) string {
	if !selected {
		return st.Row.Render(fit("  "+text, w))
	}
	line := fit("> "+text, w)
	if focused {
		return st.Selected.Render(line)
	}
	return st.SelectedDim.Render(line)
}

// visibleWidth is the width in cells of a possibly styled string.
func visibleWidth(s string) int { return ansi.StringWidth(s) }

// shortenEndpoint fits an endpoint (an address, address:port, [v6]:port or
// a MAC) in w cells by cutting the middle of the address, keeping the port
// whole: 198.18.…7.1:443, [fe80::…:1]:5353.
func shortenEndpoint(s string, w int) string {
	r := []rune(s)
	if len(r) <= w {
		return s
	}
	host, port := r, []rune(nil)
	if i := strings.LastIndex(s, "]:"); strings.HasPrefix(s, "[") && i > 0 {
		host, port = []rune(s[:i+1]), []rune(s[i+1:])
	} else if strings.Count(s, ":") == 1 {
		i := strings.IndexByte(s, ':')
		host, port = []rune(s[:i]), []rune(s[i:])
	}
	keep := w - len(port) - 1 // cells of the address around the "…"
	if keep < 2 {
		return cut(s, w)
	}
	head := (keep + 1) / 2
	return string(host[:head]) + "…" + string(host[len(host)-(keep-head):]) + string(port)
}
