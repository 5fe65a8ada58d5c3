package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// What a screen recording of --demo shows, checked in real terminals
// (tmux): aligned columns at 80x24 and 160x48, sparklines, a selection
// that stays put while the rows re-sort, colours that follow the
// terminal and NO_COLOR.

// flowRows returns the flow table's header and rows from a screen.
func flowRows(text string) (hdr string, rows []string) {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if !strings.Contains(l, "PROTO") || !strings.Contains(l, "ENDPOINTS") {
			continue
		}
		for _, r := range lines[i+1:] {
			if !strings.HasPrefix(r, "  ") && !strings.HasPrefix(r, "> ") || strings.Contains(r, "─") {
				break
			}
			if strings.TrimSpace(r) != "" {
				rows = append(rows, r)
			}
		}
		return l, rows
	}
	return "", nil
}

// gluedColumns returns the rows whose cells run into the next column: a
// left-aligned column (ENDPOINTS, LAST 30s, STATE, INFO) must start after
// a blank, a right-aligned one (PKTS, BYTES, RATE) must end before one.
func gluedColumns(hdr string, rows []string) []string {
	var starts, ends []int
	for _, name := range []string{"ENDPOINTS", "LAST 30s", "STATE", "INFO"} {
		if i := strings.Index(hdr, name); i > 0 {
			starts = append(starts, len([]rune(hdr[:i])))
		}
	}
	for _, name := range []string{"PKTS", "BYTES", "RATE"} {
		if i := strings.Index(hdr, name); i > 0 {
			ends = append(ends, len([]rune(hdr[:i]))+len(name))
		}
	}
	var bad []string
	for _, r := range rows {
		rr := []rune(r)
		ok := true
		for _, c := range starts {
			if c-1 < len(rr) && rr[c-1] != ' ' {
				ok = false
			}
		}
		for _, c := range ends {
			if c < len(rr) && rr[c] != ' ' {
				ok = false
			}
		}
		if !ok {
			bad = append(bad, r)
		}
	}
	return bad
}

var sparkRE = regexp.MustCompile(`[▁▂▃▄▅▆▇█]`)

func TestTUIRecording(t *testing.T) {
	testutil.RequireRoot(t)
	for _, sz := range []struct{ w, h int }{{80, 24}, {160, 48}} {
		// Without CI in the environment: termenv takes it for "no colours".
		s := startScreen(t, t.TempDir(), sz.w, sz.h, "env", "-u", "CI", binary, "--demo")
		// Every kind of demo traffic has a row, and the totals have a graph.
		text := s.waitFor("the demo's flows", func(text string) bool {
			_, rows := flowRows(text)
			lines := strings.Split(text, "\n")
			return len(rows) >= 5 && len(lines) > 1 && strings.Contains(lines[1], "pkts/s") && sparkRE.MatchString(lines[1])
		})
		hdr, rows := flowRows(text)
		if bad := gluedColumns(hdr, rows); len(bad) > 0 {
			t.Errorf("%dx%d: columns run together in:\n%s\nscreen:\n%s", sz.w, sz.h, strings.Join(bad, "\n"), text)
		}
		if sz.w >= 120 {
			if !strings.Contains(hdr, "LAST 30s") {
				t.Errorf("%dx%d: no sparkline column:\n%s", sz.w, sz.h, text)
			}
			s.waitFor("a flow's sparkline", func(text string) bool {
				_, rows := flowRows(text)
				for _, r := range rows {
					if sparkRE.MatchString(r) {
						return true
					}
				}
				return false
			})
		}
		// Sorted by rate, with another row selected: for five seconds of
		// demo traffic the selection stays on the same flow, wherever it
		// sorts to.
		selected := func(text string) string {
			_, rows := flowRows(text)
			for _, r := range rows {
				if f := strings.Fields(r[2:]); strings.HasPrefix(r, "> ") && len(f) >= 4 {
					return strings.Join(f[1:4], " ") // A <-> B
				}
			}
			return ""
		}
		s.keys("s", "s")
		top := selected(s.waitFor("sort by rate", contains("sort rate")))
		s.keys("j", "j")
		s.waitFor("the selection to move", func(text string) bool { got := selected(text); return got != "" && got != top })
		time.Sleep(300 * time.Millisecond) // both presses handled
		first := selected(s.text())
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
			text := s.text()
			if got := selected(text); got != first {
				t.Fatalf("%dx%d: the selection moved from %q to %q while sorting by rate:\n%s", sz.w, sz.h, first, got, text)
			}
		}
		// Colours, as the terminal allows.
		out, err := s.tmux("capture-pane", "-e", "-p", "-t", s.name)
		if err != nil || !regexp.MustCompile(`\x1b\[[0-9;]*3[1-6]m`).Match(out) {
			t.Errorf("%dx%d: no colours on a colour terminal (%v)", sz.w, sz.h, err)
		}
		s.keys("q")
		s.waitExit()
	}
}

