package e2e

import (
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// TestPcapngDirectionAndInterface writes pcapng and has tshark read back
// the interface name, the hook comment and the direction of every packet,
// and capinfos the interface statistics block.
func TestPcapngDirectionAndInterface(t *testing.T) {
	testutil.RequireTool(t, "tshark")
	testutil.RequireTool(t, "capinfos")
	for _, tc := range []struct {
		name string
		args []string
		hook string
		dirs []string
	}{
		{"tc", nil, "hook: tc", []string{"0x00000001", "0x00000002"}},
		{"xdp", []string{"--xdp"}, "hook: xdp", []string{"0x00000001"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pair := testutil.NewPair(t)
			out := filepath.Join(t.TempDir(), "cap.pcapng")
			bc := startCapture(t, pair, append([]string{"-w", out, "tcp"}, tc.args...)...)
			mixedTraffic(t, pair)
			if err := bc.stop(t, syscall.SIGINT); err != nil {
				t.Fatalf("exit: %v\n%s", err, bc.stderr)
			}
			captured, _, _ := summary(t, bc.stderr.String())
			fields, err := exec.Command("tshark", "-r", out, "-T", "fields", "-E", "separator=|",
				"-e", "frame.interface_name", "-e", "frame.comment", "-e", "frame.packet_flags_direction").Output()
			if err != nil {
				t.Fatalf("tshark -r: %v", err)
			}
			lines := strings.Split(strings.TrimSpace(string(fields)), "\n")
			if len(lines) != captured || captured < 6 {
				t.Fatalf("tshark reads %d packets, we captured %d (want a TCP exchange):\n%s", len(lines), captured, fields)
			}
			seen := map[string]int{}
			for _, l := range lines {
				f := strings.Split(l, "|")
				// The hook's comment comes first; the process's follow.
				if len(f) != 3 || f[0] != pair.IfA || strings.Split(f[1], ",")[0] != tc.hook {
					t.Fatalf("tshark line %q, want interface %s and comment %q", l, pair.IfA, tc.hook)
				}
				seen[f[2]]++
			}
			for _, d := range tc.dirs {
				if seen[d] == 0 {
					t.Errorf("no packet with direction %s; seen %v", d, seen)
				}
			}
			if len(seen) != len(tc.dirs) {
				t.Errorf("directions %v, want only %v", seen, tc.dirs)
			}
			info, err := exec.Command("capinfos", out).CombinedOutput()
			if err != nil {
				t.Fatalf("capinfos: %v\n%s", err, info)
			}
			for _, want := range []string{"pcapng", "Name = " + pair.IfA, "Filter string = tcp", "Number of stat entries = 1", "Capture application: bpftop-cap"} {
				if !strings.Contains(string(info), want) {
					t.Errorf("capinfos does not show %q:\n%s", want, info)
				}
			}
			tcpdumpCount(t, out)
			requireNothingAttached(t, pair)
		})
	}
}

// TestTwoInterfaces captures the veth and the namespace's loopback in one
// run (one set of programs, one perf ring) and checks that tshark sees
// packets of both, each under its own interface name.
func TestTwoInterfaces(t *testing.T) {
	testutil.RequireTool(t, "tshark")
	pair := testutil.NewPair(t)
	out := filepath.Join(t.TempDir(), "two.pcapng")
	bc := startCapture(t, pair, "-i", "lo", "-w", out, "udp")
	sendUDP(t, pair, 9400, []int{40, 50, 60})
	// Loopback traffic inside namespace A, to a socket that takes it (a
	// closed port would answer ICMP and refuse the next datagrams).
	var lo net.Conn
	var rx net.PacketConn
	if err := testutil.InNetns(pair.NsA, func() (err error) {
		if rx, err = net.ListenPacket("udp4", "127.0.0.1:9401"); err != nil {
			return err
		}
		lo, err = net.Dial("udp4", "127.0.0.1:9401")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	for range 4 {
		lo.Write([]byte("loopback datagram"))
	}
	lo.Close()
	if err := bc.stop(t, syscall.SIGINT); err != nil {
		t.Fatalf("exit: %v\n%s", err, bc.stderr)
	}
	if !strings.Contains(bc.stderr.String(), "capturing on "+pair.IfA+", lo") {
		t.Errorf("start line does not name both interfaces:\n%s", bc.stderr)
	}
	fields, err := exec.Command("tshark", "-r", out, "-T", "fields", "-e", "frame.interface_name", "-e", "udp.dstport", "-e", "frame.packet_flags_direction").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	count := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(fields)), "\n") {
		count[l]++
	}
	if count[pair.IfA+"\t9400\t0x00000001"] != 3 {
		t.Errorf("want 3 datagrams to 9400 on %s; tshark saw %v", pair.IfA, count)
	}
	// Loopback: each datagram passes lo's egress and its ingress, and is
	// recorded once, inbound, as tcpdump records it.
	if count["lo\t9401\t0x00000001"] != 4 || count["lo\t9401\t0x00000002"] != 0 {
		t.Errorf("want 4 loopback datagrams seen once (in) on lo; tshark saw %v", count)
	}
	requireNothingAttached(t, pair)
}
