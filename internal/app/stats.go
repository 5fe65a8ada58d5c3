package app

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/capture"
	"github.com/bpftop-cap/bpftop-cap/decode"
)

// runStats is what --stats-file holds, rewritten every second: the
// process's own numbers for soak tests and monitoring.
type runStats struct {
	Time        time.Time    `json:"time"`
	Goroutines  int          `json:"goroutines"`
	HeapInuse   uint64       `json:"heap_inuse_bytes"`
	RSS         uint64       `json:"rss_bytes"`
	Kernel      bpf.Counters `json:"kernel"`
	Received    uint64       `json:"received"`     // read from the perf ring and handed on
	Lost        uint64       `json:"lost"`         // lost in ring, as the summary counts it: max(lost_perf, kernel.failed)
	LostPerf    uint64       `json:"lost_perf"`    // perf's lost-sample count
	Dropped     uint64       `json:"dropped"`      // dropped in user space
	BadRecords  uint64       `json:"bad_records"`  // failed validation
	Late        uint64       `json:"late"`         // written after a packet stamped later (-w)
	ViewPackets uint64       `json:"view_packets"` // added to the live view's engine (0 headless)
}

// writeStatsEvery writes --stats-file every second until ctx ends. The
// caller writes it once more with writeStats when the capture is drained.
func writeStatsEvery(ctx context.Context, path string, sess *capture.Session, eng *decode.Engine) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		writeStats(path, sess, eng)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// writeStats writes --stats-file once (atomically: a rename).
func writeStats(path string, sess *capture.Session, eng *decode.Engine) {
	if path == "" {
		return
	}
	{
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		st := runStats{
			Time:       time.Now().UTC(),
			Goroutines: runtime.NumGoroutine(),
			HeapInuse:  ms.HeapInuse,
			RSS:        selfRSS(),
			Received:   sess.Reader.Stats.Received.Load(),
			LostPerf:   sess.Reader.Stats.Lost.Load(),
			Late:       sess.Reader.Stats.Late.Load(),
			Dropped:    sess.Reader.Stats.Dropped.Load(),
			BadRecords: sess.Reader.Stats.BadRecords.Load(),
		}
		st.Kernel, _ = sess.Counters()
		st.Lost = sess.LostInRing(st.Kernel)
		if eng != nil {
			st.ViewPackets = eng.Stats(time.Now()).Packets
		}
		b, err := json.Marshal(st)
		if err != nil {
			return
		}
		_ = writeFileWhole(path, append(b, '\n'))
	}
}

// selfRSS reads the resident set size from /proc/self/status.
func selfRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}
