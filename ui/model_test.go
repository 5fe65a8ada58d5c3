package ui

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/bpftop-cap/bpftop-cap/decode"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// flowOrder lists the flows' first endpoints as shown.
func flowOrder(m *Model) []string {
	var out []string
	for _, f := range m.flows.rows {
		out = append(out, f.A)
	}
	return out
}

func TestTUIFlowsAndNavigation(t *testing.T) {
	e := newEnv(t, 120, 40, Config{})
	e.fill()
	e.tick()
	m := e.m
	if got, want := flowOrder(m), []string{"10.0.0.1:40000", "10.0.0.4:6000", "10.0.0.1:5000", "10.0.0.6:1234"}; !equal(got, want) {
		t.Fatalf("flows by bytes: %v, want %v", got, want)
	}
	// The first flow is selected, its packets listed, the newest selected.
	if f, _ := m.flows.selected(); f.A != "10.0.0.1:40000" {
		t.Fatalf("selected flow %s", f.A)
	}
	if len(m.packets.rows) != 3 {
		t.Fatalf("packets of the TCP flow: %d, want 3", len(m.packets.rows))
	}
	if p, _ := m.packets.selected(); !strings.Contains(p.Info, "GET /index.html") {
		t.Errorf("selected packet %q, want the newest (the GET)", p.Line)
	}
	if !m.hex.ok || !strings.Contains(m.View(), "GET /index.html") {
		t.Errorf("hex pane does not show the GET:\n%s", m.View())
	}

	e.press("j")
	if f, _ := m.flows.selected(); f.A != "10.0.0.4:6000" {
		t.Fatalf("after j: selected %s", f.A)
	}
	if len(m.packets.rows) != 6 || m.pktFlow != m.flows.selID {
		t.Fatalf("after j: %d packets of flow %d, want 6 of %d", len(m.packets.rows), m.pktFlow, m.flows.selID)
	}
	if !strings.Contains(m.View(), "62 70 66") {
		t.Errorf("hex of the selected datagram not shown:\n%s", m.View())
	}
	e.press("G")
	if m.flows.list.cursor != 3 {
		t.Errorf("G: cursor %d, want 3", m.flows.list.cursor)
	}
	e.press("g")
	if m.flows.list.cursor != 0 {
		t.Errorf("g: cursor %d, want 0", m.flows.list.cursor)
	}
	e.press("down", "down", "up")
	if m.flows.list.cursor != 1 {
		t.Errorf("down down up: cursor %d, want 1", m.flows.list.cursor)
	}
	e.press("pgdown")
	if m.flows.list.cursor != 3 {
		t.Errorf("pgdown: cursor %d, want 3", m.flows.list.cursor)
	}
	e.press("pgup", "down")

	// Drill down: flow -> its packets -> one packet, and back.
	e.press("enter")
	if m.focus != panePackets {
		t.Fatalf("enter on a flow: focus %d, want packets", m.focus)
	}
	e.press("k", "k")
	p, _ := m.packets.selected()
	if p.Seq != m.packets.rows[3].Seq || m.hex.seq != p.Seq {
		t.Errorf("k k in packets: selected seq %d (hex %d), want %d", p.Seq, m.hex.seq, m.packets.rows[3].Seq)
	}
	// New packets of the flow do not move a selection the user made.
	e.add(packet.DirIn, udpFrame(t, "10.0.0.4", 6000, "10.0.0.5", 7000, []byte("bpf")))
	e.tick()
	if q, _ := m.packets.selected(); q.Seq != p.Seq {
		t.Errorf("selection moved from %d to %d on refresh", p.Seq, q.Seq)
	}
	e.press("enter")
	if m.focus != paneHex {
		t.Fatalf("enter on a packet: focus %d, want hex", m.focus)
	}
	e.press("j", "k", "G", "g")
	e.press("esc")
	if m.focus != panePackets {
		t.Errorf("esc from hex: focus %d, want packets", m.focus)
	}
	e.press("esc")
	if m.focus != paneFlows {
		t.Errorf("esc from packets: focus %d, want flows", m.focus)
	}
	e.press("tab")
	if m.focus != panePackets {
		t.Errorf("tab: focus %d, want packets", m.focus)
	}
	e.press("tab", "tab")
	if m.focus != paneFlows {
		t.Errorf("tab tab: focus %d, want flows", m.focus)
	}
	if cmd := e.press("q"); !isQuit(cmd) {
		t.Error("q does not quit")
	}
	if cmd := e.press("ctrl+c"); !isQuit(cmd) {
		t.Error("ctrl+c does not quit")
	}
}

