package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/bpftop-cap/bpftop-cap/decode"
)

// Statistics tabs, in the order tab and 1-3 reach them.
const (
	tabConversations = iota
	tabEndpoints
	tabProtocols
	numTabs
)

var tabNames = [numTabs]string{"Conversations", "Endpoints", "Protocols"}

// statsView is the statistics screen (S): the flow table summed up as
// conversations, endpoints and a protocol hierarchy
// (decode.Engine.Statistics), over the whole screen but the status bar
// and the footer, refreshed at the view's tick.
type statsView struct {
	tab   int
	by    decode.SortKey // SortBytes or SortPackets
	st    decode.Statistics
	ok    bool // a fetch came back
	lists [numTabs]cursorList

	width, height int // rows: the body below the title, summary and header

	req      statsReq // the last fetch asked for
	inflight bool
}

// statsReq is what one fetch of the statistics asks for.
type statsReq struct {
	by  decode.SortKey
	now time.Time
}

// statsMsg carries statistics fetched off the update loop.
type statsMsg struct {
	req statsReq
	st  decode.Statistics
}

// fetchStats sums up the flow table.
func fetchStats(eng *decode.Engine, req statsReq) tea.Cmd {
	return func() tea.Msg { return statsMsg{req: req, st: eng.Statistics(req.by, req.now)} }
}

// openStats opens the statistics on the conversations.
func (m *Model) openStats() tea.Cmd {
	m.statistics = &statsView{by: decode.SortBytes}
	return m.refreshStats(true)
}

// refreshStats fetches the statistics again (or force), unless a fetch
// is running or the display is paused. A big table is summed a few times
// a second rather than on every tick, as the flow table is refreshed.
func (m *Model) refreshStats(force bool) tea.Cmd {
	v := m.statistics
	if v == nil || v.inflight || m.paused && !force {
		return nil
	}
	if every := uint64(1 + m.stats.Flows/bigTable); !force && m.ticks%every != 0 {
		return nil
	}
	v.inflight = true
	now := m.cfg.Now()
	if m.paused {
		now = m.pausedAt
	}
	v.req = statsReq{by: v.by, now: now}
	return fetchStats(m.cfg.Engine, v.req)
}

// applyStats takes in fetched statistics; the cursor stays on its row
// number. A fetch for another sort than the one now chosen asks again.
func (m *Model) applyStats(msg statsMsg) tea.Cmd {
	v := m.statistics
	if v == nil {
		return nil
	}
	v.inflight = false
	if msg.req.by != v.by {
		return m.refreshStats(true)
	}
	v.st, v.ok = msg.st, true
	v.lists[tabConversations].n = len(v.st.Conversations)
	v.lists[tabEndpoints].n = len(v.st.Endpoints)
	v.lists[tabProtocols].n = len(v.st.Protocols)
	m.sizeStats()
	return nil
}

// sizeStats fits the statistics to the screen.
func (m *Model) sizeStats() {
	v := m.statistics
	v.width, v.height = m.width, max(m.height-2-m.graphRows()-3, 1)
	for i := range v.lists {
		v.lists[i].height = v.height
		v.lists[i].clamp()
	}
}

// statsKey handles a key while the statistics are open. It reports false
// for the keys it leaves to the rest of the model: help, pause, save and
// ctrl+c.
func (m *Model) statsKey(k tea.KeyMsg) (tea.Cmd, bool) {
	v := m.statistics
	m.sizeStats()
	l := &v.lists[v.tab]
	old := v.by
	switch {
	case k.Type == tea.KeyCtrlC,
		key.Matches(k, m.keys.Help, m.keys.Pause, m.keys.Save):
		return nil, false
	case key.Matches(k, m.keys.Back, m.keys.Stats, m.keys.Quit):
		m.statistics = nil // q closes the view, not the program
	case key.Matches(k, m.keys.NextPane):
		v.tab = (v.tab + 1) % numTabs
	case key.Matches(k, m.keys.PrevPane):
		v.tab = (v.tab + numTabs - 1) % numTabs
	case k.Type == tea.KeyRunes && len(k.Runes) == 1 && k.Runes[0] >= '1' && k.Runes[0] < '1'+numTabs:
		v.tab = int(k.Runes[0] - '1')
	case key.Matches(k, m.keys.Sort):
		v.by = decode.SortPackets
		if v.by == old {
			v.by = decode.SortBytes
		}
		return m.refreshStats(true), true
	case key.Matches(k, m.keys.Up):
		l.move(-1)
	case key.Matches(k, m.keys.Down):
		l.move(1)
	case key.Matches(k, m.keys.PageUp):
		l.move(-l.page())
	case key.Matches(k, m.keys.PageDown):
		l.move(l.page())
	case key.Matches(k, m.keys.Top):
		l.top()
	case key.Matches(k, m.keys.Bottom):
		l.bottom()
	}
	return nil, true
}

