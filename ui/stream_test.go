package ui

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/bpftop-cap/bpftop-cap/decode"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// tcpSeg is a frame of the HTTP connection 10.0.0.1:40000 <-> 10.0.0.3:80,
// from the client (c2s) or the server.
func tcpSeg(tb testing.TB, c2s bool, syn, fin bool, seq, ack uint32, data string) []byte {
	src, sport, dst, dport := "10.0.0.1", uint16(40000), "10.0.0.3", uint16(80)
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}
	if !c2s {
		src, sport, dst, dport = dst, dport, src, sport
		eth.SrcMAC, eth.DstMAC = macB, macA
	}
	t := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: seq, Ack: ack,
		SYN: syn, FIN: fin, ACK: ack != 0, PSH: data != "", Window: 512, DataOffset: 5}
	return serialize(tb, eth, ipv4(src, dst, layers.IPProtocolTCP), t, gopacket.Payload(data))
}

// The HTTP exchange follow stream is tested on: a GET, and a 200
// response whose second segment is lost; the body holds control bytes
// and a line longer than any screen.
const (
	httpISNc = 1000
	httpISNs = 5000
	httpGET  = "GET /index.html HTTP/1.1\r\nHost: bpf.example\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"
	httpHead = "HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nDate: Tue, 04 Mar 2025 05:06:06 GMT\r\n" +
		"Content-Type: text/html\r\nContent-Length: 488\r\nConnection: keep-alive\r\n\r\n" +
		"<!doctype html>\n<html>\n<head><title>bpftop-cap</title></head>\n"
	httpLost = "<body>\n<h1>Follow stream</h1>\n<p>This segment never reaches the capture.</p>\n"
	httpRest = "<p>After the gap: \x1b[2J\x00\x07 control bytes show as dots, tabs\tas spaces.</p>\n" +
		"<p>" + "A line longer than any terminal is wrapped to the width of the screen, " +
		"with the direction mark on every line it takes.</p>\n<ul>\n<li>one</li>\n<li>two</li>\n" +
		"<li>three</li>\n<li>four</li>\n<li>five</li>\n<li>six</li>\n</ul>\n</body>\n</html>\n"
)

// addHTTP adds the exchange: handshake, request, response with its middle
// segment missing.
func (e *env) addHTTP() {
	t := e.t
	c, s := uint32(httpISNc), uint32(httpISNs)
	e.add(packet.DirOut, tcpSeg(t, true, true, false, c, 0, ""))
	e.add(packet.DirIn, tcpSeg(t, false, true, false, s, c+1, ""))
	e.add(packet.DirOut, tcpSeg(t, true, false, false, c+1, s+1, ""))
	e.add(packet.DirOut, tcpSeg(t, true, false, false, c+1, s+1, httpGET))
	c += 1 + uint32(len(httpGET))
	e.add(packet.DirIn, tcpSeg(t, false, false, false, s+1, c, httpHead))
	// httpLost: never added.
	e.add(packet.DirIn, tcpSeg(t, false, false, false, s+1+uint32(len(httpHead)+len(httpLost)), c, httpRest))
	e.add(packet.DirOut, tcpSeg(t, true, false, false, c, s+1+uint32(len(httpHead)), ""))
}

// settleStream runs the stream fetches the model asked for.
func (e *env) settleStream() {
	for i := 0; e.m.stream != nil && e.m.stream.inflight; i++ {
		if i > 10 {
			e.t.Fatal("stream fetches never settle")
		}
		e.m.Update(loadStream(e.eng, e.m.stream.req))
	}
}

// pressS is press, then the stream fetches settled.
func (e *env) pressS(keys ...string) tea.Cmd {
	var cmd tea.Cmd
	for _, k := range keys {
		cmd = e.press(k)
		e.settleStream()
	}
	return cmd
}

func TestTUIStreamGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		w, h int
		keys []string
	}{
		{"stream-text-80x24", 80, 24, []string{"f"}},
		{"stream-text-120x40", 120, 40, []string{"enter", "f"}},
		{"stream-hex-80x24", 80, 24, []string{"f", "x"}},
		{"stream-hex-120x40", 120, 40, []string{"f", "x", "j", "j"}},
		{"stream-text-end-80x24", 80, 24, []string{"f", "x", "x", "G"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.w, tc.h, Config{})
			e.addHTTP()
			e.tick()
			e.pressS(tc.keys...)
			got := e.m.View()
			checkScreen(t, got, tc.w, tc.h)
			golden(t, tc.name, got)
		})
	}
}

func TestTUIStream(t *testing.T) {
	e := newEnv(t, 120, 40, Config{})
	e.addHTTP()
	e.tick()
	m := e.m
	e.pressS("f")
	if m.stream == nil || !m.stream.ok {
		t.Fatal("f did not open follow stream")
	}
	v := m.View()
	checkScreen(t, v, 120, 40)
	for _, want := range []string{
		"Follow TCP stream · 10.0.0.1:40000 → 10.0.0.3:80 · text",
		"→ GET /index.html HTTP/1.1",
		"→ Accept: */*",
		"← HTTP/1.1 200 OK",
		"← <head><title>bpftop-cap</title></head>",
		"← [… 77 bytes missing: lost, or aged out of the ring …]",
		"← <p>After the gap: .[2J.. control bytes show as dots, tabs as spaces.</p>",
		"1 gap (77B missing)",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("follow stream lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "\x1b") || strings.Contains(v, "\x07") {
		t.Error("raw control bytes on screen")
	}
	// The request comes before the response, the gap between the
	// response's parts.
	if i, j, k := strings.Index(v, "GET /"), strings.Index(v, "200 OK"), strings.Index(v, "bytes missing"); !(i < j && j < k) {
		t.Errorf("order: GET at %d, 200 at %d, gap at %d", i, j, k)
	}

	// x: a hex dump, by direction, offsets counted per direction.
	e.pressS("x")
	v = m.View()
	for _, want := range []string{
		"Follow TCP stream · 10.0.0.1:40000 → 10.0.0.3:80 · hex",
		"→ 00000000  47 45 54 20 2f 69 6e 64  65 78 2e 68 74 6d 6c 20  GET /index.html ",
		"← 00000000  48 54 54 50 2f 31 2e 31  20 32 30 30 20 4f 4b 0d  HTTP/1.1 200 OK.",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("hex mode lacks %q:\n%s", want, v)
		}
	}
	e.pressS("x")
	if m.stream.hex {
		t.Error("x twice: still hex")
	}

	// Keys scroll; esc, f and q close (q does not quit); the panes are back.
	e.m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	e.pressS("j", "j")
	if m.stream.offset != 2 {
		t.Errorf("j j: offset %d", m.stream.offset)
	}
	e.pressS("G")
	bottom := m.stream.offset
	if bottom != m.stream.maxOffset() || bottom == 0 {
		t.Errorf("G: offset %d of %d", bottom, m.stream.maxOffset())
	}
	e.pressS("k", "pgup", "pgdown", "g")
	if m.stream.offset != 0 {
		t.Errorf("g: offset %d", m.stream.offset)
	}
	for _, k := range []string{"esc", "f", "q"} {
		if m.stream == nil {
			e.pressS("f")
		}
		if cmd := e.pressS(k); isQuit(cmd) || m.stream != nil {
			t.Errorf("%s: quit %v, stream open %v", k, isQuit(cmd), m.stream != nil)
		}
		if v := m.View(); !strings.Contains(v, "Flows 1") {
			t.Errorf("after %s the panes are not back:\n%s", k, v)
		}
	}
	// Help opens over it and closes back to it; ctrl+c quits.
	e.pressS("f", "?")
	if !m.help || !strings.Contains(m.View(), "follow stream") {
		t.Errorf("? in follow stream: help %v", m.help)
	}
	e.pressS("esc")
	if m.help || m.stream == nil {
		t.Errorf("esc from help: help %v, stream open %v", m.help, m.stream != nil)
	}
	if cmd := e.pressS("ctrl+c"); !isQuit(cmd) {
		t.Error("ctrl+c does not quit from follow stream")
	}
	// The mouse wheel scrolls it.
	e.m.Update(tea.MouseMsg{Button: tea.MouseButtonWheelDown, Action: tea.MouseActionPress})
	if m.stream.offset != 3 {
		t.Errorf("wheel: offset %d", m.stream.offset)
	}
}

