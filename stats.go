package main

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
	LostPerf    uint64       `json:"lost_perf"`    // perf's lost-sample count
	Dropped     uint64       `json:"dropped"`      // dropped in user space
	BadRecords  uint64       `json:"bad_records"`  // failed validation
	ViewPackets uint64       `json:"view_packets"` // added to the live view's engine (0 headless)
}

// writeStatsEvery writes --stats-file until ctx ends (and once more then).
func writeStatsEvery(ctx context.Context, path string, sess *capture.Session, eng *decode.Engine) {
	write := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		st := runStats{
			Time:       time.Now().UTC(),
			Goroutines: runtime.NumGoroutine(),
			HeapInuse:  ms.HeapInuse,
			RSS:        selfRSS(),
			Received:   sess.Reader.Stats.Received.Load(),
			LostPerf:   sess.Reader.Stats.Lost.Load(),
			Dropped:    sess.Reader.Stats.Dropped.Load(),
			BadRecords: sess.Reader.Stats.BadRecords.Load(),
		}
		st.Kernel, _ = sess.Counters()
		if eng != nil {
			st.ViewPackets = eng.Stats(time.Now()).Packets
		}
		b, err := json.Marshal(st)
		if err != nil {
			return
		}
		tmp := path + ".tmp"
		if os.WriteFile(tmp, append(b, '\n'), 0o600) == nil {
			_ = os.Rename(tmp, path)
		}
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		write()
		select {
		case <-ctx.Done():
			write()
			return
		case <-t.C:
		}
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
