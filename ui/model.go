package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/bpftop-cap/bpftop-cap/decode"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// SaveFunc writes frames to a new capture file at path (never replacing
// one) and returns how many it wrote. The live view calls it off the update
// loop when the user presses w.
type SaveFunc func(path string, frames []packet.Packet) (int, error)

// Config is what the live view shows and how it reaches the outside.
type Config struct {
	Engine *decode.Engine // filled by the capture side; required
	Source string         // interface name, or the file read
	Hook   string         // "tcx", "clsact", "xdp", or "file"
	Filter string         // the capture filter expression, shown as given
	Live   bool           // a live capture: rates and loss counters apply
	Facts  string         // not live: what the status bar says of the file (format, link type, span)
	// ShowInterface adds an interface column to the flow table (several
	// interfaces captured at once).
	ShowInterface bool
	// ShowProcess adds a PROCESS column to the flow table (the capture
	// names the processes owning the flows: FlowView.Process).
	ShowProcess bool
	// ProcessName, when set, names a packet's process (Packet.Pid, as of
	// the packet's time) in the packet detail's heading: "curl[4123]", ""
	// when unknown.
	ProcessName func(pid uint32, at time.Time) string
	// NoProcesses is what p says without process names (ShowProcess
	// false): why there are none.
	NoProcesses string
	// Interfaces names the captured interfaces by index, for the packet
	// detail's heading.
	Interfaces map[int]string
	// InterfaceNames, when set, names the interfaces as a stream
	// announces them (pcapng): it replaces Interfaces on each tick, and
	// the IF column shows once there are several.
	InterfaceNames func() map[int]string
	// Processes, when set, says whether the packets name their processes
	// yet (a stream's pcapng comments): ShowProcess, and p, from then on.
	Processes func() bool
	// Stopped, when set and returning a reason, says capture has stopped
	// (the interface went away): the status bar shows it, the view stays
	// so that w can still save what was captured.
	Stopped func() string
	// Status, when set, is what the status bar says of the source in
	// place of the capture's loss and ring counters: a stream being read
	// is live, or has ended and why.
	Status func() string
	// ProcFiltered, when set, counts the packets the kernel dropped as
	// other processes' (--pid, --comm, --cgroup): the status bar shows it
	// with the capture's loss counters.
	ProcFiltered func() uint64

	Save     SaveFunc // nil disables w
	SaveDir  string   // where w saves; "" is the current directory
	SaveTag  string   // the IFACE part of the saved file's name
	SaveExt  string   // the saved file's extension; default ".pcap"
	SaveNote string   // what the footer says of the format after a save, e.g. why pcapng

	Now      func() time.Time // the view clock (rates, idle flows); default time.Now
	Wall     func() time.Time // the clock naming saved files; default time.Now
	Interval time.Duration    // redraw period; default 50ms, at least 1/30 s
	// IdleInterval is the redraw period while the engine does not change
	// (decode.Engine.Changed): rates move once a second, and a change
	// brings back Interval at once. Default 1 s, never below Interval.
	IdleInterval time.Duration
	MaxPackets   int // packets listed per flow; default 1000
}

// packetsEvery is how many ticks apart the packet list of the selected
// flow refreshes while another pane has the focus.
const packetsEvery = 4

// bigTable is the flow count from which the flow table refreshes every
// second tick, three times it every fourth, and so on.
const bigTable = 8192

// Defaults for Config.
const (
	DefaultInterval   = 50 * time.Millisecond
	DefaultIdle       = time.Second
	minInterval       = time.Second / 30
	DefaultMaxPackets = 1000
	maxFilterLen      = 128
)

type pane int

const (
	paneFlows pane = iota
	panePackets
	paneHex
	numPanes
)

