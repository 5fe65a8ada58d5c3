package e2e

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// mixedTraffic sends, from namespace B to A: UDP datagrams to a port with a
// socket (9100) and to one without (9102, answered with ICMP port
// unreachable), and a TCP connection to 9200 carrying some data, closed
// again. It returns when the TCP exchange is over.
func mixedTraffic(t *testing.T, pair *testutil.Pair) {
	t.Helper()
	sendUDP(t, pair, 9100, []int{30, 300, 1200})
	var tx net.Conn
	if err := testutil.InNetns(pair.NsB, func() (err error) {
		tx, err = net.Dial("udp4", net.JoinHostPort(pair.AddrA, "9102"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		fmt.Fprintf(tx, "to a closed port %d", i)
	}
	tx.Close()

	var ln net.Listener
	if err := testutil.InNetns(pair.NsA, func() (err error) {
		ln, err = net.Listen("tcp4", net.JoinHostPort(pair.AddrA, "9200"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		c.Close()
	}()
	var c net.Conn
	if err := testutil.InNetns(pair.NsB, func() (err error) {
		c, err = net.Dial("tcp4", net.JoinHostPort(pair.AddrA, "9200"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	c.Write([]byte(strings.Repeat("bpftop-cap tcp payload ", 100)))
	c.Close()
	<-done
}

var kernelFilterRE = regexp.MustCompile(`(\d+) packets seen, (\d+) not matching the filter were dropped in the kernel`)

// TestKernelFilter captures mixed traffic with a filter expression and
// compares the frames kept with what tcpdump keeps, reading an unfiltered
// capture of the same traffic with the same expression; the kernel
// counters must show the rest was dropped before the perf ring.
func TestKernelFilter(t *testing.T) {
	for _, expr := range []string{
		"udp port 9100",
		"icmp",
		"tcp[tcpflags] & (tcp-syn|tcp-fin) != 0",
		"ip and (udp or tcp dst port 9200) and not icmp and greater 100",
		"ip6",
		// Loads past the end of short packets that libpcap's optimizer
		// removes: the packets are kept, as tcpdump keeps them.
		"ip[100] = 0 or ip",
		"tcp[100] = 1 or tcp",
	} {
		t.Run(expr, func(t *testing.T) {
			pair := testutil.NewPair(t)
			dir := t.TempDir()
			ours, all := filepath.Join(dir, "ours.pcap"), filepath.Join(dir, "all.pcap")
			td := start(t, pair.NsA, "tcpdump", "-i", pair.IfA, "--immediate-mode", "-U", "-nn", "-s", "262144", "--time-stamp-precision=nano", "-w", all, "ip")
			testutil.Eventually(t, 10*time.Second, func() bool { return strings.Contains(td.stderr.String(), "listening on") }, "tcpdump: %s", td.stderr)
			bc := startCapture(t, pair, append([]string{"-w", ours}, strings.Fields(expr)...)...)
			mixedTraffic(t, pair)
			// tcpdump (--immediate-mode: no buffer timeout holding packets
			// back) has everything when its file stops growing
			// (the same count over five polls 10 ms apart).
			last, same := -1, 0
			testutil.Eventually(t, 10*time.Second, func() bool {
				n := len(readGrowingPcap(t, all))
				if n == last && n > 0 {
					same++
				} else {
					last, same = n, 0
				}
				return same >= 5
			}, "tcpdump's capture did not settle")
			if err := bc.stop(t, syscall.SIGINT); err != nil {
				t.Fatalf("exit: %v\n%s", err, bc.stderr)
			}
			_ = td.stop(t, syscall.SIGINT)

			kept := filepath.Join(dir, "kept.pcap")
			args := append([]string{"-r", all, "-w", kept}, strings.Fields(expr)...)
			if out, err := exec.Command("tcpdump", args...).CombinedOutput(); err != nil {
				t.Fatalf("tcpdump %v: %v\n%s", args, err, out)
			}
			want := frameSet(readPcap(t, kept))
			got := frameSet(readPcap(t, ours))
			if !slices.Equal(got, want) {
				t.Errorf("kept %d frames, tcpdump keeps %d of the same traffic", len(got), len(want))
			}
			m := kernelFilterRE.FindStringSubmatch(bc.stderr.String())
			if m == nil {
				t.Fatalf("no kernel filter counters:\n%s", bc.stderr)
			}
			seen, _ := strconv.Atoi(m[1])
			filtered, _ := strconv.Atoi(m[2])
			captured, lost, _ := summary(t, bc.stderr.String())
			if seen != captured+filtered || lost != 0 {
				t.Errorf("kernel saw %d, filtered %d, we captured %d (lost %d): they must add up", seen, filtered, captured, lost)
			}
			if total := len(readPcap(t, all)); filtered < total-len(want) {
				t.Errorf("only %d packets filtered in the kernel, but %d of the %d did not match", filtered, total-len(want), total)
			}
			requireNothingAttached(t, pair)
		})
	}
}

// frameSet is the sorted list of frames' bytes, as strings.
func frameSet(fs []frame) []string {
	var s []string
	for _, f := range fs {
		s = append(s, string(f.data))
	}
	slices.Sort(s)
	return s
}

func TestBadFilterAttachesNothing(t *testing.T) {
	pair := testutil.NewPair(t)
	out, err := testutil.Cmd(pair.NsA, binary, "-i", pair.IfA, "-w", filepath.Join(t.TempDir(), "x.pcap"), "tcp", "port", "eighty").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit %v, want 2:\n%s", err, out)
	}
	if !strings.Contains(string(out), `"eighty"`) || strings.Count(string(out), "\n") != 1 {
		t.Errorf("want one line pointing at the bad token, got:\n%s", out)
	}
	requireNothingAttached(t, pair)
}
