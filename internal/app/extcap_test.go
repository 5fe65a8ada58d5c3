package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestReaderGone: the watch on the FIFO returns true once its reader has
// closed it (Wireshark stopped), and false when the capture ends first.
func TestReaderGone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	open := func() (r, w *os.File) {
		r, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		if w, err = os.OpenFile(path, os.O_WRONLY, 0); err != nil {
			t.Fatal(err)
		}
		return r, w
	}

	r, w := open()
	done := make(chan bool)
	go func() { done <- readerGone(context.Background(), w) }()
	r.Close()
	if !<-done {
		t.Error("readerGone: false after the reader closed the FIFO")
	}
	w.Close()

	r, w = open()
	defer r.Close()
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- readerGone(ctx, w) }()
	cancel()
	if <-done {
		t.Error("readerGone: true with the reader still there")
	}
	// The writer still works: the watch took nothing from it.
	if _, err := w.Write([]byte("x")); err != nil {
		t.Errorf("write after the watch: %v", err)
	}
}

// TestExtcapCaptureBecomesW: once the FIFO is open, a capture is -w to it
// in pcapng with -U, on the interface the extcap name carries, with the
// filter and the hook; XDP with the dialog's default direction captures
// what XDP sees, and other directions with XDP are refused as -Q is.
func TestExtcapCaptureBecomesW(t *testing.T) {
	for _, tc := range []struct {
		hook, dir, filter string
		xdp               bool
		egress, wantDir   string
		err               string
	}{
		{"", "", "udp port 53", false, "auto", "inout", ""},
		{"tc", "out", "", false, "auto", "out", ""},
		{"xmit", "inout", "", false, "xmit", "inout", ""},
		{"xdp", "", "", true, "auto", "in", ""},
		{"xdp", "inout", "", true, "auto", "in", ""},
		{"xdp", "out", "", true, "", "", "-Q out with --xdp"},
		{"ebpf", "", "", false, "", "", `invalid --extcap-hook "ebpf"`},
	} {
		c := &Config{Snaplen: 262144, RingSize: "64MiB", MaxFlows: 1, Direction: tc.dir, Extcap: Extcap{
			Capture: true, Interface: "bpftop-cap:lo", Fifo: "/run/fifo", Filter: tc.filter, FilterGiven: tc.filter != "", Hook: tc.hook, fifoOpen: true}}
		err := c.Validate()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: %v, want %q", tc, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%+v: %v", tc, err)
			continue
		}
		wantFilter := 0
		if tc.filter != "" {
			wantFilter = 1
		}
		if len(c.Ifaces) != 1 || c.Ifaces[0] != "lo" || c.Write != "/run/fifo" || c.Format != "pcapng" || !c.PacketBuffered ||
			len(c.Filter) != wantFilter || c.XDP != tc.xdp || c.EgressAt != tc.egress || c.Direction != tc.wantDir {
			t.Errorf("%+v: ifaces %q write %q format %q -U %v filter %q xdp %v egress %q direction %q", tc,
				c.Ifaces, c.Write, c.Format, c.PacketBuffered, c.Filter, c.XDP, c.EgressAt, c.Direction)
		}
	}
}
