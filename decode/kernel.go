package decode

// KernelFlow is one flow as the kernel program counts it (bpf.FlowKey and
// bpf.FlowCounts, handed over by the caller, since decode does not import
// bpf): the flow key's fields, endpoints in canonical order (Lo before Hi,
// as bytes, then ports; IP addresses in 16-byte form, MACs in the first 6
// bytes of non-IP frames), and what each endpoint sent.
type KernelFlow struct {
	Ifindex        int32
	EtherType      uint16
	Proto          uint8
	Lo, Hi         [16]byte
	LoPort, HiPort uint16
	Pkts, Bytes    [2]uint64 // [0] sent by Lo, [1] by Hi
}

func (kf *KernelFlow) key() flowKey {
	return flowKey{ifindex: kf.Ifindex, etherType: kf.EtherType, proto: kf.Proto, lo: kf.Lo, hi: kf.Hi, loPort: kf.LoPort, hiPort: kf.HiPort}
}

// maxEvicted bounds the keys of evicted flows kept for TakeEvicted.
const maxEvicted = 1 << 16

// SetKernelCounts gives the flows in the table the kernel's counts, which
// include packets lost in a full ring: a flow's packets and bytes are then
// the larger of what was decoded and what the kernel counted, direction by
// direction. Flows in a tunnel are left alone (decode keys them by the
// inner packet, the kernel by the outer one), and flows the kernel has but
// the table does not are not added. It returns how many flows matched.
func (e *Engine) SetKernelCounts(kfs []KernelFlow) (matched int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range kfs {
		kf := &kfs[i]
		slot, ok := e.flows.index[kf.key()]
		if !ok {
			continue
		}
		f := &e.flows.flows[slot]
		if f.tunnel != TunnelNone {
			continue
		}
		if f.aIsLo {
			f.kpkts, f.kbytes = kf.Pkts, kf.Bytes
		} else {
			f.kpkts = [2]uint64{kf.Pkts[1], kf.Pkts[0]}
			f.kbytes = [2]uint64{kf.Bytes[1], kf.Bytes[0]}
		}
		matched++
	}
	return matched
}

// TakeEvicted appends to dst the keys (counts zero) of the flows evicted
// from the table since the last call, and forgets them. A caller that
// counts flows in the kernel deletes them there too, so that a flow seen
// again starts from zero in both. Only kept with Config.KernelCounts.
func (e *Engine) TakeEvicted(dst []KernelFlow) []KernelFlow {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, k := range e.flows.evicted {
		dst = append(dst, KernelFlow{Ifindex: k.ifindex, EtherType: k.etherType, Proto: k.proto, Lo: k.lo, Hi: k.hi, LoPort: k.loPort, HiPort: k.hiPort})
	}
	e.flows.evicted = e.flows.evicted[:0]
	return dst
}
