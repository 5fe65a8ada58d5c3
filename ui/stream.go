package ui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/bpftop-cap/bpftop-cap/decode"
)

// streamMaxBytes is how much payload follow stream shows: the start of a
// longer stream, which the view says is cut. A variable for the tests.
var streamMaxBytes = 1 << 20

// streamView is follow stream (f): the payload of one flow, both
// directions in the order they could be read (decode.Reassemble), as
// text or a hex dump, over the whole screen but the status bar and the
// footer. It is laid out into lines (byte ranges, not strings) when the
// stream, the width or the mode changes; only the lines on screen are
// rendered.
type streamView struct {
	flow decode.FlowView // as when opened, then as refreshed
	st   decode.Stream
	ok   bool // a fetch came back
	has  bool // the flow had packets in the ring

	hex    bool
	laid   bool
	lines  []streamLine
	offset int // first body line shown
	width  int
	height int // body lines, below the title and the summary

	req      streamReq
	inflight bool
}

// Line kinds.
const (
	lineData = iota
	lineGap
	lineNote // the stream was cut
)

// streamLine is one body line: bytes [from, to) of segment seg (data),
// or its gap mark. off is where from lies in its direction (hex).
type streamLine struct {
	kind     uint8
	seg      int32
	from, to int32
	off      int
}

// streamReq is what one fetch of the stream asks for; prev says what the
// last one saw, so that a flow that did not change is not reassembled
// again.
type streamReq struct {
	id    uint64
	now   time.Time
	force bool
	prev  streamVer
}

// streamVer is what makes a stream change: packets added to the flow, or
// its oldest packet read leaving the ring.
type streamVer struct {
	pkts  uint64
	first uint64 // the oldest ring sequence number read
	cut   bool   // the stream was cut: packets added fall after the cut
}

// streamMsg carries a stream, fetched off the update loop.
type streamMsg struct {
	req     streamReq
	same    bool // nothing changed since req.prev: keep what is shown
	flow    decode.FlowView
	flowOK  bool
	st      decode.Stream
	has     bool
	version streamVer
}

// fetchStream reads the stream of a flow, unless nothing changed.
func fetchStream(eng *decode.Engine, req streamReq) tea.Cmd {
	return func() tea.Msg { return loadStream(eng, req) }
}

func loadStream(eng *decode.Engine, req streamReq) streamMsg {
	msg := streamMsg{req: req}
	msg.flow, msg.flowOK = eng.Flow(req.id, req.now)
	ringFirst := eng.Stats(req.now).FirstSeq
	ver := streamVer{pkts: msg.flow.DecodedPkts, first: req.prev.first}
	same := ver.pkts == req.prev.pkts || req.prev.cut // new packets add to the tail only
	if !req.force && same && ringFirst <= req.prev.first {
		msg.same = true
		return msg
	}
	msg.st, msg.has = eng.FlowStream(req.id, streamMaxBytes)
	ver.first, ver.cut = msg.st.First, msg.st.Cut
	msg.version = ver
	return msg
}

// openStream opens follow stream on the selected flow.
func (m *Model) openStream() tea.Cmd {
	f, ok := m.flows.selected()
	if m.allMode {
		// The flow of the packet selected in the list of all packets.
		ok = false
		if pk, sel := m.all.selected(); sel {
			f, ok = m.cfg.Engine.Flow(pk.Flow, m.cfg.Now())
		}
	}
	if !ok {
		m.setMsg(true, "select a flow to follow its stream")
		return fade(m.msgGen)
	}
	m.stream = &streamView{flow: f}
	m.sizeStream()
	return m.refreshStream(true)
}

// streamEveryBytes: a stream refreshes every tick up to this many
// bytes, then a tick less often for each more (reassembly costs
// milliseconds per MiB; docs/performance.md).
const streamEveryBytes = 256 << 10

