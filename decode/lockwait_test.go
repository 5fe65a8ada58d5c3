package decode

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// lockWaitFlows is how many flows the lock-wait benchmark's table holds:
// the default MaxFlows, all of them live.
const lockWaitFlows = DefaultMaxFlows

// captureSim feeds an engine the way the live view's capture does
// (capture's RunPasses): passes of 1024 frames through a Writer, from one
// goroutine, the Writer flushed at the end of each. Every other pass is a
// bulk TCP stream of 1514-byte frames (one flow), the others a mix of 66-
// to 1242-byte UDP frames spread over the rest of the flows.
type captureSim struct {
	e         *Engine
	w         *Writer
	bulk, mix simPass
	next      int // passes made
	flow      int // next flow of the mix
	nanos     int64
}

// simPass is a pass's frames, in a buffer as the kernel's ring holds them.
type simPass struct {
	buf    []byte
	frames []packet.Packet
}

const (
	simPassFrames = 1024
	simPassBytes  = 2 << 20
)

func newCaptureSim(tb testing.TB, e *Engine) *captureSim {
	c := &captureSim{e: e, w: e.Writer(), nanos: time.Unix(1_700_000_000, 0).UnixNano()}
	bulk := serialize(tb, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40000, 5001, TCPAck, 1, 1), payload(make([]byte, 1460)))
	for _, p := range []*simPass{&c.bulk, &c.mix} {
		p.buf, p.frames = make([]byte, 0, simPassBytes), make([]packet.Packet, simPassFrames)
	}
	for i := range c.bulk.frames {
		off := len(c.bulk.buf)
		c.bulk.buf = append(c.bulk.buf, bulk...)
		c.bulk.frames[i] = packet.Packet{Data: c.bulk.buf[off:len(c.bulk.buf):len(c.bulk.buf)], OrigLen: uint32(len(bulk))}
	}
	var mix [][]byte
	for _, n := range []int{24, 158, 534, 1200} {
		mix = append(mix, serialize(tb, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(20000, 53), payload(make([]byte, n))))
	}
	c.mix.buf = c.mix.buf[:0]
	for i := range c.mix.frames {
		off := len(c.mix.buf)
		c.mix.buf = append(c.mix.buf, mix[i%len(mix)]...)
		d := c.mix.buf[off:len(c.mix.buf):len(c.mix.buf)]
		c.mix.frames[i] = packet.Packet{Data: d, OrigLen: uint32(len(d))}
	}
	return c
}

// pass returns the next pass's frames, stamped; the mix's frames get the
// next flows' addresses.
func (c *captureSim) pass() []packet.Packet {
	p := &c.bulk
	if c.next%2 == 1 {
		p = &c.mix
		// Flows 1..lockWaitFlows-1, source address and port from the flow
		// number (the checksums go stale; nothing checks them).
		for i := range p.frames {
			f := c.flow%(lockWaitFlows-1) + 1
			c.flow++
			d := p.frames[i].Data
			d[14+12], d[14+13], d[14+14], d[14+15] = 10, 1, byte(f>>8), byte(f)
			binary.BigEndian.PutUint16(d[14+20:], uint16(10000+f%50000))
		}
	}
	c.next++
	for i := range p.frames {
		c.nanos += 1000 // a microsecond apart: a million packets a second
		p.frames[i].Nanos = c.nanos
	}
	return p.frames
}

// add writes the next pass.
func (c *captureSim) add() {
	frames := c.pass()
	for i := range frames {
		_ = c.w.Write(&frames[i])
	}
	_ = c.w.Flush()
}

func (c *captureSim) now() time.Time { return time.Unix(0, c.nanos) }

