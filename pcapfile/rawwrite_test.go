package pcapfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestOutputWriterChoosesRawCallsForFiles(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	f, err := os.Create(filepath.Join(t.TempDir(), "out.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	null := openNull(t)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	zero, err := os.OpenFile("/dev/zero", os.O_WRONLY, 0) // a character device, not /dev/null
	if err != nil {
		t.Fatal(err)
	}
	defer zero.Close()
	for _, tc := range []struct {
		f   *os.File
		raw bool
	}{{f, onLocalFS(t, f)}, {null, true}, {pw, false}, {zero, false}} {
		_, isRaw := OutputWriter(tc.f).(*rawWriter)
		if isRaw != tc.raw {
			t.Errorf("%s: raw writer %v, want %v", tc.f.Name(), isRaw, tc.raw)
		}
	}
	runtime.GOMAXPROCS(1)
	_, isRaw := OutputWriter(null).(*rawWriter)
	runtime.GOMAXPROCS(2)
	if isRaw {
		t.Error("one P: a raw call blocking it would stop every other goroutine, yet the raw writer was chosen")
	}
}

// onLocalFS tells whether f is on a file system OutputWriter trusts, from
// stat(1)'s name for it (not from the magic numbers the code uses).
func onLocalFS(t *testing.T, f *os.File) bool {
	out, err := exec.Command("stat", "-f", "-c", "%T", f.Name()).Output()
	if err != nil {
		t.Fatal(err)
	}
	switch strings.TrimSpace(string(out)) {
	case "tmpfs", "ext2/ext3", "xfs", "btrfs", "f2fs", "overlayfs", "zfs":
		return true
	}
	return false
}

// The raw writer goes back to ordinary calls when GOMAXPROCS drops to one
// (it follows the cgroup's CPU limit) and after a slow write.
func TestRawWriterStepsBack(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	null := openNull(t)
	w := OutputWriter(null).(*rawWriter)
	w.f = nil // an ordinary call would now panic: the raw path is taken
	if n, err := w.Write([]byte("x")); n != 1 || err != nil {
		t.Fatalf("raw write: %d, %v", n, err)
	}
	if w.slow.Load() {
		t.Fatal("a write to /dev/null was slow")
	}
	defer func(d time.Duration) { slowRawWrite = d }(slowRawWrite)
	slowRawWrite = -1 // every write is slow
	if _, err := w.Write([]byte("x")); err != nil || !w.slow.Load() {
		t.Fatalf("a slow raw write did not send the writer back to ordinary calls (%v)", err)
	}
	w.slow.Store(false)
	w.f = null
	runtime.GOMAXPROCS(1)
	w.sc = nil // a raw call would now panic: the ordinary path is taken
	if n, err := w.Write([]byte("x")); n != 1 || err != nil {
		t.Fatalf("write with one P: %d, %v", n, err)
	}
	runtime.GOMAXPROCS(2)
	w.slow.Store(true)
	if n, err := w.Write([]byte("x")); n != 1 || err != nil {
		t.Fatalf("write after a slow one: %d, %v", n, err)
	}
}

func TestRawWriterWritesEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := rawWriterOf(t, f)
	var want []byte
	for i := range 100 {
		b := bytes.Repeat([]byte{byte(i)}, 1000*i+1)
		if n, err := w.Write(b); n != len(b) || err != nil {
			t.Fatalf("write %d: %d, %v", len(b), n, err)
		}
		want = append(want, b...)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("file has %d bytes, want %d (equal: %v)", len(got), len(want), bytes.Equal(got, want))
	}
}

// A write error names the file, as os.File's does.
func TestRawWriterError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ro.pcap")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path) // read-only
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = rawWriterOf(t, f).Write([]byte("x"))
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Path != path || !errors.Is(err, syscall.EBADF) {
		t.Fatalf("err = %v, want a write error on %s", err, path)
	}
}

// A descriptor that is non-blocking after all (EAGAIN) is finished by
// os.File, which waits for it.
func TestRawWriterFallsBackOnEAGAIN(t *testing.T) {
	pr, pw, err := os.Pipe() // non-blocking, as os.Pipe makes them
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	w := rawWriterOf(t, pw)
	want := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB: 16 pipe buffers
	done := make(chan error, 1)
	go func() {
		n, err := w.Write(want)
		if err == nil && n != len(want) {
			err = io.ErrShortWrite
		}
		pw.Close()
		done <- err
	}()
	got, err := io.ReadAll(pr)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, want %d", len(got), len(want))
	}
}

func rawWriterOf(t *testing.T, f *os.File) *rawWriter {
	sc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return newRawWriter(f, sc)
}

// A write allocates nothing: -w writes twice per GSO frame.
func TestRawWriterDoesNotAllocate(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	null := openNull(t)
	w := OutputWriter(null)
	if _, ok := w.(*rawWriter); !ok {
		t.Fatal("no raw writer for /dev/null")
	}
	b := make([]byte, 64<<10)
	if n := testing.AllocsPerRun(100, func() { _, _ = w.Write(b) }); n != 0 {
		t.Errorf("%v allocations per write", n)
	}
}

func openNull(t *testing.T) *os.File {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { null.Close() })
	return null
}
