package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/bpftop-cap/bpftop-cap/decode"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// hexPane shows the selected packet: its decoded layers and their fields
// (decode.Detail, computed only when the selection changes) as a tree with
// a cursor, and a hex dump with offsets and an ASCII column. The tree and
// the dump scroll on their own: the cursor moves through the tree and the
// dump follows the selected field, whose bytes it marks. Only the lines on
// screen are rendered: a GSO frame of 64 KiB is 4,000 dump lines, and while
// the selection follows the newest packet it changes at every refresh.
type hexPane struct {
	seq      uint64
	ok       bool
	frame    packet.Packet
	layers   []decode.LayerDetail
	rows     []treeRow
	ifnames  map[int]string                        // the heading names the interface
	procName func(pid uint32, at time.Time) string // and the process (Config.ProcessName)

	// The layout for width and height, made by layout when stale (laid
	// false).
	laid  bool
	side  bool     // the tree beside the dump, not above it
	lw    int      // the tree's width
	n     int      // bytes per dump line
	th    int      // tree lines on screen
	dh    int      // dump lines on screen
	dumpN int      // dump lines in all
	tree  []string // the tree lines without the cursor mark; nil until needed

	vis  []int // the rows shown, indexes into rows: above the dump, the fields of the cursor's layer only
	cur  int   // the row under the cursor
	ttop int   // first shown row (an index into vis)
	dtop int   // first dump line shown

	width  int
	height int // lines below the title
}

// treeRow is one line of the tree: a layer's heading (field < 0) or one
// of its fields.
type treeRow struct{ layer, field int }

// show selects packet seq; the frame and its detail are replaced only when
// the packet changes. The cursor stays on the same layer and field when
// the new packet has them, so packets compare field by field.
func (h *hexPane) show(seq uint64, f packet.Packet, ok bool) {
	if ok == h.ok && seq == h.seq {
		return
	}
	layer, field := h.selectedNames()
	h.seq, h.ok, h.frame, h.layers, h.rows, h.vis, h.laid, h.tree = seq, ok, f, nil, nil, nil, false, nil
	h.cur, h.ttop, h.dtop = 0, 0, 0
	if !ok {
		return
	}
	h.layers = decode.DetailLink(f.LinkType(), f.Data, int(f.OrigLen))
	for i, l := range h.layers {
		h.rows = append(h.rows, treeRow{i, -1})
		for j := range l.Fields {
			h.rows = append(h.rows, treeRow{i, j})
		}
	}
	if layer == "" {
		return
	}
	for i, r := range h.rows {
		if h.layers[r.layer].Name == layer && (r.field < 0 && field == "" || r.field >= 0 && h.layers[r.layer].Fields[r.field].Key == field) {
			h.cur = i
			h.follow()
			break
		}
	}
}

// selectedNames returns the names of the layer and field under the cursor
// (field "" for a layer's heading).
func (h *hexPane) selectedNames() (layer, field string) {
	if h.cur >= len(h.rows) {
		return "", ""
	}
	r := h.rows[h.cur]
	if r.field >= 0 {
		field = h.layers[r.layer].Fields[r.field].Key
	}
	return h.layers[r.layer].Name, field
}

// selection returns the bytes [start, end) of the row under the cursor in
// the frame; nothing when it is the whole frame (marking every byte says
// nothing).
func (h *hexPane) selection() (start, end int) {
	if h.cur >= len(h.rows) {
		return 0, 0
	}
	r := h.rows[h.cur]
	l := h.layers[r.layer]
	start, end = l.Offset, l.Offset+l.Length
	if r.field >= 0 {
		f := l.Fields[r.field]
		start, end = f.Offset, f.Offset+f.Length
	}
	start, end = max(start, 0), min(end, len(h.frame.Data))
	if start >= end || start == 0 && end == len(h.frame.Data) {
		return 0, 0
	}
	return start, end
}

func (h *hexPane) setSize(w, ht int) {
	if w != h.width || max(ht-1, 0) != h.height {
		h.laid = false
	}
	if w != h.width {
		h.tree = nil
	}
	h.width, h.height = w, max(ht-1, 0)
	h.clamp()
}

