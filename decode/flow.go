package decode

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// TCPState is the state of a TCP flow as far as the flags seen tell.
type TCPState uint8

// TCP states.
const (
	TCPNone        TCPState = iota // not TCP, or nothing seen yet
	TCPSynSent                     // SYN seen
	TCPSynReceived                 // SYN-ACK seen
	TCPEstablished                 // handshake completed, or picked up mid-stream
	TCPClosing                     // FIN seen from one side
	TCPClosed                      // FIN from both sides, or RST
)

// String returns "SYN", "SYN-ACK", "ESTABLISHED", "FIN", "CLOSED" or "".
func (s TCPState) String() string {
	switch s {
	case TCPSynSent:
		return "SYN"
	case TCPSynReceived:
		return "SYN-ACK"
	case TCPEstablished:
		return "ESTABLISHED"
	case TCPClosing:
		return "FIN"
	case TCPClosed:
		return "CLOSED"
	}
	return ""
}

// keyOf sets *k to the flow key of a decoded packet (all but ifindex) and
// reports whether the packet's source is the key's lo endpoint. It fills
// k in place rather than returning the 56-byte key, for the reason
// ring.append gives.
func keyOf(s *Summary, k *packet.FlowKey) (srcIsLo bool) {
	k.EtherType, k.Proto = 0, 0
	var src, dst [16]byte
	var sp, dp uint16
	switch s.Net {
	case NetIPv4, NetIPv6:
		k.EtherType = 0x0800
		if s.Net == NetIPv6 {
			k.EtherType = 0x86dd
		}
		k.Proto = s.IPProto
		src, dst = s.SrcAddr.As16(), s.DstAddr.As16()
		if s.hasPorts() {
			sp, dp = s.SrcPort, s.DstPort
		}
	default:
		// ARP, LLDP and other non-IP frames: EtherType and MACs.
		k.EtherType = s.EtherType
		if s.Net == NetARP {
			k.EtherType = 0x0806
		} else if !s.Link.HasEtherType() || s.Link == packet.LinkTypeCHDLC {
			k.EtherType, k.Proto = linkKey(s)
		}
		copy(src[:], s.SrcMAC[:])
		copy(dst[:], s.DstMAC[:])
	}
	return setEnds(k, src, dst, sp, dp)
}

// setEnds puts the two endpoints in the key in canonical order, lo before
// hi (bytes compared, then the ports), and reports whether the source is
// lo. The kernel orders them the same way (flow_key_* in bpf/capture.c),
// and kernelKey goes through here too.
func setEnds(k *packet.FlowKey, src, dst [16]byte, sp, dp uint16) (srcIsLo bool) {
	// bytes.Compare as two big-endian words: cheaper, on every packet.
	be := binary.BigEndian
	s0, s1, d0, d1 := be.Uint64(src[:8]), be.Uint64(src[8:]), be.Uint64(dst[:8]), be.Uint64(dst[8:])
	if s0 < d0 || s0 == d0 && (s1 < d1 || s1 == d1 && sp <= dp) {
		k.Lo, k.Hi, k.LoPort, k.HiPort = src, dst, sp, dp
		return true
	}
	k.Lo, k.Hi, k.LoPort, k.HiPort = dst, src, dp, sp
	return false
}

// labelCap is how many bytes of application text a flow keeps.
const labelCap = 64

// flow is one entry of the flow table. Index 0 of the per-direction
// arrays is A->B, where A is the first sender seen.
type flow struct {
	key      packet.FlowKey
	id       uint64 // 0 when the slot is free
	aIsLo    bool   // A is the key's lo endpoint
	tunnel   Tunnel
	vni      uint32
	pkts     [2]uint64
	bytes    [2]uint64
	kpkts    [2]uint64 // lost in the ring, by the kernel's count (SetKernelCounts), A->B first
	kbytes   [2]uint64
	first    int64 // Unix nanoseconds
	last     int64
	rate     rate
	tcp      TCPState
	fin      [2]bool
	label    [labelCap]byte
	labelLen uint8
	app      App // the first application recognised (statistics' protocol hierarchy)
	// The processes owning side A and side B on this host (each the
	// newest packet that named that side's), 0 if none; both for a flow
	// between two local processes. proc holds their slots + 1 in the
	// processes' table (processes.go), inProcs that it counts the flow.
	owner   [2]uint32
	proc    [2]int32
	inProcs bool
	lastSeq uint64 // newest packet of this flow in the ring, 0 if none

	prev, next int32 // LRU list: prev is more recently seen
}

