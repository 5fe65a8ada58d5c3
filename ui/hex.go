package ui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/bpftop-cap/bpftop-cap/decode"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// hexPane shows the selected packet: its decoded layers (decode.Detail,
// computed only when the selection changes) and a hex dump with offsets and
// an ASCII column. Only the lines on screen are rendered: a GSO frame of
// 64 KiB is 4,000 dump lines, and while the selection follows the newest
// packet it changes at every refresh.
type hexPane struct {
	seq     uint64
	ok      bool
	frame   packet.Packet
	layers  []decode.LayerDetail
	ifnames map[int]string // the heading names the interface

	// The layout for width, made by layout when stale (laid false).
	laid  bool
	side  bool     // the layers beside the dump, not above it
	lw    int      // the layers' column width when beside it
	n     int      // bytes per dump line
	nleft int      // layer lines
	total int      // lines in all
	left  []string // the layer lines, rendered; nil until needed

	offset int // first line shown
	width  int
	height int // lines below the title
}

// show selects packet seq; the frame and its detail are replaced only when
// the packet changes.
func (h *hexPane) show(seq uint64, f packet.Packet, ok bool) {
	if ok == h.ok && seq == h.seq {
		return
	}
	h.seq, h.ok, h.frame, h.layers, h.laid, h.left, h.offset = seq, ok, f, nil, false, nil, 0
	if ok {
		h.layers = decode.Detail(f.Data, int(f.OrigLen))
	}
}

func (h *hexPane) setSize(w, ht int) {
	if w != h.width {
		h.laid = false
	}
	h.width, h.height = w, max(ht-1, 0)
	h.scroll(0)
}

// layout works out how many lines the pane has for its width, rendering
// none of them.
func (h *hexPane) layout() {
	if h.laid {
		return
	}
	h.laid, h.left, h.total, h.nleft = true, nil, 0, 0
	if !h.ok {
		return
	}
	h.n = bytesPerLine(h.width)
	h.lw = h.width - hexWidth(h.n) - 3
	h.side = h.lw >= 28
	for _, l := range h.layers {
		h.nleft++
		if h.side {
			h.nleft += len(l.Fields) // full: a line per field
		}
	}
	dumpLines := (len(h.frame.Data) + h.n - 1) / h.n
	if h.side {
		h.total = max(h.nleft, dumpLines)
	} else {
		h.total = h.nleft + dumpLines
	}
}

// lineCount is the number of lines the pane can scroll through.
func (h *hexPane) lineCount() int {
	h.layout()
	return h.total
}

// scroll moves the view by d lines, kept in range.
func (h *hexPane) scroll(d int) {
	h.offset = min(h.offset+d, h.lineCount()-h.height)
	h.offset = max(h.offset, 0)
}

// line renders line j of the pane (j < lineCount()).
func (h *hexPane) line(st *Styles, j int) string {
	h.layout()
	if h.left == nil {
		if h.side {
			h.left = h.layerLines(st, h.lw, true)
		} else {
			h.left = h.layerLines(st, h.width, false)
		}
	}
	if !h.side {
		if j < len(h.left) {
			return h.left[j]
		}
		return dumpLine(st, h.frame.Data, h.n, j-len(h.left))
	}
	l, r := fit("", h.lw), ""
	if j < len(h.left) {
		l = h.left[j]
	}
	if off := j * h.n; off < len(h.frame.Data) {
		r = dumpLine(st, h.frame.Data, h.n, j)
	}
	return l + st.Dim.Render(" │ ") + r
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

// dumpLine renders line i of the hex dump of data, n bytes a line.
func dumpLine(st *Styles, data []byte, n, i int) string {
	const digits = "0123456789abcdef"
	off := i * n
	chunk := data[off:min(off+n, len(data))]
	var hx, asc strings.Builder
	hx.Grow(3*n + n/8)
	asc.Grow(n)
	for i := range n {
		if i > 0 {
			hx.WriteByte(' ')
			if i%8 == 0 {
				hx.WriteByte(' ')
			}
		}
		if i < len(chunk) {
			hx.WriteByte(digits[chunk[i]>>4])
			hx.WriteByte(digits[chunk[i]&15])
			asc.WriteByte(decode.PrintableASCII(chunk[i]))
		} else {
			hx.WriteString("  ")
		}
	}
	return st.Offset.Render(fmt.Sprintf("%04x", off)) + "  " + hx.String() + "  " + asc.String()
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

func (h *hexPane) heading() string {
	if !h.ok {
		return "Packet"
	}
	f := &h.frame
	s := fmt.Sprintf("Packet #%d · %d bytes captured, %d on wire", h.seq, len(f.Data), f.WireLen())
	if f.Dir != packet.DirUnknown {
		s += " · " + f.Dir.String()
	}
	if name := h.ifnames[int(f.Ifindex)]; name != "" {
		s += " · " + safe(name)
	} else if f.Ifindex != 0 {
		s += fmt.Sprintf(" · ifindex %d", f.Ifindex)
	}
	return s
}

func (h *hexPane) view(st *Styles, focused bool, empty string) string {
	h.scroll(0) // in range for the current layout
	var b strings.Builder
	b.WriteString(title(st, h.heading(), focused, h.width))
	for i := range h.height {
		line := fit("", h.width)
		switch j := h.offset + i; {
		case j < h.total:
			line = h.line(st, j)
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
