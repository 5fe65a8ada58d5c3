package e2e

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// tcpdumpLinkType is the link type tcpdump names on its first line for a
// file ("LINUX_SLL"), and the packets it reads from it.
func tcpdumpLinkType(t *testing.T, path string) (string, int) {
	t.Helper()
	cmd := exec.Command("tcpdump", "-nn", "-r", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tcpdump -r %s: %v\n%s", path, err, stderr.Bytes())
	}
	m := regexp.MustCompile(`link-type (\S+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("tcpdump -r %s names no link type:\n%s", path, stderr.Bytes())
	}
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" && l[0] != ' ' && l[0] != '\t' {
			n++
		}
	}
	return m[1], n
}

// TestTUIReadEveryLinkType opens corpus captures of the link types other
// than Ethernet in the view: each shows its flows as decoded (addresses
// where there is IP, the frame type on 802.11, the link type and the hex
// where it is not decoded), and w saves every packet in a file of the
// same link type that tcpdump reads, byte for byte what the file held.
func TestTUIReadEveryLinkType(t *testing.T) {
	testutil.RequireTool(t, "tcpdump")
	testutil.RequireTool(t, "tmux")
	corpus := testutil.Corpus(t)
	for _, tt := range []struct {
		file string
		want []string // on the screen, after Enter twice (the first flow's first packet)
	}{
		{"RADIUS-RFC3162.pcap", []string{"127.0.0.1:39646 <-> 127.0.0.1:1812", "Linux cooked capture v1 [0:16]", "UDP [36:44]"}},
		{"dns-badcookie.pcap", []string{"UDP", "Loopback [0:4]", "IPv4 [4:"}},
		{"LINKTYPE_RAW_ipv4.pcap", []string{"IPv4 [0:20]"}},
		{"bgp_vpn_attrset.pcap", []string{"PPP [0:", "IPv4 ["}},
		{"nflog.pcap", []string{"74.82.42.42:53", "UDP"}},
		{"HDLC.pcap", []string{"CDP ", "SLARP ", "ICMP ", "10.0.0.1 <-> 10.0.0.2"}},
		{"ieee802.11_meshid.pcap", []string{"802.11", "Radiotap header [0:56]", "IEEE 802.11 [56:80]"}},
		{"OSPFv3_NBMA_adjacencies.pcap", []string{"DLT 107", "link type 107, not decoded", "0000  "}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			in := filepath.Join(corpus, tt.file)
			wantType, wantN := tcpdumpLinkType(t, in)
			dir := t.TempDir()
			s := startScreen(t, dir, 120, 40, binary, "-r", in)
			s.waitFor("the flows", contains(tt.file+" file", "Flows"))
			s.keys("Enter", "Enter")
			s.waitFor("the first packet's layers", contains(tt.want...))
			path, saved := saveFromScreen(t, s, dir)
			s.keys("q")
			s.waitExit()
			if !strings.Contains(s.errText(), "packets read") {
				t.Errorf("stderr: %s", s.errText())
			}
			gotType, gotN := tcpdumpLinkType(t, path)
			if gotType != wantType || gotN != wantN || saved != wantN {
				t.Errorf("saved %d packets (tcpdump reads %d) as link-type %s; the file: %d as %s", saved, gotN, gotType, wantN, wantType)
			}
			// Byte for byte: what pcapgo reads of both (pcapng files saved
			// as pcap keep their packets).
			if strings.HasSuffix(tt.file, ".pcap") {
				a, b := readPcap(t, in), readPcap(t, path)
				if len(a) != len(b) {
					t.Fatalf("saved %d packets, the file has %d", len(b), len(a))
				}
				for i := range a {
					if !bytes.Equal(a[i].data, b[i].data) || a[i].ci.Length != b[i].ci.Length {
						t.Errorf("packet %d differs after the save", i+1)
					}
				}
			}
		})
	}
}

// TestTUITunView runs the live view on a tun device (Raw IP, no
// link-layer header): the flow of the datagrams sent out through it and
// injected by its peer shows with its addresses, the packet's layers start
// at IPv4, and w saves a RAW file tcpdump reads with every datagram.
func TestTUITunView(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "tcpdump")
	testutil.RequireTool(t, "tmux")
	pair := testutil.NewPair(t) // for its namespace
	const name = "bpctunv0"
	tun := openTun(t, pair.NsA, name, "10.78.0.1")
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, err := tun.Read(buf); err != nil {
				return
			}
		}
	}()
	dir := t.TempDir()
	s := startLiveView(t, dir, pair.NsA, "-i", name)
	var c net.PacketConn
	if err := testutil.InNetns(pair.NsA, func() (err error) {
		c, err = net.ListenPacket("udp4", "10.78.0.1:9001")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 5 {
		if _, err := c.WriteTo([]byte(tag(i)), &net.UDPAddr{IP: net.IPv4(10, 78, 0, 2), Port: 9000}); err != nil {
			t.Fatal(err)
		}
		injectUDP(t, tun, net.IPv4(10, 78, 0, 2), net.IPv4(10, 78, 0, 1), 9000, 9001, tag(5+i))
	}
	s.waitFor("the tun flow with 10 packets", func(text string) bool {
		return regexp.MustCompile(`UDP\s+10\.78\.0\.1:9001 <-> 10\.78\.0\.2:9000\s+10 `).MatchString(text)
	})
	s.keys("Enter", "Enter")
	s.waitFor("the packet's layers from IPv4", contains("IPv4 [0:20]", "UDP [20:28]"))
	path, saved := saveFromScreen(t, s, dir)
	s.keys("q")
	s.waitExit()
	if lt, n := tcpdumpLinkType(t, path); lt != "RAW" || n != 10 || saved != 10 {
		t.Errorf("saved %d packets; tcpdump reads %d as link-type %s, want 10 as RAW", saved, n, lt)
	}
	if got := byTag(t, readPcap(t, path), "saved"); len(got) != 10 {
		t.Errorf("saved file holds %d of the 10 datagrams", len(got))
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
