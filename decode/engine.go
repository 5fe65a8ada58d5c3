package decode

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// Defaults for a zero Config.
const (
	DefaultMaxFlows    = 65536
	DefaultRingBytes   = 64 << 20
	DefaultIdleTimeout = 5 * time.Minute
)

// Config bounds an Engine. Zero fields take the defaults; a negative
// IdleTimeout disables idle eviction.
type Config struct {
	MaxFlows    int           // flows kept; the least recently seen is evicted beyond this
	RingBytes   int           // captured bytes kept in the retention ring
	IdleTimeout time.Duration // flows not seen for this long are evicted
	// KernelCounts keeps the keys of evicted flows for TakeEvicted: the
	// caller counts flows in the kernel too (SetKernelCounts).
	KernelCounts bool
	// BigEndian: the packets come from a file written big-endian, whose
	// BSD loopback (NULL) headers are in that order (display filters
	// compare them so).
	BigEndian bool
}

// Engine decodes frames, keeps the flow table, the retention ring and the
// counters. Add is meant for one producer goroutine; the view methods may
// be called concurrently from another (mu guards everything but
// FlowPackets' cache and decoder).
//
// The producer is the capture: while it waits for mu, the kernel's rings
// fill. So no view method holds mu for long: the ones whose work grows
// with the ring or the table (Snapshot, Flows, FlowPackets) do it in
// bounded steps and, between two, let a waiting Add or Writer in
// (yieldLocked).
type Engine struct {
	mu    sync.Mutex
	cfg   Config
	dec   *Decoder
	view  *Decoder // FlowPackets', made on first use (viewMu guards it)
	sum   Summary
	links linkSeen // the link types added
	flows *flowTable
	ring  *ring

	packets, bytes                            uint64
	rate                                      totalRate
	truncated, malformed, unsupported, panics uint64
	lost, dropped                             uint64
	disp                                      *displayFilter
	// The fast path (fast.go): packets it took, and noFast, which
	// sends every packet through the full decode (tests, benchmarks).
	fastPackets uint64
	noFast      bool

	ifnames  map[int]string
	procName func(pid uint32, at time.Time) string // SetProcessNames
	texts    []flowText                            // by flow slot

	// The processes' counters (processes.go), from SetProcessNames on;
	// procContainer names their containers.
	procs         *procTable
	procContainer func(pid uint32, at time.Time) string

	changed chan struct{} // Changed's; holds one value at most

	// For yieldLocked: the Add and Writer calls waiting for mu, the
	// adds done (guarded by mu) and their signal (on mu).
	adders  atomic.Int32
	adds    uint64
	addDone sync.Cond

	// FlowPackets' views of the packets of flow viewFlow, by sequence
	// number. viewMu guards them (taken before mu).
	viewMu     sync.Mutex
	viewFlow   uint64
	viewCache  map[uint64]PacketView
	viewItems  []viewItem            // the packets being decoded, kept for the next call
	rangeCache map[uint64]PacketView // PacketRange's
}

// NewEngine returns an Engine bounded by cfg.
func NewEngine(cfg Config) *Engine {
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = DefaultMaxFlows
	}
	if cfg.RingBytes <= 0 {
		cfg.RingBytes = DefaultRingBytes
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	e := &Engine{
		cfg:   cfg,
		dec:   NewDecoder(),
		flows: newFlowTable(cfg.MaxFlows, int64(cfg.IdleTimeout)),
		ring:  newRing(cfg.RingBytes),

		changed: make(chan struct{}, 1),
	}
	e.addDone.L = &e.mu
	e.dec.joinFrags = true
	if cfg.KernelCounts {
		e.flows.kernel = &kernelTrack{}
	}
	return e
}

// lockAdd takes mu for Add and Writer, telling yieldLocked they wait.
func (e *Engine) lockAdd() {
	if lockHook != nil {
		lockHook(false)
	}
	e.adders.Add(1)
	e.mu.Lock()
	e.adders.Add(-1)
	if lockHook != nil {
		lockHook(true)
	}
}

