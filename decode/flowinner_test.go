package decode

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

func outerGRE() *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 255, Protocol: layers.IPProtocolGRE, SrcIP: net.IP{192, 0, 2, 1}, DstIP: net.IP{192, 0, 2, 2}}
}

func echo(seq uint16) *layers.ICMPv4 {
	return &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 9, Seq: seq}
}

// flowsByProto adds the frames to a new engine and returns its flows.
func addAll(t *testing.T, e *Engine, frames ...[]byte) []FlowView {
	t.Helper()
	for i, f := range frames {
		e.Add(packet.Packet{Nanos: packet.Nanos(testTS.Add(time.Duration(i) * time.Millisecond)), Ifindex: 2, OrigLen: uint32(len(f)), Data: f})
	}
	return e.Flows(SortBytes, "", testTS.Add(time.Second))
}

func flowNamed(fs []FlowView, proto, a string) (FlowView, bool) {
	for _, f := range fs {
		if f.Proto == proto && (f.A == a || f.B == a) {
			return f, true
		}
	}
	return FlowView{}, false
}

// TestGREInnerFlows: what a GRE tunnel carries (ICMP, also behind Cisco
// MetaData) is a flow of its own inner endpoints, the tunnel noted; a
// keepalive is the tunnel's own GRE flow, and says so.
func TestGREInnerFlows(t *testing.T) {
	gre := func(p layers.EthernetType) *layers.GRE { return &layers.GRE{Protocol: p, KeyPresent: true, Key: 7} }
	inGRE := serialize(t, eth(layers.EthernetTypeIPv4), outerGRE(), gre(layers.EthernetTypeIPv4),
		ip4(layers.IPProtocolICMPv4), echo(1), payload([]byte("ping")))
	// Cisco MetaData: the inner EtherType, version 1, one word of options.
	cmd := append([]byte{0x08, 0x00, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00},
		serialize(t, ip4BA(layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(0, 0), Id: 9, Seq: 1}, payload([]byte("pong")))...)
	inCMD := serialize(t, eth(layers.EthernetTypeIPv4), outerGRE(), gre(0x8909), payload(cmd))
	keepalive := serialize(t, eth(layers.EthernetTypeIPv4), outerGRE(), gre(0))

	e := NewEngine(Config{MaxFlows: 16, RingBytes: 1 << 16})
	fs := addAll(t, e, inGRE, inCMD, keepalive)
	f, ok := flowNamed(fs, "ICMP", "10.0.0.1")
	if !ok || f.Packets() != 2 || f.PktsAB != 1 || f.PktsBA != 1 || f.Tunnel != "GRE key=7" {
		t.Fatalf("ICMP in GRE: %+v (found %v), want one flow of 2 packets, one each way, in GRE key=7; flows %+v", f, ok, fs)
	}
	g, ok := flowNamed(fs, "GRE", "192.0.2.1")
	if !ok || g.Packets() != 1 {
		t.Fatalf("keepalive: %+v (found %v), want the tunnel's GRE flow with it alone", g, ok)
	}
	if len(fs) != 2 {
		t.Errorf("%d flows, want the ICMP one and the keepalive's: %+v", len(fs), fs)
	}
	var s Summary
	NewDecoder().Decode(keepalive, len(keepalive), &s)
	if !strings.Contains(s.Info(), "keepalive") {
		t.Errorf("keepalive summary %q", s.Info())
	}
	NewDecoder().Decode(inCMD, len(inCMD), &s)
	if s.Proto() != "ICMP" || s.Src() != "10.0.0.2" || !strings.Contains(s.Info(), "echo reply") {
		t.Errorf("ICMP behind Cisco MetaData: %s", s.Line(testTS))
	}
}