// BenchmarkWriterLockWait measures how long the capture's adds (a
// Writer's, as capture's RunPasses makes them) wait for the engine's lock
// while the view reads: alone (the baseline: what a pass of 1024 frames
// costs), and with a second goroutine calling what the live view calls,
// as fast as it can, on a full 256 MiB ring and a table of 65,536 flows:
// Snapshot (the w key), Flows unfiltered and with a pcap-filter that
// changes every call (someone typing a filter: each new one is matched
// over the ring), and FlowPackets of the bulk stream, 1000 packets decoded
// afresh each time. One op is one pass; the Writer takes the lock a few
// times in it (writerRun, writerBytes). Reported for the wait for the
// lock (from lockAdd's call until it has the lock, lockHook), each time
// it is taken, and for the whole pass: the longest, the 99th percentile
// and how many took over 1 ms.
func BenchmarkWriterLockWait(b *testing.B) {
	e := NewEngine(Config{RingBytes: 256 << 20, MaxFlows: lockWaitFlows})
	c := newCaptureSim(b, e)
	// Fill the ring (it evicts) and the table.
	for st := e.Stats(c.now()); st.RingEvicted == 0 || st.Flows < lockWaitFlows; st = e.Stats(c.now()) {
		c.add()
	}
	var bulk uint64
	for _, f := range e.Flows(SortBytes, "", c.now()) {
		if f.APort == 40000 {
			bulk = f.ID
		}
	}
	if bulk == 0 {
		b.Fatal("no bulk flow")
	}
	for _, view := range []bool{false, true} {
		name := "alone"
		if view {
			name = "view"
		}
		b.Run(name, func(b *testing.B) {
			var nowNs atomic.Int64
			nowNs.Store(c.nanos)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var snaps, snapPkts int
			var snapTime time.Duration
			if view {
				wg.Go(func() {
					filters := [...]string{"tcp port 5001", "udp port 20000"}
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						t0 := time.Now()
						snap, _ := e.Snapshot()
						snapTime += time.Since(t0)
						snaps++
						snapPkts += len(snap)
						snap = nil
						now := time.Unix(0, nowNs.Load())
						if n := len(e.Flows(SortBytes, "", now)); n < lockWaitFlows/2 {
							panic("flows lost")
						}
						e.viewMu.Lock()
						e.viewCache = nil
						e.viewMu.Unlock()
						e.FlowPackets(bulk, 1000)
						e.Flows(SortRate, filters[i%2], now)
					}
				})
			}
			waits := make([]time.Duration, 0, 1<<18)
			calls := make([]time.Duration, 0, 1<<16)
			var asked time.Time
			lockHook = func(locked bool) {
				if !locked {
					asked = time.Now()
				} else {
					waits = append(waits, time.Since(asked))
				}
			}
			defer func() { lockHook = nil }()
			for b.Loop() {
				t0 := time.Now()
				c.add()
				calls = append(calls, time.Since(t0))
				nowNs.Store(c.nanos)
			}
			b.StopTimer()
			lockHook = nil
			close(stop)
			wg.Wait()
			report := func(d []time.Duration, what string) {
				slices.Sort(d)
				over := 0
				for _, w := range d {
					if w > time.Millisecond {
						over++
					}
				}
				b.ReportMetric(float64(d[len(d)-1].Microseconds()), "max-"+what+"-µs")
				b.ReportMetric(float64(d[len(d)*99/100].Microseconds()), "p99-"+what+"-µs")
				b.ReportMetric(float64(over), what+"s-over-1ms")
			}
			report(waits, "wait")
			report(calls, "call")
			b.ReportMetric(float64(len(waits))/float64(len(calls)), "waits/op")
			if view && snaps > 0 {
				b.ReportMetric(float64(snaps), "snapshots")
				b.ReportMetric(float64(snapTime.Milliseconds())/float64(snaps), "ms/snapshot")
				b.ReportMetric(float64(snapPkts)/float64(snaps), "pkts/snapshot")
			}
		})
	}
}

// smallSteps makes every stepped view method take tiny steps, so that the
// capture gets in between them as often as it can, until the test ends.
func smallSteps(t *testing.T) {
	saved := [...]int{snapshotStepPackets, snapshotStepBytes, flowsStep, flowPacketsChunk, flowWalkStep, scanStep}
	t.Cleanup(func() {
		snapshotStepPackets, snapshotStepBytes, flowsStep, flowPacketsChunk, flowWalkStep, scanStep =
			saved[0], saved[1], saved[2], saved[3], saved[4], saved[5]
	})
	snapshotStepPackets, snapshotStepBytes, flowsStep, flowPacketsChunk, flowWalkStep, scanStep = 3, 1024, 1, 4, 5, 3
}

