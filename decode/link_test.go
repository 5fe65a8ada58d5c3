package decode

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// linkPacket is one packet of a corpus file with its own link type.
type linkPacket struct {
	link packet.LinkType
	data []byte
	len  int
}

// readLinkPackets reads every packet of a capture with its link type (a
// pcapng file's interfaces may differ); ok is false for a file pcapgo
// cannot open.
func readLinkPackets(path string) (pkts []linkPacket, ok bool) {
	r, c, err := openCapture(path)
	if err != nil {
		return nil, false
	}
	defer c.Close()
	ng, _ := r.(*pcapgo.NgReader)
	for {
		data, ci, err := readPacket(r)
		if err != nil {
			return pkts, errors.Is(err, io.EOF) || len(pkts) > 0
		}
		lt := r.LinkType()
		if ng != nil {
			if ifc, err := ng.Interface(ci.InterfaceIndex); err == nil {
				lt = ifc.LinkType
			}
		}
		pkts = append(pkts, linkPacket{link: packet.LinkType(uint32(lt) & packet.LinkTypeMask), data: bytes.Clone(data), len: ci.Length})
	}
}

// outerAddrs are the addresses of a summary's outermost IP header, which
// tcpdump prints first.
func outerAddrs(s *Summary) (src, dst netip.Addr, ok bool) {
	if s.Net != NetIPv4 && s.Net != NetIPv6 {
		return src, dst, false
	}
	if s.Tunnel != TunnelNone && s.OuterSrc.IsValid() {
		return s.OuterSrc, s.OuterDst, true
	}
	return s.SrcAddr, s.DstAddr, true
}

// tcpdumpIPLine parses the addresses of a `tcpdump -n -q -t` line that
// starts with "IP " or "IP6 ": "IP 10.0.0.1.443 > 10.0.0.2.51234: ...".
func tcpdumpIPLine(line string) (src, dst netip.Addr, ok bool) {
	var v6 bool
	switch {
	case strings.HasPrefix(line, "IP "):
		line = line[3:]
	case strings.HasPrefix(line, "IP6 "):
		line, v6 = line[4:], true
	default:
		return src, dst, false
	}
	end := strings.Index(line, ": ")
	if end < 0 {
		end = len(line)
	}
	a, b, found := strings.Cut(line[:end], " > ")
	if !found {
		return src, dst, false
	}
	parse := func(s string) (netip.Addr, bool) {
		if x, err := netip.ParseAddr(s); err == nil {
			return x, true
		}
		// address.port
		if i := strings.LastIndexByte(s, '.'); i > 0 {
			if x, err := netip.ParseAddr(s[:i]); err == nil {
				return x, true
			}
		}
		return netip.Addr{}, false
	}
	src, ok1 := parse(a)
	dst, ok2 := parse(b)
	if !ok1 || !ok2 || src.Is6() != v6 && !src.Is4In6() {
		return src, dst, false
	}
	return src, dst, true
}

// decodedLinks are the link types Decode reads the header of.
var decodedLinks = map[packet.LinkType]bool{
	packet.LinkTypeNull: true, packet.LinkTypePPP: true, packet.LinkTypeRaw: true, packet.LinkTypeLoop: true,
	packet.LinkTypeSLL: true, packet.LinkTypeRadiotap: true, packet.LinkTypeIPv4: true, packet.LinkTypeIPv6: true,
	packet.LinkTypeSLL2: true, packet.LinkTypeCHDLC: true, packet.LinkTypeNFLOG: true,
}

