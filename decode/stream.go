package decode

import (
	"cmp"
	"container/heap"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// StreamDir is the direction of a stream's bytes.
type StreamDir uint8

// Directions. The client sent the first SYN (or, with no SYN seen, was
// sent the SYN-ACK); without either it is the first sender seen.
const (
	ClientToServer StreamDir = iota
	ServerToClient
)

// StreamKind is how a flow's payload is followed.
type StreamKind uint8

// Stream kinds.
const (
	StreamNone      StreamKind = iota // nothing to follow: no TCP or datagram payload
	StreamTCP                         // one byte stream each way, reassembled by sequence number
	StreamDatagrams                   // UDP, SCTP, ICMP: each datagram's payload in capture order
)

// GapReason says why bytes are missing before a segment.
type GapReason uint8

// Gap reasons.
const (
	GapNone GapReason = iota
	// GapLost: bytes the peer's sequence numbers say were sent but no
	// packet in hand carries: lost by the capture, or aged out of the ring.
	GapLost
	// GapSnap: the packet was captured short (the snap length).
	GapSnap
	// GapStart: the start of this direction is not in hand (the capture
	// began mid-stream, or its first packets left the ring): how many
	// bytes came before is unknown, Gap is 0.
	GapStart
)

// Segment is a run of stream bytes in one direction, in the order they
// are shown. A segment with no Data marks missing bytes at the end of a
// direction (or, for a datagram, its bytes not captured).
type Segment struct {
	Dir    StreamDir
	Gap    int // bytes missing just before Data, in this direction
	GapWhy GapReason
	Data   []byte // a copy; raw packet bytes, to be sanitized before display
	Index  int    // the packet (index in the input) that brought Data's first byte
	Seq    uint64 // its ring sequence number (FlowStream); 0 from Reassemble
	Time   time.Time
}

// Stream is the payload of one flow, both directions interleaved.
type Stream struct {
	Kind           StreamKind
	Proto          string // "TCP", "UDP", ...
	Client, Server string // endpoints, printable
	Segments       []Segment
	Bytes          [2]int // bytes in Segments, by StreamDir
	Missing        [2]int // bytes known to be missing, by StreamDir
	Gaps           int    // gap marks, the unknown starts included
	Packets        int    // packets looked at
	First          uint64 // FlowStream: the oldest ring sequence number read
	// Cut: more bytes than maxBytes, or more packets than FlowStream
	// reads; what follows the cut is not in Segments.
	Cut bool
}

// streamPkt is what Reassemble keeps of one decoded packet.
type streamPkt struct {
	src      netip.AddrPort
	dst      netip.AddrPort
	flags    uint8
	seq, ack uint32
	payload  []byte
	missing  int // payload bytes on the wire past those captured
	idx      int
	ts       int64
}

// Reassemble follows the payload of pkts, the packets of one flow oldest
// first (as the ring holds them): for TCP, each direction's bytes in
// sequence order, retransmissions and overlaps counted once, out-of-order
// segments put in place, gaps marked; the two directions interleaved by
// when their bytes could first be read, as Wireshark's Follow TCP Stream
// does. For datagrams, each datagram's payload in capture order. At most
// maxBytes bytes of payload are returned (Cut says so). Packets of
// another transport than the first one's are ignored. It never panics on
// hostile bytes.
func Reassemble(pkts []packet.Packet, maxBytes int) Stream {
	return reassemble(pkts, maxBytes, netip.AddrPort{})
}

// reassemble is Reassemble with a guess at the client, taken when the
// packets hold neither a SYN nor a SYN-ACK, and for datagrams: the
// flow table's first sender, which may have left the ring.
func reassemble(pkts []packet.Packet, maxBytes int, hint netip.AddrPort) Stream {
	d := NewDecoder()
	var s Summary
	var st Stream
	var sp []streamPkt
	var proto uint8
	for i := range pkts {
		p := &pkts[i]
		payload, ok := d.transportPayload(p.LinkType(), p.Data, int(p.OrigLen), &s)
		if !ok {
			continue
		}
		if proto == 0 {
			proto = s.IPProto
		} else if s.IPProto != proto {
			continue
		}
		x := streamPkt{
			src:     netip.AddrPortFrom(s.SrcAddr, s.SrcPort),
			dst:     netip.AddrPortFrom(s.DstAddr, s.DstPort),
			flags:   s.TCPFlags,
			seq:     s.Seq,
			ack:     s.Ack,
			payload: payload,
			idx:     i,
			ts:      p.Nanos,
		}
		switch {
		case s.IPProto == ProtoUDP:
			x.missing = max(int(d.payloadStack().udp.Length)-8-len(payload), 0)
		case s.Flags&FlagSnap != 0:
			x.missing = max(s.Len-s.CapLen, 0)
		}
		sp = append(sp, x)
	}
	st.Packets = len(sp)
	if len(sp) == 0 {
		return st
	}
	st.Proto = ipProtoName(proto)
	client, server := sp[0].src, sp[0].dst
	if hint == server {
		client, server = server, client
	}
	if proto == ProtoTCP {
		st.Kind = StreamTCP
		client, server = tcpClient(sp, client, server)
	} else {
		st.Kind = StreamDatagrams
	}
	st.Client, st.Server = endpointText(client), endpointText(server)
	dirOf := func(x *streamPkt) StreamDir {
		if x.src == client {
			return ClientToServer
		}
		return ServerToClient
	}
	var chunks []chunk
	if st.Kind == StreamTCP {
		chunks = tcpChunks(sp, dirOf)
	} else {
		chunks = datagramChunks(sp, dirOf)
	}
	st.collect(chunks, sp, maxBytes)
	return st
}

// transportPayload decodes a frame and returns the payload of its
// transport header (of the inner packet, if tunnelled), and whether a
// transport header was decoded (TCP, UDP, SCTP, ICMP).
func (d *Decoder) transportPayload(lt packet.LinkType, data []byte, origLen int, s *Summary) ([]byte, bool) {
	d.inner.decoded = d.inner.decoded[:0] // non-empty after Decode only if the inner packet was parsed
	d.DecodeLink(lt, data, origLen, s)
	if s.Flags&FlagPanic != 0 {
		return nil, false
	}
	st := d.payloadStack()
	n := len(st.decoded)
	if n == 0 {
		return nil, false
	}
	switch st.decoded[n-1] {
	case layers.LayerTypeTCP:
		return st.tcp.Payload, s.IPProto == ProtoTCP
	case layers.LayerTypeUDP:
		return st.udp.Payload, s.IPProto == ProtoUDP
	case layers.LayerTypeSCTP:
		return st.sctp.Payload, s.IPProto == ProtoSCTP
	case layers.LayerTypeICMPv4:
		return st.icmp4.Payload, s.IPProto == ProtoICMP
	case layers.LayerTypeICMPv6:
		return st.icmp6.Payload, s.IPProto == ProtoICMPv6
	}
	return nil, false
}

// payloadStack is the stack the last transportPayload's layers are in.
func (d *Decoder) payloadStack() *stack {
	if len(d.inner.decoded) > 0 {
		return d.inner
	}
	return d.outer
}

func endpointText(ap netip.AddrPort) string {
	if !ap.Addr().IsValid() {
		return "?"
	}
	if ap.Port() == 0 {
		return ap.Addr().String()
	}
	return ap.String()
}

// tcpClient returns the client and server endpoints: the SYN's sender,
// else the SYN-ACK's receiver, else the ones given.
func tcpClient(sp []streamPkt, client, server netip.AddrPort) (netip.AddrPort, netip.AddrPort) {
	for i := range sp {
		if sp[i].flags&(TCPSyn|TCPAck) == TCPSyn {
			return sp[i].src, sp[i].dst
		}
	}
	for i := range sp {
		if sp[i].flags&(TCPSyn|TCPAck) == TCPSyn|TCPAck {
			return sp[i].dst, sp[i].src
		}
	}
	return client, server
}

// chunk is a run of one direction's bytes (or a gap with none) and when
// it can first be read: key, the index of the packet that completes
// everything before it in its direction.
type chunk struct {
	dir    StreamDir
	gap    int
	why    GapReason
	data   []byte
	idx    int
	key    int
	packet bool // one datagram: never merged with the next chunk
}

// tcpDir is one direction of a TCP connection, its sequence numbers
// unwrapped to 64 bits relative to the first one seen.
type tcpDir struct {
	seen    bool
	last    uint32
	lastRel int64

	syn      bool // a SYN was seen: the stream starts after it
	synRel   int64
	peerSyn  bool // the peer's SYN-ACK acknowledged our SYN: the stream starts there
	startAck int64
	fin      bool
	finRel   int64 // where the FIN sits: the end of the data
	finIdx   int
	acked    bool
	ackRel   int64 // the highest sequence number the peer acknowledged
	ackIdx   int
	pieces   []piece
}

type piece struct {
	off     int64
	data    []byte
	missing int
	idx     int
}

// rel unwraps seq against the last one seen: consecutive sequence
// numbers of a direction differ by less than 2^31.
func (t *tcpDir) rel(seq uint32) int64 {
	if !t.seen {
		t.seen, t.last, t.lastRel = true, seq, 0
		return 0
	}
	r := t.lastRel + int64(int32(seq-t.last))
	t.last, t.lastRel = seq, r
	return r
}

func tcpChunks(sp []streamPkt, dirOf func(*streamPkt) StreamDir) []chunk {
	var dirs [2]tcpDir
	for i := range sp {
		x := &sp[i]
		dir := dirOf(x)
		t, peer := &dirs[dir], &dirs[1-dir]
		off := t.rel(x.seq)
		if x.flags&TCPSyn != 0 {
			if !t.syn {
				t.syn, t.synRel = true, off
			}
			off++ // the SYN takes a sequence number
		}
		if x.flags&TCPRst == 0 && (len(x.payload) > 0 || x.missing > 0) {
			t.pieces = append(t.pieces, piece{off: off, data: x.payload, missing: x.missing, idx: i})
		}
		if x.flags&TCPFin != 0 && !t.fin {
			t.fin, t.finRel, t.finIdx = true, off+int64(len(x.payload)+x.missing), i
		}
		if x.flags&TCPAck != 0 && x.flags&TCPRst == 0 {
			a := peer.rel(x.ack)
			if x.flags&TCPSyn != 0 && !peer.peerSyn {
				peer.peerSyn, peer.startAck = true, a
			}
			if !peer.acked || a > peer.ackRel {
				peer.acked, peer.ackRel, peer.ackIdx = true, a, i
			}
		}
	}
	a := dirs[ClientToServer].chunks(ClientToServer)
	b := dirs[ServerToClient].chunks(ServerToClient)
	// Merge by key; a tie goes to the packet that came first.
	out := make([]chunk, 0, len(a)+len(b))
	for len(a) > 0 || len(b) > 0 {
		if len(b) == 0 || len(a) > 0 && cmp.Or(cmp.Compare(a[0].key, b[0].key), cmp.Compare(a[0].idx, b[0].idx)) <= 0 {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return out
}

// chunks lays out one direction's bytes in sequence order, each run with
// when it could first be read: bytes are taken in capture order as they
// become contiguous (a retransmission or overlap adds only the bytes past
// those already taken, as Wireshark does), and a hole that no packet in
// hand fills is skipped as a gap as soon as it is reached, rather than
// at the end.
func (t *tcpDir) chunks(dir StreamDir) []chunk {
	// The ranges some packet holds, merged: what is outside is a gap.
	var held [][2]int64
	snapAt := map[int64]bool{} // where a packet captured short ends
	snapEnd, snapIdx := int64(math.MinInt64), -1
	for _, p := range t.pieces {
		end := p.off + int64(len(p.data))
		if len(p.data) > 0 {
			held = append(held, [2]int64{p.off, end})
		}
		if p.missing > 0 {
			snapAt[end] = true
			if e := end + int64(p.missing); e > snapEnd {
				snapEnd, snapIdx = e, p.idx
			}
		}
	}
	slices.SortFunc(held, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	merged := held[:0]
	for _, r := range held {
		if n := len(merged); n > 0 && r[0] <= merged[n-1][1] {
			merged[n-1][1] = max(merged[n-1][1], r[1])
			continue
		}
		merged = append(merged, r)
	}
	held = merged

	start, why := int64(0), GapNone
	switch {
	case t.syn:
		start = t.synRel + 1
	case t.peerSyn:
		start = t.startAck
	case len(held) > 0:
		start, why = held[0][0], GapStart
	default:
		return nil
	}
	var out []chunk
	covered, gap, k, key := start, 0, 0, -1
	reason := func() GapReason {
		if snapAt[covered] {
			return GapSnap
		}
		return GapLost
	}
	// skip jumps covered over a hole that starts there.
	skip := func() {
		for k < len(held) && held[k][1] <= covered {
			k++
		}
		if k < len(held) && held[k][0] > covered {
			gap = int(min(int64(gap)+held[k][0]-covered, 1<<31))
			if why == GapNone {
				why = reason()
			}
			covered = held[k][0]
		}
	}
	var h pieceHeap
	for i := range t.pieces {
		p := &t.pieces[i]
		if len(p.data) == 0 {
			continue
		}
		heap.Push(&h, p)
		skip()
		for len(h) > 0 && h[0].off <= covered {
			q := heap.Pop(&h).(*piece)
			end := q.off + int64(len(q.data))
			if end <= covered {
				continue // bytes already taken
			}
			key = p.idx
			out = append(out, chunk{dir: dir, gap: gap, why: why, data: q.data[covered-q.off:], idx: q.idx, key: key})
			gap, why, covered = 0, GapNone, end
			skip()
		}
	}
	// Bytes known to have been sent after the last ones in hand: up to
	// the FIN, or to what the peer acknowledged, or cut by the snap length.
	endAt, endIdx := covered, -1
	switch {
	case t.fin:
		endAt, endIdx = t.finRel, t.finIdx
	case t.acked:
		endAt, endIdx = t.ackRel, t.ackIdx
	}
	if snapEnd > endAt {
		endAt, endIdx = snapEnd, snapIdx
	}
	if endAt > covered {
		out = append(out, chunk{dir: dir, gap: int(min(endAt-covered, 1<<31)), why: reason(), idx: endIdx, key: max(key, endIdx)})
	}
	return out
}

// pieceHeap orders pieces by offset, then capture order.
type pieceHeap []*piece

func (h pieceHeap) Len() int { return len(h) }
func (h pieceHeap) Less(i, j int) bool {
	return h[i].off < h[j].off || h[i].off == h[j].off && h[i].idx < h[j].idx
}
func (h pieceHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *pieceHeap) Push(x any)   { *h = append(*h, x.(*piece)) }
func (h *pieceHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func datagramChunks(sp []streamPkt, dirOf func(*streamPkt) StreamDir) []chunk {
	var out []chunk
	for i := range sp {
		x := &sp[i]
		if len(x.payload) == 0 && x.missing == 0 {
			continue
		}
		dir := dirOf(x)
		if len(x.payload) > 0 {
			out = append(out, chunk{dir: dir, data: x.payload, idx: i, key: i, packet: true})
		}
		if x.missing > 0 {
			out = append(out, chunk{dir: dir, gap: x.missing, why: GapSnap, idx: i, key: i, packet: true})
		}
	}
	return out
}

// collect turns the chunks into segments, copying at most maxBytes of
// data; consecutive TCP chunks of one direction with no gap between them
// become one segment. Chunk indexes are of sp.
func (st *Stream) collect(chunks []chunk, sp []streamPkt, maxBytes int) {
	left := max(maxBytes, 0)
	for _, c := range chunks {
		if len(c.data) > left {
			c.data, st.Cut = c.data[:left], true
			if left == 0 {
				return
			}
		}
		left -= len(c.data)
		st.Bytes[c.dir] += len(c.data)
		if c.gap > 0 || c.why != GapNone {
			st.Gaps++
			st.Missing[c.dir] += c.gap
		}
		n := len(st.Segments)
		if n > 0 && !c.packet && c.gap == 0 && c.why == GapNone {
			if last := &st.Segments[n-1]; last.Dir == c.dir && len(last.Data) > 0 {
				last.Data = append(last.Data, c.data...)
				continue
			}
		}
		x := &sp[c.idx]
		st.Segments = append(st.Segments, Segment{
			Dir: c.dir, Gap: c.gap, GapWhy: c.why,
			Data:  slices.Clone(c.data),
			Index: x.idx,
			Time:  fromUnixNano(x.ts),
		})
	}
}