// lockHook, set by BenchmarkWriterLockWait only, is called as lockAdd asks
// for the lock (false) and as soon as it has it (true): the benchmark
// times the wait.
var lockHook func(locked bool)

// unlockAdd counts an add done, wakes the view methods waiting for one in
// yieldLocked and lets mu go.
func (e *Engine) unlockAdd() {
	e.adds++
	e.addDone.Broadcast() // nothing but an atomic load without waiters
	e.mu.Unlock()
}

// yieldLocked lets an Add or Writer waiting for mu in, if there is one,
// and returns when it is through, mu held again; the view methods call it
// between the steps of a long read. Unlocking and locking again would not
// do: Unlock wakes a waiter but does not hand it the lock, and the view's
// next Lock usually comes first, leaving the capture waiting until the
// mutex turns fair after 1 ms. Waiting on addDone gives mu up until the
// add is done. Whatever the caller read before may have changed since.
func (e *Engine) yieldLocked() {
	if e.adders.Load() == 0 {
		return
	}
	// An adder counted in adders is in lockAdd before or in mu.Lock:
	// it will take mu once Wait lets it go, and signal when done.
	for n := e.adds; n == e.adds; {
		e.addDone.Wait()
	}
}

// Changed returns a channel that receives a value after frames are added
// or the capture counters change: a view can wait for it rather than
// redraw what did not change. Signals coalesce (one is kept until taken).
func (e *Engine) Changed() <-chan struct{} { return e.changed }

// notify signals Changed without waiting.
func (e *Engine) notify() {
	select {
	case e.changed <- struct{}{}:
	default:
	}
}

// Config returns the configuration in effect, defaults filled in.
func (e *Engine) Config() Config { return e.cfg }

// Add decodes f, accounts it to its flow and the counters, and appends a
// copy of it to the retention ring; the caller may reuse f.Data.
// Timestamps drive rates and idle eviction.
func (e *Engine) Add(f packet.Packet) {
	e.lockAdd()
	defer e.unlockAdd()
	e.addLocked(&f)
	e.notify()
}

// addLocked is Add: through the fast path (fast.go) if it takes f, else
// through the full decode. e.mu is held.
func (e *Engine) addLocked(f *packet.Packet) {
	if lt := f.LinkType(); !e.links.any || lt != e.links.first {
		e.links.add(lt)
	}
	if !e.noFast && e.addFastLocked(f) {
		return
	}
	ts := f.Nanos
	s := &e.sum
	e.dec.DecodeLink(f.LinkType(), f.Data, int(f.OrigLen), s)

	e.packets++
	e.bytes += uint64(s.Len)
	e.rate.add(ts, s.Len)
	switch {
	case s.Flags&FlagPanic != 0:
		e.panics++
	case s.Flags&FlagMalformed != 0:
		e.malformed++
	case s.Flags&FlagTruncated != 0:
		e.truncated++
	case s.Flags&FlagUnsupported != 0:
		e.unsupported++
	}

	e.flows.expire(ts)
	fl := e.flows.update(s, int(f.Ifindex), ts, s.Len)
	// The kernel keys what decode could not decode, and a fragment that
	// joined its datagram's flow, otherwise than decode: an alias.
	if e.flows.kernel != nil && s.Link == packet.LinkTypeEthernet && (s.Flags&(FlagPanic|FlagMalformed|FlagTruncated|FlagUnsupported) != 0 || s.fragJoined) {
		e.flows.kernel.noteKey(f.Data, int(f.Ifindex), &fl.key)
	}
	e.retainLocked(f, s.Len, fl)
}

// SetInterfaceNames names the interfaces by index, for FlowView.Iface
// (and so for the text filter).
func (e *Engine) SetInterfaceNames(names map[int]string) {
	e.mu.Lock()
	e.ifnames = names
	e.mu.Unlock()
}

// SetCaptureCounters records the capture layer's loss counters (perf ring
// samples lost, packets dropped) so Stats can report them.
func (e *Engine) SetCaptureCounters(lost, dropped uint64) {
	e.mu.Lock()
	changed := e.lost != lost || e.dropped != dropped
	e.lost, e.dropped = lost, dropped
	e.mu.Unlock()
	if changed {
		e.notify()
	}
}