func isQuit(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	_, ok := cmd().(tea.QuitMsg)
	return ok
}

func equal(a, b []string) bool {
	return strings.Join(a, "|") == strings.Join(b, "|")
}

func TestTUISortCycle(t *testing.T) {
	e := newEnv(t, 120, 40, Config{})
	e.fill()
	e.tick()
	want := []struct {
		name  string
		first string
	}{
		{"packets", "10.0.0.4:6000"},
		{"rate", "10.0.0.1:40000"},
		{"last seen", "10.0.0.6:1234"},
		{"bytes", "10.0.0.1:40000"},
	}
	// The selection stays on its flow whatever the sort does, from the
	// start: nothing moves under a reader who has not moved.
	sel := e.m.flows.selID
	e.press("s")
	if e.m.flows.selID != sel {
		t.Errorf("an untouched selection moved with the sort")
	}
	e.press("s")
	e.press("s")
	e.press("s") // back to bytes
	// Moved by hand, it stays on that flow too.
	e.press("j")
	sel = e.m.flows.selID
	for _, w := range want {
		e.press("s")
		if got := sortName(sortKeys[e.m.sortIdx]); got != w.name {
			t.Fatalf("sort %q, want %q", got, w.name)
		}
		if !strings.Contains(e.m.View(), "sort "+w.name) {
			t.Errorf("sort %s not shown", w.name)
		}
		if got := e.m.flows.rows[0].A; got != w.first {
			t.Errorf("sorted by %s: first flow %s, want %s (%v)", w.name, got, w.first, flowOrder(e.m))
		}
		if e.m.flows.selID != sel {
			t.Errorf("sorted by %s: selection moved to another flow", w.name)
		}
	}
}

func TestTUIDisplayFilter(t *testing.T) {
	e := newEnv(t, 120, 40, Config{})
	e.fill()
	e.tick()
	e.press("/")
	if !e.m.editing {
		t.Fatal("/ does not start the filter")
	}
	e.typeText("~examplx")
	e.press("backspace")
	e.typeText("e.COM") // case-insensitive
	if len(e.m.flows.rows) != 1 || e.m.flows.rows[0].A != "10.0.0.1:5000" {
		t.Fatalf("filter %q: flows %v, want the DNS flow", e.m.filter, flowOrder(e.m))
	}
	if !strings.Contains(e.m.View(), "filter flows: ~example.COM") {
		t.Errorf("filter being typed not shown:\n%s", e.m.View())
	}
	e.press("enter")
	if e.m.editing || e.m.filter != "~example.COM" {
		t.Fatalf("enter: editing %v, filter %q", e.m.editing, e.m.filter)
	}
	// Keys act again, on the filtered table; the filter stays.
	e.press("j")
	e.tick()
	if len(e.m.flows.rows) != 1 || !strings.Contains(e.m.View(), `filter "~example.COM"`) {
		t.Errorf("filter lost after enter: %v", flowOrder(e.m))
	}
	e.press("esc")
	if e.m.filter != "" || len(e.m.flows.rows) != 4 {
		t.Errorf("esc: filter %q, %d flows", e.m.filter, len(e.m.flows.rows))
	}
	// Esc while typing clears too; q while typing is text.
	e.press("/", "~", "q", "u")
	if e.m.filter != "~qu" {
		t.Errorf("typed ~ q u: filter %q", e.m.filter)
	}
	e.press("esc")
	if e.m.editing || e.m.filter != "" || len(e.m.flows.rows) != 4 {
		t.Errorf("esc while typing: editing %v, filter %q, %d flows", e.m.editing, e.m.filter, len(e.m.flows.rows))
	}
}

func TestTUIPause(t *testing.T) {
	e := newEnv(t, 120, 40, Config{})
	e.fill()
	e.tick()
	e.press("space")
	if !e.m.paused || !strings.Contains(e.m.View(), "PAUSED") {
		t.Fatal("space does not pause")
	}
	before := e.m.View()
	rows := len(e.m.flows.rows)
	for range 50 {
		e.add(packet.DirIn, udpFrame(t, "10.9.9.9", 9, "10.0.0.1", 9, []byte("later")))
	}
	e.tick()
	if len(e.m.flows.rows) != rows {
		t.Errorf("paused: flow table changed from %d to %d rows", rows, len(e.m.flows.rows))
	}
	// Only the status bar and the total graphs (counters) may change
	// while paused.
	b, a := strings.SplitN(before, "\n", 3), strings.SplitN(e.m.View(), "\n", 3)
	if b[2] != a[2] {
		t.Errorf("paused view changed:\nbefore:\n%s\nafter:\n%s", before, e.m.View())
	}
	e.press("space")
	if e.m.paused || len(e.m.flows.rows) != rows+1 {
		t.Errorf("unpaused: %d rows, want %d", len(e.m.flows.rows), rows+1)
	}
}

