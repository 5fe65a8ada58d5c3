package ui

import (
	"net"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// fillStats adds fill's flows, an IPv6 exchange with long addresses and
// an ARP request.
func (e *env) fillStats() {
	t := e.t
	e.fill()
	v6 := func(src, dst string, sport, dport uint16, n int) []byte {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
		u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
		if err := u.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		// Not serialize: it sets the checksum's network layer for IPv4 only.
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv6}, ip, u, gopacket.Payload(make([]byte, n))); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	a, b := "2001:db8:1234:5678:9abc:def0:1234:5678", "2001:db8:1234:5678:9abc:def0:1234:9999"
	e.add(packet.DirOut, v6(a, b, 4000, 4001, 200))
	e.add(packet.DirIn, v6(b, a, 4001, 4000, 100))
	e.add(packet.DirOut, serialize(t, &layers.Ethernet{SrcMAC: macA, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP}, &layers.ARP{
		AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4, Operation: 1,
		SourceHwAddress: macA, SourceProtAddress: net.IP{10, 0, 0, 1}, DstHwAddress: make(net.HardwareAddr, 6), DstProtAddress: net.IP{10, 0, 0, 2}}))
}

// settleStats runs the statistics fetches the model asked for.
func (e *env) settleStats() {
	for i := 0; e.m.statistics != nil && e.m.statistics.inflight; i++ {
		if i > 10 {
			e.t.Fatal("statistics fetches never settle")
		}
		req := e.m.statistics.req
		e.m.Update(statsMsg{req: req, st: e.eng.Statistics(req.by, req.now)})
	}
}

// pressT is press, then the statistics fetches settled.
func (e *env) pressT(keys ...string) tea.Cmd {
	var cmd tea.Cmd
	for _, k := range keys {
		cmd = e.press(k)
		e.settleStats()
	}
	return cmd
}

func TestTUIStatsGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		w, h int
		keys []string
	}{
		{"stats-conversations-80x24", 80, 24, []string{"S"}},
		{"stats-conversations-120x40", 120, 40, []string{"S"}},
		{"stats-endpoints-80x24", 80, 24, []string{"S", "2"}},
		{"stats-endpoints-120x40", 120, 40, []string{"S", "tab"}},
		{"stats-protocols-80x24", 80, 24, []string{"S", "3"}},
		{"stats-protocols-120x40", 120, 40, []string{"S", "3", "s", "j", "j"}},
		{"stats-packets-120x40", 120, 40, []string{"S", "s", "G"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.w, tc.h, Config{})
			e.fillStats()
			e.tick()
			e.pressT(tc.keys...)
			got := e.m.View()
			checkScreen(t, got, tc.w, tc.h)
			golden(t, tc.name, got)
		})
	}
}