// Stats are the aggregate counters for the status bar.
type Stats struct {
	Packets, Bytes uint64  // frames seen and their original bytes
	PPS, BPS       float64 // packets and bits per second over the last second
	Flows          int     // flows in the table
	MaxFlows       int
	EvictedIdle    uint64  // flows evicted after the idle timeout
	EvictedFull    uint64  // flows evicted because the table was full
	Truncated      uint64  // frames with a header cut short (snaplen cuts of payload are not counted)
	Malformed      uint64  // frames that failed to decode
	Unsupported    uint64  // frames with a layer this package does not decode
	Panics         uint64  // decoder panics recovered
	RingPackets    int     // packets in the retention ring
	RingBytes      int     // captured bytes in the ring
	RingCap        int     // ring capacity in bytes
	RingFill       float64 // percent
	RingEvicted    uint64  // packets dropped from the ring to make room
	FirstSeq       uint64  // oldest sequence number in the ring (0 if empty)
	LastSeq        uint64  // newest sequence number in the ring (0 if empty)
	Lost, Dropped  uint64  // as set by SetCaptureCounters
	// Packets and bytes per second of everything over the HistorySeconds
	// whole seconds before now, oldest first (the status sparklines).
	PacketsHistory, BytesHistory History
}

// Evicted returns all evicted flows.
func (s Stats) Evicted() uint64 { return s.EvictedIdle + s.EvictedFull }

// DecodeErrors returns the frames that did not decode cleanly.
func (s Stats) DecodeErrors() uint64 { return s.Malformed + s.Panics }

// Stats returns the counters, with rates as of now.
func (e *Engine) Stats(now time.Time) Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	pps, bps := e.rate.at(unixNano(now))
	st := Stats{
		Packets:     e.packets,
		Bytes:       e.bytes,
		PPS:         pps,
		BPS:         bps,
		Flows:       e.flows.len(),
		MaxFlows:    e.cfg.MaxFlows,
		EvictedIdle: e.flows.evictedIdle,
		EvictedFull: e.flows.evictedFull,
		Truncated:   e.truncated,
		Malformed:   e.malformed,
		Unsupported: e.unsupported,
		Panics:      e.panics,
		RingPackets: e.ring.count(),
		RingBytes:   e.ring.used,
		RingCap:     e.ring.size,
		RingFill:    e.ring.fill(),
		RingEvicted: e.ring.evicted,
		Lost:        e.lost,
		Dropped:     e.dropped,

		PacketsHistory: e.rate.pktHist.appendTo(make(History, 0, HistorySeconds), unixNano(now)),
		BytesHistory:   e.rate.hist.appendTo(make(History, 0, HistorySeconds), unixNano(now)),
	}
	if st.RingPackets > 0 {
		st.FirstSeq, st.LastSeq = e.ring.first, e.ring.next-1
	}
	return st
}

// SortKey orders Flows.
type SortKey uint8

// Sort keys; every order is descending (largest, fastest, newest first),
// ties broken by flow ID.
const (
	SortBytes     SortKey = iota // total bytes
	SortPackets                  // total packets
	SortRate                     // bits per second
	SortLastSeen                 // most recently seen
	SortFirstSeen                // most recently started
)

// FlowView is a copy of one flow for display. Strings are sanitized.
type FlowView struct {
	ID               uint64
	Proto            string     // "TCP", "UDP", "ICMP", ... or an EtherType name for non-IP
	A, B             string     // endpoints; A sent the first packet seen
	AAddr, BAddr     netip.Addr // invalid for non-IP flows
	APort, BPort     uint16
	PktsAB, PktsBA   uint64
	BytesAB, BytesBA uint64
	First, Last      time.Time
	PPS, BPS         float64
	State            string // TCP state, "" otherwise
	Label            string // first application text seen: SNI, DNS name, HTTP request line
	Tunnel           string // e.g. "VXLAN vni=42"
	Ifindex          int    // the interface it was captured on
	Iface            string // its name, when SetInterfaceNames gave one
	// Pid is the process owning the flow on this host (the newest packet
	// that named one: A's side, else B's), 0 if none; PeerPid the other
	// side's when both are local (loopback), else 0. Process names them
	// (SetProcessNames): "curl[4123]", with its container or systemd
	// unit; "curl[4123], nginx[911]" for two, A's first.
	Pid, PeerPid uint32
	Process      string
	// The packets decoded, and those the ring could not take, counted by
	// the kernel (SetKernelCounts). PktsAB and PktsBA are their sums,
	// direction by direction.
	DecodedPkts, KernelPkts uint64
}

