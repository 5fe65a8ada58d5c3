package e2e

import (
	"strconv"
	"strings"
	"testing"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// TestProcLoopbackView: a UDP server and a client talking over lo in one
// namespace, the live view capturing lo (each packet recorded once,
// entering its receiver): the flow names both processes, and the
// processes view lists both with packets in and out, steadily (on lo the
// flow's packets name the two in turn).
func TestProcLoopbackView(t *testing.T) {
	testutil.RequireRoot(t)
	pair := testutil.NewPair(t)
	dir := t.TempDir()
	addr := "127.0.0.1:7031"
	srv, _ := startHelper(t, pair.NsA, "bpcloopsrv", "udp-echo", addr)
	s := startLiveView(t, dir, pair.NsA, "-i", "lo", "udp")
	cli, _ := startHelper(t, pair.NsA, "bpcloopcli", "udp-pinger", addr)
	srvName := "bpcloopsrv[" + strconv.Itoa(srv.cmd.Process.Pid) + "]"
	cliName := "bpcloopcli[" + strconv.Itoa(cli.cmd.Process.Pid) + "]"

	s.waitFor("the flow naming both processes", func(text string) bool {
		return rowWith(text, addr, cliName+", bpcloopsrv") // the column cuts the second
	})
	s.keys("p")
	text := s.waitFor("both processes with rates in and out", func(text string) bool {
		return strings.Contains(text, "Processes") && movingProc(text, srvName) && movingProc(text, cliName)
	})
	if strings.Contains(text, noProcessRow) {
		t.Errorf("loopback traffic counted for no process:\n%s", text)
	}
	s.keys("q", "q")
	s.waitExit()
}

// noProcessRow is the processes view's row of the traffic no local
// process owns (ui's noProcess).
const noProcessRow = "- no local process"