// lineWith returns the first line of the screen that holds s.
func lineWith(screen, s string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

func TestTUIStatsKeys(t *testing.T) {
	e := newEnv(t, 120, 40, Config{})
	e.fillStats()
	e.tick()
	if cmd := e.pressT("S"); e.m.statistics == nil || !e.m.statistics.ok || cmd == nil {
		t.Fatalf("S did not open and fetch the statistics: %+v", e.m.statistics)
	}
	v := e.m.statistics
	if v.tab != tabConversations || !strings.Contains(e.m.View(), "[1 Conversations]") {
		t.Errorf("opens on tab %d:\n%s", v.tab, e.m.View())
	}
	for _, step := range []struct {
		key string
		tab int
	}{{"tab", 1}, {"tab", 2}, {"tab", 0}, {"3", 2}, {"1", 0}, {"2", 1}} {
		e.pressT(step.key)
		if v.tab != step.tab {
			t.Errorf("%s: tab %d, want %d", step.key, v.tab, step.tab)
		}
	}
	e.m.Update(tea.KeyMsg{Type: tea.KeyShiftTab})
	if v.tab != tabConversations {
		t.Errorf("shift+tab: tab %d", v.tab)
	}

	// By bytes the HTTP conversation leads, by packets the six datagrams.
	if first := v.st.Conversations[0]; first.A != "10.0.0.1" || first.B != "10.0.0.3" {
		t.Errorf("by bytes: first %+v", first)
	}
	e.pressT("s")
	if first := v.st.Conversations[0]; first.A != "10.0.0.4" || first.B != "10.0.0.5" || !strings.Contains(e.m.View(), "sort packets") {
		t.Errorf("by packets: first %+v", first)
	}
	e.pressT("s")
	if first := v.st.Conversations[0]; first.A != "10.0.0.1" || first.B != "10.0.0.3" {
		t.Errorf("by bytes again: first %+v", first)
	}

	// Movement in the tab shown only.
	e.pressT("j", "j")
	if c := v.lists[tabConversations].cursor; c != 2 {
		t.Errorf("j j: cursor %d", c)
	}
	e.pressT("G")
	if c, n := v.lists[tabConversations].cursor, len(v.st.Conversations); c != n-1 || v.lists[tabEndpoints].cursor != 0 {
		t.Errorf("G: cursor %d of %d; endpoints' %d", c, n, v.lists[tabEndpoints].cursor)
	}
	e.pressT("g")
	if c := v.lists[tabConversations].cursor; c != 0 {
		t.Errorf("g: cursor %d", c)
	}

	// Live: a tick sums up the new packets.
	before := lineWith(e.m.View(), "10.0.0.6")
	e.add(packet.DirOut, udpFrame(t, "10.0.0.6", 1234, "10.0.0.7", 4321, []byte("again")))
	e.tick()
	e.settleStats()
	if after := lineWith(e.m.View(), "10.0.0.6"); after == before || !strings.Contains(after, " 2 ") {
		t.Errorf("after a tick:\n%s\nwas\n%s", after, before)
	}
	// Paused, it stays.
	e.press("space")
	e.add(packet.DirOut, udpFrame(t, "10.0.0.6", 1234, "10.0.0.7", 4321, []byte("again")))
	e.tick()
	if v.inflight {
		t.Error("paused, a tick fetched the statistics")
	}
	e.press("space")

	// ? shows help over it and esc comes back to it.
	e.pressT("?")
	if !strings.Contains(e.m.View(), "statistics: conversations") {
		t.Errorf("help does not list S:\n%s", e.m.View())
	}
	e.pressT("esc")
	if e.m.statistics == nil || e.m.help {
		t.Fatal("esc from help closed the statistics")
	}

	// q, esc and S close it; q does not quit.
	for _, k := range []string{"q", "esc", "S"} {
		if e.m.statistics == nil {
			e.pressT("S")
		}
		cmd := e.pressT(k)
		if e.m.statistics != nil {
			t.Errorf("%s did not close the statistics", k)
		}
		if cmd != nil {
			if _, quit := cmd().(tea.QuitMsg); quit {
				t.Errorf("%s quit the program", k)
			}
		}
		if !strings.Contains(e.m.View(), "Flows ") {
			t.Errorf("%s: the flow table is not back:\n%s", k, e.m.View())
		}
	}
	e.pressT("S")
	if cmd := e.press("ctrl+c"); cmd == nil {
		t.Error("ctrl+c in the statistics does not quit")
	} else if _, quit := cmd().(tea.QuitMsg); !quit {
		t.Error("ctrl+c in the statistics does not quit")
	}
}

// The screen keeps its size at every size the view lays out in.
func TestTUIStatsResize(t *testing.T) {
	e := newEnv(t, 80, 24, Config{})
	e.fillStats()
	e.tick()
	e.pressT("S")
	for _, sz := range [][2]int{{60, 15}, {80, 24}, {100, 30}, {200, 60}} {
		e.m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		for _, k := range []string{"1", "2", "3", "G"} {
			e.pressT(k)
			checkScreen(t, e.m.View(), sz[0], sz[1])
		}
	}
}
