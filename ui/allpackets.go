package ui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/bpftop-cap/bpftop-cap/decode"
)

// allList is the list of every retained packet, oldest at the top and
// newest at the bottom, as Wireshark's packet list (a toggles it with the
// flow table). Rows are numbered by the ring's sequence numbers; only the
// rows on screen are fetched and decoded (decode.Engine.PacketRange). The
// selection and the scroll position are kept as sequence numbers, so rows
// arriving at the bottom or leaving at the top do not move what is shown,
// unless following (F) the newest.
type allList struct {
	rows        []decode.PacketView // the rows fetched, by sequence number
	first, last uint64              // the ring's range (0, 0 when empty)
	list        cursorList          // index = sequence number - first
	selSeq      uint64
	ok          bool
	width       int
	// Widths the content asked for so far: they grow, never shrink.
	srcW, dstW, protoW int
}

// topSeq is the sequence number of the first row on screen.
func (a *allList) topSeq() uint64 { return a.first + uint64(a.list.offset) }

// setRange takes the ring's range and the rows fetched, keeping the
// selected packet and the first row shown (or the newest when following).
func (a *allList) setRange(rows []decode.PacketView, first, last uint64, follow bool) {
	top := a.topSeq()
	a.rows, a.first, a.last = rows, first, last
	a.list.n = 0
	if last >= first && last > 0 {
		a.list.n = int(last - first + 1)
	}
	switch {
	case follow || !a.ok:
		a.list.cursor = a.list.n - 1
		a.list.offset = a.list.n // clamp puts the newest row at the bottom
	default:
		a.list.cursor = int(max(a.selSeq, first) - first)
		a.list.offset = int(max(top, first) - first)
	}
	a.list.clamp()
	a.sync()
}

func (a *allList) sync() {
	if a.list.n > 0 {
		a.selSeq, a.ok = a.first+uint64(a.list.cursor), true
	} else {
		a.ok = false
	}
}

func (a *allList) setSize(w, h int) {
	a.width = w
	a.list.height = max(h-2, 0) // title and column headers
	a.list.clamp()
}

// row returns the fetched view of packet seq.
func (a *allList) row(seq uint64) (decode.PacketView, bool) {
	lo, hi := 0, len(a.rows)
	for lo < hi {
		m := (lo + hi) / 2
		if a.rows[m].Seq < seq {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(a.rows) && a.rows[lo].Seq == seq {
		return a.rows[lo], true
	}
	return decode.PacketView{}, false
}

// selected returns the selected packet, if its row was fetched.
func (a *allList) selected() (decode.PacketView, bool) {
	if !a.ok {
		return decode.PacketView{}, false
	}
	return a.row(a.selSeq)
}

// Column widths of the packet list's fixed columns.
const (
	colTime    = 16 // 15:04:05.000000
	colDir     = 4
	colLen     = 7
	colAddrMin = 12
	colAddrMax = 30
)

// columns returns the widths of NO., SOURCE, DESTINATION and PROTO, whether
// TIME is shown (not below 100 cells), and INFO's width.
func (a *allList) columns() (no, src, dst, proto int, time bool, info int) {
	no = max(len(strconv.FormatUint(a.last, 10))+1, 5)
	from, to := a.list.visible()
	a.protoW = max(a.protoW, colProto)
	for i := from; i < to; i++ {
		if v, ok := a.row(a.first + uint64(i)); ok {
			a.srcW = max(a.srcW, min(len(v.Src)+1, colAddrMax))
			a.dstW = max(a.dstW, min(len(v.Dst)+1, colAddrMax))
			a.protoW = max(a.protoW, min(len(v.Proto)+1, colProtoMax))
		}
	}
	src, dst = max(a.srcW, colAddrMin), max(a.dstW, colAddrMin)
	rest := a.width - 2 - no - colDir - a.protoW - colLen
	if time = a.width >= 100; time {
		rest -= colTime
	}
	// Addresses narrow to their minimum before INFO goes below minInfo cells.
	for rest-src-dst < minInfo && (src > colAddrMin || dst > colAddrMin) {
		if src >= dst {
			src--
		} else {
			dst--
		}
	}
	return no, src, dst, a.protoW, time, max(rest-src-dst, 0)
}

func (a *allList) view(st *Styles, focused bool, heading string) string {
	var b strings.Builder
	b.WriteString(title(st, heading, focused, a.width))
	no, src, dst, proto, showTime, info := a.columns()
	hdr := right("NO.", no-1) + " "
	if showTime {
		hdr += fit("TIME", colTime)
	}
	hdr += fit("DIR", colDir) + fit("SOURCE", src) + fit("DESTINATION", dst) + fit("PROTO", proto) +
		right("LEN", colLen-1) + " " + fit("INFO", info)
	b.WriteString("\n" + st.Header.Render(fit("  "+hdr, a.width)))
	from, to := a.list.visible()
	for i := from; i < to; i++ {
		seq := a.first + uint64(i)
		line := right(strconv.FormatUint(seq, 10), no-1) + " "
		v, ok := a.row(seq)
		if !ok {
			line += "…"
		} else {
			if showTime {
				line += fit(v.TS.Format("15:04:05.000000"), colTime)
			}
			plain := i == a.list.cursor
			line += paint(dirName(v.Dir), colDir, st.dir, plain) + fit(shortenEndpoint(safe(v.Src), src-1), src) +
				fit(shortenEndpoint(safe(v.Dst), dst-1), dst) + paint(safe(v.Proto), proto, st.proto, plain) +
				right(strconv.Itoa(v.Len), colLen-1) + " " + safe(v.Info)
		}
		b.WriteString("\n" + row(st, line, i == a.list.cursor, focused, a.width))
	}
	for i := to - from; i < a.list.height; i++ {
		if i == 0 && a.list.n == 0 {
			b.WriteString("\n" + st.Dim.Render(fit("  no packets retained yet", a.width)))
			continue
		}
		b.WriteString("\n" + fit("", a.width))
	}
	return b.String()
}

// heading is the list's title line.
func (a *allList) heading() string {
	if a.list.n == 0 {
		return "All packets"
	}
	return fmt.Sprintf("All packets · %d retained, #%d to #%d · a: flows", a.list.n, a.first, a.last)
}