// Model is the root of the live view.
type Model struct {
	cfg  Config
	keys KeyMap
	st   Styles

	// sourceStatus is the last cfg.Status seen (repaint.go).
	sourceStatus string

	width, height int
	fh, ph, hh    int // pane heights
	fNeed, pNeed  int // the most rows the flow table and packet list have needed
	ah, aNeed     int // the same for the list of all packets
	focus         pane
	sortIdx       int
	filter        string // the display filter in effect
	input         string // the text of the filter prompt (filterprompt.go)
	inputCheck    decode.FilterCheck
	editing       bool
	paused        bool
	pausedAt      time.Time // the view clock when paused
	follow        bool      // F: select the top flow and its newest packet, as tail -f
	help          bool
	helpOff       int // the help screen's scroll
	msg           string
	msgGen        uint64 // counts the messages set, so that a fade clears only its own
	msgErr        bool
	saving        bool
	ticks         uint64
	rowsSort      decode.SortKey // how the flow rows shown were fetched
	rowsFilter    string
	skipFlows     bool // this tick's refresh leaves the flow table as it is
	quitAfterSave bool // q came while saving

	stats   decode.Stats
	flows   flowTable
	packets packetList
	hex     hexPane
	all     allList // a: every retained packet, in place of the flow table and packet list
	allMode bool
	pktFlow uint64 // the flow packets.rows belong to
	pktOK   bool

	stream     *streamView // follow stream (f), nil when closed
	statistics *statsView  // statistics (S), nil when closed
	procs      *procView   // processes (p) and their drill, nil when closed
	scopeGen   uint64      // counts the changes of the processes the flow table lists
	rowsScope  uint64      // the scopeGen of the flow rows shown

	req      refreshReq // the last refresh asked for
	inflight bool       // a refresh is running
	dirty    bool       // another refresh is wanted when it returns

	// Redraws: every Interval while the engine changes, every
	// IdleInterval once a tick finds it did not; a change then starts a
	// new tick chain (tickGen) at Interval.
	tickGen uint64
	idle    bool // ticking every IdleInterval
	waiting bool // a command waits for the engine's next change
	changed bool // a wait reported a change since the last tick
}

// New returns the live view for cfg.
func New(cfg Config) *Model {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Wall == nil {
		cfg.Wall = time.Now
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	cfg.Interval = max(cfg.Interval, minInterval)
	if cfg.IdleInterval <= 0 {
		cfg.IdleInterval = DefaultIdle
	}
	cfg.IdleInterval = max(cfg.IdleInterval, cfg.Interval)
	if cfg.MaxPackets <= 0 {
		cfg.MaxPackets = DefaultMaxPackets
	}
	if cfg.SaveExt == "" {
		cfg.SaveExt = ".pcap"
	}
	m := &Model{cfg: cfg, keys: DefaultKeyMap(), st: DefaultStyles()}
	// A file does not move: nothing to pause.
	m.keys.Pause.SetEnabled(cfg.Live)
	m.keys.Procs.SetEnabled(cfg.ShowProcess)
	m.flows.showIf = cfg.ShowInterface
	m.flows.showProc = cfg.ShowProcess
	m.flows.graphs = cfg.Live
	m.hex.ifnames = cfg.Interfaces
	m.hex.procName = cfg.ProcessName
	return m
}

// Init starts the redraw tick and the first refresh.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(tick(m.cfg.Interval, m.tickGen), m.requestRefresh())
}

// engineChanged reports (and forgets) whether the engine changed since the
// last tick.
func (m *Model) engineChanged() bool {
	changed := m.changed
	m.changed = false
	select {
	case <-m.cfg.Engine.Changed():
		changed = true
	default:
	}
	return changed
}

// nextTick schedules the tick after this one: at Interval if the engine
// changed since the last, else at IdleInterval, waiting for a change.
func (m *Model) nextTick() tea.Cmd {
	if m.engineChanged() {
		m.idle = false
		return tick(m.cfg.Interval, m.tickGen)
	}
	m.idle = true
	next := tick(m.cfg.IdleInterval, m.tickGen)
	if m.waiting {
		return next
	}
	m.waiting = true
	return tea.Batch(next, waitChange(m.cfg.Engine.Changed()))
}