// Packets returns the packets in both directions.
func (v *FlowView) Packets() uint64 { return v.PktsAB + v.PktsBA }

// Bytes returns the bytes in both directions.
func (v *FlowView) Bytes() uint64 { return v.BytesAB + v.BytesBA }

// String returns the flow as one line, the text Flows filters on.
func (v *FlowView) String() string {
	var b strings.Builder
	if v.Iface != "" {
		b.WriteString(v.Iface)
		b.WriteByte(' ')
	}
	b.WriteString(v.Proto)
	b.WriteByte(' ')
	b.WriteString(v.A)
	b.WriteString(" <-> ")
	b.WriteString(v.B)
	for _, s := range [...]string{v.State, v.Label, v.Tunnel, v.Process} {
		if s != "" {
			b.WriteByte(' ')
			b.WriteString(s)
		}
	}
	return b.String()
}

// flowText caches a flow's display strings, which do not change while the
// flow lives (its label is the first one seen): formatting them once, not
// on every refresh, keeps Flows nearly allocation-free for a full table.
type flowText struct {
	id       uint64 // the flow they belong to; the slot may be reused
	labelLen uint8
	a, b     string
	label    string
	tunnel   string
}

// textLocked returns the cached strings of the flow in slot i, formatting
// them if the slot holds another flow now or the label changed. e.mu is held.
func (e *Engine) textLocked(i int32) *flowText {
	if len(e.texts) < len(e.flows.flows) {
		e.texts = append(e.texts, make([]flowText, len(e.flows.flows)-len(e.texts))...)
	}
	f, t := &e.flows.flows[i], &e.texts[i]
	if t.id == f.id && t.labelLen == f.labelLen {
		return t
	}
	aAddr, aPort := f.a()
	bAddr, bPort := f.b()
	*t = flowText{
		id: f.id, labelLen: f.labelLen,
		a:     endpointString(&f.key, aAddr, aPort),
		b:     endpointString(&f.key, bAddr, bPort),
		label: Printable(f.label[:f.labelLen]),
	}
	if f.tunnel != TunnelNone {
		t.tunnel = f.tunnel.String()
		switch {
		case f.tunnel == TunnelVXLAN:
			t.tunnel += " vni=" + itoa(uint64(f.vni))
		case f.tunnel == TunnelGRE && f.vni != 0:
			t.tunnel += " key=" + itoa(uint64(f.vni))
		}
	}
	return t
}

// flowCopy is what Flows copies under the lock: the numbers and the cached
// strings, not the flow's buffers.
type flowCopy struct {
	id          uint64
	key         packet.FlowKey
	aIsLo       bool
	pkts, bytes [2]uint64
	decoded     uint64 // packets decoded
	kernel      uint64 // packets the kernel counted
	first, last int64
	tcp         TCPState
	pps, bps    float64
	text        flowText
	owner       [2]uint32 // A's, B's
}

// copyLocked copies the flow in slot i for a view. e.mu is held.
func (e *Engine) copyLocked(i int32, nowNs int64) flowCopy {
	f := &e.flows.flows[i]
	pps, bps := f.rate.at(nowNs)
	return flowCopy{
		id: f.id, key: f.key, aIsLo: f.aIsLo,
		pkts:    [2]uint64{f.pkts[0] + f.kpkts[0], f.pkts[1] + f.kpkts[1]},
		bytes:   [2]uint64{f.bytes[0] + f.kbytes[0], f.bytes[1] + f.kbytes[1]},
		decoded: f.pkts[0] + f.pkts[1],
		kernel:  f.kpkts[0] + f.kpkts[1],
		first:   f.first, last: f.last, tcp: f.tcp, pps: pps, bps: bps,
		text: *e.textLocked(i), owner: f.owner,
	}
}

