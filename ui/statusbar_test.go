package ui

import (
	"strings"
	"testing"
)

// TestStatusBarProcFiltered: with a process filter the live status bar
// counts the packets the kernel dropped as other processes', after the
// capture's loss counters, as the counter reads at each redraw; without
// one it says nothing of them.
func TestStatusBarProcFiltered(t *testing.T) {
	var n uint64 = 42
	e := newEnv(t, 160, 24, Config{ProcFiltered: func() uint64 { return n }})
	e.fill()
	e.tick()
	status := func() string { return strings.SplitN(e.m.View(), "\n", 2)[0] }
	line := status()
	i, j := strings.Index(line, "dropped 0"), strings.Index(line, " 42 of other processes ")
	if i < 0 || j < i {
		t.Errorf("status bar %q: want %q after the loss counters", line, "42 of other processes")
	}
	n = 2_500_000
	e.tick()
	if line := status(); !strings.Contains(line, " 2.5M of other processes ") {
		t.Errorf("status bar %q after the counter moved: want %q", line, "2.5M of other processes")
	}

	e = newEnv(t, 160, 24, Config{})
	e.fill()
	e.tick()
	if line := status(); strings.Contains(line, "other processes") || !strings.Contains(line, "dropped 0") {
		t.Errorf("status bar without a process filter: %q", line)
	}
}