// taggedFrames makes the frames of TestViewsWhileAdding: a TCP segment
// per tag, of flow 40000 -> 5001 for even tags and 40001 -> 5001 for odd
// ones, its sequence number the tag, 10 to 409 payload bytes, each
// byte(tag+i).
type taggedFrames struct{ tmpl [2][]byte }

const taggedHdr = 14 + 20 + 20 // Ethernet, IPv4, TCP

func newTaggedFrames(t *testing.T) *taggedFrames {
	var tf taggedFrames
	for i := range tf.tmpl {
		tf.tmpl[i] = serialize(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(uint16(40000+i), 5001, TCPAck|TCPPsh, 0, 1), payload(make([]byte, 409)))
	}
	return &tf
}

func taggedLen(tag uint32) int { return taggedHdr + 10 + int(tag*7919%400) }

// frame appends the frame of tag to b.
func (tf *taggedFrames) frame(b []byte, tag uint32) []byte {
	n := taggedLen(tag)
	start := len(b)
	b = append(b, tf.tmpl[tag%2][:n]...)
	d := b[start:]
	binary.BigEndian.PutUint16(d[14+2:], uint16(n-14)) // IPv4 total length
	binary.BigEndian.PutUint32(d[14+20+4:], tag)       // TCP sequence number
	for i := range d[taggedHdr:] {
		d[taggedHdr+i] = byte(tag + uint32(i))
	}
	return b
}

// check reports what is wrong with d as the frame of a tag, "" if nothing,
// and the tag.
func (tf *taggedFrames) check(d []byte) (uint32, string) {
	if len(d) < taggedHdr {
		return 0, "short"
	}
	tag := binary.BigEndian.Uint32(d[14+20+4:])
	if len(d) != taggedLen(tag) {
		return tag, "length"
	}
	for i, c := range d[taggedHdr:] {
		if c != byte(tag+uint32(i)) {
			return tag, "payload"
		}
	}
	return tag, ""
}