// refreshStream fetches the open stream again, if it may have changed
// (or force), unless a fetch is running or the display is paused.
func (m *Model) refreshStream(force bool) tea.Cmd {
	v := m.stream
	if v == nil || v.inflight || m.paused && !force {
		return nil
	}
	if every := 1 + (v.st.Bytes[0]+v.st.Bytes[1])/streamEveryBytes; !force && m.ticks%uint64(every) != 0 {
		return nil
	}
	v.inflight = true
	v.req = streamReq{id: v.flow.ID, now: m.cfg.Now(), force: force || !v.ok, prev: v.req.prev}
	return fetchStream(m.cfg.Engine, v.req)
}

// applyStream takes in a fetched stream: the scroll position stays, or
// stays at the bottom if it was there (as tail -f).
func (m *Model) applyStream(msg streamMsg) tea.Cmd {
	v := m.stream
	if v == nil || msg.req.id != v.flow.ID {
		return nil
	}
	v.inflight = false
	m.sizeStream()
	if msg.flowOK {
		v.flow = msg.flow
	}
	if msg.same {
		return nil
	}
	bottom := v.ok && v.offset >= v.maxOffset()
	v.st, v.has, v.ok, v.laid = msg.st, msg.has, true, false
	v.req.prev = msg.version
	if bottom {
		v.offset = v.maxOffset()
	}
	v.scroll(0)
	return nil
}

// streamKey handles a key while follow stream is open. It reports false
// for the keys the view leaves to the rest of the model: help, pause,
// save and ctrl+c.
func (m *Model) streamKey(k tea.KeyMsg) (tea.Cmd, bool) {
	v := m.stream
	m.sizeStream()
	switch {
	case k.Type == tea.KeyCtrlC,
		key.Matches(k, m.keys.Help, m.keys.Pause, m.keys.Save):
		return nil, false
	case key.Matches(k, m.keys.Back, m.keys.Stream, m.keys.Quit):
		m.stream = nil
	case key.Matches(k, m.keys.StreamHex):
		v.toggleHex()
	case key.Matches(k, m.keys.Up):
		v.scroll(-1)
	case key.Matches(k, m.keys.Down):
		v.scroll(1)
	case key.Matches(k, m.keys.PageUp):
		v.scroll(-max(v.height-1, 1))
	case key.Matches(k, m.keys.PageDown):
		v.scroll(max(v.height-1, 1))
	case key.Matches(k, m.keys.Top):
		v.offset = 0
	case key.Matches(k, m.keys.Bottom):
		v.offset = v.maxOffset()
	}
	return nil, true
}

// streamMouse scrolls follow stream with the wheel.
func (m *Model) streamMouse(e tea.MouseEvent) tea.Cmd {
	m.sizeStream()
	switch e.Button {
	case tea.MouseButtonWheelUp:
		m.stream.scroll(-3)
	case tea.MouseButtonWheelDown:
		m.stream.scroll(3)
	}
	return nil
}

// streamScreen renders the screen with follow stream open.
func (m *Model) streamScreen(status string) string {
	w := m.width
	v := m.stream
	m.sizeStream()
	foot := footer(&m.st, m, w)
	if m.msg == "" {
		mode := "hex"
		if v.hex {
			mode = "text"
		}
		foot = m.st.Dim.Render(fit("esc close · x "+mode+" · ↑↓ pgup pgdn scroll · g/G top/bottom · ? help", w))
	}
	return status + "\n" + v.view(&m.st) + "\n" + foot
}

// sizeStream fits follow stream to the screen: all of it but the status
// bar and the footer.
func (m *Model) sizeStream() { m.stream.setSize(m.width, m.height-2-m.graphRows()) }

func (v *streamView) setSize(w, h int) {
	if w != v.width {
		v.laid = false
	}
	v.width, v.height = w, max(h-2, 0)
	v.scroll(0)
}

// toggleHex switches between text and hex, keeping the bytes at the top
// of the screen there.
func (v *streamView) toggleHex() {
	bottom := v.offset >= v.maxOffset() && v.offset > 0
	seg, pos := int32(-1), int32(-1)
	if v.layout(); v.offset < len(v.lines) {
		l := v.lines[v.offset]
		seg = l.seg
		if l.kind == lineData {
			pos = l.from
		}
	}
	v.hex, v.laid = !v.hex, false
	v.layout()
	switch {
	case bottom:
		v.offset = v.maxOffset()
	case seg >= 0:
		v.offset = sort.Search(len(v.lines), func(i int) bool {
			l := v.lines[i]
			end := l.to
			if l.kind != lineData {
				end = 0
			}
			return l.seg > seg || l.seg == seg && end > pos
		})
	}
	v.scroll(0)
}

