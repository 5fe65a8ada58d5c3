package filter

import (
	"errors"
	"testing"
)

func TestReach(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want uint32
	}{
		{"", 0},
		{"arp", 14},       // the EtherType
		{"ip[9] = 6", 24}, // 14 + 9 + 1
		{"tcp[600:1] >= 0", 14 + 60 + 600 + 1},
		{"tcp port 80", 14 + 60 + 4},         // the ports after the IP header
		{"ip6 and tcp port 80", 14 + 40 + 4}, // the optimizer removes its IPv4 branch
		{"tcp[tcp[12] >> 4] = 0", reachAll},
		{"less 100", 0},
	} {
		p, err := Compile(tc.expr, 0)
		if err != nil {
			t.Fatalf("%q: %v", tc.expr, err)
		}
		if got := p.Reach(); got != tc.want {
			t.Errorf("Reach(%q) = %d, want %d", tc.expr, got, tc.want)
		}
	}
}

// TestRejectsAll: an expression that is false whatever the packet is
// refused, as libpcap refuses it; one false part of it is not enough.
func TestRejectsAll(t *testing.T) {
	for _, tc := range []struct {
		expr    string
		link    uint32
		refused bool
	}{
		{"1 = 0", LinkEthernet, true},
		{"not 1 = 1", LinkEthernet, true},
		{"1 = 1", LinkEthernet, false},
		{"arp", LinkRaw, true},
		{"arp and udp", LinkRaw, true},
		{"arp or ip", LinkRaw, false},
		{"not arp", LinkRaw, false},
		{"arp", LinkEthernet, false},
	} {
		_, err := CompileLink(tc.expr, 0, tc.link)
		if got := errors.Is(err, ErrRejectsAll); got != tc.refused {
			t.Errorf("%q (link %d): refused %v (%v), want %v", tc.expr, tc.link, got, err, tc.refused)
		}
	}
}
