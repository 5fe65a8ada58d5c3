package decode

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// packetReader is what pcapgo's pcap and pcapng readers have in common.
type packetReader interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	LinkType() layers.LinkType
}

// openCapture opens a pcap or pcapng file, chosen by its magic number.
func openCapture(path string) (packetReader, io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReader(f)
	magic, err := br.Peek(4)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("read magic: %w", err)
	}
	var r packetReader
	switch binary.LittleEndian.Uint32(magic) {
	case 0x0a0d0d0a:
		r, err = pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{})
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		r, err = pcapgo.NewReader(br)
	default:
		err = fmt.Errorf("unknown magic % x", magic)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return r, f, nil
}

// readPacket reads one packet, turning a reader panic (not our code)
// into an error.
func readPacket(r packetReader) (data []byte, ci gopacket.CaptureInfo, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("reader panic: %v", p)
		}
	}()
	return r.ReadPacketData()
}

// eachCorpusPacket calls fn for every packet of every Ethernet capture in
// the corpus and returns the number of files read, skipped and broken.
func eachCorpusPacket(tb testing.TB, fn func(file string, data []byte, ci gopacket.CaptureInfo)) (read, skipped, broken int) {
	dir := testutil.Corpus(tb)
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	for _, ent := range entries {
		if ent.IsDir() {
			continue
		}
		r, c, err := openCapture(filepath.Join(dir, ent.Name()))
		if err != nil {
			skipped++
			continue
		}
		if r.LinkType() != layers.LinkTypeEthernet {
			skipped++
			c.Close()
			continue
		}
		read++
		for {
			data, ci, err := readPacket(r)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					broken++
				}
				break
			}
			fn(ent.Name(), data, ci)
		}
		c.Close()
	}
	return read, skipped, broken
}

// TestCorpus feeds every packet of the tcpdump test captures through the
// Engine and the display paths: nothing may panic, and every summary
// must be printable.
func TestCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	e := NewEngine(Config{MaxFlows: 4096, RingBytes: 8 << 20})
	var packets, panics int
	d := NewDecoder()
	var s Summary
	read, skipped, broken := eachCorpusPacket(t, func(file string, data []byte, ci gopacket.CaptureInfo) {
		packets++
		e.Add(packet.Packet{Nanos: packet.Nanos(ci.Timestamp), Ifindex: uint32(ci.InterfaceIndex), OrigLen: uint32(ci.Length), Data: data})
		d.Decode(data, ci.Length, &s)
		if s.Flags&FlagPanic != 0 {
			panics++
			t.Errorf("%s: decoder panic on packet %d", file, packets)
		}
		line := s.Line(ci.Timestamp)
		for _, r := range line {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("%s: unprintable summary %q", file, line)
			}
		}
		if packets%50 == 0 {
			_ = Detail(data, ci.Length)
		}
	})
	st := e.Stats(e.lastTS())
	for _, f := range e.Flows(SortBytes, "", e.lastTS())[:min(st.Flows, 50)] {
		_ = e.FlowPackets(f.ID, 100)
	}
	snap, _ := e.Snapshot()
	t.Logf("corpus: %d Ethernet files read, %d skipped (other link types or unreadable), %d ended in a read error; %d packets, %d flows, %d in ring (%d snapshot), %d malformed, %d truncated, %d unsupported, %d panics",
		read, skipped, broken, packets, st.Flows, st.RingPackets, len(snap), st.Malformed, st.Truncated, st.Unsupported, panics)
	if read == 0 || packets == 0 {
		t.Fatal("no Ethernet packets in the corpus")
	}
	if st.Panics != 0 {
		t.Errorf("%d decoder panics", st.Panics)
	}
}

// lastTS returns the newest timestamp in the ring, for tests.
func (e *Engine) lastTS() (ts time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ring.count() == 0 {
		return ts
	}
	rec, _, _ := e.ring.get(e.ring.next - 1)
	return fromUnixNano(rec.ts)
}
