package filter

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// liveVLANExprs are compiled for tc and compared with libpcap's code for a
// live interface.
var liveVLANExprs = []string{
	"vlan", "vlan 100", "vlan 10", "vlan and udp", "vlan 100 and vlan 200", "vlan 100 and vlan 10 and tcp port 80",
	"not vlan", "vlan and ip[0] = 0x45", "vlan and host 1.2.3.4", "ip or vlan 100", "vlan and (tcp[13] & 2 != 0 or icmp)",
	"vlan 4095 and arp", "vlan and vlan and ip6", "vlan and tcp[tcp[12] >> 4] = 0", "vlan 1 or vlan 100",
}

// vlanCase is a frame as tc sees it: its outer tag in the frame, or moved
// by the kernel into the metadata (vlan: TPID << 16 | TCI).
type vlanCase struct {
	f    frame
	vlan uint32
}

// liveVLANCases are the test frames as they are, and those with an outer
// 802.1Q or 802.1ad tag also with the tag moved to the metadata, as the
// kernel moves it.
func liveVLANCases(t testing.TB) []vlanCase {
	var out []vlanCase
	for _, f := range testFrames(t) {
		out = append(out, vlanCase{f, 0})
		if len(f.data) < 18 {
			continue
		}
		tpid := binary.BigEndian.Uint16(f.data[12:])
		if tpid != etherType8021Q && tpid != etherTypeQinQ {
			continue
		}
		tci := binary.BigEndian.Uint16(f.data[14:])
		data := append(append([]byte(nil), f.data[:12]...), f.data[16:]...)
		g := frame{data: data, wireLen: f.wireLen - 4, desc: f.desc + " (tag in metadata)"}
		out = append(out, vlanCase{g, uint32(tpid)<<16 | uint32(tci)})
	}
	return out
}

// libpcapLiveProgram is libpcap's code for expr on a live Ethernet
// interface (tcpdump -dd -i), which reads the VLAN metadata.
func libpcapLiveProgram(t *testing.T, ns, ifname, expr string) Program {
	t.Helper()
	cmd := testutil.Cmd(ns, requireTcpdump(t), "-dd", "-i", ifname, "--", expr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tcpdump -dd -i %s %q: %v: %s", ifname, expr, err, strings.TrimSpace(stderr.String()))
	}
	p, err := parseDD(string(out))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func readsVLANMetadata(p Program) bool {
	for _, ins := range p {
		if class(ins.Op) == ClassLD && mode(ins.Op) == ModeABS && isAncillary(ins.K) {
			return true
		}
	}
	return false
}

// TestLiveTCVLANMatchesLibpcap: our code for the tc filter keeps what
// libpcap's code for a live Linux interface keeps (tcpdump -dd -i on a
// veth), on frames whose outer tag is in the frame and on the same frames
// with the tag in the metadata; the kernel's verdicts on the eBPF
// translation (the metadata passed as the filter's R4) are the same.
func TestLiveTCVLANMatchesLibpcap(t *testing.T) {
	requireTcpdump(t)
	pair := testutil.NewPair(t)
	cases := liveVLANCases(t)
	inMeta := 0
	for _, c := range cases {
		if c.vlan != 0 {
			inMeta++
		}
	}
	if inMeta < 50 {
		t.Fatalf("only %d frames with a tag in the metadata", inMeta)
	}
	for _, expr := range liveVLANExprs {
		theirs := libpcapLiveProgram(t, pair.NsA, pair.IfA, expr)
		if !readsVLANMetadata(theirs) {
			t.Fatalf("%q: tcpdump's live code does not read the VLAN metadata:\n%s", expr, theirs)
		}
		ours, err := CompileLiveTC(expr, 0)
		if err != nil {
			t.Fatalf("CompileLiveTC(%q): %v", expr, err)
		}
		bad := 0
		for i, c := range cases {
			o, g := ours.matchVLAN(c.f.data, c.f.wireLen, c.vlan), theirs.matchVLAN(c.f.data, c.f.wireLen, c.vlan)
			if o != g {
				if bad++; bad <= 3 {
					t.Errorf("%q: frame %d (%s, metadata %#x): ours %v, libpcap %v", expr, i, c.f.desc, c.vlan, o, g)
				}
			}
		}
		// Offline, the same expression is compiled for tags in the frame.
		offline, err := Compile(expr, 0)
		if err != nil {
			t.Fatal(err)
		}
		if readsVLANMetadata(offline) {
			t.Errorf("%q: the offline program reads VLAN metadata", expr)
		}
	}
}

// TestLiveTCVLANInKernel runs the eBPF translation of the tc programs in
// the kernel with the VLAN metadata in R4 and compares with the user-space
// matcher given the same metadata.
func TestLiveTCVLANInKernel(t *testing.T) {
	requireBPF(t)
	cases := liveVLANCases(t)
	for _, expr := range liveVLANExprs {
		p, err := CompileLiveTC(expr, 0)
		if err != nil {
			t.Fatal(err)
		}
		prog, _ := loadFilterProg(t, p)
		ran, bad := 0, 0
		for i, c := range cases {
			if len(c.f.data) < 14 {
				continue
			}
			// __sk_buff up to mark: len and pkt_type must be 0.
			ctx := make([]byte, 12)
			binary.LittleEndian.PutUint32(ctx[skbMark:], c.vlan)
			ret, err := prog.Run(&ebpf.RunOptions{Data: c.f.data, Context: ctx})
			if errors.Is(err, syscall.EINVAL) {
				continue
			}
			if err != nil {
				t.Fatalf("%q: run on frame %d: %v", expr, i, err)
			}
			ran++
			if got, want := ret != 0, p.matchVLAN(c.f.data, uint32(len(c.f.data)), c.vlan); got != want {
				if bad++; bad <= 3 {
					t.Errorf("%q: frame %d (%s, metadata %#x): kernel %v, matcher %v", expr, i, c.f.desc, c.vlan, got, want)
				}
			}
		}
		if ran < len(cases)/2 {
			t.Errorf("%q: ran %d of %d frames", expr, ran, len(cases))
		}
	}
}
