//go:build benchveth

package e2e

// What start-up costs (make bench): bpftop-cap -w started on the sender's
// veth with no traffic, waited for until it captures (--ready-file), and
// stopped, with process attribution (the default) and with --no-proc,
// interleaved. BENCH_BASELINE names another build of bpftop-cap to run
// beside this one in the same repetitions (a before and after).
// Appended to BENCH_OUT when set.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// startRun is one start and stop's numbers.
type startRun struct {
	ready  time.Duration // from exec to the ready file's write
	cpu    time.Duration // user+system of the whole run, start and stop
	rssMiB float64
}

func TestBenchStart(t *testing.T) {
	pair := testutil.NewPair(t)
	reps := envInt("BENCH_REPS", 7)
	type cond struct{ name, bin, noProc string }
	conds := []cond{{"bpftop-cap -w", binary, ""}, {"bpftop-cap -w --no-proc", binary, "--no-proc"}}
	base := os.Getenv("BENCH_BASELINE")
	if base != "" {
		conds = append(conds, cond{"baseline -w", base, ""}, cond{"baseline -w --no-proc", base, "--no-proc"})
	}
	dir := t.TempDir()
	run := func(c cond) startRun {
		ready := filepath.Join(dir, "ready")
		file := filepath.Join(dir, "o.pcap")
		defer os.Remove(ready)
		defer os.Remove(file)
		args := []string{"-i", pair.IfB, "-Q", "out", "-w", file, "--ready-file", ready}
		if c.noProc != "" {
			args = append(args, c.noProc)
		}
		begin := time.Now()
		p := start(t, pair.NsB, c.bin, args...)
		var fi os.FileInfo
		testutil.Eventually(t, 30*time.Second, func() bool {
			var err error
			fi, err = os.Stat(ready)
			return err == nil
		}, "not ready: %s", p.stderr)
		if err := p.stop(t, syscall.SIGINT); err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, p.stderr)
		}
		ru := p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
		r := startRun{
			// The file's time, not when the poll saw it.
			ready:  fi.ModTime().Sub(begin),
			cpu:    time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
			rssMiB: float64(ru.Maxrss) / 1024,
		}
		t.Logf("%s: ready %v, CPU %v, max RSS %.1f MiB", c.name, r.ready, r.cpu, r.rssMiB)
		return r
	}
	runs := make([][]startRun, len(conds))
	for range reps {
		for ci, c := range conds {
			runs[ci] = append(runs[ci], run(c))
		}
	}
	col := func(ci int, f func(startRun) float64) []float64 {
		var xs []float64
		for _, r := range runs[ci] {
			xs = append(xs, f(r))
		}
		return xs
	}
	ready := func(r startRun) float64 { return r.ready.Seconds() * 1e3 }
	cpu := func(r startRun) float64 { return r.cpu.Seconds() * 1e3 }
	rss := func(r startRun) float64 { return r.rssMiB }
	// ratio is the median of the repetitions' ratios of condition a to b
	// (each pair of runs shares the machine's mood), with the range.
	ratio := func(a, b int, f func(startRun) float64) string {
		var vs []float64
		for k := range runs[a] {
			vs = append(vs, f(runs[a][k])/f(runs[b][k]))
		}
		lo, hi := vs[0], vs[0]
		for _, v := range vs {
			lo, hi = min(lo, v), max(hi, v)
		}
		return fmt.Sprintf("%.2f (%.2f-%.2f)", median(vs), lo, hi)
	}

	var out strings.Builder
	fmt.Fprintf(&out, "\n## Start-up and stop\n\n"+
		"Made by `make bench` (this part: `sudo BENCH_OUT=$PWD/BENCHMARKS.md go test -tags benchveth -run TestBenchStart -count=1 -v ./e2e/`) on %s, kernel %s. "+
		"bpftop-cap -w at the sender's veth (-Q out) with no traffic, started, waited for until it captures (`--ready-file`), and stopped with SIGINT; median of %d runs, conditions interleaved. "+
		"`ready` is the wall time from exec to the ready file's write, CPU the process's whole user+system time (getrusage: start and stop), RSS its peak.\n\n",
		time.Now().UTC().Format("2006-01-02"), kernelRelease(), reps)
	fmt.Fprintln(&out, "| capture | ready ms | start-up and stop CPU ms | max RSS MiB |")
	fmt.Fprintln(&out, "| --- | ---: | ---: | ---: |")
	for ci, c := range conds {
		fmt.Fprintf(&out, "| %s | %.1f | %.1f | %.1f |\n", c.name, median(col(ci, ready)), median(col(ci, cpu)), median(col(ci, rss)))
	}
	fmt.Fprintf(&out, "\nAttribution against --no-proc, the median of each repetition's ratio (range): ready %s, CPU %s, max RSS %s.\n",
		ratio(0, 1, ready), ratio(0, 1, cpu), ratio(0, 1, rss))
	if base != "" {
		fmt.Fprintf(&out, "This build against the baseline, with attribution: ready %s, CPU %s, max RSS %s; with --no-proc: ready %s, CPU %s, max RSS %s.\n",
			ratio(0, 2, ready), ratio(0, 2, cpu), ratio(0, 2, rss), ratio(1, 3, ready), ratio(1, 3, cpu), ratio(1, 3, rss))
	}
	fmt.Print(out.String())
	if path := os.Getenv("BENCH_OUT"); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(out.String()); err != nil {
			t.Fatal(err)
		}
	}
}