// statsMouse scrolls the statistics with the wheel.
func (m *Model) statsMouse(e tea.MouseEvent) tea.Cmd {
	v := m.statistics
	m.sizeStats()
	switch e.Button {
	case tea.MouseButtonWheelUp:
		v.lists[v.tab].move(-3)
	case tea.MouseButtonWheelDown:
		v.lists[v.tab].move(3)
	}
	return nil
}

// statsScreen renders the screen with the statistics open.
func (m *Model) statsScreen(status string) string {
	v := m.statistics
	m.sizeStats()
	w := m.width
	foot := footer(&m.st, m, w)
	if m.msg == "" {
		other := "packets"
		if v.by == decode.SortPackets {
			other = "bytes"
		}
		foot = m.st.Dim.Render(fit("esc close · tab/1-3 view · s sort by "+other+" · ↑↓ pgup pgdn g G move · ? help", w))
	}
	return status + "\n" + v.view(&m.st) + "\n" + foot
}

// statCol is one column of a statistics table: its heading, width and
// the text of row i. Columns are dropped from the end of the keep order
// as the width shrinks.
type statCol struct {
	head string
	w    int
	val  func(i int) string
}

// statsTable is a table of rows: a first column (or two) of text at
// least minFlex wide and as wide as its longest text if there is room,
// then as many of the numeric columns, taken in keep order (indexes into
// cols, a group at a time), as fit; they are shown in the order of cols.
type statsTable struct {
	flex    []statCol // addresses or protocol names, left aligned
	cols    []statCol // numbers, right aligned
	keep    [][]int   // groups shown together or not at all (sent and received)
	minFlex int
}

func (t *statsTable) layout(w int) (flexW int, shown []statCol) {
	room := w - 2     // the cursor mark
	need := t.minFlex // a fixed minimum: the columns move only for longer addresses
	for _, f := range t.flex {
		need = max(need, f.w, visibleWidth(f.head))
	}
	nf := len(t.flex)
	used := nf * (t.minFlex + 1)
	on := make([]bool, len(t.cols))
	for _, g := range t.keep {
		w := 0
		for _, i := range g {
			w += t.cols[i].w + 1
		}
		if used+w > room {
			continue
		}
		for _, i := range g {
			on[i] = true
		}
		used += w
	}
	for i, c := range t.cols {
		if on[i] {
			shown = append(shown, c)
		}
	}
	flexW = max(t.minFlex+(room-used)/max(nf, 1), 1)
	return min(flexW, need), shown
}

func (t *statsTable) render(st *Styles, l *cursorList, w int) []string {
	flexW, shown := t.layout(w)
	line := func(flex []string, nums []string) string {
		var b strings.Builder
		for i, f := range flex {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(fit(shortenEndpoint(f, flexW), flexW))
		}
		for i, s := range nums {
			b.WriteByte(' ')
			b.WriteString(right(s, shown[i].w))
		}
		return b.String()
	}
	var heads, nums []string
	for _, f := range t.flex {
		heads = append(heads, f.head)
	}
	for _, c := range shown {
		nums = append(nums, c.head)
	}
	out := []string{st.Header.Render(fit("  "+line(heads, nums), w))}
	from, to := l.visible()
	for i := from; i < to; i++ {
		heads, nums = heads[:0], nums[:0]
		for _, f := range t.flex {
			heads = append(heads, f.val(i))
		}
		for _, c := range shown {
			nums = append(nums, c.val(i))
		}
		out = append(out, row(st, line(heads, nums), i == l.cursor, true, w))
	}
	return out
}

// share formats part of total as a percent.
func share(part, total uint64) string {
	if total == 0 {
		return "-"
	}
	return pct(100 * float64(part) / float64(total))
}

func pct(p float64) string { return fmt.Sprintf("%.1f%%", p) }

func bytesOf(v uint64) string { return si(float64(v), "B") }

