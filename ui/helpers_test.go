package ui

import (
	"encoding/binary"
	"flag"
	"net"
	"os"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/muesli/termenv"

	"github.com/bpftop-cap/bpftop-cap/decode"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestMain(m *testing.M) {
	// Goldens are plain text: no colour, and packet times in UTC.
	lipgloss.SetColorProfile(termenv.Ascii)
	time.Local = time.UTC
	os.Exit(m.Run())
}

// t0 is the fixed clock of the tests; frames are stamped just before it.
var t0 = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
)

func serialize(tb testing.TB, ls ...gopacket.SerializableLayer) []byte {
	tb.Helper()
	var nl gopacket.NetworkLayer
	for _, l := range ls {
		switch t := l.(type) {
		case *layers.IPv4:
			nl = t
		case *layers.TCP:
			t.SetNetworkLayerForChecksum(nl)
		case *layers.UDP:
			t.SetNetworkLayerForChecksum(nl)
		}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		tb.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func ipv4(src, dst string, p layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: p, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
}

func udpFrame(tb testing.TB, src string, sport uint16, dst string, dport uint16, payload []byte) []byte {
	return serialize(tb,
		&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4},
		ipv4(src, dst, layers.IPProtocolUDP),
		&layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)},
		gopacket.Payload(payload))
}

func tcpFrame(tb testing.TB, src string, sport uint16, dst string, dport uint16, syn, ack bool, payload []byte) []byte {
	return serialize(tb,
		&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4},
		ipv4(src, dst, layers.IPProtocolTCP),
		&layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), SYN: syn, ACK: ack, Seq: 1000, Window: 512, DataOffset: 5},
		gopacket.Payload(payload))
}

// dnsQuery is a DNS question for the raw labels given, which need not be
// valid text.
func dnsQuery(labels ...[]byte) []byte {
	b := make([]byte, 12, 64)
	binary.BigEndian.PutUint16(b[0:], 0x4242)
	binary.BigEndian.PutUint16(b[2:], 0x0100) // RD
	binary.BigEndian.PutUint16(b[4:], 1)      // one question
	for _, l := range labels {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0, 0, 1, 0, 1) // root, type A, class IN
}

// env is a model over an engine with a fixed clock, sized w×h.
type env struct {
	t   *testing.T
	eng *decode.Engine
	m   *Model
	now time.Time
	seq int
}

func newEnv(t *testing.T, w, h int, cfg Config) *env {
	t.Helper()
	e := &env{t: t, eng: decode.NewEngine(decode.Config{MaxFlows: 1000, RingBytes: 1 << 20}), now: t0}
	cfg.Engine = e.eng
	if cfg.Source == "" {
		cfg.Source, cfg.Hook, cfg.Live, cfg.SaveTag = "eth0", "tcx", true, "eth0"
	}
	cfg.Now = func() time.Time { return e.now }
	cfg.Wall = func() time.Time { return t0 }
	e.m = New(cfg)
	e.m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	e.settle(e.m.Init())
	return e
}

// add feeds a frame stamped a millisecond after the previous one.
func (e *env) add(dir packet.Dir, data []byte) {
	e.seq++
	e.eng.Add(packet.Packet{Nanos: packet.Nanos(t0.Add(-time.Second + time.Duration(e.seq)*time.Millisecond)), Ifindex: 2, Dir: dir, OrigLen: uint32(len(data)), Data: data})
}

// settle runs the refreshes the model asked for, synchronously, as the
// program would run the command; the tick command is never run (it
// sleeps), and neither is anything else: the tests run commands they want
// by hand.
func (e *env) settle(tea.Cmd) {
	for i := 0; e.m.inflight || e.m.procs != nil && e.m.procs.inflight; i++ {
		if i > 10 {
			e.t.Fatal("refreshes never settle")
		}
		if e.m.inflight {
			e.m.Update(fetch(e.eng, e.m.req))
		}
		if e.m.procs != nil && e.m.procs.inflight { // the processes view's
			e.m.Update(fetchProcs(e.eng, e.m.procs.req)())
		}
	}
}

// tick is one redraw tick, settled.
func (e *env) tick() {
	_, cmd := e.m.Update(tickMsg{at: e.now, gen: e.m.tickGen})
	e.settle(cmd)
}

// press sends keys: names as bubbletea spells them ("enter", "down", ...)
// or single runes.
func (e *env) press(keys ...string) tea.Cmd {
	var last tea.Cmd
	for _, k := range keys {
		_, last = e.m.Update(keyMsg(k))
		e.settle(last)
	}
	return last
}

func keyMsg(k string) tea.KeyMsg {
	switch k {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "pgdown":
		return tea.KeyMsg{Type: tea.KeyPgDown}
	case "pgup":
		return tea.KeyMsg{Type: tea.KeyPgUp}
	case "home":
		return tea.KeyMsg{Type: tea.KeyHome}
	case "end":
		return tea.KeyMsg{Type: tea.KeyEnd}
	case "space":
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	case "backspace":
		return tea.KeyMsg{Type: tea.KeyBackspace}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

// typeText types s into the model rune by rune.
func (e *env) typeText(s string) {
	for _, r := range s {
		e.press(string(r))
	}
}

// fill adds the standard set of flows: their byte, packet, rate and
// recency orders all differ.
//
//	A: UDP 10.0.0.1:5000 -> 10.0.0.2:53, 2 DNS queries (small, old)
//	B: TCP 10.0.0.1:40000 <-> 10.0.0.3:80, 3 packets, an HTTP request (large)
//	C: UDP 10.0.0.4:6000 -> 10.0.0.5:7000, 6 tiny datagrams (most packets)
//	D: UDP 10.0.0.6:1234 -> 10.0.0.7:4321, 1 datagram, newest
func (e *env) fill() {
	t := e.t
	for range 2 {
		e.add(packet.DirOut, udpFrame(t, "10.0.0.1", 5000, "10.0.0.2", 53, dnsQuery([]byte("example"), []byte("com"))))
	}
	e.add(packet.DirOut, tcpFrame(t, "10.0.0.1", 40000, "10.0.0.3", 80, true, false, nil))
	e.add(packet.DirIn, tcpFrame(t, "10.0.0.3", 80, "10.0.0.1", 40000, true, true, nil))
	e.add(packet.DirOut, tcpFrame(t, "10.0.0.1", 40000, "10.0.0.3", 80, false, true,
		append([]byte("GET /index.html HTTP/1.1\r\nHost: bpf.example\r\n\r\n"), make([]byte, 900)...)))
	for range 6 {
		e.add(packet.DirIn, udpFrame(t, "10.0.0.4", 6000, "10.0.0.5", 7000, []byte("bpf")))
	}
	e.add(packet.DirOut, udpFrame(t, "10.0.0.6", 1234, "10.0.0.7", 4321, []byte("newest")))
}