// pcapSave is a stand-in for main's save: it writes one line per frame,
// refuses to overwrite, and can be made to fail.
type pcapSave struct {
	fail  error
	calls int
}

func (s *pcapSave) save(path string, frames []packet.Packet) (int, error) {
	s.calls++
	if s.fail != nil {
		return 0, s.fail
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	for _, fr := range frames {
		fmt.Fprintf(f, "%d\n", len(fr.Data))
	}
	return len(frames), nil
}

func TestTUISave(t *testing.T) {
	dir := t.TempDir()
	s := &pcapSave{fail: errors.New("write /full/disk: no space left on device")}
	e := newEnv(t, 120, 40, Config{Save: s.save, SaveDir: dir})

	// Empty ring: nothing to save, said so.
	runSave(e)
	if !e.m.msgErr || !strings.Contains(e.m.msg, "nothing to save") {
		t.Errorf("empty ring: message %q", e.m.msg)
	}
	e.fill()
	e.tick()

	// A failing save shows the error and keeps the ring.
	runSave(e)
	if !e.m.msgErr || !strings.Contains(footerOf(e.m), "no space left on device") {
		t.Errorf("failed save: footer %q", footerOf(e.m))
	}
	if want := "save: write /full/disk: no space left on device, in " + dir; e.m.msg != want {
		t.Errorf("failed save: message %q, want %q", e.m.msg, want)
	}
	if n := e.eng.Stats(e.now).RingPackets; n != 12 {
		t.Errorf("ring after a failed save: %d packets, want 12", n)
	}

	// A later w succeeds.
	s.fail = nil
	runSave(e)
	name := "bpftop-cap-eth0-20250304-050607.pcap"
	if e.m.msgErr || !strings.Contains(footerOf(e.m), "saved 12 packets to "+filepath.Join(dir, name)) {
		t.Errorf("save: footer %q", footerOf(e.m))
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil || bytes.Count(b, []byte("\n")) != 12 {
		t.Fatalf("saved file: %v, %q", err, b)
	}
	// The same second again: a new name, the first file kept.
	runSave(e)
	if !strings.Contains(e.m.msg, "bpftop-cap-eth0-20250304-050607-2.pcap") {
		t.Errorf("second save: %q", e.m.msg)
	}
	if b2, _ := os.ReadFile(filepath.Join(dir, name)); !bytes.Equal(b, b2) {
		t.Error("second save changed the first file")
	}

	// The footer says which format and why, when told.
	e.m.cfg.SaveNote, e.m.cfg.SaveExt = "pcapng: keeps each packet's direction", ".pcapng"
	runSave(e)
	if !strings.Contains(e.m.msg, ".pcapng (pcapng: keeps each packet's direction)") {
		t.Errorf("save with a note: %q", e.m.msg)
	}

	// No save function: w says so.
	e2 := newEnv(t, 80, 24, Config{})
	if cmd := e2.press("w"); cmd != nil || !strings.Contains(e2.m.msg, "not available") {
		t.Errorf("w without Save: %q", e2.m.msg)
	}
}

// runSave presses w and runs the save command, as the program would, off
// the update loop.
func runSave(e *env) {
	e.t.Helper()
	cmd := e.press("w")
	if cmd == nil {
		e.t.Fatalf("w gave no command; message %q", e.m.msg)
	}
	if !e.m.saving || !strings.Contains(e.m.msg, "saving") {
		e.t.Errorf("while saving: %q", e.m.msg)
	}
	e.m.Update(cmd())
	if e.m.saving {
		e.t.Error("still saving after the result")
	}
}

func footerOf(m *Model) string {
	lines := strings.Split(m.View(), "\n")
	return lines[len(lines)-1]
}

func TestTUIHelp(t *testing.T) {
	e := newEnv(t, 80, 24, Config{})
	e.press("?")
	v := e.m.View()
	for _, b := range e.m.keys.FullHelp() {
		for _, k := range b {
			if k.Enabled() && !strings.Contains(v, k.Help().Desc) { // p: with process attribution only
				t.Errorf("help lacks %q:\n%s", k.Help().Desc, v)
			}
		}
	}
	e.press("j") // ignored under help
	e.press("esc")
	if e.m.help {
		t.Error("esc does not close help")
	}
	e.press("?", "?")
	if e.m.help {
		t.Error("? does not close help")
	}
}

func TestTUIMouse(t *testing.T) {
	e := newEnv(t, 120, 40, Config{})
	e.fill()
	e.tick()
	// Line 0 is the status bar, 1 the graphs, 2 the flows title, 3 the
	// header, 4.. rows.
	_, cmd := e.m.Update(tea.MouseMsg{X: 5, Y: 5, Button: tea.MouseButtonWheelDown})
	e.settle(cmd)
	if e.m.flows.list.cursor != 3 {
		t.Errorf("wheel down over flows: cursor %d, want 3", e.m.flows.list.cursor)
	}
	_, cmd = e.m.Update(tea.MouseMsg{X: 5, Y: 5, Button: tea.MouseButtonWheelUp})
	e.settle(cmd)
	if e.m.flows.list.cursor != 0 {
		t.Errorf("wheel up over flows: cursor %d, want 0", e.m.flows.list.cursor)
	}
	_, cmd = e.m.Update(tea.MouseMsg{X: 5, Y: 5, Button: tea.MouseButtonLeft, Action: tea.MouseActionPress})
	e.settle(cmd)
	if e.m.flows.list.cursor != 1 {
		t.Errorf("click on the second row: cursor %d, want 1", e.m.flows.list.cursor)
	}
	// Wheel over the packet pane scrolls packets.
	top := 2 + e.m.fh + 1
	e.m.Update(tea.MouseMsg{X: 5, Y: top, Button: tea.MouseButtonWheelUp})
	if e.m.packets.list.cursor != 2 {
		t.Errorf("wheel up over packets: cursor %d, want 2", e.m.packets.list.cursor)
	}
}

// checkScreen fails unless v is exactly h lines of at most w cells.
func checkScreen(t *testing.T, v string, w, h int) {
	t.Helper()
	lines := strings.Split(v, "\n")
	if len(lines) != h {
		t.Errorf("%dx%d: %d lines", w, h, len(lines))
	}
	for i, l := range lines {
		if n := visibleWidth(l); n > w {
			t.Errorf("%dx%d: line %d is %d cells: %q", w, h, i, n, l)
		}
	}
}

func TestTUIResize(t *testing.T) {
	e := newEnv(t, 80, 24, Config{Filter: "udp or (tcp and port 80)"})
	e.fill()
	e.add(packet.DirOut, udpFrame(t, "10.0.0.1", 1, "10.0.0.2", 2, bytes.Repeat([]byte("x"), 1400)))
	e.tick()
	for _, sz := range [][2]int{{80, 24}, {120, 40}, {60, 15}, {100, 30}, {200, 60}, {81, 25}, {250, 16}} {
		e.m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		for _, keys := range [][]string{nil, {"enter"}, {"enter"}, {"?"}, {"?", "esc", "esc"}} {
			e.press(keys...)
			checkScreen(t, e.m.View(), sz[0], sz[1])
		}
	}
	// Under 60x15: one line that says so, whatever the other side.
	for _, sz := range [][2]int{{40, 10}, {59, 40}, {250, 14}, {30, 5}} {
		e.m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		v := e.m.View()
		if strings.Count(v, "\n") != 0 || !strings.Contains(v, "too small") || visibleWidth(v) > sz[0] {
			t.Errorf("%dx%d: %q", sz[0], sz[1], v)
		}
		if sz[0] >= 50 && !strings.Contains(v, "needs 60x15") {
			t.Errorf("%dx%d does not say what it needs: %q", sz[0], sz[1], v)
		}
	}
}

// TestTUIHostileBytes: escape sequences, bells, C1 controls, bidi overrides
// and invalid UTF-8 in payloads, DNS names and HTTP lines never reach the
// terminal.
func TestTUIHostileBytes(t *testing.T) {
	e := newEnv(t, 120, 40, Config{})
	evil := []byte("\x1b]0;pwned\x07\x1b[2J\x9b31m\xc2\x9b\xe2\x80\xae\xff\xfe")
	e.add(packet.DirIn, udpFrame(t, "10.0.0.1", 1, "10.0.0.2", 9, evil))
	e.add(packet.DirIn, udpFrame(t, "10.0.0.1", 5353, "10.0.0.2", 53, dnsQuery([]byte("a\x1b[31m"), evil[:12], []byte("\xff\xc2\x85"))))
	e.add(packet.DirOut, tcpFrame(t, "10.0.0.1", 3333, "10.0.0.2", 80, false, true, append([]byte("GET /"), append(evil, " HTTP/1.1\r\n\r\n"...)...)))
	e.tick()
	views := 0
	for range e.m.flows.rows {
		for _, keys := range [][]string{nil, {"enter"}, {"enter"}, {"g"}, {"esc", "esc", "j"}} {
			e.press(keys...)
			checkClean(t, e.m.View())
			views++
		}
	}
	e.m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	checkClean(t, e.m.View())
	if views == 0 {
		t.Fatal("no flows")
	}
}

func checkClean(t *testing.T, v string) {
	t.Helper()
	if !utf8.ValidString(v) {
		t.Errorf("view is not valid UTF-8:\n%q", v)
	}
	for _, r := range v {
		if r == 0x1b || r == 0x07 || r >= 0x80 && r <= 0x9f || r == 0x202e || r < 0x20 && r != '\n' || r == 0x7f {
			t.Fatalf("view holds %U:\n%q", r, v)
		}
	}
}

// TestTUIInterfaceColumn: with several interfaces the flow table names
// each flow's interface.
func TestTUIInterfaceColumn(t *testing.T) {
	e := newEnv(t, 120, 40, Config{ShowInterface: true})
	e.eng.SetInterfaceNames(map[int]string{2: "eth0"})
	e.fill()
	e.tick()
	v := e.m.View()
	if !strings.Contains(v, "IF       PROTO") {
		t.Errorf("no IF column header:\n%s", v)
	}
	if !strings.Contains(v, "eth0     TCP") && !strings.Contains(v, "eth0     UDP") {
		t.Errorf("flows do not show their interface:\n%s", v)
	}
	for _, l := range strings.Split(v, "\n") {
		if visibleWidth(l) > 120 {
			t.Errorf("line wider than 120: %q", l)
		}
	}
}

// TestTUIQuitWhileSaving: q during a save waits for it, then quits, so a
// saved file is never left cut short.
func TestTUIQuitWhileSaving(t *testing.T) {
	dir := t.TempDir()
	s := &pcapSave{}
	e := newEnv(t, 120, 40, Config{Save: s.save, SaveDir: dir})
	e.fill()
	e.tick()
	save := e.press("w")
	if save == nil || !e.m.saving {
		t.Fatal("w did not start a save")
	}
	if q := e.press("q"); isQuit(q) {
		t.Fatal("q quit while the save was running")
	}
	if !strings.Contains(e.m.msg, "finishing the save") {
		t.Errorf("message %q", e.m.msg)
	}
	_, after := e.m.Update(save())
	if !isQuit(after) {
		t.Error("no quit once the save finished")
	}
	if !strings.Contains(e.m.msg, "saved 12 packets") {
		t.Errorf("message %q", e.m.msg)
	}
}

// TestTUIBigTableRefreshesLessOften: with more than bigTable flows, ticks
// alternate between refreshing the flow table and leaving it as it is.
func TestTUIBigTableRefreshesLessOften(t *testing.T) {
	e := newEnv(t, 120, 40, Config{})
	big := decode.NewEngine(decode.Config{MaxFlows: 4 * bigTable, RingBytes: 8 << 20})
	e.eng, e.m.cfg.Engine = big, big
	for i := range bigTable + 100 {
		e.add(packet.DirIn, udpFrame(t, "10.1.0.1", uint16(1000+i%60000), "10.2.0.2", uint16(53+i/60000), nil))
	}
	e.tick()
	if len(e.m.flows.rows) <= bigTable {
		t.Fatalf("%d flows", len(e.m.flows.rows))
	}
	var fetched []bool
	for range 4 {
		e.tick()
		fetched = append(fetched, e.m.req.flows)
	}
	n := 0
	for _, f := range fetched {
		if f {
			n++
		}
	}
	if n != 2 {
		t.Errorf("flow table fetched on %v of 4 ticks, want every second one", fetched)
	}
	// A sort key still refreshes at once.
	e.press("s")
	if !e.m.req.flows {
		t.Error("s did not refresh the flow table")
	}
}

// TestTUIClickUnfocusedPane: a click on a row of a pane without focus
// selects the row that was under the pointer, though focusing the pane
// resizes the panes and scrolls its list.
func TestTUIClickUnfocusedPane(t *testing.T) {
	e := newEnv(t, 100, 30, Config{})
	for i := range 60 {
		e.add(packet.DirIn, udpFrame(t, "10.0.0.4", 6000, "10.0.0.5", 7000, []byte{byte(i)}))
	}
	e.tick()
	e.press("enter", "tab") // into the packets, then the next pane
	if e.m.focus == panePackets {
		e.press("tab")
	}
	if e.m.focus == panePackets {
		t.Fatal("could not leave the packet pane")
	}
	// Find the screen line of the packet pane's first visible row.
	y := -1
	for i := 0; i < 30; i++ {
		if p, row := e.m.paneAt(i); p == panePackets && row == 0 {
			y = i
			break
		}
	}
	if y < 0 {
		t.Fatal("no packet row on screen")
	}
	want := e.m.packets.list.offset
	e.m.Update(tea.MouseMsg{X: 10, Y: y, Button: tea.MouseButtonLeft, Action: tea.MouseActionPress})
	if e.m.focus != panePackets || e.m.packets.list.cursor != want {
		t.Errorf("clicked the row showing packet %d; focus %v, selected %d", want, e.m.focus, e.m.packets.list.cursor)
	}
}

// TestTUIPausedSortAndFilter: while paused the table is frozen, but a new
// sort or filter still reorders or narrows what is shown.
func TestTUIPausedSortAndFilter(t *testing.T) {
	e := newEnv(t, 120, 40, Config{})
	e.fill()
	e.tick()
	e.press(" ")
	if !e.m.paused {
		t.Fatal("space did not pause")
	}
	before := len(e.m.flows.rows)
	e.press("/", "~", "1", "0", ".", "0", ".", "0", ".", "4", "enter")
	if got := len(e.m.flows.rows); got != 1 || got == before {
		t.Errorf("paused, filter 10.0.0.4: %d rows (was %d)", got, before)
	}
	e.press("s")
	if e.m.rowsSort != sortKeys[e.m.sortIdx] {
		t.Error("paused, s: rows not re-sorted")
	}
}

// A GSO frame is thousands of dump lines: the pane scrolls through all of
// them, rendering only what is on screen.
func TestHexPaneBigFrame(t *testing.T) {
	e := newEnv(t, 120, 40, Config{})
	payload := make([]byte, 60000)
	for i := range payload {
		payload[i] = byte(i)
	}
	e.add(packet.DirOut, udpFrame(t, "10.0.0.1", 1, "10.0.0.2", 2, payload)) // 60042 bytes
	e.tick()
	m := e.m
	if !m.hex.ok {
		t.Fatal("no packet selected")
	}
	if v := m.View(); !strings.Contains(v, "│ 0000  ") || strings.Contains(v, "│ ea80  ") {
		t.Fatalf("top of the dump:\n%s", v)
	}
	if got, want := m.hex.dumpLines(), 60042/16+1; got != want {
		t.Errorf("%d lines, want %d", got, want)
	}
	e.press("tab", "tab", "end") // to the hex pane, then the dump's bottom
	if m.focus != paneHex {
		t.Fatalf("focus %d, want the hex pane", m.focus)
	}
	v := m.View()
	if !strings.Contains(v, "│ ea80  ") || strings.Contains(v, "│ 0000  ") {
		t.Fatalf("bottom of the dump, want the line at 0xea80:\n%s", v)
	}
	if last := dumpLine(&m.st, m.hex.frame.Data, m.hex.n, m.hex.dumpLines()-1, 0, 0); !strings.Contains(last, "ea80  56 57 58") {
		t.Errorf("last line %q, want payload bytes 59990 on (0x56 0x57 ...)", last)
	}
}

// TestTUIKeyBurst: runes that arrive in one read (tmux send-keys j j j, a
// paste outside the prompt, a held key) are as many key presses; after a
// "/" the rest of the burst is the filter's text.
func TestTUIKeyBurst(t *testing.T) {
	e := newEnv(t, 120, 40, Config{})
	e.fill()
	e.tick()
	if len(e.m.flows.rows) < 4 {
		t.Fatalf("want at least 4 flows, have %d", len(e.m.flows.rows))
	}
	e.settle(func() tea.Cmd { _, c := e.m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("jjj")}); return c }())
	if got := e.m.flows.list.cursor; got != 3 {
		t.Errorf("jjj in one message moved the cursor to row %d, want 3", got)
	}
	e.settle(func() tea.Cmd { _, c := e.m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("kk")}); return c }())
	if got := e.m.flows.list.cursor; got != 1 {
		t.Errorf("kk in one message left the cursor on row %d, want 1", got)
	}
	e.settle(func() tea.Cmd {
		_, c := e.m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("/example")})
		return c
	}())
	if !e.m.editing || e.m.input != "example" {
		t.Errorf("/example in one message: editing %v, prompt %q", e.m.editing, e.m.input)
	}
	// A paste in the prompt is its text, whole: "jj" is not movement.
	e.settle(func() tea.Cmd {
		_, c := e.m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(".com"), Paste: true})
		return c
	}())
	if e.m.input != "example.com" {
		t.Errorf("pasted into the prompt: %q", e.m.input)
	}
}

