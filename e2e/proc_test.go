package e2e

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// startHelper runs the helper mode as a process named comm in namespace
// ns; a server's start waits until it listens. The pid is the helper's
// (ip netns exec executes it in its own place).
func startHelper(t *testing.T, ns, comm, mode string, args ...string) (*proc, *syncBuffer) {
	t.Helper()
	cmd := testutil.Cmd(ns, helperAs(t, comm), args...)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	out := &syncBuffer{}
	cmd.Stdout = out
	p := startCmd(t, cmd)
	if strings.HasSuffix(mode, "-echo") {
		testutil.Eventually(t, 10*time.Second, func() bool { return strings.Contains(out.String(), "ready") },
			"%s never listened: %s", comm, p.stderr)
	}
	return p, out
}

// runClient runs a client helper to its end.
func runClient(t *testing.T, ns, comm, mode string, args ...string) int {
	t.Helper()
	pid, _ := runClientOut(t, ns, comm, mode, args...)
	return pid
}

// runClientOut runs a client helper to its end and returns its output too.
func runClientOut(t *testing.T, ns, comm, mode string, args ...string) (int, string) {
	t.Helper()
	p, out := startHelper(t, ns, comm, mode, args...)
	finishClient(t, p, out, comm)
	return p.cmd.Process.Pid, out.String()
}

// finishClient waits for client helper p, named comm, to end, having said
// "done" on out.
func finishClient(t *testing.T, p *proc, out *syncBuffer, comm string) {
	t.Helper()
	if err := p.wait(t, 20*time.Second, "%s did not finish", comm); err != nil || !strings.Contains(out.String(), "done") {
		t.Fatalf("%s: %v: %s", comm, err, p.stderr)
	}
}

// startProcCapture runs bpftop-cap on the pair's interface A with args,
// its stdout kept, and waits until capture is live.
func startProcCapture(t *testing.T, pair *testutil.Pair, args ...string) (*proc, *syncBuffer) {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready")
	cmd := testutil.Cmd(pair.NsA, binary, append([]string{"-i", pair.IfA, "--ready-file", ready}, args...)...)
	out := &syncBuffer{}
	cmd.Stdout = out
	p := startCmd(t, cmd)
	testutil.Eventually(t, 10*time.Second, func() bool {
		_, err := os.Stat(ready)
		return err == nil
	}, "bpftop-cap never became ready:\n%s", p.stderr)
	return p, out
}