// requestRefresh starts a refresh unless one is running, in which case
// another follows it.
func (m *Model) requestRefresh() tea.Cmd {
	if m.inflight {
		m.dirty = true
		return nil
	}
	m.inflight, m.dirty = true, false
	id, ok := m.flows.selID, m.flows.ok
	m.req = refreshReq{
		now:    m.cfg.Now(),
		sort:   sortKeys[m.sortIdx],
		filter: m.filter,
		flows: (!m.paused && !m.skipFlows) || m.flows.rows == nil ||
			// paused, but the rows shown were sorted or filtered otherwise
			sortKeys[m.sortIdx] != m.rowsSort || m.filter != m.rowsFilter || m.scopeGen != m.rowsScope,
		flowID:  id,
		hasFlow: ok,
		cursor:  m.flows.list.cursor,
		follow:  m.follow,
		packets: !m.pktOK || m.pktFlow != id ||
			// The selected flow's packets, decoded from the ring: every
			// tick while their pane has the focus, else a few times a
			// second (at a high rate every one is new each time).
			!m.paused && (m.focus == panePackets || m.ticks%packetsEvery == 0),
		maxPkts:  m.cfg.MaxPackets,
		selected: m.packets.selSeq,
		histIDs:  m.flows.visibleIDs(),
		histRows: m.flows.graphRows(m.height), // the pane may grow to show more rows
		histNow:  m.cfg.Now(),
	}
	if m.paused {
		m.req.histNow = m.pausedAt
	}
	m.req.pids, m.req.scopeGen = m.scopePids(), m.scopeGen
	if m.allMode {
		// The flow table and its packets are not on screen: not fetched.
		m.req.flows, m.req.packets, m.req.histIDs, m.req.histRows = false, false, nil, 0
		m.req.all, m.req.allTop, m.req.allRows = true, m.all.topSeq(), max(m.all.list.height, 1)
		// Paused, the range shown stays (apply): fetch its rows, not the
		// live tail.
		m.req.allFollow = m.follow && !m.paused || !m.all.ok
	}
	if m.procsShown() {
		// The flow table and its packets are not on screen: not fetched.
		m.req.flows, m.req.packets, m.req.histIDs, m.req.histRows = false, false, nil, 0
	}
	return refresh(m.cfg.Engine, m.req)
}

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return m, nil
	case tickMsg:
		if msg.gen != m.tickGen {
			return m, nil // a chain a change replaced
		}
		// A big flow table costs milliseconds to copy and sort: refresh it
		// on every tick only while small, else a few times a second (keys
		// and the other panes still answer on every tick).
		m.ticks++
		if m.cfg.InterfaceNames != nil {
			names := m.cfg.InterfaceNames()
			m.hex.ifnames, m.flows.showIf = names, m.cfg.ShowInterface || len(names) > 1
		}
		if m.cfg.Processes != nil && !m.flows.showProc && m.cfg.Processes() {
			m.flows.showProc = true
			m.keys.Procs.SetEnabled(true)
		}
		every := uint64(1 + len(m.flows.rows)/bigTable)
		m.skipFlows = m.flows.rows != nil && m.ticks%every != 0
		cmd := m.requestRefresh()
		m.skipFlows = false
		return m, tea.Batch(m.nextTick(), cmd, m.refreshStream(false), m.refreshStats(false), m.refreshProcs(false), m.repaintOnStatus())
	case repaintMsg:
		return m, tea.ClearScreen
	case changedMsg:
		m.waiting = false
		if !m.idle {
			m.changed = true // for the next tick
			return m, nil
		}
		m.idle = false
		m.tickGen++
		return m, tea.Batch(tick(m.cfg.Interval, m.tickGen), m.requestRefresh())
	case refreshMsg:
		return m, m.apply(msg)
	case streamMsg:
		return m, m.applyStream(msg)
	case statsMsg:
		return m, m.applyStats(msg)
	case procsMsg:
		return m, m.applyProcs(msg)
	case savedMsg:
		m.saving = false
		switch {
		case msg.err != nil:
			m.setMsg(true, "%s", saveError(msg.path, msg.err))
		case msg.missed > 0:
			// Honest about what traffic outran: never a silent gap.
			m.setMsg(true, "saved %d packets to %s; %d more left the ring during the save", msg.n, msg.path, msg.missed)
		case m.cfg.SaveNote != "":
			m.setMsg(false, "saved %d packets to %s (%s)", msg.n, msg.path, m.cfg.SaveNote)
		default:
			m.setMsg(false, "saved %d packets to %s", msg.n, msg.path)
		}
		if m.quitAfterSave {
			return m, tea.Quit
		}
		return m, fade(m.msgGen)
	case fadeMsg:
		if msg.gen == m.msgGen {
			m.msg, m.msgErr = "", false // the key hints come back
		}
		return m, nil
	case tea.KeyMsg:
		return m, m.key(msg)
	case tea.MouseMsg:
		return m, m.mouse(tea.MouseEvent(msg))
	}
	return m, nil
}

