package decode

import (
	"testing"
	"time"

	"github.com/gopacket/gopacket"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// FuzzDecode checks that decoding, the flow update, the ring append and
// the display paths never panic and never emit control characters. It is
// seeded from the table frames and a sample of the tcpdump corpus.
func FuzzDecode(f *testing.F) {
	for _, tf := range testFrames(f) {
		f.Add(tf.data, uint16(0))
		f.Add(tf.data, uint16(len(tf.data)+100))
	}
	n := 0
	// -short: the hand-made seeds only, not the corpus's.
	func() {
		if testing.Short() {
			return
		}
		defer func() { _ = recover() }() // a missing corpus only means fewer seeds
		eachCorpusPacket(f, func(_ string, data []byte, ci gopacket.CaptureInfo) {
			if n++; n%23 == 0 && len(data) <= 2048 {
				f.Add(data, uint16(min(ci.Length, 0xffff)))
			}
		})
	}()

	f.Fuzz(func(t *testing.T, data []byte, extra uint16) {
		origLen := len(data) + int(extra)
		var s Summary
		NewDecoder().Decode(data, origLen, &s)
		if s.Flags&FlagPanic != 0 {
			t.Fatalf("decoder panic: %v", s.Err)
		}
		for _, str := range []string{s.Line(testTS), s.Info(), s.Src(), s.Dst(), s.Proto(), s.Text()} {
			for _, r := range str {
				if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
					t.Fatalf("control character %U in %q", r, str)
				}
			}
		}
		e := NewEngine(Config{MaxFlows: 4, RingBytes: 512, IdleTimeout: time.Second})
		for i := range 3 {
			e.Add(packet.Packet{Nanos: packet.Nanos(testTS.Add(time.Duration(i) * time.Second)), Dir: packet.DirIn, OrigLen: uint32(origLen), Data: data})
		}
		for _, fv := range e.Flows(SortBytes, "", testTS) {
			e.FlowPackets(fv.ID, 10)
		}
		if st := e.Stats(testTS); st.Panics != 0 || st.RingBytes > 512 {
			t.Fatalf("stats %+v", st)
		}
		e.Snapshot()
		for _, l := range Detail(data, origLen) {
			if l.Offset < 0 || l.Length < 0 || l.Offset+l.Length > len(data) {
				t.Fatalf("layer %s range %d+%d outside %d bytes", l.Name, l.Offset, l.Length, len(data))
			}
			for _, f := range l.Fields {
				if f.Offset < l.Offset || f.Length < 0 || f.Offset+f.Length > l.Offset+l.Length {
					t.Fatalf("layer %s field %s range %d+%d outside the layer's %d+%d", l.Name, f.Key, f.Offset, f.Length, l.Offset, l.Length)
				}
			}
		}
	})
}