// TestViewsWhileAdding: Snapshot, FlowPackets and Flows, taking the
// smallest steps, while the capture adds through a Writer, as RunPasses
// does: what they return is intact, oldest first and never twice, whatever
// left the ring in between. The capture's buffer is scribbled over after
// every pass, as the kernel's ring is once read, so a packet the engine
// kept there rather than copied would read as garbage.
func TestViewsWhileAdding(t *testing.T) {
	smallSteps(t)
	e := NewEngine(Config{MaxFlows: 4, RingBytes: 64 << 10})
	w := e.Writer()
	tf := newTaggedFrames(t)
	var added atomic.Uint32 // tags below are in, or were, or are being added
	buf := make([]byte, 0, 12<<10)
	// add writes a pass of frames from tag on: two, or as many as fill
	// buf (more than writerRun's share of the lock would not be).
	add := func(tag uint32, long bool) uint32 {
		buf = buf[:0]
		var frames []packet.Packet
		for len(buf)+taggedLen(tag) <= cap(buf) && (long || len(frames) < 2) {
			start := len(buf)
			buf = tf.frame(buf, tag)
			d := buf[start:len(buf):len(buf)]
			frames = append(frames, packet.Packet{Nanos: packet.Nanos(testTS) + int64(tag), Dir: packet.DirOut, Data: d, OrigLen: uint32(len(d))})
			tag++
		}
		added.Store(tag)
		for i := range frames {
			_ = w.Write(&frames[i])
		}
		_ = w.Flush()
		full := buf[:cap(buf)]
		for i := range full {
			full[i] = 0xee
		}
		return tag
	}
	tag := uint32(0)
	for i := range 20 {
		tag = add(tag, i%2 == 1)
	}
	var flowA uint64
	for _, f := range e.Flows(SortBytes, "", testTS) {
		if f.APort == 40000 {
			flowA = f.ID
		}
	}
	if flowA == 0 {
		t.Fatal("no flow 40000")
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 4000 { // the ring holds a few hundred: it turns over all along
			tag = add(tag, i%2 == 1)
		}
	}()
	var snaps, gaps, pktLists, pkts int
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		snap, _ := e.Snapshot()
		after := added.Load() // no packet added after the call
		snaps++
		for i, f := range snap {
			tag, bad := tf.check(f.Data)
			switch {
			case bad != "":
				t.Fatalf("snapshot %d, packet %d of %d: bad %s, tag %d: % x", snaps, i, len(snap), bad, tag, f.Data)
			case f.Nanos != packet.Nanos(testTS)+int64(tag) || f.Dir != packet.DirOut || int(f.OrigLen) != len(f.Data):
				t.Fatalf("snapshot %d, packet %d: tag %d with %+v", snaps, i, tag, f)
			case tag >= after:
				t.Fatalf("snapshot %d, packet %d: tag %d added after the call (%d)", snaps, i, tag, after)
			}
			if i > 0 {
				prev, _ := tf.check(snap[i-1].Data)
				if tag <= prev {
					t.Fatalf("snapshot %d, packet %d: tag %d after %d", snaps, i, tag, prev)
				}
				if tag != prev+1 {
					gaps++
				}
			}
		}

		e.viewMu.Lock()
		e.viewCache = nil // decode every packet, every call
		e.viewMu.Unlock()
		list := e.FlowPackets(flowA, 1000)
		pktLists++
		pkts += len(list)
		var prev uint32
		for i, p := range list {
			var seq uint32
			if _, err := fmt.Sscanf(p.Info[max(strings.Index(p.Info, "seq="), 0):], "seq=%d", &seq); err != nil {
				t.Fatalf("packet %d: info %q: %v", i, p.Info, err)
			}
			if seq%2 != 0 || p.Len != taggedLen(seq) || p.Dir != packet.DirOut || !strings.Contains(p.Src, ":40000") {
				t.Fatalf("packet %d: tag %d in %+v", i, seq, p)
			}
			if i > 0 && (seq <= prev || p.Seq <= list[i-1].Seq) {
				t.Fatalf("packet %d: tag %d (seq %d) after %d (seq %d)", i, seq, p.Seq, prev, list[i-1].Seq)
			}
			prev = seq
		}

		for _, filter := range []string{"", "tcp src port 40000"} {
			seen := map[uint64]bool{}
			for _, f := range e.Flows(SortBytes, filter, testTS) {
				if seen[f.ID] {
					t.Fatalf("flows %q: flow %d twice", filter, f.ID)
				}
				seen[f.ID] = true
				if f.Proto != "TCP" || f.BPort != 5001 || filter != "" && f.APort != 40000 {
					t.Fatalf("flows %q: %+v", filter, f)
				}
			}
			if len(seen) > 4 {
				t.Fatalf("flows %q: %d flows, at most 4 kept", filter, len(seen))
			}
		}
	}
	t.Logf("%d snapshots with %d gaps (packets gone before their turn); %d packet lists of %d packets",
		snaps, gaps, pktLists, pkts)
}