// tsharkRows reads fields of every packet of a pcapng file with tshark.
func tsharkRows(t *testing.T, file string, fields ...string) [][]string {
	t.Helper()
	tshark := testutil.RequireTool(t, "tshark")
	args := []string{"-r", file, "-T", "fields", "-E", "separator=|"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command(tshark, args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var rows [][]string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		rows = append(rows, strings.Split(sc.Text(), "|"))
	}
	return rows
}

// TestProcUDP: a UDP server started before the capture and a client
// started after it, both in the capture's namespace, each talking to a
// peer in the other namespace: every packet of each, both ways, names its
// process and pid in the pcapng file's comments (tshark's frame.comment),
// with a packet id unique in the file and the CPU as its queue, and at the
// end of its text line.
func TestProcUDP(t *testing.T) {
	pair := testutil.NewPair(t)
	srv, _ := startHelper(t, pair.NsA, "bpcudpsrv", "udp-echo", pair.AddrA+":7001")
	startHelper(t, pair.NsB, "bpcpeer", "udp-echo", pair.AddrB+":7002")
	file := filepath.Join(t.TempDir(), "proc.pcapng")
	cap, text := startProcCapture(t, pair, "-w", file, "--print", "udp")
	// The walk of B's sockets switched a thread into B, never the main
	// thread, whose namespace /proc shows as the process's.
	var inA, capNs syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+pair.NsA, &inA); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(fmt.Sprintf("/proc/%d/ns/net", cap.cmd.Process.Pid), &capNs); err != nil {
		t.Fatal(err)
	}
	if capNs.Ino != inA.Ino {
		t.Errorf("the capture's main thread left its network namespace (%d, not A's %d)", capNs.Ino, inA.Ino)
	}
	cliPid := runClient(t, pair.NsA, "bpcudpcli", "udp-client", pair.AddrB+":7002", "5")
	runClient(t, pair.NsB, "bpcpeercli", "udp-client", pair.AddrA+":7001", "5")
	if err := cap.stop(t, syscall.SIGINT); err != nil {
		t.Fatalf("bpftop-cap: %v\n%s", err, cap.stderr)
	}
	want := map[string]string{ // port on A -> its process's comment
		"7001": "process: bpcudpsrv (pid " + strconv.Itoa(srv.cmd.Process.Pid) + ")",
	}
	ids := map[string]bool{}
	n := map[string]int{}
	for _, r := range tsharkRows(t, file, "frame.comment", "frame.packet_id", "frame.interface_queue", "udp.srcport", "udp.dstport") {
		comment, id, queue, sport, dport := r[0], r[1], r[2], r[3], r[4]
		wantComment := want["7001"]
		if sport != "7001" && dport != "7001" {
			wantComment = "process: bpcudpcli (pid " + strconv.Itoa(cliPid) + ")"
		}
		if !strings.Contains(comment, wantComment) || !strings.Contains(comment, "hook: tc") {
			t.Errorf("packet %s (%s -> %s): comment %q, want %q", id, sport, dport, comment, wantComment)
		}
		if id == "" || ids[id] {
			t.Errorf("packet id %q missing or repeated", id)
		}
		ids[id] = true
		if _, err := strconv.Atoi(queue); err != nil {
			t.Errorf("packet %s: queue %q, want the CPU", id, queue)
		}
		n[wantComment]++
	}
	for comment, k := range n {
		if k != 10 {
			t.Errorf("%d packets named %q, want 10 (5 each way)", k, comment)
		}
	}
	if len(n) != 2 {
		t.Errorf("processes named: %v", n)
	}
	lines := 0
	for _, l := range strings.Split(text.String(), "\n") {
		if l == "" {
			continue
		}
		lines++
		wantProc := ", process bpcudpcli[" + strconv.Itoa(cliPid) + "]"
		if strings.Contains(l, ".7001") {
			wantProc = ", process bpcudpsrv[" + strconv.Itoa(srv.cmd.Process.Pid) + "]"
		}
		if !strings.Contains(l, wantProc) {
			t.Errorf("text line %q does not end with %q", l, wantProc)
		}
	}
	if lines != 20 {
		t.Errorf("%d text lines, want 20:\n%s", lines, text)
	}
}

// TestProcTCPListener: a connection accepted by a server that listened
// before the capture is its server's from the first SYN (the listener's
// owner, seeded at start, found by the kernel's own socket lookup) to the
// last ACK, both ways, the client closing first: with a TCP listener, an
// MPTCP one (Go's default) and a plain TCP client, and MPTCP end to end.
// The stack looks up and sends from an MPTCP socket's TCP subflows, not
// the socket behind the descriptor the owner was seeded through.
func TestProcTCPListener(t *testing.T) {
	for _, c := range []struct{ name, server, client, bind string }{
		{"tcp", "tcp-echo", "tcp-client", ""},
		// Bound to 0.0.0.0 on a host that does not forward: a packet
		// on the port is the host's (or dropped), so it names the server.
		{"tcp-wildcard", "tcp-echo", "tcp-client", "0.0.0.0"},
		{"mptcp-listener", "mptcp-echo", "tcp-client", ""},
		{"mptcp", "mptcp-echo", "mptcp-client", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			pair := testutil.NewPair(t)
			bind := pair.AddrA
			if c.bind != "" {
				bind = c.bind
			}
			srv, srvOut := startHelper(t, pair.NsA, "bpctcpsrv", c.server, bind+":7003")
			if c.server == "mptcp-echo" && !strings.Contains(srvOut.String(), "ready mptcp") {
				testutil.SkipOrFail(t, "the kernel has no MPTCP (net.mptcp.enabled?): %s", srvOut)
			}
			file := filepath.Join(t.TempDir(), "tcp.pcapng")
			cap, _ := startProcCapture(t, pair, "-w", file, "tcp")
			_, cliOut := runClientOut(t, pair.NsB, "bpctcpcli", c.client, pair.AddrA+":7003", "3")
			if c.client == "mptcp-client" && !strings.Contains(cliOut, "mptcp") {
				t.Fatalf("the connection fell back to TCP: %s", cliOut)
			}
			// The server's FIN and the client's last ACK follow the
			// client's exit: wait for them in the file before stopping.
			testutil.Eventually(t, 10*time.Second, func() bool {
				return closedBoth(tsharkRows(t, file, "tcp.flags.str", "tcp.srcport"), "7003")
			}, "the connection's packets never all reached the file")
			if err := cap.stop(t, syscall.SIGINT); err != nil {
				t.Fatalf("bpftop-cap: %v\n%s", err, cap.stderr)
			}
			want := "process: bpctcpsrv (pid " + strconv.Itoa(srv.cmd.Process.Pid) + ")"
			rows := tsharkRows(t, file, "frame.comment", "tcp.flags.str", "tcp.srcport", "tcp.dstport", "tcp.len")
			if len(rows) == 0 || !strings.Contains(rows[0][1], "S") || strings.Contains(rows[0][1], "A") {
				t.Fatalf("the first packet is not the SYN: %v", rows)
			}
			kinds := map[string]bool{}
			for i, r := range rows {
				if !strings.Contains(r[0], want) {
					t.Errorf("packet %d (%s %s -> %s): comment %q, want %q", i+1, r[1], r[2], r[3], r[0], want)
				}
				kinds[segmentKind(r[1], r[2] == "7003", r[4] != "0")] = true
			}
			for _, k := range []string{"SYN in", "SYN-ACK out", "data in", "data out", "FIN in", "FIN out", "ACK in", "ACK out"} {
				if !kinds[k] {
					t.Errorf("no %s segment among %d: %v", k, len(rows), kinds)
				}
			}
		})
	}
}

