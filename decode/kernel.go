package decode

import (
	"time"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// KernelFlow is one flow as the kernel program counts it: the key
// (endpoints in canonical order: Lo before Hi, as bytes, then ports; IP
// addresses in 16-byte form, MACs in the first 6 bytes of non-IP frames)
// and what each endpoint sent that the ring could not take.
type KernelFlow struct {
	packet.FlowKey
	packet.FlowCounts
}

// kernelTrack is what the flow table keeps for the kernel's flow counts.
type kernelTrack struct {
	evicted  []packet.FlowKey            // flows evicted since the last TakeEvicted, at most maxEvicted
	pending  map[packet.FlowKey]struct{} // the same keys, to look up
	overflow bool                        // more were evicted than evicted holds
	epoch    uint32                      // flowTable.created at the last TakeEvicted
	// Kernel keys of frames decode keyed otherwise (malformed or cut
	// short ones): their kernel counts hold packets counted in another
	// flow. aliasesFull when more came than maxAliases.
	aliases     map[packet.FlowKey]struct{}
	aliasesFull bool
}

// maxEvicted bounds kernelTrack.evicted, maxAliases kernelTrack.aliases.
const (
	maxEvicted = 1 << 16
	maxAliases = 1 << 14
)

// evict notes the key of a flow the table evicted.
func (kt *kernelTrack) evict(k packet.FlowKey) {
	if len(kt.evicted) >= maxEvicted {
		kt.overflow = true
		return
	}
	kt.evicted = append(kt.evicted, k)
	if kt.pending == nil {
		kt.pending = map[packet.FlowKey]struct{}{}
	}
	kt.pending[k] = struct{}{}
}

// noteKey records the kernel's key of a frame decode keyed as decoded,
// when the two differ.
func (kt *kernelTrack) noteKey(data []byte, ifindex int, decoded *packet.FlowKey) {
	var k packet.FlowKey
	if _, ok := kernelKey(data, &k); !ok {
		return
	}
	k.Ifindex = uint32(ifindex)
	if k == *decoded {
		return
	}
	if kt.aliases == nil {
		kt.aliases = map[packet.FlowKey]struct{}{}
	}
	if _, known := kt.aliases[k]; known {
		return
	}
	if len(kt.aliases) >= maxAliases {
		kt.aliasesFull = true
		return
	}
	kt.aliases[k] = struct{}{}
}

// kernelChunk is how many kernel flows SetKernelCounts applies per hold of
// the engine's lock, which Add needs too.
const kernelChunk = 1024

// SetKernelCounts gives the flows in the table the kernel's counts of
// their packets the ring could not take: a flow's packets and bytes are
// then what was decoded plus those, direction by direction. Flows in a
// tunnel are left alone (decode keys them by the inner packet, the kernel
// by the outer one), and so are flows made since the last TakeEvicted:
// their key may be an evicted flow's, whose count the kernel still held.
// Once packets were lost (SetCaptureCounters), a flow the kernel counted
// and the table does not have is added, seen at now, while the table has
// room: every packet of it was lost. Keys of tunnels (IP in IP, GRE,
// VXLAN's UDP port) are not added. It returns how many flows took the
// kernel's counts.
func (e *Engine) SetKernelCounts(kfs []KernelFlow, now time.Time) (matched int) {
	nowNs := unixNano(now)
	for len(kfs) > 0 {
		n := min(len(kfs), kernelChunk)
		matched += e.setKernelCounts(kfs[:n], nowNs)
		kfs = kfs[n:]
	}
	return matched
}

func (e *Engine) setKernelCounts(kfs []KernelFlow, now int64) (matched int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, kt := e.flows, e.flows.kernel
	if kt == nil {
		return 0
	}
	for i := range kfs {
		kf := &kfs[i]
		k := kf.FlowKey
		if tunnelKey(&k) {
			continue // its packets are counted in the flows inside too
		}
		if _, alias := kt.aliases[k]; alias {
			continue // it holds packets decode counted in another flow
		}
		slot, ok := t.index[k]
		if !ok {
			// Not a flow evicted whose delete in the kernel is still to
			// come: the kernel holds its old count.
			if _, pending := kt.pending[k]; pending || e.lost == 0 || t.len() >= t.max || kt.aliasesFull {
				continue
			}
			slot = t.insert(k, kf.Pkts[0] > 0 || kf.Pkts[1] == 0, now) // A sent something
			t.pushFront(slot)
			if t.procs != nil {
				t.procs.addFlow(&t.flows[slot], now) // of no process known: "-"
			}
		} else if int32(uint32(t.flows[slot].id>>32)-kt.epoch) > 0 { // made since; wraps
			continue
		}
		f := &t.flows[slot]
		if f.tunnel != TunnelNone {
			continue
		}
		pk, by := kf.Pkts, kf.Bytes
		if !f.aIsLo {
			pk, by = [2]uint64{pk[1], pk[0]}, [2]uint64{by[1], by[0]}
		}
		if pk[0]+pk[1] > f.kpkts[0]+f.kpkts[1] {
			// Packets the ring lost are news too: the flow is not idle.
			f.last = max(f.last, now)
			t.unlink(slot)
			t.pushFront(slot)
		}
		// Never down: an entry the kernel dropped (its LRU, a clear after
		// a failed round) starts again from zero there.
		for d := range 2 {
			f.kpkts[d], f.kbytes[d] = max(f.kpkts[d], pk[d]), max(f.kbytes[d], by[d])
		}
		matched++
	}
	return matched
}

// tunnelKey reports whether k is the outer key of a tunnel decode looks
// into: IP in IP (4, 41), GRE (47) or VXLAN (UDP port 4789).
func tunnelKey(k *packet.FlowKey) bool {
	if !k.IsIP() {
		return false
	}
	switch k.Proto {
	case 4, 41, ProtoGRE:
		return true
	case ProtoUDP:
		return k.LoPort == 4789 || k.HiPort == 4789
	}
	return false
}

// TakeEvicted appends to dst the keys of the flows evicted
// from the table since the last call, and forgets them. The caller, which
// counts flows in the kernel too, deletes them there before it reads the
// kernel's counts again, so that a flow seen again starts from zero in
// both; a flow already made again under such a key loses the kernel's
// counts until then. When more were evicted than it kept (maxEvicted),
// all reports true: the caller then clears all the kernel's flows, and
// every flow loses the kernel's counts. Only kept with Config.KernelCounts.
func (e *Engine) TakeEvicted(dst []packet.FlowKey) (keys []packet.FlowKey, all bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, kt := e.flows, e.flows.kernel
	if kt == nil {
		return dst, false
	}
	for i := range kt.evicted {
		k := &kt.evicted[i]
		dst = append(dst, *k)
		if slot, ok := t.index[*k]; ok {
			f := &t.flows[slot]
			f.kpkts, f.kbytes = [2]uint64{}, [2]uint64{}
		}
	}
	all = kt.overflow
	if all {
		for i := range t.flows {
			t.flows[i].kpkts, t.flows[i].kbytes = [2]uint64{}, [2]uint64{}
		}
	}
	kt.evicted, kt.overflow = kt.evicted[:0], false
	clear(kt.pending)
	kt.epoch = t.created
	return dst, all
}