func (m *Model) setMsg(isErr bool, format string, a ...any) {
	m.msgGen++
	m.msg, m.msgErr = safe(strings.ReplaceAll(fmt.Sprintf(format, a...), "\n", " ")), isErr
}

// apply takes in the views of a refresh.
func (m *Model) apply(msg refreshMsg) tea.Cmd {
	m.inflight = false
	m.stats = msg.stats
	if msg.req.histIDs != nil {
		m.flows.hist = msg.hist
	}
	if msg.req.all && m.allMode {
		first, last := msg.allFirst, msg.allLast
		if m.paused && m.all.ok {
			first, last = m.all.first, m.all.last // the range shown when paused stays
		}
		m.all.setRange(msg.allViews, first, last, m.follow)
		if m.all.list.n+2 > m.aNeed {
			m.layout() // the list outgrew what it had needed
		}
		if m.all.list.height > msg.req.allRows || !msg.req.allFollow && m.all.topSeq() != msg.req.allTop {
			m.dirty = true // the rows on screen are not all those fetched
		}
	}
	if msg.req.flows {
		if msg.req.sort != sortKeys[m.sortIdx] || msg.req.filter != m.filter || msg.req.scopeGen != m.scopeGen {
			m.dirty = true // the order, filter or processes changed meanwhile
		} else {
			m.flows.setRows(msg.flows, m.follow)
			m.rowsSort, m.rowsFilter, m.rowsScope = msg.req.sort, msg.req.filter, msg.req.scopeGen
		}
	}
	sel, ok := m.flows.selected()
	switch {
	case !ok:
		m.packets.reset()
		m.pktOK = false
	case msg.req.packets && msg.hasFlow && msg.flowID == sel.ID:
		if !m.pktOK || m.pktFlow != sel.ID {
			m.packets.reset()
		}
		m.packets.setRows(msg.packets, m.follow)
		m.pktFlow, m.pktOK = sel.ID, true
	case !m.pktOK || m.pktFlow != sel.ID:
		// The packets are another flow's: clear them rather than show them
		// under this flow's heading, and fetch this one's.
		m.packets.reset()
		m.pktOK = false
		m.hex.show(0, packet.Packet{}, false)
		m.dirty = true
	}
	m.updateHex()
	if len(m.flows.rows)+2 > m.fNeed || len(m.packets.rows)+1 > m.pNeed {
		m.layout() // a list outgrew what it had needed
	}
	if m.dirty {
		return m.requestRefresh()
	}
	return nil
}

