package ui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/bpftop-cap/bpftop-cap/decode"
)

// hexPane shows the selected packet: its decoded layers (decode.Detail,
// computed only when the selection changes) and a hex dump with offsets and
// an ASCII column.
type hexPane struct {
	seq    uint64
	ok     bool
	frame  decode.Frame
	layers []decode.LayerDetail

	lines  []string // rendered for width; nil when stale
	offset int      // first line shown
	width  int
	height int // lines below the title
}

// show selects packet seq; the frame and its detail are replaced only when
// the packet changes.
func (h *hexPane) show(seq uint64, f decode.Frame, ok bool) {
	if ok == h.ok && seq == h.seq {
		return
	}
	h.seq, h.ok, h.frame, h.layers, h.lines, h.offset = seq, ok, f, nil, nil, 0
	if ok {
		h.layers = decode.Detail(f.Data, f.OrigLen)
	}
}

func (h *hexPane) setSize(w, ht int) {
	if w != h.width {
		h.lines = nil
	}
	h.width, h.height = w, max(ht-1, 0)
	h.scroll(0)
}

// scroll moves the view by d lines, kept in range.
func (h *hexPane) scroll(d int) {
	h.offset = min(h.offset+d, len(h.lines)-h.height)
	h.offset = max(h.offset, 0)
}

// hexWidth is the width of a dump line of n bytes: offset, groups of
// eight, ASCII column.
func hexWidth(n int) int { return 4 + 2 + n*3 - 1 + (n-1)/8 + 2 + n }

// bytesPerLine picks 16, 8 or 4 bytes per dump line for width w.
func bytesPerLine(w int) int {
	for _, n := range []int{16, 8} {
		if hexWidth(n) <= w {
			return n
		}
	}
	return 4
}

// dump renders the hex lines of data, n bytes a line.
func dump(st *Styles, data []byte, n int) []string {
	var out []string
	for off := 0; off < len(data); off += n {
		chunk := data[off:min(off+n, len(data))]
		var hx, asc strings.Builder
		for i := range n {
			if i > 0 {
				hx.WriteByte(' ')
				if i%8 == 0 {
					hx.WriteByte(' ')
				}
			}
			if i < len(chunk) {
				fmt.Fprintf(&hx, "%02x", chunk[i])
				asc.WriteByte(decode.PrintableASCII(chunk[i]))
			} else {
				hx.WriteString("  ")
			}
		}
		out = append(out, st.Offset.Render(fmt.Sprintf("%04x", off))+"  "+hx.String()+"  "+asc.String())
	}
	return out
}

// layerLines renders the decoded layers: full (a line per field) or compact
// (a line per layer), each cut to w cells.
func (h *hexPane) layerLines(st *Styles, w int, full bool) []string {
	var out []string
	for _, l := range h.layers {
		head := safe(l.Name)
		if l.Length > 0 && l.Name != "Frame" {
			head += fmt.Sprintf(" [%d:%d]", l.Offset, l.Offset+l.Length)
		}
		if !full {
			var b strings.Builder
			for _, f := range l.Fields {
				b.WriteString(" " + safe(f.Key) + "=" + safe(f.Value))
			}
			head = cut(head, w)
			out = append(out, st.Layer.Render(head)+fit(b.String(), w-visibleWidth(head)))
			continue
		}
		out = append(out, st.Layer.Render(fit(head, w)))
		for _, f := range l.Fields {
			out = append(out, fit("  "+safe(f.Key)+": "+safe(f.Value), w))
		}
	}
	return out
}

// build renders every line of the pane for the current width.
func (h *hexPane) build(st *Styles) {
	h.lines = h.lines[:0]
	if !h.ok {
		return
	}
	w := h.width
	n := bytesPerLine(w)
	hw := hexWidth(n)
	hexLines := dump(st, h.frame.Data, n)
	if lw := w - hw - 3; lw >= 28 {
		// Side by side: layers on the left, the dump on the right.
		left := h.layerLines(st, lw, true)
		for i := range max(len(left), len(hexLines)) {
			l, r := fit("", lw), ""
			if i < len(left) {
				l = left[i]
			}
			if i < len(hexLines) {
				r = hexLines[i]
			}
			h.lines = append(h.lines, l+st.Dim.Render(" │ ")+r)
		}
		return
	}
	h.lines = append(h.lines, h.layerLines(st, w, false)...)
	h.lines = append(h.lines, hexLines...)
}

func (h *hexPane) heading() string {
	if !h.ok {
		return "Packet"
	}
	f := &h.frame
	s := fmt.Sprintf("Packet #%d · %d bytes captured, %d on wire", h.seq, len(f.Data), max(f.OrigLen, len(f.Data)))
	if f.Dir != decode.DirUnknown {
		s += " · " + f.Dir.String()
	}
	if f.Ifindex != 0 {
		s += fmt.Sprintf(" · ifindex %d", f.Ifindex)
	}
	return s
}

func (h *hexPane) view(st *Styles, focused bool, empty string) string {
	if h.lines == nil {
		h.lines = []string{}
		h.build(st)
		h.scroll(0)
	}
	var b strings.Builder
	b.WriteString(title(st, h.heading(), focused, h.width))
	for i := range h.height {
		line := fit("", h.width)
		switch j := h.offset + i; {
		case j < len(h.lines):
			line = h.lines[j]
			if visibleWidth(line) > h.width {
				line = ansi.Truncate(line, h.width, "…")
			}
			if pad := h.width - visibleWidth(line); pad > 0 {
				line += strings.Repeat(" ", pad)
			}
		case i == 0 && !h.ok:
			line = st.Dim.Render(fit("  "+empty, h.width))
		}
		b.WriteString("\n" + line)
	}
	return b.String()
}
