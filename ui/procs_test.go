package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// newProcEnv is an env whose capture names processes, filled with
// fillProcs.
func newProcEnv(t *testing.T, w, h int) *env {
	e := newEnv(t, w, h, Config{ShowProcess: true})
	names := map[uint32]string{100: "curl[100]", 200: "nginx[200] abc123def456", 300: "redis[300] abc123def456"}
	e.eng.SetProcessNames(func(pid uint32, _ time.Time) string { return names[pid] })
	e.eng.SetProcessContainers(func(pid uint32, _ time.Time) string {
		if pid == 200 || pid == 300 {
			return "docker abc123def456"
		}
		return ""
	})
	e.fillProcs()
	e.tick()
	return e
}

// addPid feeds a frame of process pid, as add does.
func (e *env) addPid(dir packet.Dir, pid uint32, data []byte) {
	e.seq++
	p := packet.Packet{Nanos: packet.Nanos(t0.Add(-time.Second + time.Duration(e.seq)*time.Millisecond)), Ifindex: 2, Dir: dir, OrigLen: uint32(len(data)), Data: data}
	p.SetTask(pid, 0)
	e.eng.Add(p)
}

// fillProcs adds flows of processes:
//
//	curl[100]: TCP 10.0.0.1:40000 <-> 10.0.0.3:80 (3 packets, large) and
//	           UDP 10.0.0.1:5000 -> 10.0.0.2:53 (2 queries)
//	nginx[200], in container docker abc123def456: UDP 10.0.0.4:6000 -> 10.0.0.5:7000 (6 tiny, in)
//	redis[300], in the same container: UDP 10.0.0.6:1234 -> 10.0.0.7:4321 (1)
//	none: UDP 10.0.0.8:9 -> 10.0.0.9:9 (4 of 500 bytes, forwarded)
func (e *env) fillProcs() {
	t := e.t
	for range 2 {
		e.addPid(packet.DirOut, 100, udpFrame(t, "10.0.0.1", 5000, "10.0.0.2", 53, dnsQuery([]byte("example"), []byte("com"))))
	}
	e.addPid(packet.DirOut, 100, tcpFrame(t, "10.0.0.1", 40000, "10.0.0.3", 80, true, false, nil))
	e.addPid(packet.DirIn, 100, tcpFrame(t, "10.0.0.3", 80, "10.0.0.1", 40000, true, true, nil))
	e.addPid(packet.DirOut, 100, tcpFrame(t, "10.0.0.1", 40000, "10.0.0.3", 80, false, true,
		append([]byte("GET /index.html HTTP/1.1\r\nHost: bpf.example\r\n\r\n"), make([]byte, 900)...)))
	for range 6 {
		e.addPid(packet.DirIn, 200, udpFrame(t, "10.0.0.4", 6000, "10.0.0.5", 7000, []byte("bpf")))
	}
	e.addPid(packet.DirOut, 300, udpFrame(t, "10.0.0.6", 1234, "10.0.0.7", 4321, []byte("newest")))
	for range 4 {
		e.addPid(packet.DirIn, 0, udpFrame(t, "10.0.0.8", 9, "10.0.0.9", 9, make([]byte, 500)))
	}
}

// procRows lists the processes view's rows by their first cell.
func procRows(m *Model) []string {
	var out []string
	for i := range m.procs.rows {
		out = append(out, strings.TrimRight(rowName(&m.procs.rows[i]), " "))
	}
	return out
}

// selectProc moves the processes view's cursor to the row named name.
func (e *env) selectProc(name string) {
	e.press("g")
	for i := 0; selectedProc(e.m) != name; i++ {
		if i == len(e.m.procs.rows) {
			e.t.Fatalf("no row %q in %q", name, procRows(e.m))
		}
		e.press("j")
	}
}

func selectedProc(m *Model) string {
	return strings.TrimSpace(rowName(&m.procs.rows[m.procs.list.cursor]))
}

