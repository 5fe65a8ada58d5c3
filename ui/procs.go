package ui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/bpftop-cap/bpftop-cap/decode"
)

// procView is the processes view (p): one row per process owning flows
// on this host, like top, with the processes of a container under a row
// of the container's that sums them (decode.GroupProcesses), and a row
// "-" for the flows no local process owns. Enter lists the flows of the
// row's process (or container) in the flow table (drill); esc comes back.
//
// A container's row rather than a CONTAINER column: in 80 cells a column
// of 12-digit ids would take a sixth of the row on every line, blank on
// most, while a row says once what its processes share and what they sum
// to, which is the first question about a container.
type procView struct {
	rows   []decode.ProcessView // grouped
	list   cursorList
	selKey string // the selected row's (rowKey), kept as rows are re-sorted
	ok     bool   // selKey is set
	loaded bool   // a fetch came back

	width, height int  // height: the rows below the title and header
	graphs        bool // a live capture: the sparkline column

	drill *procDrill // the flow table shows the flows of one row; nil: this view is shown

	req      procsReq // the last fetch asked for
	inflight bool
}

// procDrill is the row whose flows the flow table lists.
type procDrill struct {
	label string   // "curl[4123]", "container docker 3f2a…", "- no local process"
	pids  []uint32 // its processes (for a container, those it had)
}

// procsReq is what one fetch of the processes asks for.
type procsReq struct {
	by  decode.SortKey
	now time.Time
}

// procsMsg carries the processes fetched off the update loop.
type procsMsg struct {
	req  procsReq
	rows []decode.ProcessView
}

// fetchProcs takes the engine's processes, grouped by container.
func fetchProcs(eng *decode.Engine, req procsReq) tea.Cmd {
	return func() tea.Msg {
		return procsMsg{req: req, rows: decode.GroupProcesses(eng.Processes(req.by, req.now), req.by)}
	}
}

// noProcess names the row of the flows no local process owns.
const noProcess = "- no local process"

// rowKey identifies a row across fetches: its container's, or its pid.
func rowKey(r *decode.ProcessView) string {
	if r.Members > 0 {
		return "c" + r.Container
	}
	return "p" + strconv.FormatUint(uint64(r.Pid), 10)
}

// rowName is the first cell of a row: a container, a process under its
// container (without the container's id its name ends in), a process, or
// the flows of none.
func rowName(r *decode.ProcessView) string {
	switch {
	case r.Members > 0:
		return safe(r.Container)
	case r.Pid == 0:
		return noProcess
	}
	name := safe(r.Process)
	if name == "" {
		name = "?[" + strconv.FormatUint(uint64(r.Pid), 10) + "]"
	}
	if r.Container != "" {
		if i := strings.LastIndexByte(r.Container, ' '); i >= 0 {
			name = strings.TrimSuffix(name, " "+safe(r.Container[i+1:]))
		}
		name = "  " + name
	}
	return name
}

// openProcs opens the processes view, or comes back to it from a drill.
func (m *Model) openProcs() tea.Cmd {
	if m.procs == nil {
		m.procs = &procView{graphs: m.cfg.Live}
	}
	if m.procs.drill != nil {
		m.procs.drill = nil
		m.scopeChanged()
	}
	return tea.Batch(m.refreshProcs(true), m.requestRefresh())
}

// closeProcs goes back to the flow table of every flow.
func (m *Model) closeProcs() tea.Cmd {
	m.procs = nil
	m.scopeChanged()
	return m.requestRefresh()
}

// drillProcs lists the flows of the selected row in the flow table.
func (m *Model) drillProcs() tea.Cmd {
	v := m.procs
	if !v.ok || v.list.cursor >= len(v.rows) {
		return nil
	}
	r := &v.rows[v.list.cursor]
	d := &procDrill{label: strings.TrimSpace(rowName(r)), pids: []uint32{r.Pid}}
	if r.Members > 0 {
		d.label, d.pids = "container "+d.label, nil
		for i := v.list.cursor + 1; i < len(v.rows) && v.rows[i].Members == 0 && v.rows[i].Container == r.Container; i++ {
			d.pids = append(d.pids, v.rows[i].Pid)
		}
	}
	v.drill = d
	m.scopeChanged()
	m.allMode = false // the flow table, not the list of all packets
	m.layout()
	m.setFocus(paneFlows)
	return m.requestRefresh()
}

// scopeChanged empties the flow table, whose rows are of another set of
// processes now, and has the next refresh fetch them.
func (m *Model) scopeChanged() {
	m.scopeGen++
	m.flows.setRows(nil, false)
	m.flows.ok = false
	m.packets.reset()
	m.pktOK = false
	m.updateHex()
}

// scopePids is the processes the flow table is narrowed to, nil for all.
func (m *Model) scopePids() []uint32 {
	if m.procs == nil || m.procs.drill == nil {
		return nil
	}
	return m.procs.drill.pids
}