// closedBoth says whether rows (tcp.flags.str, tcp.srcport) hold a whole
// connection to port srv: a FIN each way and, after the last of them, the
// other side's ACK.
func closedBoth(rows [][]string, srv string) bool {
	last, finIn, finOut := -1, false, false
	for i, r := range rows {
		if len(r) < 2 || !strings.Contains(r[0], "F") {
			continue
		}
		if r[1] == srv {
			finOut = true
		} else {
			finIn = true
		}
		last = i
	}
	if !finIn || !finOut {
		return false
	}
	for _, r := range rows[last+1:] {
		if len(r) >= 2 && r[1] != rows[last][1] && strings.Contains(r[0], "A") {
			return true
		}
	}
	return false
}

// segmentKind names a TCP segment by its flags (tshark's tcp.flags.str)
// and direction seen from the server: "SYN in", "SYN-ACK out", "FIN in",
// "data out", "ACK in".
func segmentKind(flags string, fromServer, data bool) string {
	dir := " in"
	if fromServer {
		dir = " out"
	}
	switch {
	case strings.Contains(flags, "S") && strings.Contains(flags, "A"):
		return "SYN-ACK" + dir
	case strings.Contains(flags, "S"):
		return "SYN" + dir
	case strings.Contains(flags, "F"):
		return "FIN" + dir
	case data:
		return "data" + dir
	}
	return "ACK" + dir
}

