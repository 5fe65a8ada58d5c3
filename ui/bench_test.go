package ui

import (
	"encoding/binary"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/bpftop-cap/bpftop-cap/decode"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// bigEnv is a model over an engine holding n flows.
func bigEnv(b *testing.B, n int) *env {
	e := &env{eng: decode.NewEngine(decode.Config{MaxFlows: n, RingBytes: 64 << 20}), now: t0}
	frame := udpFrame(b, "10.0.0.1", 1, "10.0.0.2", 2, []byte("bench"))
	for i := range n {
		binary.BigEndian.PutUint32(frame[26:], 0x0a000000|uint32(i)) // source address
		e.eng.Add(packet.Packet{Nanos: packet.Nanos(t0.Add(-time.Second)), Dir: packet.DirIn, OrigLen: uint32(len(frame)), Data: frame})
	}
	e.m = New(Config{Engine: e.eng, Live: true, Now: func() time.Time { return e.now }})
	e.m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	e.m.Update(fetch(e.eng, e.m.req))
	return e
}

// BenchmarkTUIRefresh is one redraw's fetch from a full flow table: it runs
// off the update loop, but holds the engine's lock for its copy.
func BenchmarkTUIRefresh(b *testing.B) {
	e := bigEnv(b, 65536)
	e.m.requestRefresh()
	req := e.m.req
	b.ReportAllocs()
	for b.Loop() {
		fetch(e.eng, req)
	}
}

// BenchmarkTUIKey is what a key press costs on the update loop: moving the
// selection in a full table, and rendering the screen.
func BenchmarkTUIKey(b *testing.B) {
	e := bigEnv(b, 65536)
	down := tea.KeyMsg{Type: tea.KeyDown}
	b.ReportAllocs()
	for b.Loop() {
		e.m.inflight = false
		e.m.Update(down)
		_ = e.m.View()
	}
}

// BenchmarkHexFollowBigFrame is a redraw while the selection follows the
// newest packet and every packet is a 60 KB GSO frame: the hex pane of a
// new packet rendered once.
func BenchmarkHexFollowBigFrame(b *testing.B) {
	st := DefaultStyles()
	payload := make([]byte, 60000)
	frame := udpFrame(b, "10.0.0.1", 1, "10.0.0.2", 2, payload)
	var h hexPane
	h.setSize(120, 30)
	b.ReportAllocs()
	seq := uint64(0)
	for b.Loop() {
		seq++
		h.show(seq, packet.Packet{Data: frame, OrigLen: uint32(len(frame))}, true)
		_ = h.view(&st, false, "")
	}
}