// TestTUISaveMessageFades: the result of w leaves the footer after a few
// seconds (the key hints come back); a fade for an older message leaves a
// newer one alone.
func TestTUISaveMessageFades(t *testing.T) {
	s := &pcapSave{}
	e := newEnv(t, 120, 40, Config{Save: s.save, SaveDir: t.TempDir()})
	e.fill()
	e.tick()
	runSave(e)
	_, fadeCmd := e.m.Update(savedMsg{path: "x.pcap", n: 3})
	if fadeCmd == nil || !strings.Contains(e.m.msg, "saved 3 packets") {
		t.Fatalf("after a save: message %q, fade command %v", e.m.msg, fadeCmd != nil)
	}
	stale := fadeMsg{gen: e.m.msgGen - 1}
	e.m.Update(stale)
	if e.m.msg == "" {
		t.Error("a fade for an older message cleared the newer one")
	}
	e.m.Update(fadeMsg{gen: e.m.msgGen})
	if e.m.msg != "" || !strings.Contains(footerOf(e.m), "help") {
		t.Errorf("after the fade: message %q, footer %q", e.m.msg, footerOf(e.m))
	}
}

// TestTUISaveNameFromAFileOfOurs: w on a file bpftop-cap saved (-r)
// names the new file with its name once, not bpftop-cap-bpftop-cap-….
func TestTUISaveNameFromAFileOfOurs(t *testing.T) {
	dir := t.TempDir()
	s := &pcapSave{}
	e := newEnv(t, 120, 40, Config{Save: s.save, SaveDir: dir,
		Source: "bpftop-cap-demo0-20261206-120000.pcapng", Hook: "file", SaveTag: "bpftop-cap-demo0-20261206-120000"})
	e.fill()
	e.tick()
	runSave(e)
	want := filepath.Join(dir, "bpftop-cap-demo0-20261206-120000-20250304-050607.pcap")
	if _, err := os.Stat(want); err != nil {
		t.Errorf("saved as %q, want %s", e.m.msg, want)
	}
}