// flowsStep is how many slots of the flow table Flows copies per step
// (see yieldLocked): a table of 65,536 flows copied in one go held the
// lock for tens of milliseconds (docs/performance.md).
var flowsStep = 1024

// Flows returns the flows that match filter, sorted by key, with rates as
// of now. A filter starting with "~" keeps the flows whose String contains
// the rest (case-insensitive); "" keeps all; anything else is a
// pcap-filter expression (tcpdump syntax), which keeps the flows whose key
// matches it (see displayFilter.keepLocked) or with at least one matching
// packet in the ring, and keeps none when it does not compile (see
// CheckFilter). Flows idle past the timeout at now are evicted first.
//
// It copies the table in steps, letting the capture in between: a flow
// made meanwhile may be missing, and the flows are copied as of slightly
// different moments. Sorting and the text filter run unlocked.
func (e *Engine) Flows(key SortKey, filter string, now time.Time) []FlowView {
	return e.FlowsOf(nil, key, filter, now)
}

// FlowsOf is Flows of the flows attributed to the processes pids (0: to
// none, FlowView.Pid); nil pids keeps them all.
func (e *Engine) FlowsOf(pids []uint32, key SortKey, filter string, now time.Time) []FlowView {
	if pids != nil {
		pids = slices.Clone(pids)
		slices.Sort(pids) // searched for every flow, under the lock
	}
	nowNs := unixNano(now)
	e.mu.Lock()
	e.flows.expire(nowNs)
	var disp *displayFilter
	if filter != "" {
		disp = e.setDisplayLocked(filter)
		e.scanDisplayLocked(disp)
		disp.prune(e.flows)
	} else {
		e.disp = nil // no more matching on Add
	}
	text := ""
	if disp != nil && disp.kind == FilterText {
		text = disp.text
	}
	n := e.flows.len()
	e.mu.Unlock()

	out := make([]FlowView, 0, n)
	// For the reason Snapshot gives; a small table needs no more (the
	// view asks many times a second).
	step := touch(make([]flowCopy, min(flowsStep, n+64)))
	// By slot rather than down the recency list, which changes while the
	// lock is let go; a flow keeps its slot. Each step is turned into
	// views unlocked.
	for slot, more := 0, true; more; {
		e.mu.Lock()
		step = step[:0]
		for end := min(slot+flowsStep, len(e.flows.flows)); slot < end; slot++ {
			f := &e.flows.flows[slot]
			if f.id == 0 || disp != nil && (disp.kind == FilterInvalid || disp.kind == FilterPcap && !disp.keepLocked(f)) {
				continue // a free slot, or neither its key nor a packet of it matches
			}
			if pids != nil && !ownedBy(f.owner, pids) {
				continue
			}
			step = append(step, e.copyLocked(int32(slot), nowNs))
		}
		more = slot < len(e.flows.flows)
		names, procName := e.ifnames, e.procName
		if more {
			e.yieldLocked() // Unlock does not hand the lock over
		}
		e.mu.Unlock()
		for i := range step {
			v := step[i].view()
			v.Iface = names[v.Ifindex]
			v.Process = flowProcess(&v, procName)
			if text != "" && !strings.Contains(strings.ToLower(v.String()), text) {
				continue
			}
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b FlowView) int {
		var c int
		switch key {
		case SortPackets:
			c = cmp.Compare(b.Packets(), a.Packets())
		case SortRate:
			c = cmp.Compare(b.BPS, a.BPS)
		case SortLastSeen:
			c = b.Last.Compare(a.Last)
		case SortFirstSeen:
			c = b.First.Compare(a.First)
		default:
			c = cmp.Compare(b.Bytes(), a.Bytes())
		}
		if c == 0 {
			c = cmp.Compare(a.ID, b.ID)
		}
		return c
	})
	return out
}