// layout works out the columns and how the lines are shared between the
// tree and the dump, rendering none of them.
func (h *hexPane) layout() {
	if h.laid {
		return
	}
	h.laid = true
	h.n = bytesPerLine(h.width)
	h.lw = h.width - hexWidth(h.n) - 3
	h.side = h.lw >= 28
	h.dumpN = (len(h.frame.Data) + h.n - 1) / h.n
	if !h.ok {
		h.dumpN = 0
	}
	if h.side {
		h.th, h.dh = h.height, h.height
		return
	}
	// Above the dump: the tree takes what the dump leaves, at least half.
	h.lw = h.width
	// Sized for the longest the tree can be (every heading and the
	// fields of the longest layer), so moving the cursor does not move the
	// dump.
	most := 0
	for _, l := range h.layers {
		most = max(most, len(l.Fields))
	}
	h.th = min(len(h.layers)+most, max(h.height-h.dumpN, (h.height+1)/2))
	h.dh = h.height - h.th
}

// visible lists the rows shown: every row beside the dump; above it,
// where lines are few, the layers' headings and the fields of the layer
// under the cursor.
func (h *hexPane) visible() {
	h.vis = h.vis[:0]
	for i, r := range h.rows {
		if h.side || r.field < 0 || r.layer == h.rows[h.cur].layer {
			h.vis = append(h.vis, i)
		}
	}
}

// pos is the cursor's index in vis.
func (h *hexPane) pos() int {
	for p, r := range h.vis {
		if r == h.cur {
			return p
		}
	}
	return 0
}

// dumpLines is the number of lines of the whole hex dump.
func (h *hexPane) dumpLines() int {
	h.layout()
	return h.dumpN
}

// clamp keeps the cursor and both scroll offsets in range.
func (h *hexPane) clamp() {
	h.layout()
	h.cur = min(max(h.cur, 0), max(len(h.rows)-1, 0))
	if len(h.rows) > 0 {
		h.visible()
	}
	h.ttop = max(min(h.ttop, len(h.vis)-h.th), 0)
	h.dtop = max(min(h.dtop, h.dumpN-h.dh), 0)
}

// follow scrolls the tree to the cursor and the dump to the selected
// bytes (their start, when they are more than the dump shows).
func (h *hexPane) follow() {
	h.clamp()
	if p := h.pos(); p < h.ttop {
		h.ttop = p
	} else if h.th > 0 && p >= h.ttop+h.th {
		h.ttop = p - h.th + 1
	}
	if s, e := h.selection(); e > s && h.dh > 0 {
		first, last := s/h.n, (e-1)/h.n
		switch {
		case first < h.dtop:
			h.dtop = first
		case last >= h.dtop+h.dh:
			h.dtop = min(first, last-h.dh+1)
		}
	}
	h.clamp()
}

// moveCursor moves the tree cursor by d rows, or to its first or last.
func (h *hexPane) moveCursor(d int, top, bottom bool) {
	switch {
	case top:
		h.cur = 0
	case bottom:
		h.cur = len(h.rows) - 1
	default:
		h.clamp()
		if len(h.vis) > 0 {
			h.cur = h.vis[min(max(h.pos()+d, 0), len(h.vis)-1)]
		}
	}
	h.follow()
}

// scrollDump scrolls the hex dump by d lines, or to its top or bottom,
// leaving the cursor where it is.
func (h *hexPane) scrollDump(d int, top, bottom bool) {
	switch {
	case top:
		h.dtop = 0
	case bottom:
		h.dtop = h.dumpLines()
	default:
		h.dtop += d
	}
	h.clamp()
}

// key handles a movement key while the pane has focus: the arrows, j/k
// and g/G move the cursor through the tree; pgup/pgdn page the dump,
// home/end go to its top and bottom. It reports whether k was one of them.
func (h *hexPane) key(k tea.KeyMsg, km *KeyMap) bool {
	h.layout()
	page := max(h.dh-1, 1)
	switch {
	case key.Matches(k, km.Up):
		h.moveCursor(-1, false, false)
	case key.Matches(k, km.Down):
		h.moveCursor(1, false, false)
	case key.Matches(k, km.PageUp):
		h.scrollDump(-page, false, false)
	case key.Matches(k, km.PageDown):
		h.scrollDump(page, false, false)
	case k.String() == "home":
		h.scrollDump(0, true, false)
	case k.String() == "end":
		h.scrollDump(0, false, true)
	case key.Matches(k, km.Top):
		h.moveCursor(0, true, false)
	case key.Matches(k, km.Bottom):
		h.moveCursor(0, false, true)
	default:
		return false
	}
	return true
}