// TestTUIProcesses: p shows a row per process and container, sorted as
// the flow table is sorted, with rates in and out; the selection stays on
// its row as rows are re-sorted; esc and p go back to the flow table.
func TestTUIProcesses(t *testing.T) {
	e := newProcEnv(t, 120, 40)
	m := e.m
	e.press("p")
	if !m.procsShown() {
		t.Fatal("p does not open the processes view")
	}
	// By bytes: the 4 forwarded datagrams (2.2 kB) beat curl's 3 packets
	// and 2 queries; the container sums its two.
	want := []string{noProcess, "curl[100]", "docker abc123def456", "  nginx[200]", "  redis[300]"}
	if got := procRows(m); !equal(got, want) {
		t.Fatalf("rows by bytes %q, want %q", got, want)
	}
	rows := m.procs.rows
	if c := rows[2]; c.Members != 2 || c.Flows != 2 || c.PktsIn != 6 || c.PktsOut != 1 {
		t.Errorf("container row: %+v", c)
	}
	if c := rows[1]; c.Flows != 2 || c.PktsOut != 4 || c.PktsIn != 1 || c.PPSOut != 4 || c.PPSIn != 1 || c.BPSOut == 0 {
		t.Errorf("curl's row: %+v", c)
	}
	v := m.View()
	for _, s := range []string{"Processes 3", "sort bytes", "PROCESS", "IN p/s", "OUT b/s", "FLOWS", "LAST 30s", noProcess, "  nginx[200]  "} {
		if !strings.Contains(v, s) {
			t.Errorf("view lacks %q:\n%s", s, v)
		}
	}
	if strings.Contains(v, "nginx[200] abc123") {
		t.Errorf("a process under its container repeats the container's id:\n%s", v)
	}
	checkScreen(t, v, 120, 40)

	// s sorts by packets; the selection follows its row.
	e.press("j")
	if selectedProc(m) != "curl[100]" {
		t.Fatalf("j: selected %q", selectedProc(m))
	}
	e.press("s")
	want = []string{"docker abc123def456", "  nginx[200]", "  redis[300]", "curl[100]", noProcess}
	if got := procRows(m); !equal(got, want) {
		t.Fatalf("rows by packets %q, want %q", got, want)
	}
	if selectedProc(m) != "curl[100]" || !strings.Contains(m.View(), "sort packets") {
		t.Errorf("after s: selected %q", selectedProc(m))
	}
	// The rows stay where they are from one tick to the next.
	e.tick()
	e.tick()
	if got := procRows(m); !equal(got, want) || selectedProc(m) != "curl[100]" {
		t.Errorf("after two ticks: %q, selected %q", got, selectedProc(m))
	}
	e.press("s", "s", "s") // back to bytes, for the flow table too

	e.press("esc")
	if m.procs != nil || len(m.flows.rows) != 5 {
		t.Fatalf("esc: processes %v, %d flows", m.procs, len(m.flows.rows))
	}
	e.press("p", "p")
	if m.procs != nil {
		t.Error("p does not close the processes view")
	}
	e.press("p", "q")
	if m.procs != nil {
		t.Error("q does not close the processes view")
	}
}

// TestTUIProcessesDrill: enter on a process lists its flows in the flow
// table, the status bar saying whose; enter goes on to its packets and a
// packet as from the flow table; esc comes back step by step to the
// processes view, on the same row. A container's row lists the flows of
// its processes, "-" those of none.
func TestTUIProcessesDrill(t *testing.T) {
	e := newProcEnv(t, 120, 40)
	m := e.m
	e.press("p", "j", "enter")
	if m.procsShown() || m.focus != paneFlows {
		t.Fatal("enter on a process: not its flows")
	}
	if len(m.flows.rows) != 2 {
		t.Fatalf("curl's flows: %d rows", len(m.flows.rows))
	}
	for _, f := range m.flows.rows {
		if f.Pid != 100 || f.Process != "curl[100]" {
			t.Errorf("flow %s <-> %s of %d %q listed under curl", f.A, f.B, f.Pid, f.Process)
		}
	}
	v := m.View()
	status := strings.SplitN(v, "\n", 2)[0]
	if !strings.Contains(status, "FLOWS OF curl[100]") || !strings.Contains(v, "Flows 2 of curl[100] (esc: processes)") {
		t.Errorf("the drill is not said:\n%s", v)
	}
	// On to the packets and one packet, as from the flow table.
	e.press("enter")
	if m.focus != panePackets || len(m.packets.rows) != 3 {
		t.Fatalf("enter on curl's TCP flow: focus %d, %d packets", m.focus, len(m.packets.rows))
	}
	e.press("enter")
	if m.focus != paneHex || !strings.Contains(m.View(), "GET /index.html") {
		t.Fatalf("enter on a packet: focus %d", m.focus)
	}
	e.press("esc", "esc")
	if m.focus != paneFlows || m.procs.drill == nil {
		t.Fatalf("esc esc: focus %d, drill %v", m.focus, m.procs.drill)
	}
	// New flows of others do not come into the drilled table.
	e.addPid(packet.DirOut, 300, udpFrame(t, "10.0.0.6", 1235, "10.0.0.7", 4321, []byte("x")))
	e.tick()
	if len(m.flows.rows) != 2 {
		t.Errorf("another process's new flow listed: %d rows", len(m.flows.rows))
	}
	e.press("esc")
	if !m.procsShown() || selectedProc(m) != "curl[100]" {
		t.Fatalf("esc from the drilled table: shown %v, selected %q", m.procsShown(), selectedProc(m))
	}

	// The container's row: its two processes' flows (redis has two now).
	e.press("j", "enter")
	pids := map[uint32]int{}
	for _, f := range m.flows.rows {
		pids[f.Pid]++
	}
	if len(m.flows.rows) != 3 || pids[200] != 1 || pids[300] != 2 || !strings.Contains(m.View(), "FLOWS OF container docker abc123def456") {
		t.Errorf("the container's flows: %v\n%s", pids, m.View())
	}
	// p comes back too; "-" lists the flows of no process.
	e.press("p", "g", "enter")
	if len(m.flows.rows) != 1 || m.flows.rows[0].Pid != 0 || m.flows.rows[0].A != "10.0.0.8:9" || !strings.Contains(m.View(), "FLOWS OF "+noProcess) {
		t.Errorf("the flows of no process: %+v", m.flows.rows)
	}
	// A display filter narrows the drilled table further.
	e.press("p")
	e.selectProc("curl[100]")
	e.press("enter")
	e.press("/")
	e.typeText("~:53")
	e.press("enter")
	if len(m.flows.rows) != 1 || m.flows.rows[0].B != "10.0.0.2:53" {
		t.Errorf("filter ~:53 in curl's flows: %+v", m.flows.rows)
	}
	// Esc clears the filter first, then goes back.
	e.press("esc")
	if m.filter != "" || m.procsShown() || len(m.flows.rows) != 2 {
		t.Errorf("esc with a filter: filter %q, %d flows, processes shown %v", m.filter, len(m.flows.rows), m.procsShown())
	}
	e.press("esc")
	if !m.procsShown() {
		t.Error("esc without a filter does not go back to the processes")
	}
}

