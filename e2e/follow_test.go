package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// TestTUIFollowFile opens the view on a regular file that a process (the
// test) holds open for writing and appends to in steps, a record cut in
// two by one step: the view follows it live, shows each step's packets
// while the writer holds the file, takes the cut record whole once its
// rest comes (no truncated file), and says the file ended once the writer
// closed it (and a pcapng file's statistics blocks, after the last
// packet, are read). pcap and pcapng; with --follow, a writer that opens the file
// anew for each step (not seen while it does not hold it) is followed
// too, until q.
func TestTUIFollowFile(t *testing.T) {
	pcap := [][]byte{
		udpPcap(t, true, "192.0.2.1", "192.0.2.2", 1111, 2222, "one", "two"),
		udpPcap(t, false, "192.0.2.3", "192.0.2.4", 3333, 4444, "three", "four"),
	}
	ng := ngStream(t)
	for _, tc := range []struct {
		name, file string
		steps      [][]byte // the first before the view starts
		pkts       []int    // packets whole after each step
		follow     bool     // --follow, the writer not holding the file between steps
		first      []string // on screen after the first step
		end        []string // on screen after the last
		closed     []string // on screen once the writer closed the file
	}{
		{name: "pcap", file: "growing.pcap",
			// The second step ends 9 bytes into the second record.
			steps: [][]byte{pcap[0], pcap[1][:len(pcap[1])/2+9], pcap[1][len(pcap[1])/2+9:]},
			pkts:  []int{2, 3, 4},
			first: []string{"192.0.2.1:1111 <-> 192.0.2.2:2222"},
			end:   []string{"192.0.2.3:3333 <-> 192.0.2.4:4444"}},
		{name: "pcapng", file: "growing.pcapng",
			// The second step ends within the veth-b interface's second EPB.
			steps: [][]byte{ng[0], ng[1][:len(ng[1])-30], append(ng[1][len(ng[1])-30:len(ng[1]):len(ng[1])], ng[2]...)},
			pkts:  []int{2, 3, 4},
			first: []string{"192.0.2.1:1111 <-> 192.0.2.2:2222"},
			end:   ifRows, closed: []string{"capture dropped 42"}},
		{name: "follow flag", file: "added.pcap", follow: true,
			steps: [][]byte{pcap[0], pcap[1][:len(pcap[1])/2+9], pcap[1][len(pcap[1])/2+9:]},
			pkts:  []int{2, 3, 4},
			first: []string{"192.0.2.1:1111 <-> 192.0.2.2:2222"},
			end:   []string{"192.0.2.3:3333 <-> 192.0.2.4:4444"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tc.file)
			w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			write := func(b []byte) {
				t.Helper()
				if tc.follow {
					if w, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0); err != nil {
						t.Fatal(err)
					}
					defer w.Close()
				}
				if _, err := w.Write(b); err != nil {
					t.Fatal(err)
				}
			}
			write(tc.steps[0])
			args := []string{"-r", tc.file}
			comm, _ := os.ReadFile("/proc/self/comm")
			live := fmt.Sprintf("live, written by %s (%d)", strings.TrimSpace(string(comm)), os.Getpid())
			if tc.follow {
				w.Close() // nobody holds it: only --follow follows it
				args = append(args, "--follow")
				live = "live, --follow"
			}
			s := startScreen(t, dir, 160, 30, "sh", "-c", shellQuote(append([]string{binary}, args...)...)+"; echo $? > rc")
			s.waitFor("the first step", contains(append([]string{tc.file + " followed", fmt.Sprintf(" %d pkts", tc.pkts[0]), live}, tc.first...)...))
			for i, step := range tc.steps[1:] {
				write(step)
				text := s.waitFor(fmt.Sprintf("step %d", i+2), contains(fmt.Sprintf(" %d pkts", tc.pkts[i+1]), live))
				if strings.Contains(text, "truncated") || strings.Contains(text, " ended after") {
					t.Fatalf("step %d:\n%s", i+2, text)
				}
			}
			s.waitFor("the last step", contains(tc.end...))
			if !tc.follow {
				w.Close()
				end := fmt.Sprintf("file ended after %d packets: writer gone", tc.pkts[len(tc.pkts)-1])
				s.waitFor("the end of the file", contains(append(tc.closed, end)...))
			}
			s.keys("q")
			if code := streamExit(t, s, filepath.Join(dir, "rc")); code != 0 {
				t.Errorf("exit code %d; stderr:\n%s", code, s.errText())
			}
			n := tc.pkts[len(tc.pkts)-1]
			if want := fmt.Sprintf("%d packets read, %d shown", n, n); !strings.Contains(s.errText(), want) {
				t.Errorf("stderr %q, want %q", s.errText(), want)
			}
		})
	}
}