// TestTUIFileMode: a file's view says what the file is, not the ring's
// fill, and offers no pause (a file does not move).
func TestTUIFileMode(t *testing.T) {
	e := newEnv(t, 120, 40, Config{Source: "trace.pcap", Hook: "file", Facts: "pcapng, Ethernet, 1.5s"})
	e.fill()
	e.tick()
	e.press("space")
	if e.m.paused {
		t.Error("space paused a file's view")
	}
	v := e.m.View()
	top := strings.SplitN(v, "\n", 2)[0]
	if !strings.Contains(top, "pcapng, Ethernet, 1.5s") || strings.Contains(top, "ring ") {
		t.Errorf("status bar %q: want the file's facts, no ring", top)
	}
	if strings.Contains(footerOf(e.m), "pause") {
		t.Errorf("footer offers pause: %q", footerOf(e.m))
	}
}

// TestTUIFollow: F follows the top flow and its newest packet, as tail -f;
// FOLLOW shows in the status bar; a move by hand ends it.
func TestTUIFollow(t *testing.T) {
	e := newEnv(t, 120, 40, Config{})
	e.fill()
	e.tick()
	e.press("j", "j")
	e.press("s") // by packets: another flow on top
	if e.m.flows.list.cursor == 0 {
		t.Fatalf("the selected flow went to the top; pick another start (%v)", flowOrder(e.m))
	}
	e.press("F")
	e.tick()
	if !e.m.follow || e.m.flows.list.cursor != 0 || e.m.flows.selID != e.m.flows.rows[0].ID {
		t.Fatalf("F: follow %v, cursor %d", e.m.follow, e.m.flows.list.cursor)
	}
	if !strings.Contains(strings.SplitN(e.m.View(), "\n", 2)[0], "FOLLOW") {
		t.Error("FOLLOW not in the status bar")
	}
	e.press("s") // by rate: whatever is on top is selected
	e.tick()
	if e.m.flows.selID != e.m.flows.rows[0].ID {
		t.Errorf("following, the selection is not the top flow after a re-sort")
	}
	// The newest packet of the followed flow is selected as packets come.
	if n := len(e.m.packets.rows); n > 0 && e.m.packets.list.cursor != n-1 {
		t.Errorf("following, packet %d of %d is selected", e.m.packets.list.cursor, n)
	}
	e.press("j")
	if e.m.follow {
		t.Error("a move by hand did not end following")
	}
	if strings.Contains(strings.SplitN(e.m.View(), "\n", 2)[0], "FOLLOW") {
		t.Error("FOLLOW still shown")
	}
}

