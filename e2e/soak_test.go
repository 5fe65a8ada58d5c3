//go:build benchveth

package e2e

// The soak run (make soak): the live view in a terminal on a veth pair
// while a sender blasts at full speed until the kernel has seen
// SOAK_PACKETS packets (10 million by default). It samples the process's
// --stats-file every second and checks that memory stays within the
// retention ring plus a fixed margin, that the goroutine count stays flat,
// that a key press is still answered quickly, and that every packet is
// accounted for. Built only with -tags benchveth.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

type soakSample struct {
	Time        time.Time `json:"time"`
	Goroutines  int       `json:"goroutines"`
	HeapInuse   uint64    `json:"heap_inuse_bytes"`
	RSS         uint64    `json:"rss_bytes"`
	Kernel      struct{ Seen, Sent, Failed, Filtered uint64 }
	Received    uint64 `json:"received"`
	LostPerf    uint64 `json:"lost_perf"`
	Dropped     uint64 `json:"dropped"`
	ViewPackets uint64 `json:"view_packets"`
}

func readSample(t *testing.T, path string) (soakSample, bool) {
	var s soakSample
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &s) != nil {
		return s, false
	}
	return s, true
}

func TestSoakTUI(t *testing.T) {
	pair := testutil.NewPair(t)
	holdPageReporting(t) // as for the capture benchmark
	target := uint64(envInt("SOAK_PACKETS", 10_000_000))
	const ring = 64 << 20
	// The rest: the ring's descriptors (~29 MiB for 64 MiB), perf rings
	// (2 x 64 MiB, where the kernel counts them in the RSS; 6.18 does not),
	// the batch pool (32 MiB), the flow table, the Go heap's
	// collection slack and the screen.
	const margin = 320 << 20
	dir := t.TempDir()
	ready, stats := filepath.Join(dir, "ready"), filepath.Join(dir, "stats.json")
	scr := startScreen(t, dir, 120, 40, "ip", "netns", "exec", pair.NsB, binary, "-i", pair.IfB, "-Q", "out",
		"--ring-size", "64MiB", "--ready-file", ready, "--stats-file", stats)
	testutil.Eventually(t, 10*time.Second, func() bool { _, err := os.Stat(ready); return err == nil }, "not ready: %s", stringer(scr.errText))

	start := time.Now()
	var samples []soakSample
	var sent uint64
	var keyLatency []time.Duration
	sorts := []string{"sort packets", "sort rate", "sort last seen", "sort bytes"}
	for round := 0; ; round++ {
		sent += blast(t, pair, 22, 2*time.Second).pkts
		if s, ok := readSample(t, stats); ok {
			samples = append(samples, s)
			if s.Kernel.Seen >= target {
				break
			}
		}
		if time.Since(start) > 10*time.Minute {
			t.Fatalf("only %d packets after 10 minutes", samples[len(samples)-1].Kernel.Seen)
		}
		// A key press under load: cycle the sort and time until it shows.
		// (Measured between blasts; the display keeps redrawing.)
		want := sorts[round%len(sorts)]
		t0 := time.Now()
		scr.keys("s")
		scr.waitFor(want, func(s string) bool { return strings.Contains(s, want) })
		keyLatency = append(keyLatency, time.Since(t0))
	}
	elapsed := time.Since(start)
	scr.keys("q")
	scr.waitExit()
	final, ok := readSample(t, stats)
	if !ok {
		t.Fatal("no final stats")
	}
	captured, lost, dropped := summary(t, scr.errText())

	// Memory: flat after warm-up, within the ring plus the margin.
	// Warm-up: the retention ring, its descriptors and the perf rings are
	// all touched once they have wrapped, a few seconds into the run.
	warm := len(samples) / 3
	var rssMax, rssWarm uint64
	gMin, gMax := 1<<30, 0
	for i, s := range samples {
		rssMax = max(rssMax, s.RSS)
		if i == warm {
			rssWarm = s.RSS
		}
		if i >= warm {
			gMin, gMax = min(gMin, s.Goroutines), max(gMax, s.Goroutines)
		}
	}
	if rssMax > ring+margin {
		t.Errorf("peak RSS %d MiB exceeds the ring (%d MiB) plus %d MiB", rssMax>>20, ring>>20, margin>>20)
	}
	if rssMax > rssWarm+64<<20 {
		t.Errorf("RSS grew from %d MiB after warm-up to %d MiB", rssWarm>>20, rssMax>>20)
	}
	if gMax-gMin > 3 {
		t.Errorf("goroutines varied from %d to %d", gMin, gMax)
	}
	// Accounting: every packet the kernel saw was sent to the ring or
	// failed there (lost); every record sent was read (shown) or dropped.
	k := final.Kernel
	if k.Seen != k.Sent+k.Failed+k.Filtered {
		t.Errorf("kernel: seen %d != sent %d + failed %d + filtered %d", k.Seen, k.Sent, k.Failed, k.Filtered)
	}
	if final.Received+final.Dropped != k.Sent {
		t.Errorf("read %d + dropped %d != sent %d", final.Received, final.Dropped, k.Sent)
	}
	if final.ViewPackets != final.Received || uint64(captured) != final.Received {
		t.Errorf("view has %d packets, reader handed on %d, summary says %d", final.ViewPackets, final.Received, captured)
	}
	var worst time.Duration
	for _, l := range keyLatency {
		worst = max(worst, l)
	}
	report := fmt.Sprintf("\n## Soak: the live view at full rate\n\n"+
		"`make soak` (`sudo SOAK_PACKETS=%d go test -tags benchveth -run TestSoakTUI -count=1 -v ./e2e/`), %s: "+
		"the live view in a 120x40 tmux terminal on the sender's veth (tc egress) while 64-byte UDP is blasted, with free page reporting held off as above.\n\n"+
		"| packets seen by the kernel | run time | sender pps | lost in ring | dropped | RSS after warm-up / peak | goroutines (min-max after warm-up) | key press to screen (worst of %d, incl. tmux polling) |\n"+
		"| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"+
		"| %d | %s | %.0f | %d | %d | %d / %d MiB | %d-%d | %s |\n",
		target, time.Now().UTC().Format("2006-01-02"), len(keyLatency),
		k.Seen, elapsed.Round(time.Second), float64(sent)/elapsed.Seconds(), lost, dropped,
		rssWarm>>20, rssMax>>20, gMin, gMax, worst.Round(time.Millisecond))
	fmt.Print(report)
	if path := os.Getenv("BENCH_OUT"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
		if err == nil {
			f.WriteString(report)
			f.Close()
		}
	}
}