// From the packet list and the packet detail, f follows the selected flow.
func TestTUIStreamFromEveryPane(t *testing.T) {
	for _, keys := range [][]string{{"j"}, {"j", "enter"}, {"j", "enter", "enter"}} {
		e := newEnv(t, 100, 30, Config{})
		e.fill()
		e.tick()
		e.pressS(keys...)
		sel, _ := e.m.flows.selected()
		e.pressS("f")
		if e.m.stream == nil || e.m.stream.flow.ID != sel.ID {
			t.Fatalf("%v f: stream of %+v, want flow %d", keys, e.m.stream, sel.ID)
		}
		// Flow C: six datagrams "bpf" from 10.0.0.4:6000.
		v := e.m.View()
		checkScreen(t, v, 100, 30)
		if !strings.Contains(v, "Follow UDP datagrams · 10.0.0.4:6000 → 10.0.0.5:7000") || strings.Count(v, "\n→ bpf ") != 6 {
			t.Errorf("%v f: \n%s", keys, v)
		}
	}
	// No flow: f says so.
	e := newEnv(t, 80, 24, Config{})
	e.pressS("f")
	if e.m.stream != nil || !strings.Contains(e.m.View(), "select a flow to follow its stream") {
		t.Errorf("f without flows:\n%s", e.m.View())
	}
	// A flow with nothing to follow.
	e.add(packet.DirOut, serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeARP}, &layers.ARP{
		AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4, Operation: 1,
		SourceHwAddress: macA, SourceProtAddress: []byte{10, 0, 0, 1}, DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 0, 0, 2},
	}))
	e.tick()
	e.pressS("f")
	if v := e.m.View(); !strings.Contains(v, "nothing to follow") {
		t.Errorf("ARP flow:\n%s", v)
	}
}

// New packets refresh the view: at the bottom it follows them (tail -f),
// elsewhere it stays where it is; paused, nothing moves.
func TestTUIStreamRefresh(t *testing.T) {
	e := newEnv(t, 80, 24, Config{})
	e.addHTTP()
	e.tick()
	e.pressS("f")
	m := e.m
	lines := len(m.stream.lines)
	// Nothing new: the stream is not reassembled again.
	if msg := loadStream(e.eng, streamReq{id: m.stream.flow.ID, now: e.now, prev: m.stream.req.prev}); !msg.same {
		t.Error("a fetch with nothing new reassembles the stream")
	}
	e.pressS("j")
	c := uint32(httpISNc + 1 + len(httpGET))
	s := uint32(httpISNs + 1 + len(httpHead) + len(httpLost) + len(httpRest))
	e.add(packet.DirOut, tcpSeg(t, true, false, false, c, s, "GET /next HTTP/1.1\r\n\r\n"))
	e.tick()
	e.settleStream()
	if len(m.stream.lines) != lines+2 || m.stream.offset != 1 {
		t.Errorf("new request, not at the bottom: %d lines (was %d), offset %d, want 1", len(m.stream.lines), lines, m.stream.offset)
	}
	e.pressS("G")
	c += uint32(len("GET /next HTTP/1.1\r\n\r\n"))
	e.add(packet.DirIn, tcpSeg(t, false, false, false, s, c, "HTTP/1.1 404 Not Found\r\n\r\n"))
	e.tick()
	e.settleStream()
	if m.stream.offset != m.stream.maxOffset() || !strings.Contains(m.View(), "← HTTP/1.1 404 Not Found") {
		t.Errorf("at the bottom, the new response is not shown:\n%s", m.View())
	}
	e.pressS("space")
	e.add(packet.DirIn, tcpSeg(t, false, false, true, s+27, c, "bye"))
	e.tick()
	e.settleStream()
	if strings.Contains(m.View(), "← bye") {
		t.Error("paused, the stream still moves")
	}
	e.pressS("space")
	e.tick()
	e.settleStream()
	if !strings.Contains(m.View(), "← bye") {
		t.Errorf("unpaused, the new bytes are not shown:\n%s", m.View())
	}
}