// a and b return the flow's endpoints as (address bytes, port), A first.
func (f *flow) a() ([16]byte, uint16) {
	if f.aIsLo {
		return f.key.Lo, f.key.LoPort
	}
	return f.key.Hi, f.key.HiPort
}

func (f *flow) b() ([16]byte, uint16) {
	if f.aIsLo {
		return f.key.Hi, f.key.HiPort
	}
	return f.key.Lo, f.key.LoPort
}

// updateTCP advances the TCP state from the flags of a packet sent in
// direction dir.
func (f *flow) updateTCP(flags uint8, dir int) {
	switch {
	case flags&TCPRst != 0:
		f.tcp = TCPClosed
	case flags&TCPSyn != 0 && flags&TCPAck == 0:
		if f.tcp == TCPNone || f.tcp == TCPClosed {
			// A new connection, possibly reusing the 4-tuple.
			f.fin = [2]bool{}
			f.tcp = TCPSynSent
		}
	case flags&TCPSyn != 0:
		if f.tcp <= TCPSynSent {
			f.tcp = TCPSynReceived
		}
	case flags&TCPFin != 0:
		f.fin[dir] = true
		if f.fin[0] && f.fin[1] {
			f.tcp = TCPClosed
		} else if f.tcp < TCPClosing {
			f.tcp = TCPClosing
		}
	default:
		if f.tcp == TCPNone || f.tcp == TCPSynReceived {
			f.tcp = TCPEstablished
		}
	}
}

// flowTable is a bounded table of flows: a map from key to slot, slots
// allocated once and recycled through a free list, and a doubly linked
// LRU list through the slots for idle and full-table eviction. It does
// not allocate once it has grown to its working size.
type flowTable struct {
	max   int
	idle  int64 // nanoseconds; <= 0 disables idle eviction
	index map[packet.FlowKey]int32
	flows []flow
	free  []int32
	head  int32 // most recently seen, -1 when empty
	tail  int32 // least recently seen, -1 when empty

	created     uint32 // flows created, for IDs
	evictedIdle uint64
	evictedFull uint64
	key         packet.FlowKey // update's, being looked up
	last        int32          // slot of the flow find found or made last
	dir         int            // the direction in its flow of the packet account counted last

	kernel *kernelTrack // for the kernel's flow counts (Config.KernelCounts); nil without
	procs  *procTable   // the processes' counters (processes.go); nil until named
	// procsExpired is when procs last dropped its idle processes.
	procsExpired int64
}

func newFlowTable(maxFlows int, idle int64) *flowTable {
	hint := min(maxFlows, 1<<16)
	return &flowTable{
		max:   maxFlows,
		idle:  idle,
		index: make(map[packet.FlowKey]int32, hint),
		flows: make([]flow, 0, hint),
		head:  -1,
		tail:  -1,
	}
}

func (t *flowTable) len() int { return len(t.index) }

// byID returns the live flow with the given ID, or nil.
func (t *flowTable) byID(id uint64) *flow {
	i := int(uint32(id))
	if id == 0 || i >= len(t.flows) || t.flows[i].id != id {
		return nil
	}
	return &t.flows[i]
}

// update accounts a packet of n bytes seen at ts to its flow, creating
// the flow if needed, and returns the flow.
func (t *flowTable) update(s *Summary, ifindex int, ts int64, n int) *flow {
	k := &t.key
	srcIsLo := keyOf(s, k)
	k.Ifindex = uint32(ifindex)
	i, ok := t.find()
	f, dir := t.account(i, ok, srcIsLo, ts, n)
	if k.Proto == ProtoTCP && k.IsIP() && s.transportDecoded() { // flags unknown with raw ports
		f.updateTCP(s.TCPFlags, dir)
	}
	if s.Tunnel != TunnelNone {
		f.tunnel, f.vni = s.Tunnel, s.VNI
	}
	if f.labelLen == 0 && s.textLen > 0 && !(s.App == AppHTTP && bytes.HasPrefix(s.rawText(), []byte("HTTP/"))) {
		f.labelLen = uint8(copy(f.label[:], s.rawText()))
	}
	if f.app == AppNone {
		// Not only with the label: a TLS flow picked up mid-stream has none.
		f.app = s.App
	}
	return f
}

