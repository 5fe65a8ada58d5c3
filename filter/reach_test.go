package filter

import (
	"math"
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
		{"ip6 and tcp port 80", 14 + 60 + 4}, // its IPv4 branch is there too, unreachable
		{"tcp[tcp[12] >> 4] = 0", math.MaxUint32},
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