// click puts the cursor on the tree line at row i of the pane, if it is
// one.
func (h *hexPane) click(i int) {
	h.clamp()
	if i >= 0 && i < h.th && h.ttop+i < len(h.vis) {
		h.cur = h.vis[h.ttop+i]
		h.follow()
	}
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

// dumpLine renders line i of the hex dump of data, n bytes a line, with
// the bytes [hs, he) of data marked: styled, and bracketed in the hex
// column so that the mark shows without colour.
func dumpLine(st *Styles, data []byte, n, i, hs, he int) string {
	const digits = "0123456789abcdef"
	off := i * n
	chunk := data[off:min(off+n, len(data))]
	s, e := max(hs-off, 0), min(he-off, len(chunk)) // marked bytes of this line
	var b, run, asc strings.Builder                 // the line, the marked hex, ASCII text
	b.Grow(8 + 4*n)
	b.WriteString(st.Offset.Render(fmt.Sprintf("%04x", off)))
	b.WriteByte(' ')
	out := &b // where the next text goes: the line, or the marked run
	for k := range n {
		sep := []byte(" ")
		if k > 0 && k%8 == 0 {
			sep = []byte("  ")
		}
		if k == 0 {
			sep = []byte(" ")
		}
		if s < e && k == e {
			sep[0] = ']'
		}
		if s < e && k == s {
			sep[len(sep)-1] = '['
		}
		out.Write(sep)
		if k == s && s < e {
			out = &run
		}
		if k < len(chunk) {
			out.WriteByte(digits[chunk[k]>>4])
			out.WriteByte(digits[chunk[k]&15])
		} else {
			out.WriteString("  ")
		}
		if k == e-1 && s < e {
			b.WriteString(st.Field.Render(run.String()))
			out = &b
		}
	}
	if s < e && e == n {
		b.WriteString("] ")
	} else {
		b.WriteString("  ")
	}
	for k, c := range chunk {
		if k == s && s < e {
			b.WriteString(asc.String())
			asc.Reset()
		}
		asc.WriteByte(decode.PrintableASCII(c))
		if k == e-1 && s < e {
			b.WriteString(st.Field.Render(asc.String()))
			asc.Reset()
		}
	}
	b.WriteString(asc.String())
	return b.String()
}

// treeLine renders tree row r, w cells wide, with the cursor mark when it
// is the cursor's.
func (h *hexPane) treeLine(st *Styles, r int, focused bool) string {
	if h.tree == nil {
		h.tree = make([]string, len(h.rows))
		for i, row := range h.rows {
			l := h.layers[row.layer]
			if row.field < 0 {
				s := safe(l.Name)
				if l.Length > 0 && l.Name != "Frame" {
					s += fmt.Sprintf(" [%d:%d]", l.Offset, l.Offset+l.Length)
				}
				h.tree[i] = s
				continue
			}
			f := l.Fields[row.field]
			h.tree[i] = "  " + safe(f.Key) + ": " + safe(f.Value)
		}
	}
	text := h.tree[r]
	if row := h.rows[r]; !h.side && row.field < 0 && row.layer != h.rows[h.cur].layer {
		// A folded layer: its fields follow on the heading's line.
		for _, f := range h.layers[row.layer].Fields {
			text += " " + safe(f.Key) + "=" + safe(f.Value)
		}
	}
	if r == h.cur {
		return row(st, text, true, focused, h.lw)
	}
	if h.rows[r].field < 0 {
		return st.Layer.Render(fit("  "+text, h.lw))
	}
	return fit("  "+h.tree[r], h.lw)
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
	if pid := f.Pid(); pid != 0 && h.procName != nil {
		if name := h.procName(pid, f.Time()); name != "" {
			s += " · " + safe(name)
		}
	}
	return s
}

func (h *hexPane) view(st *Styles, focused bool, empty string) string {
	h.clamp()
	hs, he := h.selection()
	tree := func(i int) string {
		if p := h.ttop + i; i < h.th && p < len(h.vis) {
			return h.treeLine(st, h.vis[p], focused)
		}
		return fit("", h.lw)
	}
	dump := func(i int) string {
		if j := h.dtop + i; i < h.dh && j < h.dumpN {
			return dumpLine(st, h.frame.Data, h.n, j, hs, he)
		}
		return ""
	}
	var b strings.Builder
	b.WriteString(title(st, h.heading(), focused, h.width))
	for i := range h.height {
		var line string
		switch {
		case !h.ok:
			if i == 0 {
				line = st.Dim.Render("  " + empty)
			}
		case h.side:
			line = tree(i) + st.Dim.Render(" │ ") + dump(i)
		case i < h.th:
			line = tree(i)
		default:
			line = dump(i - h.th)
		}
		if visibleWidth(line) > h.width {
			line = ansi.Truncate(line, h.width, "…")
		}
		if pad := h.width - visibleWidth(line); pad > 0 {
			line += strings.Repeat(" ", pad)
		}
		b.WriteString("\n" + line)
	}
	return b.String()
}
