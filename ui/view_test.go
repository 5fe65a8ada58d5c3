package ui

import (
	"os"
	"path/filepath"
	"testing"
)

// TestTUIGolden compares whole screens at fixed sizes, with the colour
// profile pinned to ASCII and a fixed clock, to testdata/*.golden. Run
// with -update to rewrite them after an intended change.
func TestTUIGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		w, h int
		cfg  Config
		keys []string
	}{
		{"flows-80x24", 80, 24, Config{}, nil},
		{"packets-80x24", 80, 24, Config{}, []string{"j", "enter"}},
		{"hex-80x24", 80, 24, Config{}, []string{"enter", "enter"}},
		{"hex-120x40", 120, 40, Config{Filter: "ip"}, []string{"enter", "enter"}},
		{"filter-paused-100x30", 100, 30, Config{}, []string{"s", "/", "~", "1", "0", ".", "0", ".", "0", ".", "1", "enter", "space"}},
		{"help-80x24", 80, 24, Config{}, []string{"?"}},
		{"help-end-80x24", 80, 24, Config{}, []string{"?", "G"}},
		{"help-120x40", 120, 40, Config{}, []string{"?"}},
		{"file-80x24", 80, 24, Config{Source: "trace.pcap", Hook: "file", Facts: "pcap, Ethernet, 11ms"}, []string{"G"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.w, tc.h, tc.cfg)
			e.fill()
			e.tick()
			e.press(tc.keys...)
			got := e.m.View()
			checkScreen(t, got, tc.w, tc.h)
			golden(t, tc.name, got)
		})
	}
}

// golden compares a screen with testdata/name.golden (rewritten with
// -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("view differs from %s (run with -update if intended)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