// TestTUIPacketStaysSelected: the packet being read stays selected while
// its flow's newer packets arrive (unless following).
func TestTUIPacketStaysSelected(t *testing.T) {
	e := newEnv(t, 120, 40, Config{})
	e.fill()
	e.tick()
	e.press("enter") // the packets of the selected flow
	e.tick()
	seq := e.m.packets.selSeq
	if !e.m.packets.ok {
		t.Fatal("no packet selected")
	}
	if sel, _ := e.m.flows.selected(); sel.A != "10.0.0.1:40000" {
		t.Fatalf("selected flow %s, want the TCP one", sel.A)
	}
	for i := 0; i < 3; i++ {
		e.add(packet.DirOut, tcpFrame(t, "10.0.0.1", 40000, "10.0.0.3", 80, false, true, []byte("more")))
	}
	e.tick()
	if len(e.m.packets.rows) < 6 {
		t.Fatalf("the new packets are not listed: %d rows", len(e.m.packets.rows))
	}
	if e.m.packets.selSeq != seq {
		t.Errorf("new packets of the flow moved the selection from #%d to #%d", seq, e.m.packets.selSeq)
	}
}

// TestTUIPacketNamesItsInterface: the packet detail's heading names the
// interface, not its index.
func TestTUIPacketNamesItsInterface(t *testing.T) {
	e := newEnv(t, 120, 40, Config{Source: "eth0", Hook: "tcx", Live: true, Interfaces: map[int]string{2: "eth0"}})
	e.fill()
	e.tick()
	e.press("enter", "enter")
	if h := e.m.hex.heading(); !strings.Contains(h, "· eth0") || strings.Contains(h, "ifindex") {
		t.Errorf("heading %q: want the interface's name", h)
	}
}

