package e2e

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/bpftop-cap/bpftop-cap/packet"
	"github.com/bpftop-cap/bpftop-cap/pcapfile"
)

// udpFrame is one Ethernet/IPv4/UDP frame.
func udpFrame(t *testing.T, src, dst string, sport, dport uint16, payload string) []byte {
	t.Helper()
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
		ip, udp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

// ngStream is what bpftop-cap -i any -w - --format pcapng writes, in the
// parts it would flush: eth0 with a datagram in and its answer out; then
// veth-b, announced mid-stream, with two datagrams out; then the
// statistics blocks, 5 and 37 packets dropped.
func ngStream(t *testing.T) [3][]byte {
	t.Helper()
	var buf bytes.Buffer
	var parts [3][]byte
	w, err := pcapfile.NewPcapngWriter(&buf, 262144, []pcapfile.IfaceInfo{{Index: 7, Name: "eth0", Hook: "tcx"}}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Now()
	write := func(ifindex uint32, dir packet.Dir, data []byte) {
		ts = ts.Add(time.Millisecond)
		p := packet.Packet{Nanos: packet.Nanos(ts), Ifindex: ifindex, Dir: dir, OrigLen: uint32(len(data)), Data: data}
		if err := w.Write(&p); err != nil {
			t.Fatal(err)
		}
	}
	cut := func(i int) {
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		parts[i] = bytes.Clone(buf.Bytes())
		buf.Reset()
	}
	write(7, packet.DirIn, udpFrame(t, "192.0.2.1", "192.0.2.2", 1111, 2222, "ask"))
	write(7, packet.DirOut, udpFrame(t, "192.0.2.2", "192.0.2.1", 2222, 1111, "answer"))
	cut(0)
	if err := w.AddInterface(pcapfile.IfaceInfo{Index: 12, Name: "veth-b", Hook: "tcx"}); err != nil {
		t.Fatal(err)
	}
	write(12, packet.DirOut, udpFrame(t, "192.0.2.3", "192.0.2.4", 3333, 4444, "three"))
	write(12, packet.DirOut, udpFrame(t, "192.0.2.3", "192.0.2.4", 3333, 4444, "four"))
	cut(1)
	if err := w.Finish(map[int]pcapfile.IfaceStats{7: {Dropped: 5}, 12: {Dropped: 37}}); err != nil {
		t.Fatal(err)
	}
	cut(2)
	return parts
}

var (
	inRow  = regexp.MustCompile(`(?m)^\W*in +\S`)
	outRow = regexp.MustCompile(`(?m)^\W*out +\S`)
	ifRows = []string{"eth0     UDP", "veth-b   UDP"}
)

// checkDirections opens the eth0 flow's packet list: its datagram shows
// as in, the answer as out.
func checkDirections(t *testing.T, s *screen) {
	t.Helper()
	s.keys("/")
	s.keys("-l", "~:1111")
	s.keys("Enter")
	s.waitFor("the filtered table", contains(`filter "~:1111"`, "Flows 1 of 2"))
	s.keys("Enter")
	text := s.waitFor("the packet list", contains("Packets of UDP 192.0.2.1:1111 <-> 192.0.2.2:2222 · 2 retained"))
	if !inRow.MatchString(text) || !outRow.MatchString(text) {
		t.Errorf("the packet list does not show in and out:\n%s", text)
	}
}

// TestTUIPcapngStream reads a pcapng stream as bpftop-cap writes it: the
// flows show their interface by the names of the interface blocks (the
// second announced mid-stream), the packets their direction, and once the
// statistics blocks have come the status bar shows the writing capture's
// drops.
func TestTUIPcapngStream(t *testing.T) {
	parts := ngStream(t)
	dir := t.TempDir()
	s, fifo, rc := streamView(t, dir, "cat stream | { "+shellQuote(binary, "-r", "-")+"; echo $? > rc; }")
	if _, err := fifo.Write(parts[0]); err != nil {
		t.Fatal(err)
	}
	text := s.waitFor("the first interface's flow", contains("192.0.2.1:1111 <-> 192.0.2.2:2222", "2 pkts", "│ live │"))
	if strings.Contains(text, "dropped") || strings.Contains(text, "veth-b") {
		t.Errorf("drops or the second interface before they were written:\n%s", text)
	}
	if _, err := fifo.Write(parts[1]); err != nil {
		t.Fatal(err)
	}
	s.waitFor("the IF column", contains(append(ifRows, "4 pkts")...))
	if _, err := fifo.Write(parts[2]); err != nil {
		t.Fatal(err)
	}
	if err := fifo.Close(); err != nil {
		t.Fatal(err)
	}
	s.waitFor("the remote capture's drops", contains("capture dropped 42", "stream ended after 4 packets"))
	checkDirections(t, s)
	s.keys("q")
	if code := streamExit(t, s, rc); code != 0 {
		t.Errorf("exit code %d; stderr:\n%s", code, s.errText())
	}
	s.waitExit()
}

// TestTUIPcapngFile is the same stream saved to a file and opened with -r.
func TestTUIPcapngFile(t *testing.T) {
	parts := ngStream(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "two.pcapng")
	if err := os.WriteFile(path, bytes.Join(parts[:], nil), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startScreen(t, dir, 120, 30, binary, "-r", path)
	s.waitFor("interfaces and drops", contains(append(ifRows, "4 pkts", "capture dropped 42")...))
	checkDirections(t, s)
	s.keys("q")
	s.waitExit()
}
