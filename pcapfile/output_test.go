package pcapfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

func TestOpenOutputNewFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "new.pcap")
	out, err := OpenOutput(p)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Created() || out.Path() != p {
		t.Errorf("Created %v, Path %q", out.Created(), out.Path())
	}
	if m := testutil.NodeOf(t, p).Mode; m != 0o600 {
		t.Errorf("new file mode %v, want -rw-------", m)
	}
	if err := out.Discard(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Discard left the file it created: %v", err)
	}
	if err := out.Discard(); err != nil {
		t.Errorf("second Discard: %v", err)
	}
}

func TestOpenOutputOverwritesRegularFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "old.pcap")
	if err := os.WriteFile(p, []byte("an older capture, longer than the new one"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	before := testutil.NodeOf(t, p)
	out, err := OpenOutput(p)
	if err != nil {
		t.Fatal(err)
	}
	if out.Created() {
		t.Error("an existing file counts as created")
	}
	if b, _ := os.ReadFile(p); len(b) == 0 {
		t.Error("the existing file was emptied before Truncate")
	}
	if err := out.Truncate(); err != nil {
		t.Fatal(err)
	}
	if _, err := out.File().WriteString("new"); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Errorf("file holds %q, want %q: not truncated", b, "new")
	}
	if after := testutil.NodeOf(t, p); after != before {
		t.Errorf("mode or owner changed: %+v, was %+v", after, before)
	}
	// A failed start never removes, nor empties, a file that was there.
	out, err = OpenOutput(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Discard(); err != nil {
		t.Fatal(err)
	}
	if after := testutil.NodeOf(t, p); after != before {
		t.Errorf("after Discard: %+v, was %+v", after, before)
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Errorf("after Discard the file holds %q, want it as it was", b)
	}
}

// TestOpenOutputFIFO: a FIFO (wireshark -k -i FIFO) is written as it is and
// never removed or changed.
func TestOpenOutputFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	before := testutil.NodeOf(t, p)
	// A reader first: opening a FIFO for writing waits for one.
	rd, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	out, err := OpenOutput(p)
	if err != nil {
		t.Fatal(err)
	}
	if out.Created() {
		t.Error("a FIFO counts as created")
	}
	if _, err := out.File().WriteString("through"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if n, _ := rd.Read(buf); string(buf[:n]) != "through" {
		t.Errorf("reader got %q", buf[:n])
	}
	if err := out.Discard(); err != nil {
		t.Fatal(err)
	}
	if after := testutil.NodeOf(t, p); after != before || after.Mode.Type() != fs.ModeNamedPipe {
		t.Errorf("FIFO now %+v, was %+v", after, before)
	}
}

// TestOpenOutputDevice: a null device of the test's own (never the
// system's /dev/null) keeps its mode and owner and is never removed.
func TestOpenOutputDevice(t *testing.T) {
	testutil.RequireRoot(t) // mknod
	dir := t.TempDir()
	p := filepath.Join(dir, "null")
	if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o666); err != nil { // whatever the umask
		t.Fatal(err)
	}
	if err := os.Chown(p, 0, 0); err != nil {
		t.Fatal(err)
	}
	before := testutil.NodeOf(t, p)
	for _, path := range []string{p, filepath.Join(dir, "link")} {
		if path != p {
			if err := os.Symlink("null", path); err != nil {
				t.Fatal(err)
			}
		}
		out, err := OpenOutput(path)
		if err != nil {
			t.Fatal(err)
		}
		if out.Created() {
			t.Errorf("%s: a device counts as created", path)
		}
		if _, err := out.File().WriteString("gone"); err != nil {
			t.Fatal(err)
		}
		if err := out.Discard(); err != nil {
			t.Fatal(err)
		}
		if after := testutil.NodeOf(t, p); after != before || after.Mode.Type() != fs.ModeDevice|fs.ModeCharDevice || after.Mode.Perm() != 0o666 {
			t.Errorf("via %s: device now %+v, was %+v", path, after, before)
		}
	}
	if m := testutil.NodeOf(t, filepath.Join(dir, "link")).Mode; m.Type() != fs.ModeSymlink {
		t.Errorf("the symlink is now %v", m)
	}
}