// TestProcForwarded: traffic a namespace routes between two others names
// no process there (no socket of the router's has it), not the sender's
// nor anyone's: "-" in the files and the text lines. The router has
// servers of its own bound to 0.0.0.0 on the forwarded ports, UDP and
// TCP, which the kernel's socket lookup at tc finds for the forwarded
// packets too; the traffic to the router's own address names them.
func TestProcForwarded(t *testing.T) {
	// A client namespace and a server namespace, each joined to the
	// router (the pair's A) by a veth pair of its own.
	pair := testutil.NewPair(t) // A: the router, B: the server
	cli := "bpc-c-" + strconv.Itoa(os.Getpid())
	ifR, ifC := "bpcr"+strconv.Itoa(os.Getpid()%10000), "bpcc"+strconv.Itoa(os.Getpid()%10000)
	base := strings.TrimSuffix(pair.AddrA, ".1")
	base = base[:strings.LastIndex(base, ".")] // 198.18
	sub := strings.Split(pair.AddrA, ".")[2]
	cliNet := base + ".250." // a /24 of its own beside the pair's
	if sub == "250" {
		cliNet = base + ".251."
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", cli).Run() })
	for _, c := range [][]string{
		{"netns", "add", cli},
		{"link", "add", ifR, "netns", pair.NsA, "type", "veth", "peer", "name", ifC, "netns", cli},
		{"-n", pair.NsA, "addr", "add", cliNet + "1/24", "dev", ifR},
		{"-n", cli, "addr", "add", cliNet + "2/24", "dev", ifC},
		{"-n", pair.NsA, "link", "set", ifR, "up"},
		{"-n", cli, "link", "set", ifC, "up"},
		{"-n", cli, "link", "set", "lo", "up"},
		{"-n", cli, "route", "add", "default", "via", cliNet + "1"},
		{"-n", pair.NsB, "route", "add", cliNet + "0/24", "via", pair.AddrA},
		{"netns", "exec", pair.NsA, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
		{"netns", "exec", cli, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"},
	} {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	startHelper(t, pair.NsB, "bpcfwdsrv", "udp-echo", pair.AddrB+":7004")
	startHelper(t, pair.NsB, "bpcfwdtsrv", "tcp-echo", pair.AddrB+":7005")
	rtr, _ := startHelper(t, pair.NsA, "bpcfwdrtr", "udp-echo", "0.0.0.0:7004")
	rtrT, _ := startHelper(t, pair.NsA, "bpcfwdrtrt", "tcp-echo", "0.0.0.0:7005")
	router := cliNet + "1" // the router's own address, on the client's side
	file := filepath.Join(t.TempDir(), "fwd.pcapng")
	ready := filepath.Join(t.TempDir(), "ready")
	cmd := testutil.Cmd(pair.NsA, binary, "-i", pair.IfA+","+ifR, "--ready-file", ready, "-w", file, "--print", "udp or tcp")
	text := &syncBuffer{}
	cmd.Stdout = text
	cap := startCmd(t, cmd)
	testutil.Eventually(t, 10*time.Second, func() bool { _, err := os.Stat(ready); return err == nil },
		"bpftop-cap never became ready:\n%s", cap.stderr)
	runClient(t, cli, "bpcfwdcli", "udp-client", pair.AddrB+":7004", "3")
	runClient(t, cli, "bpcfwdtcli", "tcp-client", pair.AddrB+":7005", "3")
	runClient(t, cli, "bpclocalcli", "udp-client", router+":7004", "3")
	runClient(t, cli, "bpclocaltcli", "tcp-client", router+":7005", "3")
	// The router's FIN and the client's last ACK follow the client's
	// exit: wait for them in the file before stopping.
	testutil.Eventually(t, 10*time.Second, func() bool {
		var local [][]string
		for _, r := range tsharkRows(t, file, "tcp.flags.str", "tcp.srcport", "ip.src", "ip.dst") {
			if len(r) == 4 && r[0] != "" && (r[2] == router || r[3] == router) {
				local = append(local, r)
			}
		}
		return closedBoth(local, "7005")
	}, "the connection to the router never closed in the file")
	if err := cap.stop(t, syscall.SIGINT); err != nil {
		t.Fatalf("bpftop-cap: %v\n%s", err, cap.stderr)
	}
	wantUDP := "process: bpcfwdrtr (pid " + strconv.Itoa(rtr.cmd.Process.Pid) + ")"
	wantTCP := "process: bpcfwdrtrt (pid " + strconv.Itoa(rtrT.cmd.Process.Pid) + ")"
	n := map[string]int{}
	for i, r := range tsharkRows(t, file, "frame.comment", "ip.src", "ip.dst", "udp.srcport", "tcp.srcport") {
		comment, local := r[0], r[1] == router || r[2] == router
		kind := "tcp"
		if r[3] != "" {
			kind = "udp"
		}
		switch {
		case !local && strings.Contains(comment, "process:"):
			t.Errorf("forwarded packet %d (%s %s -> %s) names a process: %q", i+1, kind, r[1], r[2], comment)
		case local && kind == "udp" && !strings.Contains(comment, wantUDP),
			local && kind == "tcp" && !strings.Contains(comment, wantTCP):
			t.Errorf("packet %d to or from the router (%s %s -> %s): comment %q", i+1, kind, r[1], r[2], comment)
		}
		if local {
			kind += " local"
		}
		n[kind]++
	}
	if n["udp"] != 12 { // 3 each way, seen entering and leaving the router
		t.Errorf("%d forwarded datagrams, want 12", n["udp"])
	}
	if n["udp local"] != 6 {
		t.Errorf("%d datagrams to and from the router, want 6", n["udp local"])
	}
	if n["tcp"] == 0 || n["tcp local"] == 0 {
		t.Errorf("TCP segments forwarded and local: %v", n)
	}
	for _, l := range strings.Split(text.String(), "\n") {
		if l == "" {
			continue
		}
		if local := strings.Contains(l, router+"."); local != strings.Contains(l, ", process bpcfwdrtr") {
			t.Errorf("line %q: to or from the router %v, names it %v", l, local, !local)
		}
	}
}

// TestProcFailedCalls: a process sharing a server's socket whose every
// call on it fails (a send too big, as a worker woken for a datagram
// another took gets EAGAIN) does not take the socket: every datagram to
// and from the server names the server (the tracepoints fire whatever
// the call's result).
func TestProcFailedCalls(t *testing.T) {
	pair := testutil.NewPair(t)
	file := filepath.Join(t.TempDir(), "failed.pcapng")
	cap, _ := startProcCapture(t, pair, "-w", file, "udp")
	// Started after the capture, so that the socket is the server's from
	// its creation (the seeding at start could give it to either).
	srv, _ := startHelper(t, pair.NsA, "bpcsharesrv", "udp-shared-echo", pair.AddrA+":7009", helperAs(t, "bpcfailer"))
	runClient(t, pair.NsB, "bpcsharecli", "udp-client", pair.AddrA+":7009", "20")
	if err := cap.stop(t, syscall.SIGINT); err != nil {
		t.Fatalf("bpftop-cap: %v\n%s", err, cap.stderr)
	}
	want := "process: bpcsharesrv (pid " + strconv.Itoa(srv.cmd.Process.Pid) + ")"
	rows := tsharkRows(t, file, "frame.comment", "udp.srcport", "udp.dstport")
	if len(rows) != 40 {
		t.Errorf("%d datagrams, want 40 (20 each way)", len(rows))
	}
	for i, r := range rows {
		if !strings.Contains(r[0], want) {
			t.Errorf("datagram %d (%s -> %s): comment %q, want %q", i+1, r[1], r[2], r[0], want)
		}
	}
}

// TestProcSaveFromView: the live view's w names each packet's process in
// the pcapng file it saves, as -w does: a server older than the capture
// and a client, every datagram both ways (tshark's frame.comment).
func TestProcSaveFromView(t *testing.T) {
	testutil.RequireTool(t, "tshark")
	pair := testutil.NewPair(t)
	dir := t.TempDir()
	srv, _ := startHelper(t, pair.NsA, "bpcvsrv", "udp-echo", pair.AddrA+":7007")
	startHelper(t, pair.NsB, "bpcvpeer", "udp-echo", pair.AddrB+":7008")
	s := startLiveView(t, dir, pair.NsA, "-i", pair.IfA, "udp")
	cliPid := runClient(t, pair.NsA, "bpcvcli", "udp-client", pair.AddrB+":7008", "3")
	runClient(t, pair.NsB, "bpcvpeercli", "udp-client", pair.AddrA+":7007", "2")
	// All ten in the view, not only a packet of each flow: the last
	// ones may still be on their way from the rings.
	s.waitFor("both flows", contains(":7007", ":7008", " 10 pkts "))
	path, saved := saveFromScreen(t, s, dir)
	s.keys("q")
	s.waitExit()
	if !strings.HasSuffix(path, ".pcapng") || saved != 10 {
		t.Fatalf("saved %d packets to %s, want 10 to a pcapng file", saved, path)
	}
	rows := tsharkRows(t, path, "frame.comment", "udp.srcport", "udp.dstport")
	if len(rows) != 10 {
		t.Fatalf("%d packets in %s, want 10", len(rows), path)
	}
	for i, r := range rows {
		want := "process: bpcvcli (pid " + strconv.Itoa(cliPid) + ")"
		if r[1] == "7007" || r[2] == "7007" {
			want = "process: bpcvsrv (pid " + strconv.Itoa(srv.cmd.Process.Pid) + ")"
		}
		if !strings.Contains(r[0], want) {
			t.Errorf("packet %d (%s -> %s): comment %q, want %q", i+1, r[1], r[2], r[0], want)
		}
	}
}