// Flow returns the view of one flow, with rates as of now.
func (e *Engine) Flow(id uint64, now time.Time) (FlowView, bool) {
	nowNs := unixNano(now)
	e.mu.Lock()
	if e.flows.byID(id) == nil {
		e.mu.Unlock()
		return FlowView{}, false
	}
	c := e.copyLocked(int32(uint32(id)), nowNs)
	procName := e.procName
	e.mu.Unlock()
	v := c.view()
	v.Process = flowProcess(&v, procName)
	return v, true
}

func (c *flowCopy) view() FlowView {
	var aAddr, bAddr [16]byte
	var aPort, bPort uint16
	if c.aIsLo {
		aAddr, aPort, bAddr, bPort = c.key.Lo, c.key.LoPort, c.key.Hi, c.key.HiPort
	} else {
		aAddr, aPort, bAddr, bPort = c.key.Hi, c.key.HiPort, c.key.Lo, c.key.LoPort
	}
	v := FlowView{
		ID:      c.id,
		Ifindex: int(c.key.Ifindex),
		A:       c.text.a,
		B:       c.text.b,
		PktsAB:  c.pkts[0],
		PktsBA:  c.pkts[1],
		BytesAB: c.bytes[0],
		BytesBA: c.bytes[1],
		First:   fromUnixNano(c.first),
		Last:    fromUnixNano(c.last),
		PPS:     c.pps,
		BPS:     c.bps,
		State:   c.tcp.String(),
		Label:   c.text.label,
		Tunnel:  c.text.tunnel,

		DecodedPkts: c.decoded,
		KernelPkts:  c.kernel,
	}
	v.Pid, v.PeerPid, _ = owners(c.owner)
	if c.key.IsIP() {
		v.Proto = ipProtoName(c.key.Proto)
		v.AAddr, v.BAddr = netip.AddrFrom16(aAddr), netip.AddrFrom16(bAddr)
		if c.key.EtherType == 0x0800 {
			v.AAddr, v.BAddr = v.AAddr.Unmap(), v.BAddr.Unmap()
		}
		v.APort, v.BPort = aPort, bPort
	} else {
		v.Proto = keyProtoName(c.key.EtherType, c.key.Proto)
	}
	return v
}

// PacketView is one retained packet for the packet list.
type PacketView struct {
	Seq     uint64
	Flow    uint64 // the ID of its flow
	TS      time.Time
	Dir     packet.Dir
	Ifindex int
	Len     int // original length
	CapLen  int
	Proto   string
	Src     string
	Dst     string
	Info    string
	Line    string // Summary.Line
}

// flowPacketsChunk is how many packets FlowPackets decodes per step (see
// yieldLocked). The live view asks for 1,000 packets of the selected flow
// several times a second; during a bulk TCP stream every one of them is
// new, and decoding them all in one go held the lock for milliseconds
// while the capture waited for it and the perf rings filled
// (docs/performance.md).
var flowPacketsChunk = 64

// flowWalkStep is how many packets FlowPackets looks at per step while it
// finds those of the flow: a flow evicted from the table is looked for
// through the whole ring, millions of packets in a large one.
var flowWalkStep = 4096