// updateHex shows the selected packet in the hex pane, decoding its detail
// only when the selection changed.
func (m *Model) updateHex() {
	pk, ok := m.packets.selected()
	if m.allMode {
		pk, ok = m.all.selected()
	}
	if !ok {
		m.hex.show(0, packet.Packet{}, false)
		return
	}
	if m.hex.ok && m.hex.seq == pk.Seq {
		return
	}
	f, ok := m.cfg.Engine.Packet(pk.Seq)
	m.hex.show(pk.Seq, f, ok)
}

// flowChanged reacts to a new flow selection.
func (m *Model) flowChanged(before uint64, hadOne bool) tea.Cmd {
	m.flows.sync()
	if m.flows.ok == hadOne && m.flows.selID == before {
		return nil
	}
	m.packets.reset()
	m.pktOK = false
	m.hex.show(0, packet.Packet{}, false)
	return m.requestRefresh()
}

func (m *Model) key(k tea.KeyMsg) tea.Cmd {
	if m.editing {
		return m.editKey(k) // a paste goes into the prompt whole
	}
	if k.Type == tea.KeyRunes && len(k.Runes) > 1 && !k.Paste {
		// Runes that arrive in one read (tmux send-keys j j j, a key
		// held down, a scripted demo) are that many key presses.
		var cmds []tea.Cmd
		for i, r := range k.Runes {
			cmds = append(cmds, m.key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: k.Alt}))
			if m.editing { // "/" opened the prompt: the rest is its text
				if rest := k.Runes[i+1:]; len(rest) > 0 {
					cmds = append(cmds, m.editKey(tea.KeyMsg{Type: tea.KeyRunes, Runes: rest}))
				}
				break
			}
		}
		return tea.Batch(cmds...)
	}
	if m.help {
		switch {
		case key.Matches(k, m.keys.Quit):
			return tea.Quit
		case key.Matches(k, m.keys.Help, m.keys.Back):
			m.help, m.helpOff = false, 0
		case key.Matches(k, m.keys.Down):
			m.helpOff++
		case key.Matches(k, m.keys.Up):
			m.helpOff--
		case key.Matches(k, m.keys.PageDown):
			m.helpOff += max(m.height-4, 1)
		case key.Matches(k, m.keys.PageUp):
			m.helpOff -= max(m.height-4, 1)
		case key.Matches(k, m.keys.Top):
			m.helpOff = 0
		case key.Matches(k, m.keys.Bottom):
			m.helpOff = 1 << 20 // clamped when drawn
		}
		return nil
	}
	if m.statistics != nil {
		if cmd, ok := m.statsKey(k); ok {
			return cmd
		}
	}
	if m.stream != nil {
		if cmd, ok := m.streamKey(k); ok {
			return cmd
		}
	}
	if cmd, ok := m.procsKey(k); ok {
		return cmd
	}
	switch {
	case key.Matches(k, m.keys.Quit) && m.saving:
		m.quitAfterSave = true
		m.setMsg(false, "finishing the save, then quitting…")
		return nil
	case key.Matches(k, m.keys.Quit):
		return tea.Quit
	case key.Matches(k, m.keys.Help):
		m.help = true
		return nil
	case key.Matches(k, m.keys.All):
		m.allMode = !m.allMode
		m.setFocus(paneFlows)
		m.layout()
		m.hex.show(0, packet.Packet{}, false)
		m.updateHex()
		return m.requestRefresh()
	case key.Matches(k, m.keys.Follow) && m.allMode:
		m.follow = !m.follow
		if m.follow {
			m.all.list.bottom()
			m.all.sync()
			m.updateHex()
			return m.requestRefresh()
		}
		return nil
	case key.Matches(k, m.keys.Follow):
		m.follow = !m.follow
		if m.follow {
			m.flows.list.top()
			m.packets.list.bottom()
			m.packets.sync()
			return tea.Batch(m.flowChanged(m.flows.selID, m.flows.ok), m.requestRefresh())
		}
		return nil
	case key.Matches(k, m.keys.Pause):
		m.paused = !m.paused
		m.pausedAt = m.cfg.Now()
		if !m.paused {
			return m.requestRefresh()
		}
		return nil
	case key.Matches(k, m.keys.Save):
		return m.save()
	case key.Matches(k, m.keys.Stream):
		return m.openStream()
	case key.Matches(k, m.keys.Stats):
		return m.openStats()
	case key.Matches(k, m.keys.Sort):
		m.sortIdx = (m.sortIdx + 1) % len(sortKeys)
		return m.requestRefresh()
	case key.Matches(k, m.keys.Filter):
		m.openPrompt()
		return nil
	case key.Matches(k, m.keys.NextPane, m.keys.PrevPane) && m.allMode:
		// Two panes: the list and the packet.
		if m.focus == paneHex {
			m.setFocus(paneFlows)
		} else {
			m.setFocus(paneHex)
		}
		return nil
	case key.Matches(k, m.keys.NextPane):
		m.setFocus((m.focus + 1) % numPanes)
		return nil
	case key.Matches(k, m.keys.PrevPane):
		m.setFocus((m.focus + numPanes - 1) % numPanes)
		return nil
	case key.Matches(k, m.keys.Enter) && m.allMode:
		if _, ok := m.all.selected(); ok && m.focus == paneFlows {
			m.setFocus(paneHex)
		}
		return nil
	case key.Matches(k, m.keys.Back) && m.allMode && m.focus == paneHex:
		m.setFocus(paneFlows)
		return nil
	case key.Matches(k, m.keys.Enter):
		switch m.focus {
		case paneFlows:
			if _, ok := m.flows.selected(); ok {
				m.setFocus(panePackets)
			}
		case panePackets:
			if _, ok := m.packets.selected(); ok {
				m.setFocus(paneHex)
			}
		}
		return nil
	case key.Matches(k, m.keys.Back):
		switch m.focus {
		case paneHex:
			m.setFocus(panePackets)
		case panePackets:
			m.setFocus(paneFlows)
		default:
			m.msg = ""
			if m.filter != "" {
				m.filter, m.input = "", ""
				return m.requestRefresh()
			}
		}
		return nil
	}
	return m.moveKey(k)
}