// TestCorpusEveryLinkType decodes every packet of the corpus files that
// are not Ethernet with its link type: nothing panics, every summary is
// printable, the detail decodes, and where tcpdump prints an IP or IPv6
// header first, the summary has the same addresses.
func TestCorpusEveryLinkType(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	bin := testutil.RequireTool(t, "tcpdump")
	dir := testutil.Corpus(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder()
	var s Summary
	perType := map[packet.LinkType]int{}
	decodedIP := map[packet.LinkType]int{}
	otherIP := map[packet.LinkType]int{} // IP headers tcpdump finds in link types not decoded
	var files, compared, agreed, broken int
	for _, ent := range entries {
		path := filepath.Join(dir, ent.Name())
		pkts, ok := readLinkPackets(path)
		if !ok || len(pkts) == 0 || pkts[0].link == packet.LinkTypeEthernet {
			continue
		}
		files++
		var lines []string
		if out, err := exec.Command(bin, "-n", "-q", "-t", "-r", path).Output(); err == nil {
			sc := bufio.NewScanner(bytes.NewReader(out))
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				if l := sc.Text(); l != "" && l[0] != ' ' && l[0] != '\t' {
					lines = append(lines, l)
				}
			}
		}
		sameLines := len(lines) == len(pkts) // one line a packet: comparable
		for i, p := range pkts {
			perType[p.link]++
			d.DecodeLink(p.link, p.data, p.len, &s)
			if s.Flags&FlagPanic != 0 {
				t.Errorf("%s: decoder panic on packet %d", ent.Name(), i+1)
			}
			for _, r := range s.Line(time.Time{}) + s.Proto() {
				if r < 0x20 || r == 0x7f {
					t.Fatalf("%s: unprintable summary %q", ent.Name(), s.Line(time.Time{}))
				}
			}
			_ = DetailLink(p.link, p.data, p.len)
			src, dst, ours := outerAddrs(&s)
			if ours {
				decodedIP[p.link]++
			}
			if !sameLines {
				continue
			}
			tsrc, tdst, theirs := tcpdumpIPLine(lines[i])
			if !theirs {
				continue
			}
			if s.Flags&(FlagTruncated|FlagMalformed) != 0 {
				broken++ // tcpdump prints the addresses of a header cut short; decode does not
				continue
			}
			if !decodedLinks[p.link] {
				otherIP[p.link]++
				continue
			}
			compared++
			if ours && src == tsrc && dst == tdst {
				agreed++
				continue
			}
			t.Errorf("%s packet %d (%s): tcpdump %q; ours %v > %v (%s)", ent.Name(), i+1, p.link.Name(), lines[i], src, dst, s.Info())
		}
	}
	t.Logf("%d files of other link types; packets per type %v; with an IP header decoded %v; %d IP headers compared with tcpdump's, %d agree (%d not compared: truncated or malformed); IP headers tcpdump finds in link types not decoded here: %v",
		files, perType, decodedIP, compared, agreed, broken, otherIP)
	for _, lt := range []packet.LinkType{packet.LinkTypeSLL, packet.LinkTypeRaw, packet.LinkTypeNull, packet.LinkTypePPP, packet.LinkTypeIPv4, packet.LinkTypeIPv6} {
		if decodedIP[lt] == 0 {
			t.Errorf("no IP packet decoded in the corpus's %s files (%d packets)", lt.Name(), perType[lt])
		}
	}
	if compared < 800 {
		t.Errorf("only %d packets compared with tcpdump", compared)
	}
}

