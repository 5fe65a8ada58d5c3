package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// startText runs bpftop-cap in namespace A with its stdout a pipe (text
// mode), waits until capture is live, and returns its output to read.
func startText(t *testing.T, pair *testutil.Pair, args ...string) (*proc, *bufio.Reader) {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	cmd := testutil.Cmd(pair.NsA, binary, append([]string{"--ready-file", ready}, args...)...)
	cmd.Stdout = w
	p := startCmd(t, cmd)
	w.Close() // the child has it: EOF when it exits
	testutil.Eventually(t, 10*time.Second, func() bool {
		p.failIfExited(t, "bpftop-cap")
		_, err := os.Stat(ready)
		return err == nil
	}, "bpftop-cap never became ready:\n%s", p.stderr)
	return p, bufio.NewReader(r)
}

// readLine reads a line, failing the test if none comes (a line held in
// a buffer would never come while the capture waits for more packets).
func readLine(t *testing.T, p *proc, rd *bufio.Reader) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		line, _ := rd.ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		return line
	case <-time.After(10 * time.Second):
		t.Fatalf("no line printed within 10s of the packet; stderr:\n%s", p.stderr)
	}
	return ""
}

// TestTextLive: without a terminal on stdout, a capture prints each
// packet as tcpdump's line as it comes (the first is read before the rest
// are sent), stops after -c of them, and exits 0. Each line ends with the
// process that receives the datagram: this test's.
func TestTextLive(t *testing.T) {
	pair := testutil.NewPair(t)
	const port = 41230
	p, rd := startText(t, pair, "-i", pair.IfA, "-c", "20", "udp", "and", "dst", "port", fmt.Sprint(port))
	lineRE := regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{6} IP ` + regexp.QuoteMeta(pair.AddrB) + `\.\d+ > ` +
		regexp.QuoteMeta(pair.AddrA) + fmt.Sprintf(`\.%d: UDP, length (\d+), process e2e\.test\[%d\]\n$`, port, os.Getpid()))

	sendUDP(t, pair, port, []int{100})
	first := readLine(t, p, rd)
	if m := lineRE.FindStringSubmatch(first); m == nil || m[1] != "100" {
		t.Fatalf("first line %q, want a UDP line of length 100", first)
	}
	// 24 more: the capture prints 19 of them and stops.
	sizes := make([]int, 24)
	for i := range sizes {
		sizes[i] = 101 + i
	}
	sendUDP(t, pair, port, sizes)
	rest, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-p.done; err != nil {
		t.Fatalf("exit: %v\n%s", err, p.stderr)
	}
	p.done <- nil
	lines := strings.SplitAfter(strings.TrimSuffix(string(rest), "\n"), "\n")
	if len(lines)+1 != 20 {
		t.Fatalf("%d lines printed with -c 20:\n%s%s", len(lines)+1, first, rest)
	}
	for i, l := range lines {
		if !strings.HasSuffix(l, "\n") {
			l += "\n"
		}
		m := lineRE.FindStringSubmatch(l)
		if m == nil || m[1] != fmt.Sprint(101+i) {
			t.Errorf("line %d: %q, want a UDP line of length %d", i+2, l, 101+i)
		}
	}
	if !strings.Contains(p.stderr.String(), "20 packets captured") {
		t.Errorf("summary: %s", p.stderr)
	}
}

// TestTextLiveAny: with -i any each line names the interface and the
// direction, as tcpdump -i any prints them (--no-proc: exactly).
func TestTextLiveAny(t *testing.T) {
	pair := testutil.NewPair(t)
	const port = 41231
	p, rd := startText(t, pair, "-i", "any", "--no-proc", "-c", "3", "udp", "and", "dst", "port", fmt.Sprint(port))
	sendUDP(t, pair, port, []int{60, 61, 62})
	want := regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{6} ` + regexp.QuoteMeta(fmt.Sprintf("%-5s In  IP %s.", pair.IfA, pair.AddrB)) +
		`\d+ > ` + regexp.QuoteMeta(fmt.Sprintf("%s.%d: UDP, length ", pair.AddrA, port)) + `6[012]\n$`)
	for i := range 3 {
		if l := readLine(t, p, rd); !want.MatchString(l) {
			t.Errorf("line %d: %q, want %v", i+1, l, want)
		}
	}
	if err := <-p.done; err != nil {
		t.Fatalf("exit: %v\n%s", err, p.stderr)
	}
	p.done <- nil
}