// moveKey handles the movement keys in the focused pane.
func (m *Model) moveKey(k tea.KeyMsg) tea.Cmd {
	if m.focus == paneHex && m.hex.key(k, &m.keys) {
		return nil
	}
	var d int
	var top, bottom bool
	switch {
	case key.Matches(k, m.keys.Up):
		d = -1
	case key.Matches(k, m.keys.Down):
		d = 1
	case key.Matches(k, m.keys.PageUp):
		d = -m.pageOf(m.focus)
	case key.Matches(k, m.keys.PageDown):
		d = m.pageOf(m.focus)
	case key.Matches(k, m.keys.Top):
		top = true
	case key.Matches(k, m.keys.Bottom):
		bottom = true
	default:
		return nil
	}
	return m.move(m.focus, d, top, bottom)
}

func (m *Model) pageOf(p pane) int {
	if m.allMode && p != paneHex {
		return m.all.list.page()
	}
	switch p {
	case paneFlows:
		return m.flows.list.page()
	case panePackets:
		return m.packets.list.page()
	}
	return max(m.hex.height-1, 1)
}

// move moves the selection of pane p by d rows, or to its top or bottom.
// A move by hand ends following (F).
func (m *Model) move(p pane, d int, top, bottom bool) tea.Cmd {
	if p != paneHex {
		m.follow = false
	}
	var l *cursorList
	switch {
	case m.allMode && p != paneHex:
		l = &m.all.list
	case p == paneFlows:
		l = &m.flows.list
	case p == panePackets:
		l = &m.packets.list
	default:
		m.hex.scrollDump(d, top, bottom)
		return nil
	}
	switch {
	case top:
		l.top()
	case bottom:
		l.bottom()
	default:
		l.move(d)
	}
	switch {
	case m.allMode:
		m.all.sync()
		m.updateHex()
		return m.requestRefresh() // rows scrolled into view are fetched
	case p == paneFlows:
		return m.flowChanged(m.flows.selID, m.flows.ok)
	}
	m.packets.sync()
	m.updateHex()
	return nil
}

