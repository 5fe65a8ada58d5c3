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
