package decode

import "net/netip"

// fragTable remembers the ports of recent first fragments by datagram
// (addresses, protocol, IP ID), so that the fragments after the first,
// which carry no transport header, are counted in their datagram's flow
// rather than in a flow of their own without ports. Bounded: the oldest
// entry goes first; a fragment whose first one was not seen (or went)
// keeps a flow without ports, as before.
type fragTable struct {
	m     map[fragKey]fragPorts
	order [fragTableSize]fragKey
	next  int
}

// fragTableSize is how many datagrams in flight the table remembers.
const fragTableSize = 256

type fragKey struct {
	src, dst netip.Addr
	proto    uint8
	id       uint32
}

type fragPorts struct{ src, dst uint16 }

// join records the ports of a first fragment, or gives a later fragment
// the ports of its datagram's first, marking them as read raw (the
// fragment has no transport header of its own).
func (t *fragTable) join(s *Summary) {
	if s.Flags&FlagFragment == 0 || !portsProto(s.IPProto) {
		return
	}
	k := fragKey{s.SrcAddr, s.DstAddr, s.IPProto, s.FragID}
	if s.FragOff == 0 {
		if s.SrcPort == 0 && s.DstPort == 0 {
			return
		}
		if t.m == nil {
			t.m = make(map[fragKey]fragPorts, fragTableSize)
		}
		if _, ok := t.m[k]; !ok {
			if len(t.m) >= fragTableSize {
				delete(t.m, t.order[t.next])
			}
			t.order[t.next] = k
			t.next = (t.next + 1) % fragTableSize
		}
		t.m[k] = fragPorts{s.SrcPort, s.DstPort}
		return
	}
	if p, ok := t.m[k]; ok {
		s.SrcPort, s.DstPort = p.src, p.dst
		s.fragJoined, s.rawPorts = true, true
	}
}