// save starts saving the retention ring.
func (m *Model) save() tea.Cmd {
	switch {
	case m.cfg.Save == nil:
		m.setMsg(true, "saving is not available here")
		return nil
	case m.saving:
		m.setMsg(false, "still saving…")
		return nil
	}
	m.saving = true
	m.setMsg(false, "saving the ring…")
	// A file saved by bpftop-cap and opened again (-r) keeps its name once.
	tag := strings.TrimPrefix(fileTag(m.cfg.SaveTag), "bpftop-cap-")
	base := "bpftop-cap-" + tag + "-" + m.cfg.Wall().Format("20060102-150405")
	return saveRing(m.cfg.Engine, m.cfg.Save, m.cfg.SaveDir, base, m.cfg.SaveExt)
}

// fileTag makes s safe inside a file name.
func fileTag(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "capture"
	}
	return string(b)
}

func (m *Model) setFocus(p pane) { m.focus = p }

// graphRows is the number of lines under the status bar that hold the
// total-rate sparklines: one in a live capture, none for a file.
func (m *Model) graphRows() int {
	if m.cfg.Live {
		return 1
	}
	return 0
}

// layout splits the screen between the panes. The split does not follow
// the focus, so Enter and Tab never move the panes: the flow table has up
// to two fifths of the rows, the packet list up to a quarter, the detail
// the rest. A list shorter than its share gives the rows it does not use
// to the detail; what a list has needed is remembered (fNeed, pNeed), so
// a pane grows with its content but does not shrink back on every change
// of selection.
func (m *Model) layout() {
	body := max(m.height-2-m.graphRows(), 0)
	m.fNeed = max(m.fNeed, len(m.flows.rows)+2, 3) // title, header, rows
	m.pNeed = max(m.pNeed, len(m.packets.rows)+1, 2)
	m.fh = max(min(body*2/5, m.fNeed), 3)
	m.ph = max(min(body/4, m.pNeed), 2)
	m.hh = max(body-m.fh-m.ph, 2)
	m.flows.setSize(m.width, m.fh)
	m.packets.setSize(m.width, m.ph)
	m.hex.setSize(m.width, m.hh)
	if m.allMode {
		// The list of all packets, in place of both lists, and the
		// detail: the same rule.
		m.aNeed = max(m.aNeed, m.all.list.n+2, 3)
		m.ah = max(min(body*13/20, m.aNeed), 3)
		m.hh = max(body-m.ah, 2)
		m.all.setSize(m.width, m.ah)
		m.hex.setSize(m.width, m.hh)
	}
}

// mouse scrolls the pane under the pointer or selects the clicked row.
func (m *Model) mouse(e tea.MouseEvent) tea.Cmd {
	if m.statistics != nil && !m.help {
		return m.statsMouse(e)
	}
	if m.stream != nil && !m.help {
		return m.streamMouse(e)
	}
	if m.procsShown() && !m.help {
		return m.procsMouse(e)
	}
	p, rowIdx := m.paneAt(e.Y)
	if p < 0 {
		return nil
	}
	switch {
	case e.Button == tea.MouseButtonWheelUp:
		return m.move(p, -3, false, false)
	case e.Button == tea.MouseButtonWheelDown:
		return m.move(p, 3, false, false)
	case e.Button == tea.MouseButtonLeft && e.Action == tea.MouseActionPress:
		m.setFocus(p)
		if l := m.listOf(p); l != nil && rowIdx >= 0 {
			return m.move(p, l.offset+rowIdx-l.cursor, false, false)
		} else if p == paneHex {
			m.hex.click(rowIdx)
		}
	}
	return nil
}