// find returns the slot of the flow of key t.key and whether there is
// one. The flow of the last packet is tried before the map: a stream's
// packets come in runs.
func (t *flowTable) find() (int32, bool) {
	if i := t.last; int(i) < len(t.flows) && t.flows[i].id != 0 && t.flows[i].key == t.key {
		return i, true
	}
	i, ok := t.index[t.key]
	return i, ok
}

// account counts a packet of n bytes seen at ts, sent by the key's lo
// endpoint if srcIsLo, to the flow of key t.key in slot i (ok, from find)
// or to a new one, and returns the flow and the packet's direction in it
// (0: A to B).
func (t *flowTable) account(i int32, ok, srcIsLo bool, ts int64, n int) (*flow, int) {
	if !ok {
		i = t.insert(t.key, srcIsLo, ts)
		t.pushFront(i)
	} else if i != t.head {
		t.unlink(i)
		t.pushFront(i)
	}
	t.last = i
	f := &t.flows[i]
	dir := 0
	if srcIsLo != f.aIsLo {
		dir = 1
	}
	t.dir = dir
	f.pkts[dir]++
	f.bytes[dir] += uint64(n)
	f.first = min(f.first, ts)
	f.last = max(f.last, ts)
	f.rate.add(ts, n)
	return f, dir
}

// alloc returns a free slot, evicting the least recently seen flow when
// the table is full.
// insert makes a flow of key k, first and last seen at ts, and returns
// its slot, not yet in the recency list.
func (t *flowTable) insert(k packet.FlowKey, aIsLo bool, ts int64) int32 {
	i := t.alloc()
	t.created++
	t.flows[i] = flow{
		key:   k,
		id:    uint64(t.created)<<32 | uint64(uint32(i)),
		aIsLo: aIsLo,
		first: ts,
		last:  ts,
	}
	t.index[k] = i
	return i
}

func (t *flowTable) alloc() int32 {
	if n := len(t.free); n > 0 {
		i := t.free[n-1]
		t.free = t.free[:n-1]
		return i
	}
	if len(t.flows) < t.max {
		t.flows = append(t.flows, flow{})
		return int32(len(t.flows) - 1)
	}
	i := t.tail
	t.remove(i)
	t.evictedFull++
	t.free = t.free[:len(t.free)-1] // reuse the slot remove just freed
	return i
}

// expire evicts flows not seen for longer than the idle timeout before now,
// and, once a second, the processes left with no flow as long (without
// the processes view open they would pile up to their bound).
func (t *flowTable) expire(now int64) {
	if t.idle <= 0 {
		return
	}
	for t.tail >= 0 && now-t.flows[t.tail].last > t.idle {
		t.remove(t.tail)
		t.evictedIdle++
	}
	if t.procs != nil && now-t.procsExpired >= int64(time.Second) {
		t.procsExpired = now
		t.procs.expire(now, t.idle)
	}
}

// remove deletes flow i from the table and frees its slot.
func (t *flowTable) remove(i int32) {
	f := &t.flows[i]
	if t.kernel != nil {
		t.kernel.evict(f.key)
	}
	if t.procs != nil {
		t.procs.removeFlow(f)
	}
	delete(t.index, f.key)
	t.unlink(i)
	f.id = 0
	t.free = append(t.free, i)
}

func (t *flowTable) unlink(i int32) {
	f := &t.flows[i]
	if f.prev >= 0 {
		t.flows[f.prev].next = f.next
	} else {
		t.head = f.next
	}
	if f.next >= 0 {
		t.flows[f.next].prev = f.prev
	} else {
		t.tail = f.prev
	}
	f.prev, f.next = -1, -1
}

func (t *flowTable) pushFront(i int32) {
	f := &t.flows[i]
	f.prev, f.next = -1, t.head
	if t.head >= 0 {
		t.flows[t.head].prev = i
	}
	t.head = i
	if t.tail < 0 {
		t.tail = i
	}
}

// endpointString formats one flow endpoint for display.
func endpointString(k *packet.FlowKey, addr [16]byte, port uint16) string {
	if !k.IsIP() {
		var m [6]byte
		copy(m[:], addr[:])
		return string(appendMAC(nil, m))
	}
	a := netip.AddrFrom16(addr)
	if k.EtherType == 0x0800 {
		a = a.Unmap()
	}
	switch k.Proto {
	case ProtoTCP, ProtoUDP, ProtoSCTP:
		if k.LoPort != 0 || k.HiPort != 0 {
			return netip.AddrPortFrom(a, port).String()
		}
	}
	return a.String()
}
