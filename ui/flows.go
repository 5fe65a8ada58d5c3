package ui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/bpftop-cap/bpftop-cap/decode"
)

// sortNames name the sort keys s cycles through, in order.
var sortKeys = []decode.SortKey{decode.SortBytes, decode.SortPackets, decode.SortRate, decode.SortLastSeen}

func sortName(k decode.SortKey) string {
	switch k {
	case decode.SortPackets:
		return "packets"
	case decode.SortRate:
		return "rate"
	case decode.SortLastSeen:
		return "last seen"
	}
	return "bytes"
}

// flowTable is the flow pane: one row per flow, the selection kept on the
// same flow (by ID) as rows are re-sorted.
type flowTable struct {
	rows   []decode.FlowView
	list   cursorList
	selID  uint64
	ok     bool // selID is set
	showIf bool // an IF column: several interfaces are captured
	// showProc: a PROCESS column (process attribution is on); procW is its
	// width, grown to the longest name seen, as protoW; procShown what it
	// gets (the endpoints come first).
	showProc  bool
	procW     int
	procShown int
	width     int
	// The widths the content asked for so far: they grow with it and never
	// shrink, so the headers do not shift as flows come and go.
	protoW, endsW int
	// hist holds the sparkline histories of the rows shown (fetched for
	// those only, by ID); a row without one draws a blank graph.
	hist   map[uint64]decode.History
	graphs bool // a live capture: the sparkline column is shown
}

// selectRow is the row a table showing rows selects: the flow with id if
// still there, else the row at cursor (clamped); -1 for no rows.
func selectRow(rows []decode.FlowView, id uint64, hasID bool, cursor int) int {
	if len(rows) == 0 {
		return -1
	}
	if hasID {
		for i := range rows {
			if rows[i].ID == id {
				return i
			}
		}
	}
	return min(max(cursor, 0), len(rows)-1)
}

// setRows replaces the rows, keeping the selected flow wherever the sort
// puts it; following (F), the selection is the top row, as in top(1).
func (t *flowTable) setRows(rows []decode.FlowView, follow bool) {
	t.rows = rows
	t.list.n = len(rows)
	if follow {
		t.list.cursor = 0
	} else {
		t.list.cursor = max(selectRow(rows, t.selID, t.ok, t.list.cursor), 0)
	}
	t.list.clamp()
	t.sync()
}

// sync records the flow under the cursor.
func (t *flowTable) sync() {
	if t.list.cursor < len(t.rows) {
		t.selID, t.ok = t.rows[t.list.cursor].ID, true
	} else {
		t.ok = false
	}
}

func (t *flowTable) setSize(w, h int) {
	t.width = w
	t.list.height = max(h-2, 0) // title and column headers
	t.list.clamp()
}

// selected returns the selected flow.
func (t *flowTable) selected() (decode.FlowView, bool) {
	if !t.ok || t.list.cursor >= len(t.rows) {
		return decode.FlowView{}, false
	}
	return t.rows[t.list.cursor], true
}

// Column widths of the fixed columns; PROTO's is the least, and grows to
// the longest name seen, up to colProtoMax.
const (
	colProto    = 6
	colProtoMax = 12
	colIf       = 9
	colProc     = 8 // "PROCESS "; grows to the longest name, up to colProcMax
	colProcMax  = 30
	colPkts     = 8
	colBytes    = 9
	colRate     = 10
	colState    = 12
)

// graphWidths are the widths the sparkline column may take, widest
// first: one cell a second, then two, three and five seconds a cell.
var graphWidths = []int{decode.HistorySeconds, decode.HistorySeconds / 2, decode.HistorySeconds / 3, decode.HistorySeconds / 5}

// minInfo is the least INFO keeps before the sparklines give way to it.
const minInfo = 20

// graphWidth is the width of the sparkline column in a table w cells wide
// that has room cells for it and INFO: the widest that leaves INFO
// minInfo cells (one cell a second needs 160 cells, two 120), else none.
func graphWidth(w, room int) int {
	for _, g := range graphWidths {
		if g == decode.HistorySeconds && w < 160 || g == decode.HistorySeconds/2 && w < 120 {
			continue
		}
		if room-g-1 >= minInfo {
			return g
		}
	}
	return 0
}

// visibleIDs returns the IDs of the rows on screen, whose histories the
// next refresh fetches.
func (t *flowTable) visibleIDs() []uint64 {
	if !t.graphs {
		return nil
	}
	from, to := t.list.visible()
	ids := make([]uint64, 0, to-from)
	for i := from; i < to; i++ {
		ids = append(ids, t.rows[i].ID)
	}
	return ids
}

// graphRows is how many rows the table may show with sparklines when its
// pane has up to h lines; 0 without sparklines.
func (t *flowTable) graphRows(h int) int {
	if !t.graphs {
		return 0
	}
	return h
}