// span formats a duration in at most 7 cells.
func span(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// table returns the table of the open tab.
func (v *statsView) table() *statsTable {
	st := &v.st
	// The share is of the counter sorted on.
	total, pick := st.Bytes, func(p, b uint64) uint64 { return b }
	if v.by == decode.SortPackets {
		total, pick = st.Packets, func(p, b uint64) uint64 { return p }
	}
	width := func(n int, s func(i int) string) int {
		w := 0
		for i := range n {
			w = max(w, len(s(i)))
		}
		return w
	}
	switch v.tab {
	case tabConversations:
		cs := st.Conversations
		a := func(i int) string { return safe(cs[i].A) }
		b := func(i int) string { return safe(cs[i].B) }
		return &statsTable{
			flex: []statCol{
				{head: "ADDRESS A", w: width(len(cs), a), val: a},
				{head: "ADDRESS B", w: width(len(cs), b), val: b},
			},
			cols: []statCol{
				{"FLOWS", 5, func(i int) string { return count(uint64(cs[i].Flows)) }},
				{"PACKETS", 7, func(i int) string { return count(cs[i].Packets()) }},
				{"BYTES", 7, func(i int) string { return bytesOf(cs[i].Bytes()) }},
				{"A→B", 7, func(i int) string { return bytesOf(cs[i].BytesAB) }},
				{"B→A", 7, func(i int) string { return bytesOf(cs[i].BytesBA) }},
				{"DURATION", 8, func(i int) string { return span(cs[i].Duration()) }},
				{"BITS/S", 9, func(i int) string {
					if cs[i].BPS() == 0 {
						return "-"
					}
					return bits(cs[i].BPS())
				}},
				{"SHARE", 6, func(i int) string { return share(pick(cs[i].Packets(), cs[i].Bytes()), total) }},
			},
			keep:    [][]int{{1}, {2}, {7}, {6}, {0}, {5}, {3, 4}},
			minFlex: 15,
		}
	case tabEndpoints:
		es := st.Endpoints
		a := func(i int) string { return safe(es[i].Addr) }
		return &statsTable{
			flex: []statCol{{head: "ADDRESS", w: width(len(es), a), val: a}},
			cols: []statCol{
				{"FLOWS", 5, func(i int) string { return count(uint64(es[i].Flows)) }},
				{"PACKETS", 7, func(i int) string { return count(es[i].Packets()) }},
				{"BYTES", 7, func(i int) string { return bytesOf(es[i].Bytes()) }},
				{"TX PKTS", 7, func(i int) string { return count(es[i].TxPkts) }},
				{"TX BYTES", 8, func(i int) string { return bytesOf(es[i].TxBytes) }},
				{"RX PKTS", 7, func(i int) string { return count(es[i].RxPkts) }},
				{"RX BYTES", 8, func(i int) string { return bytesOf(es[i].RxBytes) }},
				{"SHARE", 6, func(i int) string { return share(pick(es[i].Packets(), es[i].Bytes()), total) }},
			},
			keep:    [][]int{{1}, {2}, {7}, {4, 6}, {0}, {3, 5}},
			minFlex: 17,
		}
	}
	ps := st.Protocols
	name := func(i int) string { return strings.Repeat("  ", ps[i].Depth) + safe(ps[i].Name) }
	return &statsTable{
		flex: []statCol{{head: "PROTOCOL", w: width(len(ps), name), val: name}},
		cols: []statCol{
			{"% PACKETS", 9, func(i int) string { return pct(ps[i].PktShare) }},
			{"PACKETS", 7, func(i int) string { return count(ps[i].Packets) }},
			{"% BYTES", 8, func(i int) string { return pct(ps[i].ByteShare) }},
			{"BYTES", 7, func(i int) string { return bytesOf(ps[i].Bytes) }},
		},
		keep:    [][]int{{0}, {2}, {1}, {3}},
		minFlex: 16,
	}
}

func (v *statsView) heading() string {
	var tabs []string
	for i, n := range tabNames {
		s := fmt.Sprintf("%d %s", i+1, n)
		if i == v.tab {
			s = "[" + s + "]"
		}
		tabs = append(tabs, s)
	}
	return "Statistics " + strings.Join(tabs, " ") + " · sort " + sortName(v.by)
}

func (v *statsView) summary() string {
	if !v.ok {
		return ""
	}
	st := &v.st
	s := fmt.Sprintf("  %s in the flow table: %s, %s", plural(st.Flows, "flow"), plural(int(min(st.Packets, 1<<31)), "packet"), bytesOf(st.Bytes))
	switch v.tab {
	case tabConversations:
		s += " · " + plural(len(st.Conversations), "conversation")
	case tabEndpoints:
		s += " · " + plural(len(st.Endpoints), "endpoint")
	}
	return s
}

func (v *statsView) view(st *Styles) string {
	var b strings.Builder
	b.WriteString(title(st, v.heading(), true, v.width))
	b.WriteString("\n" + st.Dim.Render(fit(v.summary(), v.width)))
	lines := v.table().render(st, &v.lists[v.tab], v.width)
	switch {
	case !v.ok:
		lines = append(lines[:1], st.Dim.Render(fit("  loading…", v.width)))
	case v.st.Flows == 0:
		lines = append(lines[:1], st.Dim.Render(fit("  no flows yet", v.width)))
	}
	for len(lines) < v.height+1 {
		lines = append(lines, fit("", v.width))
	}
	b.WriteString("\n" + strings.Join(lines, "\n"))
	return b.String()
}
