package e2e

import (
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
				if len(f) != 3 || f[0] != pair.IfA || f[1] != tc.hook {
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