// TestOpenOutputSymlinks: a symlink is followed as tcpdump does; its target
// gets the rules of the path it is.
func TestOpenOutputSymlinks(t *testing.T) {
	dir := t.TempDir()
	target, link := filepath.Join(dir, "target.pcap"), filepath.Join(dir, "link.pcap")
	if err := os.WriteFile(target, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(target, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("target.pcap", link); err != nil {
		t.Fatal(err)
	}
	out, err := OpenOutput(link)
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Truncate(); err != nil {
		t.Fatal(err)
	}
	if err := out.Discard(); err != nil { // not created: kept
		t.Fatal(err)
	}
	if b, err := os.ReadFile(target); err != nil || len(b) != 0 {
		t.Errorf("target: %q, %v; want it there and truncated", b, err)
	}
	if m := testutil.NodeOf(t, target).Mode; m != 0o640 {
		t.Errorf("target mode %v, want -rw-r-----", m)
	}
	if m := testutil.NodeOf(t, link).Mode; m.Type() != fs.ModeSymlink {
		t.Errorf("link is now %v", m)
	}

	// A dangling symlink: its target is created 0600, and only that is
	// removed by Discard.
	dangling, made := filepath.Join(dir, "dangling.pcap"), filepath.Join(dir, "made.pcap")
	if err := os.Symlink("made.pcap", dangling); err != nil {
		t.Fatal(err)
	}
	out, err = OpenOutput(dangling)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Created() {
		t.Error("the dangling symlink's new target does not count as created")
	}
	if m := testutil.NodeOf(t, made).Mode; m != 0o600 {
		t.Errorf("new target mode %v, want -rw-------", m)
	}
	if err := out.Discard(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(made); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Discard left the target it created: %v", err)
	}
	if m := testutil.NodeOf(t, dangling).Mode; m.Type() != fs.ModeSymlink {
		t.Errorf("the symlink is now %v", m)
	}

	// A loop of symlinks is an error, not a hang.
	loop := filepath.Join(dir, "loop")
	if err := os.Symlink("loop", loop); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenOutput(loop); err == nil {
		t.Error("opened a symlink loop")
	}
}

// TestDiscardLeavesWhatReplacedIt: a file put in the place of the one this
// run created, after it was created, is not ours to remove.
func TestDiscardLeavesWhatReplacedIt(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.pcap")
	out, err := OpenOutput(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("someone else's"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := out.Discard(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "someone else's" {
		t.Errorf("Discard removed or changed a file it did not create: %q", b)
	}
}

// TestCreateOutput: the live view's saves make a new file or fail.
func TestCreateOutput(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.pcap")
	out, err := CreateOutput(p)
	if err != nil {
		t.Fatal(err)
	}
	if m := testutil.NodeOf(t, p).Mode; m != 0o600 || !out.Created() {
		t.Errorf("mode %v, created %v", m, out.Created())
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = CreateOutput(p)
	if !errors.Is(err, fs.ErrExist) || err.Error() != "create output "+p+": file exists" {
		t.Errorf("existing file: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "keep" {
		t.Errorf("existing file now holds %q", b)
	}
	// A save that failed removes what it made, after Close too.
	q := filepath.Join(dir, "y.pcap")
	out, err = CreateOutput(q)
	if err != nil {
		t.Fatal(err)
	}
	out.File().WriteString("partial")
	out.Close()
	if err := out.Discard(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(q); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Discard after Close left the file: %v", err)
	}
}

func TestOutputErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no", "such", "dir.pcap")
	for _, open := range []func(string) (*Output, error){OpenOutput, CreateOutput} {
		_, err := open(missing)
		if want := "create output " + missing + ": no such file or directory"; err == nil || err.Error() != want {
			t.Errorf("got %v, want %q", err, want)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%v is not fs.ErrNotExist", err)
		}
	}
	_, err := OpenOutput(dir)
	if err == nil || !strings.HasPrefix(err.Error(), "open output "+dir+": ") || strings.Contains(err.Error(), "\n") {
		t.Errorf("a directory: %v", err)
	}
}