// TestLinkHeaders decodes one UDP datagram behind each link-layer header.
func TestLinkHeaders(t *testing.T) {
	eth := udpFrame(t, 5353, 20)
	ip := eth[14:]
	sll := append([]byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 8, 0}, ip...)
	sll2 := append([]byte{8, 0, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0}, ip...)
	null := append([]byte{2, 0, 0, 0}, ip...)
	loop := append([]byte{0, 0, 0, 2}, ip...)
	ppp := append([]byte{0xff, 0x03, 0x00, 0x21}, ip...)
	for _, tt := range []struct {
		lt   packet.LinkType
		data []byte
		mac  bool
	}{
		{packet.LinkTypeRaw, ip, false}, {packet.LinkTypeIPv4, ip, false},
		{packet.LinkTypeSLL, sll, true}, {packet.LinkTypeSLL2, sll2, true},
		{packet.LinkTypeNull, null, false}, {packet.LinkTypeLoop, loop, false},
		{packet.LinkTypePPP, ppp, false},
	} {
		var s Summary
		NewDecoder().DecodeLink(tt.lt, tt.data, len(tt.data), &s)
		if s.Net != NetIPv4 || s.IPProto != ProtoUDP || s.SrcPort == 0 || s.Flags&(FlagMalformed|FlagTruncated|FlagUnsupported) != 0 {
			t.Errorf("%s: %s %s (flags %v)", tt.lt.Name(), s.Proto(), s.Info(), s.Flags)
		}
		if tt.mac && s.SrcMAC != [6]byte{2, 0, 0, 0, 0, 1} {
			t.Errorf("%s: source MAC %x", tt.lt.Name(), s.SrcMAC)
		}
		ls := DetailLink(tt.lt, tt.data, len(tt.data))
		var names []string
		for _, l := range ls {
			names = append(names, l.Name)
		}
		if !strings.Contains(strings.Join(names, ","), "UDP") {
			t.Errorf("%s: detail layers %v", tt.lt.Name(), names)
		}
		// Cut short in the link-layer header: truncated, named.
		if tt.lt != packet.LinkTypeRaw && tt.lt != packet.LinkTypeIPv4 {
			NewDecoder().DecodeLink(tt.lt, tt.data[:2], len(tt.data), &s)
			if s.Flags&FlagTruncated == 0 || s.Proto() == "" {
				t.Errorf("%s cut to 2 bytes: %s %s (flags %v)", tt.lt.Name(), s.Proto(), s.Info(), s.Flags)
			}
		}
	}
	// What is not decoded says what it is.
	for _, tt := range []struct {
		lt   packet.LinkType
		data []byte
		info string
	}{
		{packet.LinkTypePPP, []byte{0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4}, "PPP protocol 0xc021 (LCP)"},
		{packet.LinkTypeNull, append([]byte{7, 0, 0, 0}, ip...), "address family 7"},
		{packet.LinkTypeRaw, []byte{0x50, 0, 0, 0}, "IP version 5"},
		{packet.LinkTypeSLL2, append([]byte{0x88, 0xcc, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0}, 1, 2), "ethertype 0x88cc (LLDP)"},
		{147, []byte{1, 2, 3}, "link type 147, not decoded"},
	} {
		var s Summary
		NewDecoder().DecodeLink(tt.lt, tt.data, len(tt.data), &s)
		if got := s.Info(); got != tt.info || s.Flags&FlagUnsupported == 0 {
			t.Errorf("%s % x: info %q (flags %v), want %q", tt.lt.Name(), tt.data, got, s.Flags, tt.info)
		}
	}
	if got := layers.LinkType(packet.LinkTypeSLL2).String(); got == "" {
		t.Error("gopacket does not name SLL2")
	}
}

// fuzzLinks are the link types FuzzDecodeLink picks from.
var fuzzLinks = []packet.LinkType{
	packet.LinkTypeNull, packet.LinkTypePPP, packet.LinkTypeRaw, packet.LinkTypeCHDLC, packet.LinkTypeLoop,
	packet.LinkTypeSLL, packet.LinkTypeRadiotap, packet.LinkTypeIPv4, packet.LinkTypeIPv6, packet.LinkTypeNFLOG,
	packet.LinkTypeSLL2, 147,
}

