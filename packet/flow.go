package packet

// FlowKey is a flow as both the kernel program and the flow table key it:
// both directions in one entry. Lo and Hi are IP addresses in 16-byte form
// (IPv4 mapped) or, for frames that are not IP, MAC addresses in the first
// 6 bytes; ports are in host order. EtherType is 0x0800 or 0x86dd for IP,
// the frame's EtherType otherwise; Proto is the IP protocol (0 when not IP).
type FlowKey struct {
	Ifindex        uint32
	EtherType      uint16
	Proto          uint8
	Lo, Hi         [16]byte
	LoPort, HiPort uint16
}

// IsIP reports whether the key holds IP endpoints.
func (k *FlowKey) IsIP() bool { return k.EtherType == 0x0800 || k.EtherType == 0x86dd }

// FlowCounts are packets and wire bytes of one flow: index 0 sent by the
// key's Lo endpoint, 1 by Hi.
type FlowCounts struct {
	Pkts, Bytes [2]uint64
}