var pktsRE = regexp.MustCompile(`│ (\d+) pkts │`)

// TestTUIFollowTcpdump opens the view on the file a real tcpdump -w
// writes (without -U: it writes in blocks, each ending within a record)
// while datagrams go through a veth: the view shows them while tcpdump
// runs, and when tcpdump has ended it has read as many packets as
// tcpdump -r reads from the file, with no truncated file.
func TestTUIFollowTcpdump(t *testing.T) {
	testutil.RequireTool(t, "tcpdump")
	pair := testutil.NewPair(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "tcpdump.pcap")
	td := start(t, pair.NsA, "tcpdump", "-i", pair.IfA, "--immediate-mode", "-B", "65536", "-nn", "-s", "262144", "-w", file, "udp")
	testutil.Eventually(t, 10*time.Second, func() bool {
		_, err := os.Stat(file)
		return err == nil && strings.Contains(td.stderr.String(), "listening on")
	}, "tcpdump never started listening:\n%s", td.stderr)
	s := startScreen(t, dir, 120, 30, "sh", "-c", shellQuote(binary, "-r", "tcpdump.pcap")+"; echo $? > rc")
	s.waitFor("the view", contains("tcpdump.pcap followed", "written by tcpdump"))
	sizes := make([]int, 50)
	for i := range sizes {
		sizes[i] = 300 + i
	}
	const rounds = 6 // each waits for its datagrams: a burst overflows the socket
	for range rounds {
		sendUDP(t, pair, 41300, sizes)
	}
	text := s.waitFor("packets while tcpdump runs", func(text string) bool {
		m := pktsRE.FindStringSubmatch(text)
		return m != nil && m[1] != "0" && strings.Contains(text, "written by tcpdump")
	})
	if strings.Contains(text, " ended after") || strings.Contains(text, "truncated") {
		t.Fatalf("while tcpdump runs:\n%s", text)
	}
	if err := td.stop(t, syscall.SIGINT); err != nil {
		t.Fatalf("tcpdump: %v\n%s", err, td.stderr)
	}
	want := tcpdumpCount(t, file)
	if want < rounds*len(sizes)/2 { // its own drops do not matter: what it wrote is compared
		t.Fatalf("tcpdump wrote %d packets of %d sent:\n%s", want, rounds*len(sizes), td.stderr)
	}
	s.waitFor("the end of the file", contains(fmt.Sprintf("file ended after %d packets: writer gone", want), fmt.Sprintf("│ %d pkts │", want)))
	s.keys("q")
	if code := streamExit(t, s, filepath.Join(dir, "rc")); code != 0 {
		t.Errorf("exit code %d; stderr:\n%s", code, s.errText())
	}
}

// TestFollowTextAndWrite: the text and -w modes read a file as it is,
// as tcpdump -r does, though a process is writing it; with --follow they
// follow it, giving each step's packets as it comes, until Ctrl-C, which
// ends them as the end of the file would (lines and file flushed, exit
// 0). The writer opens the file anew for each step.
func TestFollowTextAndWrite(t *testing.T) {
	steps := [][]byte{
		udpPcap(t, true, "192.0.2.1", "192.0.2.2", 1111, 2222, "one", "two"),
		udpPcap(t, false, "192.0.2.3", "192.0.2.4", 3333, 4444, "three"),
	}
	cut := len(steps[1]) - 20 // within the record
	for _, tc := range []struct {
		name string
		args []string
	}{{"text", nil}, {"write", []string{"-w", "out.pcap", "-U"}}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "in.pcap")
			w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if _, err := w.Write(steps[0]); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out.pcap")
			got := func(stdout *syncBuffer) int {
				if tc.args == nil {
					return strings.Count(stdout.String(), "\n")
				}
				if _, err := os.Stat(out); err != nil {
					return 0
				}
				return len(readGrowingPcap(t, out))
			}

			// Without --follow: what is there, though the test holds it
			// open for writing.
			cmd := exec.Command(binary, append([]string{"-r", path}, tc.args...)...)
			cmd.Dir = dir
			var stdout syncBuffer
			cmd.Stdout = &stdout
			p := startCmd(t, cmd)
			if err := <-p.done; err != nil {
				t.Fatalf("without --follow: %v\n%s", err, p.stderr)
			}
			p.done <- nil
			if n := got(&stdout); n != 2 {
				t.Fatalf("without --follow: %d packets, want 2; stdout:\n%s", n, &stdout)
			}
			w.Close()
			os.Remove(out)

			cmd = exec.Command(binary, append([]string{"-r", path, "--follow"}, tc.args...)...)
			cmd.Dir = dir
			stdout = syncBuffer{}
			cmd.Stdout = &stdout
			p = startCmd(t, cmd)
			testutil.Eventually(t, 10*time.Second, func() bool { return got(&stdout) == 2 },
				"the first 2 packets not out; stdout:\n%s\nstderr:\n%s", &stdout, p.stderr)
			appendTo(t, path, steps[1][:cut])
			appendTo(t, path, steps[1][cut:])
			testutil.Eventually(t, 10*time.Second, func() bool { return got(&stdout) == 3 },
				"the appended packet not out; stdout:\n%s\nstderr:\n%s", &stdout, p.stderr)
			if err := p.stop(t, syscall.SIGINT); err != nil {
				t.Fatalf("after Ctrl-C: %v\n%s", err, p.stderr)
			}
			if n := got(&stdout); n != 3 {
				t.Errorf("%d packets, want 3", n)
			}
			if tc.args != nil {
				if n := tcpdumpCount(t, out); n != 3 || !strings.Contains(p.stderr.String(), "3 packets written") {
					t.Errorf("tcpdump reads %d packets from -w's file, want 3; stderr:\n%s", n, p.stderr)
				}
			}
		})
	}
}