func (v *streamView) maxOffset() int {
	v.layout()
	return max(len(v.lines)-v.height, 0)
}

func (v *streamView) scroll(d int) {
	v.offset = max(min(v.offset+d, v.maxOffset()), 0)
}

// textWidth is the bytes on a text line: the rest is the direction mark.
func (v *streamView) textWidth() int { return max(v.width-2, 1) }

// layout breaks the stream into lines for the width and mode.
func (v *streamView) layout() {
	if v.laid {
		return
	}
	v.laid, v.lines = true, v.lines[:0]
	n := streamHexBytes(v.width)
	var dirOff [2]int
	for i := range v.st.Segments {
		s := &v.st.Segments[i]
		seg := int32(i)
		if s.GapWhy != decode.GapNone {
			v.lines = append(v.lines, streamLine{kind: lineGap, seg: seg})
		}
		d := s.Data
		add := func(from, to int) {
			v.lines = append(v.lines, streamLine{kind: lineData, seg: seg, from: int32(from), to: int32(to), off: dirOff[s.Dir] + from})
		}
		if v.hex {
			for from := 0; from < len(d); from += n {
				add(from, min(from+n, len(d)))
			}
		} else {
			// A line ends at \n or \r\n, or when it fills the width.
			w, start := v.textWidth(), 0
			for i := 0; i < len(d); {
				if d[i] == '\n' || d[i] == '\r' && i+1 < len(d) && d[i+1] == '\n' {
					add(start, i)
					if d[i] == '\r' {
						i++
					}
					i++
					start = i
					continue
				}
				if i-start == w {
					add(start, i)
					start = i
				}
				i++
			}
			if start < len(d) {
				add(start, len(d))
			}
		}
		dirOff[s.Dir] += len(d)
	}
	if v.st.Cut {
		v.lines = append(v.lines, streamLine{kind: lineNote, seg: int32(len(v.st.Segments))})
	}
}

// streamHexBytes is the bytes per hex line that fit in w cells.
func streamHexBytes(w int) int {
	for _, n := range []int{16, 8} {
		if streamHexWidth(n) <= w {
			return n
		}
	}
	return 4
}

// streamHexWidth is the width of a hex line of n bytes: the direction
// mark, an 8-digit offset, the bytes in groups of eight, the ASCII.
func streamHexWidth(n int) int { return 2 + 8 + 2 + n*3 - 1 + (n-1)/8 + 2 + n }

// mark is the direction column: it tells the two sides apart without
// colour.
func mark(d decode.StreamDir) string {
	if d == decode.ClientToServer {
		return "→ "
	}
	return "← "
}

func (st *Styles) streamStyle(d decode.StreamDir) func(...string) string {
	if d == decode.ClientToServer {
		return st.StreamClient.Render
	}
	return st.StreamServer.Render
}

