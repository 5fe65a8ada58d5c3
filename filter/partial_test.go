package filter

import (
	"math/rand/v2"
	"testing"
)

// TestMatchPartialSound: whenever MatchPartial is sure, Match gives the
// same verdict on every packet that agrees with the known bits, whatever
// the unknown bits, the bytes past the known prefix and the wire length.
func TestMatchPartialSound(t *testing.T) {
	frames := testFrames(t)
	r := rand.New(rand.NewPCG(3, 5))
	n := 300
	if testing.Short() {
		n = 60
	}
	var sure, total int
	for i := 0; i < n; i++ {
		expr := randomExpr(r, 2)
		p, err := Compile(expr, 0)
		if err != nil {
			continue // random expressions include some libpcap refuses too
		}
		for j := 0; j < 20; j++ {
			f := frames[r.IntN(len(frames))].data
			cut := len(f)
			if r.IntN(2) == 0 {
				cut = r.IntN(len(f) + 1)
			}
			known := make([]byte, cut)
			for k := range known {
				switch r.IntN(4) {
				case 0:
					known[k] = 0
				case 1:
					known[k] = byte(r.Uint32())
				default:
					known[k] = 0xff
				}
			}
			match, ok := p.MatchPartial(f[:cut], known)
			total++
			if !ok {
				continue
			}
			sure++
			for try := 0; try < 8; try++ {
				pkt := append([]byte(nil), f[:cut]...)
				for k := range pkt {
					pkt[k] = pkt[k]&known[k] | byte(r.Uint32())&^known[k]
				}
				for extra := r.IntN(80); extra > 0; extra-- {
					pkt = append(pkt, byte(r.Uint32()))
				}
				wire := uint32(len(pkt) + r.IntN(2000))
				if got := p.Match(pkt, wire); got != match {
					t.Fatalf("%q: MatchPartial(%x, known %x) = %v sure, but Match(%x, %d) = %v\n%s", expr, f[:cut], known, match, pkt, wire, got, p)
				}
			}
		}
	}
	if sure < total/10 {
		t.Errorf("sure of %d verdicts out of %d: MatchPartial says too little", sure, total)
	}
}

// TestMatchPartialKnown: with every bit known, a sure verdict is Match's;
// a test of the length is never sure, a port test nearly always (not when
// it would read past the frame, which may be a truncated one).
func TestMatchPartialKnown(t *testing.T) {
	for _, tc := range []struct {
		expr string
		sure bool // over most whole frames, all bits known
	}{
		{"tcp port 80", true}, {"udp", true}, {"not ip6", true}, {"host 10.0.0.1 or arp", true},
		{"tcp[tcpflags] & tcp-syn != 0", true}, {"greater 100", false}, {"len < 70", false},
	} {
		p, err := Compile(tc.expr, 0)
		if err != nil {
			t.Fatal(err)
		}
		nsure, frames := 0, testFrames(t)[:200]
		for _, f := range frames {
			known := make([]byte, len(f.data))
			for i := range known {
				known[i] = 0xff
			}
			m, ok := p.MatchPartial(f.data, known)
			if ok && m != p.Match(f.data, f.wireLen) {
				t.Fatalf("%q on %s: MatchPartial %v, Match %v", tc.expr, f.desc, m, !m)
			}
			if ok {
				nsure++
			}
		}
		if tc.sure && nsure < len(frames)*8/10 || !tc.sure && nsure > 0 {
			t.Errorf("%q: sure on %d frames of %d", tc.expr, nsure, len(frames))
		}
	}
}

// TestMatchPartialKeyFrame: a frame of headers whose addresses, protocol
// and ports are known and whose other fields are not decides "tcp port 80"
// and "host" tests, and leaves flag, payload and length tests undecided.
func TestMatchPartialKeyFrame(t *testing.T) {
	frame := []byte{
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00, // MACs unknown, IPv4
		0x45, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // TCP 10.0.0.1 > 10.0.0.2
		0x04, 0xd2, 0x00, 0x50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 1234 > 80
	}
	known := make([]byte, len(frame))
	for i := 12; i < 15; i++ { // EtherType, version and header length
		known[i] = 0xff
	}
	known[20], known[21] = 0x1f, 0xff // fragment offset 0, flags unknown
	for _, i := range []int{23, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37} {
		known[i] = 0xff
	}
	for _, tc := range []struct {
		expr        string
		match, sure bool
	}{
		{"tcp port 80", true, true},
		{"tcp dst port 80", true, true},
		{"tcp src port 80", false, true},
		{"udp port 80", false, true},
		{"host 10.0.0.1 and tcp", true, true},
		{"net 192.168.0.0/16", false, true},
		{"ip6", false, true},
		{"tcp portrange 1-1000", true, true},
		{"tcp[tcpflags] & tcp-syn != 0", false, false},
		{"tcp[tcpflags] & tcp-syn = 0", false, false},
		{"ip[8] != 64", false, false},
		{"less 100", false, false},
		{"ether host 00:11:22:33:44:55", false, false},
		{"tcp[20] = 1", false, false},
		{"tcp port 80 or less 100", true, true},
		{"ip[6] & 0x20 != 0", false, false},
	} {
		p, err := Compile(tc.expr, 0)
		if err != nil {
			t.Fatal(err)
		}
		if m, ok := p.MatchPartial(frame, known); m != tc.match || ok != tc.sure {
			t.Errorf("%q: MatchPartial = %v, sure %v; want %v, sure %v\n%s", tc.expr, m, ok, tc.match, tc.sure, p)
		}
	}
}