// TestRingCopyOutEvicted: packets that leave the ring between two steps
// of a copy are skipped, the copy goes on from the oldest left, and stops
// at the end it was given.
func TestRingCopyOutEvicted(t *testing.T) {
	r := newRing(4096)
	frames := map[uint64][]byte{}
	add := func() uint64 {
		d := bytes.Repeat([]byte{byte(len(frames))}, 100+len(frames)%50)
		seq := r.append(d, len(d), int64(len(frames)), 1, packet.DirIn, packet.LinkTypeEthernet, 0, 1, 0)
		frames[seq] = d
		return seq
	}
	for r.evicted == 0 {
		add()
	}
	seq, end := r.first, r.next
	out, buf, seq := r.copyOut(nil, make([]byte, 0, 1<<10), seq, end, 2)
	if len(out) != 2 || seq != r.first+2 {
		t.Fatalf("first step: %d packets, next %d (first %d)", len(out), seq, r.first)
	}
	for r.first < seq+3 {
		add() // evict past where the copy is
	}
	firstLeft := r.first
	for seq < end {
		out, buf, seq = r.copyOut(out, buf, seq, end, 2)
	}
	var got []uint64
	for i, f := range out {
		s := uint64(f.Nanos) + 1 // the ring's sequence numbers start at 1
		if !bytes.Equal(f.Data, frames[s]) {
			t.Fatalf("packet %d (seq %d) not copied intact", i, s)
		}
		got = append(got, s)
	}
	if got[0]+1 != got[1] || got[2] != firstLeft || got[len(got)-1] != end-1 {
		t.Fatalf("copied %v: want the first two, then %d to %d", got, firstLeft, end-1)
	}
	for i := 3; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Fatalf("copied %v: a gap after %d", got, firstLeft)
		}
	}
	// Buffer capacity bounds a step, but never stops the first packet.
	out, _, next := r.copyOut(nil, make([]byte, 0, 10), r.first, r.next, 100)
	if len(out) != 1 || next != r.first+1 {
		t.Fatalf("tiny buffer: %d packets, next %d of %d", len(out), next, r.first)
	}
}

// TestSteppedViewsMatchWhole: with nothing added meanwhile, the view
// methods return the same in the smallest steps as in their usual ones,
// flows evicted from the table (their packets found by a ring scan) and
// the display filter's scan of the ring included.
func TestSteppedViewsMatchWhole(t *testing.T) {
	type views struct {
		Snap                []packet.Packet
		All, Filtered, Text []FlowView
		Pkts                [][]PacketView
		Scanned             int // lists of flows gone from the table
	}
	get := func() views {
		e := NewEngine(Config{MaxFlows: 6, RingBytes: 32 << 10})
		tf := newTaggedFrames(t)
		rng := rand.New(rand.NewPCG(5, 6))
		var ids []uint64
		for i := range 600 {
			if i%100 == 0 { // some flows to evict from the table later
				for _, f := range e.Flows(SortBytes, "", testTS) {
					ids = append(ids, f.ID)
				}
			}
			if rng.IntN(3) == 0 {
				d := udpFrame(t, uint16(1+rng.IntN(12)), 10+rng.IntN(200))
				e.Add(packet.Packet{Nanos: packet.Nanos(testTS) + int64(i), Data: d, OrigLen: uint32(len(d))})
				continue
			}
			d := tf.frame(nil, uint32(i))
			e.Add(packet.Packet{Nanos: packet.Nanos(testTS) + int64(i), Data: d, OrigLen: uint32(len(d))})
		}
		v := views{
			Snap:     first(e.Snapshot()),
			All:      e.Flows(SortPackets, "", testTS),
			Filtered: e.Flows(SortPackets, "udp", testTS),
			Text:     e.Flows(SortPackets, "~40001", testTS),
		}
		for _, id := range ids {
			v.Pkts = append(v.Pkts, e.FlowPackets(id, 1000), e.FlowPackets(id, 7))
			if _, ok := e.Flow(id, testTS); !ok && len(v.Pkts[len(v.Pkts)-2]) > 0 {
				v.Scanned++
			}
		}
		return v
	}
	whole := get()
	if len(whole.Snap) == 0 || len(whole.All) != 6 || len(whole.Filtered) == 0 || len(whole.Text) != 1 || whole.Scanned == 0 {
		t.Fatalf("whole: %d packets, %d flows, %d udp, %d text, %d lists of evicted flows",
			len(whole.Snap), len(whole.All), len(whole.Filtered), len(whole.Text), whole.Scanned)
	}
	smallSteps(t)
	stepped := get()
	if !reflect.DeepEqual(whole, stepped) {
		t.Errorf("in small steps:\n%+v\nwhole:\n%+v", stepped, whole)
	}
}