// gapText says what is missing before a segment.
func gapText(s *decode.Segment) string {
	switch s.GapWhy {
	case decode.GapStart:
		return "[… earlier bytes not in the ring: capture started mid-stream, or they aged out …]"
	case decode.GapSnap:
		return fmt.Sprintf("[… %s not captured (snap length) …]", plural(s.Gap, "byte"))
	}
	return fmt.Sprintf("[… %s missing: lost, or aged out of the ring …]", plural(s.Gap, "byte"))
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// line renders body line j.
func (v *streamView) line(st *Styles, j int) string {
	l := v.lines[j]
	if l.kind == lineNote {
		return st.StreamGap.Render(fit(fmt.Sprintf("[… cut: follow stream shows the first %s …]", si(float64(streamMaxBytes), "B")), v.width))
	}
	s := &v.st.Segments[l.seg]
	if l.kind == lineGap {
		return st.StreamGap.Render(fit(mark(s.Dir)+gapText(s), v.width))
	}
	d := s.Data[l.from:l.to]
	var b strings.Builder
	b.WriteString(mark(s.Dir))
	if v.hex {
		n := streamHexBytes(v.width)
		const digits = "0123456789abcdef"
		fmt.Fprintf(&b, "%08x  ", l.off)
		for i := range n {
			if i > 0 {
				b.WriteByte(' ')
				if i%8 == 0 {
					b.WriteByte(' ')
				}
			}
			if i < len(d) {
				b.WriteByte(digits[d[i]>>4])
				b.WriteByte(digits[d[i]&15])
			} else {
				b.WriteString("  ")
			}
		}
		b.WriteString("  ")
	}
	for _, c := range d {
		if c == '\t' && !v.hex {
			c = ' '
		}
		// Packet bytes: nothing but printable ASCII reaches the terminal.
		b.WriteByte(decode.PrintableASCII(c))
	}
	return st.streamStyle(s.Dir)(fit(b.String(), v.width))
}

func (v *streamView) heading() string {
	mode := "text"
	if v.hex {
		mode = "hex"
	}
	a, b, proto := v.flow.A, v.flow.B, v.flow.Proto
	if v.ok && v.st.Kind != decode.StreamNone {
		a, b, proto = v.st.Client, v.st.Server, v.st.Proto
	}
	what := "stream"
	if v.st.Kind == decode.StreamDatagrams {
		what = "datagrams"
	}
	return fmt.Sprintf("Follow %s %s · %s → %s · %s", safe(proto), what, safe(a), safe(b), mode)
}

// summary is the line under the title: bytes each way, gaps, packets.
func (v *streamView) summary() string {
	if !v.ok || !v.has || v.st.Kind == decode.StreamNone {
		return ""
	}
	s := &v.st
	parts := []string{
		"→ client " + si(float64(s.Bytes[0]), "B"),
		"← server " + si(float64(s.Bytes[1]), "B"),
	}
	switch {
	case s.Gaps == 0:
		parts = append(parts, "no gaps")
	case s.Missing[0]+s.Missing[1] > 0:
		parts = append(parts, fmt.Sprintf("%s (%s missing)", plural(s.Gaps, "gap"), si(float64(s.Missing[0]+s.Missing[1]), "B")))
	default:
		parts = append(parts, plural(s.Gaps, "gap"))
	}
	pk := plural(s.Packets, "packet")
	if total := v.flow.Packets(); total > uint64(s.Packets) {
		pk = fmt.Sprintf("%d of %s in the ring", s.Packets, plural(int(min(total, 1<<31)), "packet"))
	}
	parts = append(parts, pk)
	if s.Cut {
		parts = append(parts, "cut at "+si(float64(streamMaxBytes), "B"))
	}
	return "  " + strings.Join(parts, " · ")
}

// empty says why there is nothing to show, or "".
func (v *streamView) empty() string {
	switch {
	case !v.ok:
		return "loading…"
	case !v.has:
		return "no packets of this flow left in the ring"
	case v.st.Kind == decode.StreamNone:
		return "nothing to follow: no TCP, UDP, SCTP or ICMP payload in this flow"
	case len(v.st.Segments) == 0:
		return fmt.Sprintf("no payload yet (%s in the ring, none carrying data)", plural(v.st.Packets, "packet"))
	}
	return ""
}

func (v *streamView) view(st *Styles) string {
	v.scroll(0)
	var b strings.Builder
	b.WriteString(title(st, v.heading(), true, v.width))
	b.WriteString("\n" + st.Dim.Render(fit(v.summary(), v.width)))
	empty := v.empty()
	for i := range v.height {
		line := fit("", v.width)
		switch j := v.offset + i; {
		case j < len(v.lines):
			line = v.line(st, j)
		case i == 0 && empty != "":
			line = st.Dim.Render(fit("  "+empty, v.width))
		}
		b.WriteString("\n" + line)
	}
	return b.String()
}
