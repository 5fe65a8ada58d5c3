package pcapfile

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// TestSavePcapngHookPerDirection: the ring keeps no hook per packet, so
// SaveFile gives each the hook of its interface, and of its interface's
// egress where that is recorded at another hook (at transmit); tshark
// reads the comments back.
func TestSavePcapngHookPerDirection(t *testing.T) {
	testutil.RequireTool(t, "tshark")
	ps := testPackets()
	ps[1].Dir, ps[3].Dir = packet.DirOut, packet.DirOut
	path := filepath.Join(t.TempDir(), "saved.pcapng")
	s := Save{Format: "pcapng", Snaplen: 262144,
		Ifaces:   []IfaceInfo{{Index: 3, Name: "veth0", Hook: "tcx, egress at xmit"}},
		Hooks:    map[int]packet.Hook{3: packet.HookTC},
		OutHooks: map[int]packet.Hook{3: packet.HookXmit},
	}
	if n, err := SaveFile(path, ps, s); err != nil || n != len(ps) {
		t.Fatalf("SaveFile: %d, %v", n, err)
	}
	out, err := exec.Command("tshark", "-r", path, "-T", "fields", "-E", "separator=|",
		"-e", "frame.comment", "-e", "frame.packet_flags_direction").Output()
	if err != nil {
		t.Fatalf("tshark -r: %v", err)
	}
	want := "hook: tc|0x00000001\nhook: xmit|0x00000002\nhook: tc|0x00000001\nhook: xmit|0x00000002"
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("tshark reads:\n%s\nwant:\n%s", got, want)
	}
}
