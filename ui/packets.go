package ui

import (
	"strings"

	"github.com/bpftop-cap/bpftop-cap/decode"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// packetList is the packet pane: the retained packets of the selected flow,
// oldest first. A flow opens on its newest packet; the selection then stays
// on that packet, unless following (F) the newest.
type packetList struct {
	rows   []decode.PacketView
	list   cursorList
	selSeq uint64
	ok     bool
	width  int
}

// setRows replaces the rows, keeping the selected packet (or the newest
// when following).
func (p *packetList) setRows(rows []decode.PacketView, follow bool) {
	p.rows = rows
	p.list.n = len(rows)
	switch {
	case follow || !p.ok:
		p.list.cursor = len(rows) - 1
	default:
		// Rows are in sequence order: find the selected one, or the
		// next newer if it left the ring.
		i := 0
		for i < len(rows) && rows[i].Seq < p.selSeq {
			i++
		}
		p.list.cursor = i
	}
	p.list.clamp()
	p.sync()
}

// reset forgets the selection: a new flow was selected.
func (p *packetList) reset() {
	p.rows, p.list.n, p.list.cursor, p.list.offset = nil, 0, 0, 0
	p.ok = false
}

func (p *packetList) sync() {
	if p.list.cursor < len(p.rows) && len(p.rows) > 0 {
		p.selSeq, p.ok = p.rows[p.list.cursor].Seq, true
	} else {
		p.ok = false
	}
}

func (p *packetList) setSize(w, h int) {
	p.width = w
	p.list.height = max(h-1, 0)
	p.list.clamp()
}

// selected returns the selected packet.
func (p *packetList) selected() (decode.PacketView, bool) {
	if !p.ok || p.list.cursor >= len(p.rows) {
		return decode.PacketView{}, false
	}
	return p.rows[p.list.cursor], true
}

func (p *packetList) view(st *Styles, focused bool, heading string, empty string) string {
	var b strings.Builder
	b.WriteString(title(st, heading, focused, p.width))
	from, to := p.list.visible()
	for i := from; i < to; i++ {
		pk := &p.rows[i]
		line := paint(dirName(pk.Dir), 4, st.dir, i == p.list.cursor) + safe(pk.Line)
		b.WriteString("\n" + row(st, line, i == p.list.cursor, focused, p.width))
	}
	for i := to - from; i < p.list.height; i++ {
		if i == 0 && len(p.rows) == 0 {
			b.WriteString("\n" + st.Dim.Render(fit("  "+empty, p.width)))
			continue
		}
		b.WriteString("\n" + fit("", p.width))
	}
	return b.String()
}

// dirName is "in", "out", or blank when the capture did not say (files).
func dirName(d packet.Dir) string {
	if d == packet.DirUnknown {
		return ""
	}
	return d.String()
}
