package decode

import (
	"testing"

	"github.com/gopacket/gopacket"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// checkView checks a packet's view, cut from one line, against the
// summary's own methods.
func checkView(t *testing.T, name string, data []byte, origLen int, buf []byte) []byte {
	t.Helper()
	it := viewItem{seq: 7, rec: record{ts: testTS.UnixNano(), origLen: uint32(origLen), capLen: uint32(len(data)), ifindex: 3, dir: packet.DirOut}}
	NewDecoder().Decode(data, origLen, &it.sum)
	var v PacketView
	v, buf = it.view(buf)
	s := &it.sum
	want := PacketView{Seq: 7, TS: fromUnixNano(it.rec.ts), Dir: packet.DirOut, Ifindex: 3, Len: origLen, CapLen: len(data),
		Proto: s.Proto(), Src: s.Src(), Dst: s.Dst(), Info: s.Info(), Line: s.Line(fromUnixNano(it.rec.ts))}
	if v != want {
		t.Errorf("%s:\nview %+v\nwant %+v", name, v, want)
	}
	return buf
}

func TestPacketView(t *testing.T) {
	var buf []byte
	for _, tf := range testFrames(t) {
		buf = checkView(t, tf.name, tf.data, max(tf.origLen, len(tf.data)), buf)
	}
	if testing.Short() {
		return
	}
	eachCorpusPacket(t, func(file string, data []byte, ci gopacket.CaptureInfo) {
		buf = checkView(t, file, data, max(ci.Length, len(data)), buf)
	})
}
