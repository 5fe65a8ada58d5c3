package e2e

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// TestLoopbackOnce: on lo every packet passes tc egress and then ingress;
// bpftop-cap records it once, as tcpdump does, byte for byte the same.
func TestLoopbackOnce(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "tcpdump")
	pair := testutil.NewPair(t)
	dir := t.TempDir()
	ours, theirs, ready := filepath.Join(dir, "lo.pcap"), filepath.Join(dir, "tcpdump.pcap"), filepath.Join(dir, "ready")
	p := start(t, pair.NsA, binary, "-i", "lo", "-w", ours, "--ready-file", ready, "udp")
	td := start(t, pair.NsA, "tcpdump", "-i", "lo", "--immediate-mode", "-B", "65536", "-U", "-nn", "-s", "262144", "-w", theirs, "udp")
	testutil.Eventually(t, 10*time.Second, func() bool {
		_, err := os.Stat(ready)
		return err == nil && strings.Contains(td.stderr.String(), "listening on")
	}, "captures never started:\n%s\n%s", p.stderr, td.stderr)

	const n = 10
	var c net.PacketConn
	if err := testutil.InNetns(pair.NsA, func() (err error) {
		c, err = net.ListenPacket("udp4", "127.0.0.1:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9500}
	for i := range n {
		if _, err := c.WriteTo([]byte(tag(i)), to); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	_ = p.stop(t, syscall.SIGINT)
	_ = td.stop(t, syscall.SIGINT)

	got, want := readPcap(t, ours), readPcap(t, theirs)
	gotTags, wantTags := byTag(t, got, "bpftop-cap on lo"), byTag(t, want, "tcpdump on lo")
	if len(gotTags) != n || len(wantTags) != n {
		t.Fatalf("datagrams on lo: bpftop-cap %d, tcpdump %d, want %d each once", len(gotTags), len(wantTags), n)
	}
	for i := range n {
		if !bytes.Equal(gotTags[i].data, wantTags[i].data) {
			t.Errorf("datagram %d differs:\nours   %x\ntcpdump %x", i, gotTags[i].data, wantTags[i].data)
		}
	}
}