// drillLabel names the row whose flows the flow table lists, "" if all.
func (m *Model) drillLabel() string {
	if m.procs == nil || m.procs.drill == nil {
		return ""
	}
	return m.procs.drill.label
}

// procsShown reports whether the processes view is on screen.
func (m *Model) procsShown() bool { return m.procs != nil && m.procs.drill == nil }

// refreshProcs fetches the processes again (or force), unless a fetch is
// running, the view is not shown or the display is paused. Like the flow
// table, a big table is fetched a few times a second rather than on every
// tick.
func (m *Model) refreshProcs(force bool) tea.Cmd {
	v := m.procs
	if !m.procsShown() || v.inflight || m.paused && !force {
		return nil
	}
	if every := uint64(1 + len(v.rows)/bigTable); !force && m.ticks%every != 0 {
		return nil
	}
	v.inflight = true
	now := m.cfg.Now()
	if m.paused {
		now = m.pausedAt
	}
	v.req = procsReq{by: sortKeys[m.sortIdx], now: now}
	return fetchProcs(m.cfg.Engine, v.req)
}

// applyProcs takes in fetched processes, keeping the selection on its
// row wherever the sort puts it. A fetch for another sort than the one
// now chosen asks again.
func (m *Model) applyProcs(msg procsMsg) tea.Cmd {
	v := m.procs
	if v == nil {
		return nil
	}
	v.inflight = false
	if msg.req.by != sortKeys[m.sortIdx] {
		return m.refreshProcs(true)
	}
	v.rows, v.loaded = msg.rows, true
	v.list.n = len(v.rows)
	if v.ok {
		for i := range v.rows {
			if rowKey(&v.rows[i]) == v.selKey {
				v.list.cursor = i
				break
			}
		}
	}
	m.sizeProcs()
	v.sync()
	return nil
}

// sync records the row under the cursor.
func (v *procView) sync() {
	v.list.clamp()
	if v.list.cursor < len(v.rows) {
		v.selKey, v.ok = rowKey(&v.rows[v.list.cursor]), true
	}
}

// sizeProcs fits the processes view to the screen.
func (m *Model) sizeProcs() {
	v := m.procs
	v.width, v.height = m.width, max(m.height-2-m.graphRows()-2, 1)
	v.list.height = v.height
	v.list.clamp()
}

// procsKey handles the keys of the processes view: all but help, pause,
// save and ctrl+c while it is shown; p, and esc on the flow table with no
// filter, while the flow table lists a row's flows. It reports false for the keys it
// leaves to the rest of the model.
func (m *Model) procsKey(k tea.KeyMsg) (tea.Cmd, bool) {
	if !m.procsShown() {
		switch {
		case !m.keys.Procs.Enabled():
			if k.String() == "p" && m.cfg.NoProcesses != "" {
				m.setMsg(false, "%s", m.cfg.NoProcesses)
				return nil, true
			}
			return nil, false
		case key.Matches(k, m.keys.Procs):
			return m.openProcs(), true
		case key.Matches(k, m.keys.Back) && m.procs != nil && m.focus == paneFlows && !m.allMode && m.filter == "":
			return m.openProcs(), true // a filter is cleared first, as without a drill
		}
		return nil, false
	}
	v := m.procs
	m.sizeProcs()
	switch {
	case k.Type == tea.KeyCtrlC,
		key.Matches(k, m.keys.Help, m.keys.Pause, m.keys.Save):
		return nil, false
	case key.Matches(k, m.keys.Back, m.keys.Procs, m.keys.Quit):
		return m.closeProcs(), true // q closes the view, not the program, as in statistics
	case key.Matches(k, m.keys.Enter):
		return m.drillProcs(), true
	case key.Matches(k, m.keys.Sort):
		m.sortIdx = (m.sortIdx + 1) % len(sortKeys)
		return m.refreshProcs(true), true
	case key.Matches(k, m.keys.Up):
		v.list.move(-1)
	case key.Matches(k, m.keys.Down):
		v.list.move(1)
	case key.Matches(k, m.keys.PageUp):
		v.list.move(-v.list.page())
	case key.Matches(k, m.keys.PageDown):
		v.list.move(v.list.page())
	case key.Matches(k, m.keys.Top):
		v.list.top()
	case key.Matches(k, m.keys.Bottom):
		v.list.bottom()
	}
	v.sync()
	return nil, true
}

// procsMouse scrolls the processes with the wheel and selects a clicked
// row.
func (m *Model) procsMouse(e tea.MouseEvent) tea.Cmd {
	v := m.procs
	m.sizeProcs()
	switch {
	case e.Button == tea.MouseButtonWheelUp:
		v.list.move(-3)
	case e.Button == tea.MouseButtonWheelDown:
		v.list.move(3)
	case e.Button == tea.MouseButtonLeft && e.Action == tea.MouseActionPress:
		// Status (and graph) line, title and header above the rows.
		if i := e.Y - 1 - m.graphRows() - 2; i >= 0 {
			v.list.move(v.list.offset + i - v.list.cursor)
		}
	}
	v.sync()
	return nil
}