// TestTUIProcessesOff: without process attribution p does nothing, and
// neither help nor the footer offers it.
func TestTUIProcessesOff(t *testing.T) {
	e := newEnv(t, 120, 40, Config{})
	e.fill()
	e.tick()
	e.press("p")
	if e.m.procs != nil {
		t.Error("p opened the processes view without attribution")
	}
	if strings.Contains(footerOf(e.m), "p processes") {
		t.Errorf("footer offers p: %q", footerOf(e.m))
	}
	on := newProcEnv(t, 120, 40)
	if !strings.Contains(footerOf(on.m), "p processes") {
		t.Errorf("footer does not offer p: %q", footerOf(on.m))
	}
	on.press("?")
	if !strings.Contains(on.m.View(), on.m.keys.Procs.Help().Desc) {
		t.Errorf("help lacks p:\n%s", on.m.View())
	}
}

// TestTUIProcessesGolden: the processes view at 80 and 120 columns.
func TestTUIProcessesGolden(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		w, h := size[0], size[1]
		t.Run(fmt.Sprintf("%dx%d", w, h), func(t *testing.T) {
			e := newProcEnv(t, w, h)
			e.press("p", "j")
			got := e.m.View()
			checkScreen(t, got, w, h)
			golden(t, fmt.Sprintf("procs-%dx%d", w, h), got)
		})
	}
}

// TestProcColumns: the columns kept as the width shrinks: sparklines
// before packets, the name never below its least.
func TestProcColumns(t *testing.T) {
	for _, tc := range []struct {
		w     int
		graph int
		heads string
	}{
		{200, 30, "IN p/s OUT p/s IN b/s OUT b/s PACKETS BYTES FLOWS"},
		{120, 15, "IN p/s OUT p/s IN b/s OUT b/s PACKETS BYTES FLOWS"},
		{80, 10, "IN p/s OUT p/s IN b/s OUT b/s BYTES FLOWS"},
		{60, 0, "IN p/s OUT p/s IN b/s OUT b/s BYTES"},
	} {
		v := &procView{graphs: true}
		nameW, shown, graph := v.columns(tc.w)
		var heads []string
		used := 2 + nameW
		for _, c := range shown {
			heads = append(heads, c.head)
			used += c.w + 1
		}
		if graph > 0 {
			used += graph + 1
		}
		if got := strings.Join(heads, " "); got != tc.heads || graph != tc.graph || nameW < minProcName || used != tc.w {
			t.Errorf("%d cells: %q, graph %d, name %d, %d used", tc.w, got, graph, nameW, used)
		}
	}
}

// TestTUIProcessesLater: a stream that names processes only once its
// packets come (Config.Processes) gets the PROCESS column and p then.
func TestTUIProcessesLater(t *testing.T) {
	named := false
	e := newEnv(t, 120, 40, Config{Processes: func() bool { return named }})
	e.fill()
	e.tick()
	e.press("p")
	if e.m.procs != nil || strings.Contains(e.m.View(), "PROCESS") {
		t.Fatal("p or PROCESS before the stream names a process")
	}
	named = true
	e.tick()
	e.press("p")
	if !e.m.procsShown() {
		t.Error("p does nothing once the stream names processes")
	}
	e.press("esc")
	if !strings.Contains(e.m.View(), "PROCESS") {
		t.Errorf("no PROCESS column:\n%s", e.m.View())
	}
}

// TestProcsKeyWithoutProcesses: p without process names says why, on the
// status line, and opens nothing.
func TestProcsKeyWithoutProcesses(t *testing.T) {
	e := newEnv(t, 120, 30, Config{NoProcesses: "no process names: --no-proc"})
	e.press("p")
	if e.m.procsShown() {
		t.Fatal("p opened the processes view without processes")
	}
	if v := e.m.View(); !strings.Contains(v, "no process names: --no-proc") {
		t.Errorf("p does not say why:\n%s", v)
	}
}
