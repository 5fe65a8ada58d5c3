package app

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A file gets tcpdump's one-second buffer timeout; a pipe, a device or
// anything else may have a program reading as packets come, and keeps the
// shorter interval.
func TestFlushInterval(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "c.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	for _, c := range []struct {
		name string
		w    io.Writer
		want time.Duration
	}{
		{"regular file", f, fileFlushInterval},
		{"pipe", w, headlessFlushInterval},
		{"/dev/null", null, headlessFlushInterval},
		{"not a file", &bytes.Buffer{}, headlessFlushInterval},
	} {
		if got := flushInterval(c.w); got != c.want {
			t.Errorf("%s: flush interval %v, want %v", c.name, got, c.want)
		}
	}
	if fileFlushInterval <= headlessFlushInterval {
		t.Errorf("files are read every %v, no less often than pipes (%v)", fileFlushInterval, headlessFlushInterval)
	}
}