// FlowPackets returns up to max of the newest retained packets of flow id,
// oldest first. It works for flows already evicted from the flow table
// (by scanning the ring) as long as their packets are retained. It lets
// the capture in between steps of finding and decoding them
// (flowWalkStep, flowPacketsChunk), so under heavy traffic the list can
// come back short, or empty: the packets that left the ring in the
// meantime are not in it, the newer ones not yet.
//
// A retained packet never changes, so its view is kept from one call to
// the next (for the last flow asked about): a view refreshed many times a
// second decodes only the packets that came in since.
func (e *Engine) FlowPackets(id uint64, max int) []PacketView {
	if max <= 0 {
		return nil
	}
	e.viewMu.Lock()
	defer e.viewMu.Unlock()
	if e.viewFlow != id || e.viewCache == nil {
		e.viewFlow, e.viewCache = id, map[uint64]PacketView{}
	}
	cache := e.viewCache

	e.mu.Lock()
	var seqs []uint64
	if f := e.flows.byID(id); f != nil {
		for seq := f.lastSeq; seq != 0; {
			if seqs, seq = e.ring.flowSeqs(seqs, id, seq, max, flowWalkStep); seq != 0 {
				e.yieldLocked()
			}
		}
	} else {
		for seq := e.ring.next - 1; seq != 0; {
			if seqs, seq = e.ring.scanFlow(seqs, id, seq, max, flowWalkStep); seq != 0 {
				e.yieldLocked()
			}
		}
	}
	e.mu.Unlock()
	slices.Reverse(seqs)
	if e.view == nil && len(seqs) > 0 {
		e.view = NewDecoder() // e.view is viewMu's
	}
	fresh := 0 // not in the cache
	for _, seq := range seqs {
		if _, ok := cache[seq]; !ok {
			fresh++
		}
	}
	// Allocated unlocked, for the reason Snapshot gives, and kept for the
	// next call.
	if cap(e.viewItems) < fresh {
		e.viewItems = touch(make([]viewItem, fresh))
	}
	items := e.viewItems[:0]

	e.mu.Lock()
	cut := 0     // seqs[:cut] left the ring while the capture was let in
	decoded := 0 // in this step
	for i, seq := range seqs {
		if _, ok := cache[seq]; ok {
			continue
		}
		if decoded == flowPacketsChunk {
			e.yieldLocked()
			decoded = 0
		}
		var ok bool
		if items, ok = e.decodeLocked(items, seq); !ok {
			// The ring lets go of its oldest packets first: this one
			// and every one before it in seqs are gone.
			cut = i + 1
			continue
		}
		decoded++
	}
	e.mu.Unlock()
	seqs = seqs[cut:]
	viewsInto(cache, items)
	out := make([]PacketView, len(seqs))
	for i, seq := range seqs {
		out[i] = cache[seq]
	}
	// Keep only what this call returned: older views are of packets that
	// left the list (or the ring).
	if len(cache) > len(seqs) {
		for seq := range cache {
			if len(seqs) == 0 || seq < seqs[0] {
				delete(cache, seq)
			}
		}
	}
	return out
}

// Packet returns a copy of retained packet seq.
func (e *Engine) Packet(seq uint64) (packet.Packet, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ring.frame(seq)
}

// Snapshot steps: how many packets, and bytes, Snapshot copies at most per
// step (see yieldLocked). A large ring copied in one go held the lock for
// up to a second (BenchmarkWriterLockWait, docs/performance.md).
var (
	snapshotStepPackets = 4096
	snapshotStepBytes   = 512 << 10
)

// Snapshot returns a copy of the packets retained when it is called, in
// timestamp order, for saving off the hot path. It copies them in steps,
// letting the capture in between: the oldest may leave the ring before
// their turn comes (when traffic turns the ring over faster than the copy
// goes), and are then left out; missed counts them, so that a save can
// say so.
func (e *Engine) Snapshot() (pkts []packet.Packet, missed int) {
	e.mu.Lock()
	seq, end, n := e.ring.first, e.ring.next, e.ring.count()
	e.mu.Unlock()
	// What is written locked is allocated and touched unlocked: the first
	// touch of a fresh page faults, slow in a VM.
	out := touch(make([]packet.Packet, n))[:0]
	var buf []byte
	for seq < end {
		if cap(buf)-len(buf) < snapshotStepBytes/2 {
			buf = touch(make([]byte, snapshotStepBytes))[:0]
		}
		e.mu.Lock()
		if out, buf, seq = e.ring.copyOut(out, buf, seq, end, snapshotStepPackets); seq < end {
			e.yieldLocked() // Unlock does not hand the lock over
		}
		e.mu.Unlock()
	}
	sortFrames(out)
	return out, int(n) - len(out)
}

// touch writes to every page of s (fresh memory may be mapped on first
// touch) and returns it.
func touch[T any](s []T) []T {
	clear(s)
	return s
}

func itoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}
