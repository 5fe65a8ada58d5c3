package e2e

import (
	be "encoding/binary"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// TestFilterReadsPastTheLinearPart: on tc a bulk TCP stream's frames keep
// most of their payload in pages a BPF program cannot read directly; a
// filter that reads 600 bytes into the TCP payload must still see it.
// Two captures of the same stream: one of every TCP frame, one with
// `tcp[600:1] >= 0`, which keeps exactly the frames longer than that.
func TestFilterReadsPastTheLinearPart(t *testing.T) {
	testutil.RequireRoot(t)
	// At tc egress, and at transmit (--egress-at xmit), where the filter
	// reads a copy of the packet taken through an skb dynptr.
	for _, hook := range []string{"tc", "xmit"} {
		t.Run(hook, func(t *testing.T) { filterReadsPastTheLinearPart(t, "--egress-at", hook) })
	}
}

func filterReadsPastTheLinearPart(t *testing.T, args ...string) {
	pair := testutil.NewPair(t)
	dir := t.TempDir()
	all, far := filepath.Join(dir, "all.pcap"), filepath.Join(dir, "far.pcap")
	var procs []*proc
	for _, c := range []struct {
		out  string
		expr []string
	}{{all, []string{"tcp"}}, {far, []string{"tcp[600:1]", ">=", "0"}}} {
		ready := c.out + ".ready"
		p := start(t, pair.NsB, binary, append([]string{"-i", pair.IfB, "-Q", "out", "-s", "128", "-w", c.out, "--ready-file", ready}, append(args, c.expr...)...)...)
		testutil.Eventually(t, 10*time.Second, func() bool { _, err := os.Stat(ready); return err == nil }, "never ready:\n%s", p.stderr)
		procs = append(procs, p)
	}
	sendStream(t, pair, "9650", 8<<20)
	time.Sleep(200 * time.Millisecond)
	for _, p := range procs {
		if err := p.stop(t, syscall.SIGINT); err != nil {
			t.Fatalf("exit: %v\n%s", err, p.stderr)
		}
	}
	// The frames of the full capture whose TCP payload goes past byte 600.
	want := 0
	for _, f := range readPcap(t, all) {
		d := f.data
		if len(d) < 14+20+20 || be.BigEndian.Uint16(d[12:]) != 0x0800 {
			continue
		}
		ip := d[14:]
		ihl, tot := int(ip[0]&0xf)*4, int(be.BigEndian.Uint16(ip[2:]))
		if len(ip) < ihl+13 {
			continue
		}
		if tot-ihl-int(ip[ihl+12]>>4)*4 > 600 {
			want++
		}
	}
	got := len(readPcap(t, far))
	if want == 0 || got != want {
		t.Errorf("tcp[600:1] >= 0 kept %d frames; %d of the stream's go past byte 600 of their payload", got, want)
	}
	for _, p := range procs {
		if _, lost, dropped := summary(t, p.stderr.String()); lost+dropped != 0 {
			t.Errorf("a capture lost packets, the counts do not compare:\n%s", p.stderr)
		}
	}
}
