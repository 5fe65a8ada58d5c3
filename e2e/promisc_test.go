package e2e

import (
	"fmt"
	"net"
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

var promiscRE = regexp.MustCompile(`promiscuity (\d+)`)

// promiscuity reads the interface's promiscuous count from ip -d link.
func promiscuity(t *testing.T, ns, ifname string) int {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns, "-d", "link", "show", ifname).CombinedOutput()
	m := promiscRE.FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("ip -d link show %s: %v\n%s", ifname, err, out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// bridged makes the pair's namespace B a bridge (br0) between A and a
// third namespace C: traffic from A to C is forwarded by br0, and reaches
// br0's own receive path (and its tc hooks) only when br0 is promiscuous.
func bridged(t *testing.T, pair *testutil.Pair) (nsC, addrC string) {
	t.Helper()
	nsC = pair.NsB + "-c"
	addrC = strings.TrimSuffix(pair.AddrA, ".1") + ".3"
	ifC, portC := pair.IfB+"c", pair.IfB+"p"
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", nsC).Run() })
	for _, c := range [][]string{
		{"netns", "add", nsC},
		{"-n", pair.NsB, "link", "add", "br0", "type", "bridge"},
		{"-n", pair.NsB, "link", "add", portC, "type", "veth", "peer", "name", ifC, "netns", nsC},
		{"-n", pair.NsB, "addr", "flush", "dev", pair.IfB},
		{"-n", pair.NsB, "link", "set", pair.IfB, "master", "br0"},
		{"-n", pair.NsB, "link", "set", portC, "master", "br0"},
		{"-n", pair.NsB, "link", "set", portC, "up"},
		{"-n", pair.NsB, "link", "set", "br0", "up"},
		{"-n", nsC, "addr", "add", addrC + "/24", "dev", ifC},
		{"-n", nsC, "link", "set", ifC, "up"},
		{"-n", nsC, "link", "set", "lo", "up"},
		{"netns", "exec", nsC, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"},
	} {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	return nsC, addrC
}

// sendVia sends n tagged datagrams from namespace A to addr:port.
func sendVia(t *testing.T, pair *testutil.Pair, addr string, port, n int) {
	t.Helper()
	// Unconnected: C's port unreachable replies do not fail the writes.
	var c net.PacketConn
	if err := testutil.InNetns(pair.NsA, func() (err error) {
		c, err = net.ListenPacket("udp4", pair.AddrA+":0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	to := &net.UDPAddr{IP: net.ParseIP(addr), Port: port}
	for i := range n {
		if _, err := c.WriteTo([]byte(tag(i)), to); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestPromiscuous: the interface is promiscuous while capturing (as
// tcpdump makes it unless -p) and not after, however the capture ends, a
// SIGKILL included; on a bridge that makes the frames it forwards between
// other ports visible, as tcpdump sees them; -p leaves it alone.
func TestPromiscuous(t *testing.T) {
	testutil.RequireRoot(t)
	pair := testutil.NewPair(t)
	_, addrC := bridged(t, pair)
	// Resolve C's MAC first: the ARP broadcast reaches br0 either way.
	sendVia(t, pair, addrC, 9401, 1)
	time.Sleep(200 * time.Millisecond)
	for _, tc := range []struct {
		args []string
		sig  syscall.Signal
		want int // datagrams forwarded by br0 that the capture holds
	}{
		{nil, syscall.SIGTERM, 20},
		{nil, syscall.SIGKILL, -1},
		{[]string{"-p"}, syscall.SIGTERM, 0},
	} {
		name := fmt.Sprintf("%v %v", tc.args, tc.sig)
		dir := t.TempDir()
		out, ready := filepath.Join(dir, "br0.pcap"), filepath.Join(dir, "ready")
		args := append([]string{"-i", "br0", "-w", out, "--ready-file", ready, "udp"}, tc.args...)
		p := start(t, pair.NsB, binary, args...)
		testutil.Eventually(t, 10*time.Second, func() bool { _, err := os.Stat(ready); return err == nil },
			"%s: never ready:\n%s", name, p.stderr)
		wantP := 1
		if len(tc.args) > 0 {
			wantP = 0
		}
		if got := promiscuity(t, pair.NsB, "br0"); got != wantP {
			t.Errorf("%s: br0 promiscuity %d while capturing, want %d", name, got, wantP)
		}
		sendVia(t, pair, addrC, 9400, 20)
		time.Sleep(100 * time.Millisecond) // the last datagrams reach the ring before the stop
		_ = p.stop(t, tc.sig)
		if got := promiscuity(t, pair.NsB, "br0"); got != 0 {
			t.Errorf("%s: br0 promiscuity %d after the capture ended", name, got)
		}
		if tc.want >= 0 {
			if got := len(byTag(t, readPcap(t, out), name)); got != tc.want {
				t.Errorf("%s: %d of the 20 forwarded datagrams captured on br0, want %d", name, got, tc.want)
			}
		}
	}
}