// TestTUIPacketNamesItsProcess: the packet detail's heading names the
// packet's process, made printable (a process chooses its own name).
func TestTUIPacketNamesItsProcess(t *testing.T) {
	names := map[uint32]string{4123: "curl\x1b[2J[4123]"}
	e := newEnv(t, 120, 40, Config{ProcessName: func(pid uint32, _ time.Time) string { return names[pid] }})
	pk := packet.Packet{Nanos: packet.Nanos(t0.Add(-time.Second)), Ifindex: 2, Dir: packet.DirOut}
	pk.Data = udpFrame(t, "10.0.0.1", 40000, "10.0.0.2", 53, []byte("q"))
	pk.OrigLen = uint32(len(pk.Data))
	pk.SetTask(4123, 0)
	e.eng.Add(pk)
	e.tick()
	e.press("enter", "enter")
	h := e.m.hex.heading()
	if !strings.Contains(h, "· curl") || !strings.Contains(h, "[4123]") || strings.Contains(h, "\x1b") {
		t.Errorf("heading %q: want the process, printable", h)
	}
}

// TestTUISaveSaysWhatTrafficOutran: packets that left the ring while w
// copied it are reported, as an error-coloured line, never a silent gap.
func TestTUISaveSaysWhatTrafficOutran(t *testing.T) {
	e := newEnv(t, 120, 40, Config{Save: (&pcapSave{}).save, SaveDir: t.TempDir()})
	e.m.Update(savedMsg{path: "x.pcap", n: 12000, missed: 194000})
	if !e.m.msgErr || !strings.Contains(e.m.msg, "194000 more left the ring during the save") {
		t.Errorf("message %q (error %v)", e.m.msg, e.m.msgErr)
	}
}