// procsScreen renders the screen with the processes view shown.
func (m *Model) procsScreen(status string) string {
	m.sizeProcs()
	foot := footer(&m.st, m, m.width)
	if m.msg == "" && !m.editing {
		foot = m.st.Dim.Render(fit("esc close · enter its flows · s sort · ↑↓ pgup pgdn g G move · ? help", m.width))
	}
	return status + "\n" + m.procs.view(&m.st, sortName(sortKeys[m.sortIdx])) + "\n" + foot
}

// procCol is a numeric column of the processes view.
type procCol struct {
	head string
	w    int
	val  func(r *decode.ProcessView) string
}

// procCols are the numeric columns, in their order on screen; procKeep
// the groups of them in the order they are kept as the width shrinks:
// bit rates, packet rates, bytes, flows, then packets.
var (
	procCols = []procCol{
		{"IN p/s", 6, func(r *decode.ProcessView) string { return si(r.PPSIn, "") }},
		{"OUT p/s", 7, func(r *decode.ProcessView) string { return si(r.PPSOut, "") }},
		{"IN b/s", 6, func(r *decode.ProcessView) string { return si(r.BPSIn, "") }},
		{"OUT b/s", 7, func(r *decode.ProcessView) string { return si(r.BPSOut, "") }},
		{"PACKETS", 7, func(r *decode.ProcessView) string { return count(r.Packets()) }},
		{"BYTES", 7, func(r *decode.ProcessView) string { return si(float64(r.Bytes()), "B") }},
		{"FLOWS", 5, func(r *decode.ProcessView) string { return count(uint64(r.Flows)) }},
	}
	procKeep = [][]int{{2, 3}, {0, 1}, {5}, {6}, {4}}
)

// minProcName is the least the first column keeps; the sparklines go
// before it would have less.
const minProcName = minInfo

// columns decides which numeric columns show, the sparkline's width and
// the first column's, in a view w cells wide: the groups of procKeep but
// the last while they fit, the sparklines (as wide as the flow table's
// would be), then the last group.
func (v *procView) columns(w int) (nameW int, shown []procCol, graph int) {
	room := w - 2 - minProcName // the cursor mark
	on := make([]bool, len(procCols))
	take := func(g []int) bool {
		need := 0
		for _, i := range g {
			need += procCols[i].w + 1
		}
		if need > room {
			return false
		}
		for _, i := range g {
			on[i] = true
		}
		room -= need
		return true
	}
	last := len(procKeep) - 1
	for _, g := range procKeep[:last] {
		if !take(g) {
			break
		}
	}
	if v.graphs {
		// graphWidth leaves minInfo cells, minProcName here.
		if graph = graphWidth(w, room+minProcName); graph > 0 {
			room -= graph + 1
		}
	}
	if on[procKeep[last-1][0]] {
		take(procKeep[last])
	}
	for i, c := range procCols {
		if on[i] {
			shown = append(shown, c)
		}
	}
	return minProcName + room, shown, graph
}

func (v *procView) heading(sort string) string {
	procs := 0
	for i := range v.rows {
		if v.rows[i].Members == 0 && v.rows[i].Pid != 0 {
			procs++
		}
	}
	return fmt.Sprintf("Processes %d · in/out per second over the last second · sort %s", procs, sort)
}

func (v *procView) view(st *Styles, sort string) string {
	var b strings.Builder
	b.WriteString(title(st, v.heading(sort), true, v.width))
	nameW, shown, graph := v.columns(v.width)
	line := func(name string, cells []string, spark string) string {
		var l strings.Builder
		l.WriteString(fit(name, nameW))
		for i, c := range cells {
			l.WriteString(" " + right(c, shown[i].w))
		}
		if graph > 0 {
			l.WriteString(" " + spark)
		}
		return l.String()
	}
	heads := make([]string, len(shown))
	for i, c := range shown {
		heads[i] = c.head
	}
	b.WriteString("\n" + st.Header.Render(fit("  "+line("PROCESS", heads, fit(fmt.Sprintf("LAST %ds", decode.HistorySeconds), graph)), v.width)))
	from, to := v.list.visible()
	cells := make([]string, len(shown))
	for i := from; i < to; i++ {
		r := &v.rows[i]
		for j, c := range shown {
			cells[j] = c.val(r)
		}
		text := line(rowName(r), cells, sparkline(r.History, graph))
		sel := i == v.list.cursor
		if r.Members > 0 && !sel {
			b.WriteString("\n" + st.Header.Render(fit("  "+text, v.width)))
			continue
		}
		b.WriteString("\n" + row(st, text, sel, true, v.width))
	}
	for i := to - from; i < v.list.height; i++ {
		switch {
		case i > 0 || len(v.rows) > 0:
			b.WriteString("\n" + fit("", v.width))
		case !v.loaded:
			b.WriteString("\n" + st.Dim.Render(fit("  loading…", v.width)))
		default:
			b.WriteString("\n" + st.Dim.Render(fit("  no flows yet", v.width)))
		}
	}
	return b.String()
}