// appendTo appends b to path, opening and closing it.
func appendTo(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

// TestTUIStreamCount: -c N with a stream (a FIFO) stops reading after N
// packets, as tcpdump -r -c N does: the status bar says so, the view
// shows N, and the writer's next write fails (EPIPE), the stream closed.
func TestTUIStreamCount(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "stream")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	rw, err := os.OpenFile(path, os.O_RDWR, 0) // opens without a reader
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	wr, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer wr.Close()
	s := startScreen(t, dir, 120, 30, "sh", "-c", shellQuote(binary, "-r", "stream", "-c", "3")+"; echo $? > rc")
	if _, err := wr.Write(udpPcap(t, true, "192.0.2.1", "192.0.2.2", 1111, 2222, "a", "b", "c", "d", "e")); err != nil {
		t.Fatal(err)
	}
	s.waitFor("the count reached", contains("stopped after 3 packets (-c)", "│ 3 pkts │"))
	rw.Close() // the view was the only other reader
	if _, err := wr.Write([]byte("more")); !errors.Is(err, syscall.EPIPE) {
		t.Errorf("a write after -c's count: %v, want EPIPE", err)
	}
	s.keys("q")
	if code := streamExit(t, s, filepath.Join(dir, "rc")); code != 0 {
		t.Errorf("exit code %d; stderr:\n%s", code, s.errText())
	}
	if !strings.Contains(s.errText(), "3 packets read, 3 shown") {
		t.Errorf("stderr: %s", s.errText())
	}
}

// TestReadCount: -c N with -r FILE counts the packets that pass the
// filter, in the view, the text mode and -w alike, as tcpdump -r -c does.
func TestReadCount(t *testing.T) {
	testutil.RequireTool(t, "tcpdump")
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pcap")
	b := append(udpPcap(t, true, "192.0.2.1", "192.0.2.2", 1111, 2222, "one", "two"),
		udpPcap(t, false, "192.0.2.3", "192.0.2.4", 3333, 4444, "three", "four", "five")...)
	if err := os.WriteFile(in, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		count  string
		filter []string
	}{{"3", nil}, {"2", []string{"port", "3333"}}, {"9", nil}} {
		args := append([]string{"-nn", "-r", in, "-c", tc.count}, tc.filter...)
		theirs, err := exec.Command("tcpdump", args...).Output()
		if err != nil {
			t.Fatalf("tcpdump %v: %v", args, err)
		}
		want := bytes.Count(theirs, []byte("\n"))
		ours, err := exec.Command(binary, args...).Output()
		if err != nil {
			t.Fatalf("bpftop-cap %v: %v", args, err)
		}
		if n := bytes.Count(ours, []byte("\n")); n != want {
			t.Errorf("%v: text mode printed %d lines, tcpdump %d", args, n, want)
		}
		out := filepath.Join(dir, "out"+tc.count+".pcap")
		if msg, err := exec.Command(binary, append([]string{"-w", out}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("-w: %v\n%s", err, msg)
		}
		if n := tcpdumpCount(t, out); n != want {
			t.Errorf("%v -w: %d packets written, tcpdump reads %d", args, n, want)
		}
		s := startScreen(t, dir, 120, 30, append([]string{binary}, args...)...)
		screen := []string{fmt.Sprintf("│ %d pkts │", want)}
		if count, _ := strconv.Atoi(tc.count); count == want {
			screen = append(screen, fmt.Sprintf("the first %d packets (-c)", want))
		}
		text := s.waitFor(fmt.Sprintf("%v in the view", args), contains(screen...))
		if want == 5 && strings.Contains(text, "(-c)") {
			t.Errorf("-c beyond the file's packets shown as reached:\n%s", text)
		}
		s.keys("q")
		s.waitExit()
	}
}
