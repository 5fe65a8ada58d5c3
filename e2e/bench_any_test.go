//go:build benchveth

package e2e

// What -i any costs (make bench): with 50 idle veths beside the busy one
// in the capturing namespace, bpftop-cap -i any -w against -i BUSY -w
// (and tcpdump both ways, for reference), at the sender's egress as in
// TestBenchVeth: start-up and stop with no traffic (the per-interface
// cost: the attach and detach), and the sender's rate and the capturer's
// CPU per million packets under a UDP blast (the per-packet cost: the
// LINUX_SLL2 conversion). Appended to BENCH_OUT when set.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// anyIdleVeths is how many idle veths the capturing namespace holds.
const anyIdleVeths = 50

// addIdleVeths puts n veths in namespace ns, up, their peers in a
// namespace of their own, and no traffic on them (IPv6 is off there).
func addIdleVeths(t *testing.T, ns string, n int) {
	idle := fmt.Sprintf("bpc-idle-%d", os.Getpid()%100000)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", idle).Run() })
	cmds := [][]string{
		{"netns", "add", idle},
		{"netns", "exec", idle, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"},
		{"netns", "exec", idle, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"},
		{"netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"},
	}
	for i := range n {
		a, b := fmt.Sprintf("bpcidle%d", i), fmt.Sprintf("bpcidle%dp", i)
		cmds = append(cmds, []string{"link", "add", a, "netns", ns, "type", "veth", "peer", "name", b, "netns", idle},
			[]string{"-n", ns, "link", "set", a, "up"}, []string{"-n", idle, "link", "set", b, "up"})
	}
	for _, c := range cmds {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
}

// anyRun is one capture's numbers.
type anyRun struct {
	sent     uint64
	pps      float64
	kept     float64 // packets in the file / sent
	cpu      time.Duration
	ready    time.Duration // from the start to capturing
	rssMiB   float64
	lostDrop uint64
}

func TestBenchAny(t *testing.T) {
	testutil.RequireTool(t, "tcpdump")
	pair := testutil.NewPair(t)
	addIdleVeths(t, pair.NsB, anyIdleVeths)
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=8g,mode=0700"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	d := time.Duration(envInt("BENCH_SECONDS", 5)) * time.Second
	reps := envInt("BENCH_REPS", 5)

	conds := []struct {
		name, tool string
		args       []string
	}{
		{"none", "", nil},
		{"bpftop-cap -i " + pair.IfB + " -w", "bpftop-cap", []string{"-i", pair.IfB}},
		{"bpftop-cap -i any -w", "bpftop-cap", []string{"-i", "any"}},
		{"tcpdump -i " + pair.IfB + " -w", "tcpdump", []string{"-i", pair.IfB}},
		{"tcpdump -i any -w", "tcpdump", []string{"-i", "any"}},
	}
	run := func(ci int, traffic func() sent) anyRun {
		c := conds[ci]
		file := filepath.Join(dir, "cap.pcap")
		defer os.Remove(file)
		var p *proc
		begin := time.Now()
		switch c.tool {
		case "bpftop-cap":
			ready := filepath.Join(dir, "ready")
			defer os.Remove(ready)
			p = start(t, pair.NsB, binary, append(c.args, "-Q", "out", "-w", file, "--ready-file", ready)...)
			testutil.Eventually(t, 30*time.Second, func() bool { _, err := os.Stat(ready); return err == nil }, "not ready: %s", p.stderr)
		case "tcpdump":
			p = start(t, pair.NsB, "tcpdump", append(c.args, "-Q", "out", "-nn", "-s", "262144", "-w", file)...)
			testutil.Eventually(t, 30*time.Second, func() bool { return strings.Contains(p.stderr.String(), "listening on") }, "tcpdump: %s", p.stderr)
		}
		r := anyRun{ready: time.Since(begin)}
		t0 := time.Now()
		out := traffic()
		r.sent, r.pps = out.pkts, float64(out.pkts)/time.Since(t0).Seconds()
		if p == nil {
			return r
		}
		if err := p.stop(t, syscall.SIGINT); err != nil {
			t.Fatalf("%s: %v\n%s", c.name, err, p.stderr)
		}
		var kept uint64
		if c.tool == "bpftop-cap" {
			captured, lost, dropped := summary(t, p.stderr.String())
			kept, r.lostDrop = uint64(captured), uint64(lost+dropped)
		} else if m := tcpdumpStatsRE.FindStringSubmatch(p.stderr.String()); m != nil {
			fmt.Sscan(m[1], &kept)
			fmt.Sscan(m[2], &r.lostDrop)
		}
		r.kept = float64(kept) / float64(max(r.sent, 1))
		ru := p.cmd.ProcessState.SysUsage().(*syscall.Rusage)
		r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		r.rssMiB = float64(ru.Maxrss) / 1024
		return r
	}

	var out strings.Builder
	fmt.Fprintf(&out, "\n## -i any: per interface and per packet\n\n"+
		"Made by `make bench` (this part: `sudo BENCH_OUT=$PWD/BENCHMARKS.md go test -tags benchveth -run TestBenchAny -count=1 -v ./e2e/`) on %s, kernel %s. "+
		"The sender's namespace holds the busy veth and %d idle ones (up, no traffic), and lo; each capture runs there at egress (-Q out), writing to a tmpfs; median of %d runs, conditions interleaved. "+
		"Start-up and stop: a capture started, waited for until it captures, and stopped, with no traffic: `ready` is the wall time to the first, CPU the process's whole user+system time. "+
		"Under traffic: a UDP blast for %v (sendmmsg, as TestBenchVeth's), the sender's packets per second against no capture in the same repetition, and the capturer's CPU per million packets sent, whole and with the median start-up and stop CPU above taken out.\n\n",
		time.Now().UTC().Format("2006-01-02"), kernelRelease(), anyIdleVeths, reps, d)

	// Start-up and stop.
	idle := make([][]anyRun, len(conds))
	for range reps {
		for ci := 1; ci < len(conds); ci++ {
			idle[ci] = append(idle[ci], run(ci, func() sent { return sent{} }))
		}
	}
	fmt.Fprintln(&out, "| capture | interfaces | ready ms | start-up and stop CPU ms | max RSS MiB |")
	fmt.Fprintln(&out, "| --- | ---: | ---: | ---: | ---: |")
	for ci := 1; ci < len(conds); ci++ {
		n := "1"
		if strings.Contains(conds[ci].name, "any") {
			n = fmt.Sprint(anyIdleVeths + 2)
		}
		fmt.Fprintf(&out, "| %s | %s | %.1f | %.1f | %.1f |\n", conds[ci].name, n,
			medianOf(idle[ci], func(r anyRun) float64 { return r.ready.Seconds() * 1e3 }),
			medianOf(idle[ci], func(r anyRun) float64 { return r.cpu.Seconds() * 1e3 }),
			medianOf(idle[ci], func(r anyRun) float64 { return r.rssMiB }))
	}
	perIface := (medianOf(idle[2], func(r anyRun) float64 { return r.cpu.Seconds() }) - medianOf(idle[1], func(r anyRun) float64 { return r.cpu.Seconds() })) / (anyIdleVeths + 1)
	perIfaceReady := (medianOf(idle[2], func(r anyRun) float64 { return r.ready.Seconds() }) - medianOf(idle[1], func(r anyRun) float64 { return r.ready.Seconds() })) / (anyIdleVeths + 1)
	fmt.Fprintf(&out, "\nEach interface more costs bpftop-cap about %.2f ms of CPU and %.2f ms of start-up time (the medians' difference over the %d interfaces more).\n\n",
		perIface*1e3, perIfaceReady*1e3, anyIdleVeths+1)

	fmt.Fprintln(&out, "| mix | capture | sender pps | vs none | kept | lost+dropped | CPU s / M pkts | the same, start-up taken out |")
	fmt.Fprintln(&out, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, mix := range []struct {
		name    string
		payload int
	}{{"64-byte frames", 22}, {"1442-byte frames", 1400}} {
		cells := make([][]anyRun, len(conds))
		for range reps {
			for ci := range conds {
				cells[ci] = append(cells[ci], run(ci, func() sent { return blast(t, pair, mix.payload, d) }))
			}
		}
		for ci, c := range conds {
			var vs []float64
			for k := range cells[ci] {
				vs = append(vs, cells[ci][k].pps/cells[0][k].pps)
			}
			if ci == 0 {
				fmt.Fprintf(&out, "| %s | none | %.0f | 1.00 | | | | |\n", mix.name, medianOf(cells[0], func(r anyRun) float64 { return r.pps }))
				continue
			}
			var lost uint64
			for _, r := range cells[ci] {
				lost += r.lostDrop
			}
			startup := medianOf(idle[ci], func(r anyRun) float64 { return r.cpu.Seconds() })
			fmt.Fprintf(&out, "| %s | %s | %.0f | %.2f (%.2f-%.2f) | %.4f | %d | %.3f | %.3f |\n", mix.name, c.name,
				medianOf(cells[ci], func(r anyRun) float64 { return r.pps }), median(vs), slices.Min(vs), slices.Max(vs),
				medianOf(cells[ci], func(r anyRun) float64 { return r.kept }), lost,
				medianOf(cells[ci], func(r anyRun) float64 { return r.cpu.Seconds() / (float64(max(r.sent, 1)) / 1e6) }),
				medianOf(cells[ci], func(r anyRun) float64 { return (r.cpu.Seconds() - startup) / (float64(max(r.sent, 1)) / 1e6) }))
		}
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

func medianOf(rs []anyRun, f func(anyRun) float64) float64 {
	var xs []float64
	for _, r := range rs {
		xs = append(xs, f(r))
	}
	return median(xs)
}
