package pcapfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// twoIfacePcapng is what bpftop-cap -i any -w - --format pcapng sends: two
// interfaces (the second announced mid-stream), packets in both
// directions, statistics blocks with drops at the end.
func twoIfacePcapng(t testing.TB) ([]byte, []packet.Packet) {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewPcapngWriter(&buf, 262144, []IfaceInfo{{Index: 7, Name: "eth0", Hook: "tcx"}}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	ps := testPackets()
	ps[0].Ifindex, ps[0].Dir = 7, packet.DirIn
	ps[1].Ifindex, ps[1].Dir = 7, packet.DirOut
	ps[2].Ifindex, ps[2].Dir = 12, packet.DirOut
	ps[3].Ifindex, ps[3].Dir = 12, packet.DirUnknown
	for i := range ps {
		if i == 2 {
			if err := w.AddInterface(IfaceInfo{Index: 12, Name: "veth-b", Hook: "tcx"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Write(&ps[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finish(map[int]IfaceStats{7: {Dropped: 5}, 12: {Dropped: 37}}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), ps
}

func TestPcapngInterfacesDirectionDrops(t *testing.T) {
	b, want := twoIfacePcapng(t)
	cf, err := newFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	wantIf := map[uint32]uint32{7: 1, 12: 2} // file interface id + 1
	var got []packet.Packet
	for {
		p, err := cf.NextPacket()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d packets, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Ifindex != wantIf[want[i].Ifindex] || got[i].Dir != want[i].Dir {
			t.Errorf("packet %d: ifindex %d dir %v, want %d %v", i, got[i].Ifindex, got[i].Dir, wantIf[want[i].Ifindex], want[i].Dir)
		}
	}
	names := cf.Interfaces()
	if len(names) != 2 || names[1] != "eth0" || names[2] != "veth-b" || cf.InterfaceCount() != 2 {
		t.Errorf("interfaces %v, want 1:eth0 2:veth-b", names)
	}
	if d := cf.CaptureDropped(); d != 5+37 {
		t.Errorf("capture dropped %d, want 42", d)
	}

	// tshark reads the same interface names and directions from the file.
	testutil.RequireTool(t, "tshark")
	path := filepath.Join(t.TempDir(), "two.pcapng")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("tshark", "-n", "-r", path, "-T", "fields", "-e", "frame.interface_name", "-e", "frame.packet_flags_direction").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var ours []string
	for _, p := range got {
		ours = append(ours, fmt.Sprintf("%s\t%s", names[int(p.Ifindex)], tsharkDir(p.Dir)))
	}
	if theirs := strings.Split(strings.TrimSpace(string(out)), "\n"); strings.Join(theirs, "\n") != strings.Join(ours, "\n") {
		t.Errorf("tshark says\n%s\nwe say\n%s", strings.Join(theirs, "\n"), strings.Join(ours, "\n"))
	}
}

// tsharkDir is frame.packet_flags_direction as tshark prints it.
func tsharkDir(d packet.Dir) string {
	switch d {
	case packet.DirIn:
		return "0x00000001"
	case packet.DirOut:
		return "0x00000002"
	}
	return "0x00000000"
}

// A pcap file says nothing of interfaces or drops.
func TestPcapNoInterfaces(t *testing.T) {
	cf, err := newFile(bytes.NewReader(pcapBytes(t, binary.LittleEndian, 0xa1b2c3d4, 1)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := cf.NextPacket()
	if err != nil {
		t.Fatal(err)
	}
	if p.Ifindex != 0 || p.Dir != packet.DirUnknown || cf.Interfaces() != nil || cf.CaptureDropped() != 0 {
		t.Errorf("pcap: ifindex %d dir %v interfaces %v dropped %d", p.Ifindex, p.Dir, cf.Interfaces(), cf.CaptureDropped())
	}
}
