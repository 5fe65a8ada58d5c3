package app

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

func TestParseDefaultRoute(t *testing.T) {
	const table = `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
eth1	0000A8C0	00000000	0001	0	0	0	00FFFFFF	0	0	0
wlan0	00000000	0100A8C0	0003	0	0	600	00000000	0	0	0
eth0	00000000	0101A8C0	0003	0	0	100	00000000	0	0	0
down0	00000000	0101A8C0	0002	0	0	1	00000000	0	0	0
`
	if got := parseDefaultRoute(strings.NewReader(table)); got != "eth0" {
		t.Errorf("default route interface %q, want eth0 (lowest metric, up)", got)
	}
	if got := parseDefaultRoute(strings.NewReader("Iface\tDestination\n")); got != "" {
		t.Errorf("no default route: %q", got)
	}
}

// TestTrackSaves: the live view waits for a save in flight before exiting.
func TestTrackSaves(t *testing.T) {
	var wg sync.WaitGroup
	release, started := make(chan struct{}), make(chan struct{})
	save := trackSaves(&wg, func(string, []packet.Packet) (int, error) {
		close(started)
		<-release
		return 1, nil
	})
	go save("x", nil)
	<-started
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
		t.Fatal("Wait returned while the save was running")
	case <-time.After(50 * time.Millisecond): // still waiting, as it should
	}
	close(release)
	<-waited
}

// TestSaveFormat: w keeps what the packets carry: pcapng when there are
// directions or interfaces to tell apart, pcap otherwise, --format first.
func TestSaveFormat(t *testing.T) {
	for _, tc := range []struct {
		format, dir string
		ifaces      int
		want        string
	}{
		{"", "inout", 1, "pcapng"},
		{"", "in", 1, "pcap"},
		{"", "out", 1, "pcap"},
		{"", "in", 2, "pcapng"},
		{"pcap", "inout", 3, "pcap"},
		{"pcapng", "in", 1, "pcapng"},
	} {
		got, note := saveFormat(&Config{Format: tc.format, Direction: tc.dir}, tc.ifaces)
		if got != tc.want || !strings.HasPrefix(note, got) {
			t.Errorf("format %q, -Q %s, %d interfaces: %s (%q), want %s", tc.format, tc.dir, tc.ifaces, got, note, tc.want)
		}
	}
	// The live view's default is left to saveFormat; -w's follows the name.
	for _, tc := range []struct{ write, want string }{{"", ""}, {"x.pcap", "pcap"}, {"x.pcapng", "pcapng"}, {"-", "pcap"}} {
		c := Config{Ifaces: []string{"lo"}, Write: tc.write, RingSize: "64MiB", Snaplen: 262144, MaxFlows: 65536, TCAttach: "auto"}
		if err := c.Validate(); err != nil {
			t.Fatalf("validate -w %q: %v", tc.write, err)
		}
		if c.Format != tc.want {
			t.Errorf("-w %q: format %q, want %q", tc.write, c.Format, tc.want)
		}
	}
}