// TestTUINoColor: NO_COLOR and TERM=dumb give a view without colours,
// still marked (the cursor's '>', the focused pane's '▶').
func TestTUINoColor(t *testing.T) {
	testutil.RequireRoot(t)
	for _, env := range []string{"NO_COLOR=1", "TERM=dumb"} {
		s := startScreen(t, t.TempDir(), 120, 40, "env", "-u", "CI", env, binary, "--demo")
		text := s.waitFor("the demo's flows", func(text string) bool { _, rows := flowRows(text); return len(rows) >= 3 })
		if !strings.Contains(text, "▶ Flows") || !strings.Contains(text, "\n> ") {
			t.Errorf("%s: focus or cursor not marked:\n%s", env, text)
		}
		out, err := s.tmux("capture-pane", "-e", "-p", "-t", s.name)
		if err != nil {
			t.Fatal(err)
		}
		if m := regexp.MustCompile(`\x1b\[[0-9;]*(3[0-7]|9[0-7]|38;[0-9;]+)m`).Find(out); m != nil {
			t.Errorf("%s: colour code %q on screen", env, m)
		}
		s.keys("q")
		s.waitExit()
	}
}

// TestGluedColumns checks the check: it finds the glued rows seen before
// issue 21 and passes aligned ones.
func TestGluedColumns(t *testing.T) {
	hdr := "  PROTO ENDPOINTS                          PKTS    BYTES      RATE INFO"
	good := "  UDP   10.0.0.1:5000 <-> 10.0.0.2:53         2     142B   1.1kb/s example.com."
	glued := "  ICMPv6fe80::483e:1 <-> ff02::16            2     142B   1.1kb/s"
	long := "  UDP   10.0.0.1:5000 <-> 10.0.0.2:53      123456789 142B   1.1kb/s"
	if bad := gluedColumns(hdr, []string{good, glued, long}); len(bad) != 2 || bad[0] != glued || bad[1] != long {
		t.Errorf("glued rows found: %q", bad)
	}
}

// TestTUIFollowStreamDemo: f on one of the demo's HTTP flows shows the
// request and the response's body, as Wireshark's Follow TCP Stream.
func TestTUIFollowStreamDemo(t *testing.T) {
	testutil.RequireRoot(t)
	s := startScreen(t, t.TempDir(), 120, 40, binary, "--demo")
	s.waitFor("an HTTP flow", contains(":80 ", "GET /"))
	s.keys("/")
	s.keys("-l", "tcp port 80")
	s.keys("Enter")
	s.waitFor("the HTTP flows alone", func(text string) bool {
		_, rows := flowRows(text)
		if len(rows) == 0 {
			return false
		}
		for _, r := range rows {
			if !strings.Contains(r, ":80 ") {
				return false
			}
		}
		return true
	})
	s.keys("f")
	s.waitFor("the request and the response body", contains("Follow TCP stream", "→ GET /", "← HTTP/1.1 200 OK", "← bpftop-cap demo: GET /", "lorem ipsum"))
	s.keys("x")
	s.waitFor("the hex dump", contains("47 45 54 20")) // "GET "
	s.keys("Escape")
	s.waitFor("the flow table again", contains("▶ Flows"))
	s.keys("q")
	s.waitExit()
}

// TestTUIStatisticsDemo: S on the demo lists its conversation and the
// protocols it speaks, live.
func TestTUIStatisticsDemo(t *testing.T) {
	testutil.RequireRoot(t)
	s := startScreen(t, t.TempDir(), 120, 40, binary, "--demo")
	s.waitFor("the demo's flows", func(text string) bool { _, rows := flowRows(text); return len(rows) >= 5 })
	s.keys("S")
	s.waitFor("the conversations", contains("Conversations", "198.18.77.1", "198.18.77.2"))
	s.keys("3")
	s.waitFor("the protocol hierarchy", contains("Ethernet", "IPv4", "TCP", "UDP", "TLS", "HTTP", "DNS"))
	s.keys("Escape")
	s.waitFor("the flow table again", contains("▶ Flows"))
	s.keys("q")
	s.waitExit()
}