// The summary line counts what is shown and what left the ring.
func TestTUIStreamAgedOut(t *testing.T) {
	e := &env{t: t, eng: decode.NewEngine(decode.Config{MaxFlows: 10, RingBytes: 900}), now: t0}
	e.m = New(Config{Engine: e.eng, Source: "eth0", Live: true, Now: func() time.Time { return e.now }})
	e.m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	e.settle(e.m.Init())
	e.addHTTP()
	e.tick()
	e.pressS("f")
	v := e.m.View()
	checkScreen(t, v, 120, 40)
	if !strings.Contains(v, "earlier bytes not in the ring") || !strings.Contains(v, "of 7 packets in the ring") || strings.Contains(v, "GET") {
		t.Errorf("aged out:\n%s", v)
	}
}

// A stream longer than streamMaxBytes shows its start and says it is
// cut; packets added after the cut do not make it reassemble again.
func TestTUIStreamCut(t *testing.T) {
	defer func(n int) { streamMaxBytes = n }(streamMaxBytes)
	streamMaxBytes = 300
	e := newEnv(t, 80, 24, Config{})
	e.addHTTP()
	e.tick()
	e.pressS("f", "G")
	v := e.m.View()
	checkScreen(t, v, 80, 24)
	if !strings.Contains(v, "[… cut: follow stream shows the first 300B …]") || !strings.Contains(v, "cut at 300B") ||
		e.m.stream.st.Bytes[0]+e.m.stream.st.Bytes[1] != 300 {
		t.Errorf("cut at 300 bytes:\n%s", v)
	}
	c := uint32(httpISNc + 1 + len(httpGET))
	e.add(packet.DirOut, tcpSeg(t, true, false, false, c, 1, "GET /next HTTP/1.1\r\n\r\n"))
	if msg := loadStream(e.eng, streamReq{id: e.m.stream.flow.ID, now: e.now, prev: e.m.stream.req.prev}); !msg.same {
		t.Error("a packet after the cut reassembles the stream again")
	}
}

func TestTUIStreamResize(t *testing.T) {
	e := newEnv(t, 80, 24, Config{})
	e.addHTTP()
	e.tick()
	e.pressS("f")
	for _, sz := range [][2]int{{60, 15}, {200, 60}, {250, 16}, {61, 15}, {80, 24}} {
		e.m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		for _, k := range []string{"G", "x", "g", "x", "G"} {
			e.pressS(k)
			checkScreen(t, e.m.View(), sz[0], sz[1])
		}
	}
	e.m.Update(tea.WindowSizeMsg{Width: 40, Height: 10})
	if v := e.m.View(); !strings.Contains(v, "too small") {
		t.Errorf("40x10: %q", v)
	}
	// Narrow, the text wraps: every byte is still on screen, once.
	e.m.Update(tea.WindowSizeMsg{Width: 60, Height: 200})
	v := e.m.View()
	var got strings.Builder
	for _, l := range strings.Split(v, "\n") {
		if strings.HasPrefix(l, "← <p>A line") || got.Len() > 0 && strings.HasPrefix(l, "← ") && !strings.Contains(got.String(), "</p>") {
			got.WriteString(strings.TrimRight(l[len("← "):], " "))
		}
	}
	if want := "<p>A line longer than any terminal is wrapped to the width of the screen, with the direction mark on every line it takes.</p>"; got.String() != want {
		t.Errorf("wrapped line reads %q", got.String())
	}
}