// columns decides the widths of the columns that follow the content:
// PROTO, the endpoints, the graph, STATE and INFO. As the terminal
// narrows, STATE goes first (below 100 cells), then the graph narrows
// (below 160 and 120 cells) and goes where INFO would keep less than
// minInfo cells, then INFO goes, then the endpoints are cut in the middle
// of their addresses, never in their ports.
func (t *flowTable) columns() (proto, ends, graph, state, info int) {
	from, to := t.list.visible()
	need := len("ENDPOINTS")
	t.protoW = max(t.protoW, colProto)
	for i := from; i < to; i++ {
		t.protoW = max(t.protoW, min(ansi.StringWidth(t.rows[i].Proto)+1, colProtoMax))
		need = max(need, ansi.StringWidth(t.rows[i].A)+len(" <-> ")+ansi.StringWidth(t.rows[i].B))
	}
	t.endsW = max(t.endsW, need+1)
	proto = t.protoW
	rest := t.width - 2 - proto - colPkts - colBytes - colRate
	if t.showIf {
		rest -= colIf
	}
	if t.width >= 100 {
		state = colState
		rest -= state
	}
	if t.showProc {
		t.procW = max(t.procW, colProc)
		for i := from; i < to; i++ {
			t.procW = max(t.procW, min(ansi.StringWidth(t.rows[i].Process)+1, colProcMax))
		}
		// The endpoints come first: PROCESS gives way to them, down to
		// its heading's width, its names then cut.
		t.procShown = max(colProc, min(t.procW, rest-t.endsW))
		rest -= t.procShown
	}
	ends = max(min(t.endsW, rest), 0)
	if t.graphs {
		if graph = graphWidth(t.width, rest-ends); graph > 0 {
			rest -= graph + 1
		}
	}
	return proto, ends, graph, state, max(rest-ends, 0)
}

// endpoints writes "A <-> B" in w cells; when it does not fit, each side
// is shortened in the middle of its address, keeping its port.
func endpoints(a, b string, w int) string {
	const sep = " <-> "
	if ansi.StringWidth(a)+len(sep)+ansi.StringWidth(b) < w {
		return a + sep + b
	}
	side := (w - 1 - len(sep)) / 2
	return shortenEndpoint(a, side) + sep + shortenEndpoint(b, side)
}

func (t *flowTable) view(st *Styles, focused bool, heading string) string {
	var b strings.Builder
	b.WriteString(title(st, heading, focused, t.width))
	protoW, ends, graph, stateW, info := t.columns()
	hdr := fit("PROTO", protoW) + fit("ENDPOINTS", ends) + right("PKTS", colPkts-1) + " " +
		right("BYTES", colBytes-1) + " " + right("RATE", colRate-1) + " "
	if graph > 0 {
		hdr += fit(fmt.Sprintf("LAST %ds", decode.HistorySeconds), graph) + " "
	}
	if t.showIf {
		hdr = fit("IF", colIf) + hdr
	}
	if t.showProc {
		hdr += fit("PROCESS", t.procShown)
	}
	if stateW > 0 {
		hdr += fit("STATE", stateW)
	}
	hdr += fit("INFO", info)
	b.WriteString("\n" + st.Header.Render(fit("  "+hdr, t.width)))
	from, to := t.list.visible()
	for i := from; i < to; i++ {
		f := &t.rows[i]
		label := safe(f.Label)
		if f.DecodedPkts == 0 && f.KernelPkts > 0 {
			label = "all lost in ring; kernel count"
		}
		if f.Tunnel != "" {
			label = strings.TrimSpace(label + " [" + safe(f.Tunnel) + "]")
		}
		line := paint(safe(f.Proto), protoW-1, st.proto, i == t.list.cursor) + " " +
			fit(endpoints(safe(f.A), safe(f.B), ends), ends) +
			right(count(f.Packets()), colPkts-1) + " " +
			right(si(float64(f.Bytes()), "B"), colBytes-1) + " " +
			right(bits(f.BPS), colRate-1) + " "
		if graph > 0 {
			line += sparkline(t.hist[f.ID], graph) + " "
		}
		if t.showIf {
			line = fit(safe(f.Iface), colIf) + line
		}
		if t.showProc {
			line += fit(procName(f.Process), t.procShown)
		}
		if stateW > 0 {
			line += fit(safe(f.State), stateW)
		}
		line += label
		b.WriteString("\n" + row(st, line, i == t.list.cursor, focused, t.width))
	}
	for i := to - from; i < t.list.height; i++ {
		if i == 0 && len(t.rows) == 0 {
			b.WriteString("\n" + st.Dim.Render(fit("  no flows yet", t.width)))
			continue
		}
		b.WriteString("\n" + fit("", t.width))
	}
	return b.String()
}

// procName is the PROCESS cell: "-" when no local socket owns the flow.
func procName(p string) string {
	if p == "" {
		return "-"
	}
	return safe(p)
}