// FuzzDecodeLink is FuzzDecode for the link types other than Ethernet:
// the decoder, the engine and the detail never panic and print no
// control characters. Seeded from the corpus's files of those types.
func FuzzDecodeLink(f *testing.F) {
	f.Add([]byte{8, 0, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x45}, uint8(10))
	if !testing.Short() {
		if dir, err := testutil.CorpusDir(); err == nil {
			entries, _ := os.ReadDir(dir)
			for _, ent := range entries {
				pkts, _ := readLinkPackets(filepath.Join(dir, ent.Name()))
				for i, p := range pkts {
					if k := slices.Index(fuzzLinks, p.link); k >= 0 && i%7 == 0 && len(p.data) <= 2048 {
						f.Add(p.data, uint8(k))
					}
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, k uint8) {
		lt := fuzzLinks[int(k)%len(fuzzLinks)]
		var s Summary
		NewDecoder().DecodeLink(lt, data, len(data), &s)
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
		p := packet.Packet{Nanos: packet.Nanos(testTS), OrigLen: uint32(len(data)), Data: data}
		p.SetLinkType(lt)
		e.Add(p)
		for _, fv := range e.Flows(SortBytes, "", testTS) {
			for _, pv := range e.FlowPackets(fv.ID, 10) {
				if got, ok := e.Packet(pv.Seq); ok && got.LinkType() != lt {
					t.Fatalf("retained packet's link type %d, added %d", got.LinkType(), lt)
				}
			}
		}
		for _, l := range DetailLink(lt, data, len(data)) {
			if l.Offset < 0 || l.Length < 0 || l.Offset+l.Length > len(data) {
				t.Fatalf("layer %s range %d+%d outside %d bytes", l.Name, l.Offset, l.Length, len(data))
			}
		}
	})
}

// TestEngineLinkTypes: packets of other link types are flows of their
// own, named by what their header says, under a hierarchy rooted at
// their link layer; a retained packet keeps its link type.
func TestEngineLinkTypes(t *testing.T) {
	ip := udpFrame(t, 5353, 20)[14:]
	add := func(e *Engine, lt packet.LinkType, data []byte) {
		p := packet.Packet{Nanos: packet.Nanos(testTS), OrigLen: uint32(len(data)), Data: data}
		p.SetLinkType(lt)
		e.Add(p)
	}
	e := NewEngine(Config{MaxFlows: 16, RingBytes: 1 << 20})
	add(e, packet.LinkTypeRaw, ip)
	add(e, packet.LinkTypeRaw, []byte{0x50, 1, 2, 3})
	st := e.Statistics(SortBytes, testTS)
	if len(st.Protocols) == 0 || st.Protocols[0].Name != "Raw IP" {
		t.Errorf("hierarchy %+v, want its root Raw IP", st.Protocols)
	}
	var protos []string
	for _, f := range e.Flows(SortBytes, "", testTS) {
		protos = append(protos, f.Proto)
		for _, pv := range e.FlowPackets(f.ID, 10) {
			if p, ok := e.Packet(pv.Seq); !ok || p.LinkType() != packet.LinkTypeRaw {
				t.Errorf("flow %s: retained packet of link type %d", f.Proto, p.LinkType())
			}
		}
	}
	slices.Sort(protos)
	if !slices.Equal(protos, []string{"Raw IP", "UDP"}) {
		t.Errorf("flows %v, want Raw IP and UDP", protos)
	}
	// Mixed: the root is the frame.
	add(e, packet.LinkTypeEthernet, udpFrame(t, 5354, 20))
	add(e, packet.LinkTypePPP, []byte{0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4})
	st = e.Statistics(SortBytes, testTS)
	if st.Protocols[0].Name != "Frame" {
		t.Errorf("mixed link types: root %q, want Frame", st.Protocols[0].Name)
	}
	found := false
	for _, f := range e.Flows(SortBytes, "", testTS) {
		found = found || f.Proto == "LCP"
	}
	if !found {
		t.Error("no LCP flow for the PPP frame")
	}
	// The display filter matches each packet at its link type's offsets.
	// A hostile header claiming IP that did not decode is no IP flow.
	add(e, packet.LinkTypeNull, []byte{0x00, 0x08, 0, 0, 1, 2})
	for _, f := range e.Flows(SortBytes, "", testTS) {
		if f.AAddr.IsValid() && f.Proto != "UDP" {
			t.Errorf("flow %s %s <-> %s: an IP flow from a header that did not decode", f.Proto, f.A, f.B)
		}
	}
	if n := len(e.Flows(SortBytes, "udp port 5353", testTS)); n != 1 {
		t.Errorf("udp port 5353 keeps %d flows, want the Raw IP one", n)
	}
}

// TestRadiotapMatchesTshark: every 802.11 frame of the corpus's radiotap
// captures, concatenated, has the receiver and transmitter addresses and
// the frame type tshark gives it, and is not called truncated where
// tshark decodes its header.
func TestRadiotapMatchesTshark(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	tshark := testutil.RequireTool(t, "tshark")
	mergecap := testutil.RequireTool(t, "mergecap")
	dir := testutil.Corpus(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, ent := range entries {
		pkts, ok := readLinkPackets(filepath.Join(dir, ent.Name()))
		if ok && len(pkts) > 0 && pkts[0].link == packet.LinkTypeRadiotap && strings.HasSuffix(ent.Name(), ".pcap") {
			files = append(files, filepath.Join(dir, ent.Name()))
		}
	}
	merged := filepath.Join(t.TempDir(), "radiotap.pcap")
	if out, err := exec.Command(mergecap, append([]string{"-a", "-F", "pcap", "-w", merged}, files...)...).CombinedOutput(); err != nil {
		t.Fatalf("mergecap: %v %s", err, out)
	}
	out, err := exec.Command(tshark, "-r", merged, "-T", "fields", "-E", "separator=;", "-e", "wlan.ra", "-e", "wlan.ta", "-e", "wlan.fc.type_subtype", "-e", "_ws.malformed").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	pkts, _ := readLinkPackets(merged)
	if len(lines) != len(pkts) {
		t.Fatalf("tshark printed %d lines for %d frames", len(lines), len(pkts))
	}
	d := NewDecoder()
	var s Summary
	var compared, agreed int
	for i, p := range pkts {
		f := strings.Split(lines[i], ";")
		if len(f) < 4 || f[2] == "" || f[3] != "" {
			continue // tshark found no frame control, or calls it malformed
		}
		d.DecodeLink(p.link, p.data, p.len, &s)
		compared++
		mac := func(b [6]byte) string { return net.HardwareAddr(b[:]).String() }
		typ := uint8(s.Dot11Type)
		sub := fmt.Sprintf("0x%04x", uint16(typ&3)<<4|uint16(typ>>2))
		ok := (f[0] == "" || f[0] == mac(s.DstMAC)) && (f[1] == "" || f[1] == mac(s.SrcMAC)) && f[2] == sub && s.Flags&FlagTruncated == 0
		if ok {
			agreed++
		} else if compared-agreed <= 10 {
			t.Errorf("frame %d: tshark ra %s ta %s type %s; ours %s > %s type %s flags %v (%s)", i+1, f[0], f[1], f[2], mac(s.SrcMAC), mac(s.DstMAC), sub, s.Flags, s.Info())
		}
	}
	t.Logf("%d radiotap captures, %d frames; %d compared with tshark, %d agree", len(files), len(pkts), compared, agreed)
	if compared < 100 || agreed != compared {
		t.Errorf("%d of %d frames agree with tshark", agreed, compared)
	}
}

// TestDisplayFilterPerLinkType: inbound, which only cooked captures have,
// is a valid display filter and matches their incoming packets; a big-endian
// NULL file's packets match ip with the file's byte order.
func TestDisplayFilterPerLinkType(t *testing.T) {
	ip := udpFrame(t, 5353, 20)[14:]
	if c := CheckFilter("inbound"); c.Kind != FilterPcap {
		t.Errorf("CheckFilter(inbound) = %+v, want pcap", c)
	}
	add := func(e *Engine, lt packet.LinkType, data []byte) {
		p := packet.Packet{Nanos: packet.Nanos(testTS), OrigLen: uint32(len(data)), Data: data}
		p.SetLinkType(lt)
		e.Add(p)
	}
	e := NewEngine(Config{MaxFlows: 16, RingBytes: 1 << 20})
	in := append([]byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 8, 0}, ip...)                          // SLL, to us
	out := append([]byte{0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 8, 0}, udpFrame(t, 5354, 20)[14:]...) // SLL, outgoing
	add(e, packet.LinkTypeSLL, in)
	add(e, packet.LinkTypeSLL, out)
	if fs := e.Flows(SortBytes, "inbound", testTS); len(fs) != 1 || fs[0].APort != 5353 && fs[0].BPort != 5353 {
		t.Errorf("inbound keeps %+v, want the flow of the incoming datagram", fs)
	}
	be := NewEngine(Config{MaxFlows: 16, RingBytes: 1 << 20, BigEndian: true})
	add(be, packet.LinkTypeNull, append([]byte{0, 0, 0, 2}, ip...))
	if n := len(be.Flows(SortBytes, "ip and greater 20", testTS)); n != 1 {
		t.Errorf("big-endian NULL: ip and greater 20 keeps %d flows, want 1", n)
	}
}