// listOf returns the list shown in pane p, nil for the packet detail.
func (m *Model) listOf(p pane) *cursorList {
	switch {
	case p == paneHex:
		return nil
	case m.allMode:
		return &m.all.list
	case p == paneFlows:
		return &m.flows.list
	}
	return &m.packets.list
}

// paneAt returns the pane at screen line y and the list row there (-1 on
// a title or header).
func (m *Model) paneAt(y int) (pane, int) {
	top := 1 + m.graphRows()
	if m.help || y < top {
		return -1, -1
	}
	y -= top
	if m.allMode {
		if y < m.ah {
			return paneFlows, y - 2
		}
		y -= m.ah
	} else {
		if y < m.fh {
			return paneFlows, y - 2
		}
		y -= m.fh
		if y < m.ph {
			return panePackets, y - 1
		}
		y -= m.ph
	}
	if y < m.hh {
		return paneHex, y - 1
	}
	return -1, -1
}

// View renders the screen.
// The smallest terminal the view lays out in.
const minWidth, minHeight = 60, 15

func (m *Model) view() string {
	w, h := m.width, m.height
	if w <= 0 || h <= 0 {
		return ""
	}
	if w < minWidth || h < minHeight {
		// Below this the panes cannot hold their columns: one line says so.
		return fit(fmt.Sprintf("terminal %dx%d too small: bpftop-cap needs %dx%d (q quits)", w, h, minWidth, minHeight), w)
	}
	status := statusBar(&m.st, &m.cfg, m.stats, m.paused, m.follow, m.drillLabel(), w)
	if m.graphRows() > 0 {
		status += "\n" + graphLine(&m.st, m.stats, w)
	}
	if m.help {
		return status + "\n" + helpView(&m.st, m.keys, w, h-2-m.graphRows(), &m.helpOff) + "\n" + footer(&m.st, m, w)
	}
	if m.statistics != nil {
		return m.statsScreen(status)
	}
	if m.stream != nil {
		return m.streamScreen(status)
	}
	if m.procsShown() {
		return m.procsScreen(status)
	}
	if m.allMode {
		return strings.Join([]string{
			status,
			m.all.view(&m.st, m.focus != paneHex, m.all.heading()),
			m.hex.view(&m.st, m.focus == paneHex, "no packet selected"),
			footer(&m.st, m, w),
		}, "\n")
	}
	return strings.Join([]string{
		status,
		m.flows.view(&m.st, m.focus == paneFlows, m.flowsHeading()),
		m.packets.view(&m.st, m.focus == panePackets, m.packetsHeading(), m.packetsEmpty()),
		m.hex.view(&m.st, m.focus == paneHex, "no packet selected"),
		footer(&m.st, m, w),
	}, "\n")
}

func (m *Model) flowsHeading() string {
	s := fmt.Sprintf("Flows %d", len(m.flows.rows))
	if m.filter != "" {
		s += fmt.Sprintf(" of %d · filter %q", m.stats.Flows, m.filter)
	}
	if d := m.drillLabel(); d != "" {
		s += " of " + d + " (esc: processes)"
	}
	return s + " · sort " + sortName(sortKeys[m.sortIdx])
}

func (m *Model) packetsHeading() string {
	f, ok := m.flows.selected()
	if !ok {
		return "Packets"
	}
	n := fmt.Sprintf("%d retained", len(m.packets.rows))
	if len(m.packets.rows) >= m.cfg.MaxPackets {
		n = fmt.Sprintf("newest %d retained", len(m.packets.rows))
	}
	return fmt.Sprintf("Packets of %s %s <-> %s · %s", safe(f.Proto), safe(f.A), safe(f.B), n)
}

func (m *Model) packetsEmpty() string {
	switch {
	case !m.flows.ok:
		return "select a flow"
	case !m.pktOK:
		return "loading…"
	}
	return "no packets of this flow left in the ring"
}
