package e2e

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// TestTUIProcesses: a UDP server started before the live view and a
// client started after it, both in the capture's namespace under
// distinctive names, each with a peer in the other namespace keeping
// traffic going. The flow table's PROCESS column names each flow's
// process; p lists both processes with rates in and out; enter on the
// client lists its flows only, the status bar saying whose, and goes on
// to its packets; esc comes back. The ring saved (w, pcapng) and read
// back (-r) lists them too, from its comments, and so does a view of a
// capture piped to it as pcapng (-w - | -r -).
func TestTUIProcesses(t *testing.T) {
	testutil.RequireRoot(t)
	pair := testutil.NewPair(t)
	dir := t.TempDir()
	srvAddr, echoAddr := pair.AddrA+":7011", pair.AddrB+":7012"
	srv, _ := startHelper(t, pair.NsA, "bpcviewsrv", "udp-echo", srvAddr)
	startHelper(t, pair.NsB, "bpcviewecho", "udp-echo", echoAddr)
	s := startLiveView(t, dir, pair.NsA, "-i", pair.IfA, "--format", "pcapng", "udp")
	cli, _ := startHelper(t, pair.NsA, "bpcviewcli", "udp-pinger", echoAddr)
	startHelper(t, pair.NsB, "bpcviewpeer", "udp-pinger", srvAddr)
	srvName := "bpcviewsrv[" + strconv.Itoa(srv.cmd.Process.Pid) + "]"
	cliName := "bpcviewcli[" + strconv.Itoa(cli.cmd.Process.Pid) + "]"

	// Each flow's row names its process.
	s.waitFor("both flows, each with its process", func(text string) bool {
		return rowWith(text, srvAddr, srvName) && rowWith(text, echoAddr, cliName)
	})

	// The processes view: both, with packets coming and going now.
	s.keys("p")
	text := s.waitFor("both processes with rates in and out", func(text string) bool {
		return strings.Contains(text, "Processes") && movingProc(text, srvName) && movingProc(text, cliName)
	})
	if !strings.Contains(text, "PROCESS") {
		t.Errorf("no column headings:\n%s", text)
	}

	// Enter on the client: its flows only.
	selectProcRow(t, s, cliName)
	s.keys("Enter")
	text = s.waitFor("the client's flows", contains("FLOWS OF "+cliName, "Flows 1 of "+cliName))
	for _, l := range flowPane(text) {
		if !strings.Contains(l, cliName) || strings.Contains(l, srvAddr) {
			t.Errorf("flow row %q listed under %s:\n%s", l, cliName, text)
		}
	}
	if len(flowPane(text)) != 1 {
		t.Errorf("the client's flows: %q, want its one flow", flowPane(text))
	}
	s.keys("Enter")
	s.waitFor("the client's packets", contains("Packets of UDP", echoAddr))
	s.keys("Escape")
	s.keys("Escape")
	s.waitFor("the processes view again", func(text string) bool {
		return strings.Contains(text, "Processes") && selectedRow(text, cliName)
	})

	// The ring, saved as pcapng, names the processes in its comments: -r
	// lists them.
	path, _ := saveFromScreen(t, s, dir)
	s.keys("q", "q")
	s.waitExit()
	r := startScreen(t, dir, 120, 40, binary, "-r", path)
	r.waitFor("the saved ring", contains(filepath.Base(path), srvAddr))
	r.keys("p")
	r.waitFor("the file's processes", contains("Processes", srvName, cliName))
	r.keys("q", "q")
	r.waitExit()

	// A capture piped as pcapng to a view (-r -) names them as they come.
	ready := filepath.Join(t.TempDir(), "ready")
	pipe := shellQuote(binary, "-i", pair.IfA, "--ready-file", ready, "-w", "-", "--format", "pcapng", "udp") + " | " + shellQuote(binary, "-r", "-")
	p := startScreen(t, dir, 120, 40, "ip", "netns", "exec", pair.NsA, "sh", "-c", pipe)
	p.waitFor("the stream's flows, each with its process", func(text string) bool {
		return rowWith(text, srvAddr, srvName) && rowWith(text, echoAddr, cliName)
	})
	p.keys("p")
	p.waitFor("the stream's processes with rates", func(text string) bool {
		return movingProc(text, srvName) && movingProc(text, cliName)
	})
	p.keys("q", "q")
	p.waitExit()
}

// rowWith reports whether a line of the screen holds all of subs.
func rowWith(text string, subs ...string) bool {
	for _, l := range strings.Split(text, "\n") {
		if contains(subs...)(l) {
			return true
		}
	}
	return false
}

// procCells returns the cells of the processes view's row naming name,
// by the right edges of the header's columns (numbers are right
// aligned), or nil.
func procCells(text, name string) map[string]string {
	lines := strings.Split(text, "\n")
	var head []rune
	for _, l := range lines {
		if strings.Contains(l, "PROCESS") && strings.Contains(l, "IN p/s") {
			head = []rune(l)
		}
	}
	if head == nil {
		return nil
	}
	for _, l := range lines {
		if !strings.Contains(l, name) {
			continue
		}
		row := []rune(l)
		cells := map[string]string{}
		prev := 0
		for _, h := range []string{"IN p/s", "OUT p/s", "IN b/s", "OUT b/s"} {
			end := strings.Index(string(head), h)
			if end < 0 {
				return nil
			}
			end = len([]rune(string(head)[:end])) + len(h)
			if end > len(row) {
				return nil
			}
			cells[h] = strings.TrimSpace(string(row[prev:end]))
			prev = end
		}
		return cells
	}
	return nil
}

// movingProc reports whether the row of name has packets and bits both
// in and out in the last second.
func movingProc(text, name string) bool {
	c := procCells(text, name)
	if c == nil {
		return false
	}
	for _, v := range c {
		if v == "" || v == "0" {
			return false
		}
	}
	return true
}

// selectedRow reports whether the row under the cursor (marked "> ")
// holds sub.
func selectedRow(text, sub string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "> ") && strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

// selectProcRow moves the processes view's cursor to the row of name.
func selectProcRow(t *testing.T, s *screen, name string) {
	t.Helper()
	s.keys("g")
	for range 20 {
		text := s.text()
		if selectedRow(text, name) {
			return
		}
		was := selectedName(text)
		s.keys("j")
		s.waitFor("the cursor to move", func(text string) bool { return selectedName(text) != was })
	}
	t.Fatalf("no row of %s:\n%s", name, s.text())
}

func selectedName(text string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "> ") {
			return strings.Fields(l)[1]
		}
	}
	return ""
}

// flowPane returns the rows of the flow table: the lines between its
// column headings and the packet list's title.
func flowPane(text string) []string {
	var rows []string
	in := false
	for _, l := range strings.Split(text, "\n") {
		switch {
		case strings.Contains(l, "PROTO") && strings.Contains(l, "ENDPOINTS"):
			in = true
		case strings.Contains(l, "Packets"):
			return rows
		case in && strings.TrimSpace(l) != "":
			rows = append(rows, l)
		}
	}
	return rows
}
