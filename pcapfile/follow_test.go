package pcapfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// followed is what a reader of a followed file got: a packet or the
// error that ended it.
type followed struct {
	p   packet.Packet
	err error
}

// followReader opens path with OpenFollow in a goroutine and sends what
// it reads; the File is sent first, once open.
func followReader(t *testing.T, path string, always bool) (<-chan *File, <-chan followed) {
	t.Helper()
	files := make(chan *File, 1)
	out := make(chan followed, 64)
	go func() {
		defer close(out)
		cf, err := OpenFollow(path, always)
		if err != nil {
			out <- followed{err: err}
			return
		}
		files <- cf
		for {
			p, err := cf.NextPacket()
			if err != nil {
				out <- followed{err: err}
				return
			}
			p.Data = bytes.Clone(p.Data)
			out <- followed{p: p}
		}
	}()
	return files, out
}

// readerAt waits until the reader's descriptor on path, open in this
// process, has read off bytes: it has taken everything written so far.
func readerAt(t *testing.T, path string, off int) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		fds, _ := os.ReadDir("/proc/self/fd")
		for _, e := range fds {
			fst, err := os.Stat("/proc/self/fd/" + e.Name())
			if err != nil || !os.SameFile(fst, st) || fdWritable("/proc/self/fdinfo/"+e.Name()) {
				continue
			}
			info, _ := os.ReadFile("/proc/self/fdinfo/" + e.Name())
			for _, l := range strings.Split(string(info), "\n") {
				if v, ok := strings.CutPrefix(l, "pos:"); ok {
					if pos, _ := strconv.Atoi(strings.TrimSpace(v)); pos == off {
						return
					}
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the reader of %s never read up to %d", path, off)
}

func next(t *testing.T, got <-chan followed) followed {
	t.Helper()
	select {
	case f, ok := <-got:
		if !ok {
			t.Fatal("the reader ended")
		}
		return f
	case <-time.After(10 * time.Second):
		t.Fatal("nothing read")
	}
	return followed{}
}

// followPcap is a pcap file of testPackets and the offset where each
// record starts (and the file's end).
func followPcap(t *testing.T) ([]byte, []int, []packet.Packet) {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewPcapWriter(&buf, 262144, 1)
	if err != nil {
		t.Fatal(err)
	}
	ps := testPackets()
	var starts []int
	for i := range ps {
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		starts = append(starts, buf.Len())
		if err := w.Write(&ps[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), append(starts, buf.Len()), ps
}

// testFollow writes b to a file in steps, cut at each of cuts: after
// each, the reader has read all of it and has given exactly the packets
// whole in it, not an error for the one cut in part; when the writer
// closes the file, the reader gives io.EOF after all of them.
func testFollow(t *testing.T, b []byte, cuts []int, wholeBy func(cut int) int, want []packet.Packet) {
	path := filepath.Join(t.TempDir(), "growing")
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	files, got := followReader(t, path, false)
	written, seen := 0, 0
	for _, cut := range append(cuts, len(b)) {
		if _, err := w.Write(b[written:cut]); err != nil {
			t.Fatal(err)
		}
		written = cut
		for ; seen < wholeBy(cut); seen++ {
			f := next(t, got)
			if f.err != nil {
				t.Fatalf("after %d bytes written, packet %d: %v", cut, seen, f.err)
			}
			if !bytes.Equal(f.p.Data, want[seen].Data) || f.p.Nanos != want[seen].Nanos || f.p.OrigLen != want[seen].OrigLen {
				t.Fatalf("packet %d: got %d bytes at %d, want %d at %d", seen, len(f.p.Data), f.p.Nanos, len(want[seen].Data), want[seen].Nanos)
			}
		}
		readerAt(t, path, cut)
	}
	cf := <-files
	if !cf.Following() {
		t.Error("Following is false while the writer holds the file")
	}
	w.Close()
	if f := next(t, got); !errors.Is(f.err, io.EOF) {
		t.Fatalf("after the writer closed the file: %v, want io.EOF", f.err)
	}
	if cf.Following() {
		t.Error("Following is true after the writer left")
	}
	cf.Close()
}

func TestFollowPcap(t *testing.T) {
	b, starts, ps := followPcap(t)
	wholeBy := func(cut int) int {
		n := 0
		for i := range ps {
			if starts[i+1] <= cut {
				n = i + 1
			}
		}
		return n
	}
	// Into the file header, into a record header, into packet data, at a
	// record's end.
	cuts := []int{10, starts[1] + 7, starts[1] + 16 + 700, starts[3]}
	testFollow(t, b, cuts, wholeBy, ps)
}

func TestFollowPcapng(t *testing.T) {
	b, ps := twoIfacePcapng(t)
	// Where each block ends: its total length is in its second word.
	var ends []int
	for off := 0; off+8 <= len(b); {
		off += int(uint32(b[off+4]) | uint32(b[off+5])<<8 | uint32(b[off+6])<<16 | uint32(b[off+7])<<24)
		ends = append(ends, off)
	}
	// Blocks: SHB, IDB, EPB, EPB, IDB, EPB, EPB, ISB, ISB.
	if len(ends) != 9 || ends[len(ends)-1] != len(b) {
		t.Fatalf("block ends %v of %d bytes", ends, len(b))
	}
	pktEnds := []int{ends[2], ends[3], ends[5], ends[6]}
	wholeBy := func(cut int) int {
		n := 0
		for i, e := range pktEnds {
			if e <= cut {
				n = i + 1
			}
		}
		return n
	}
	// Into the IDB, into an EPB's header, into its data, into the second
	// IDB, at a packet's end.
	cuts := []int{ends[0] + 9, ends[2] + 5, ends[2] + 100, ends[3] + 12, ends[5]}
	testFollow(t, b, cuts, wholeBy, ps)
}

// TestFollowWriterLeavesRecordCut: a writer that goes with a record half
// written left a truncated file, and the reader says so.
func TestFollowWriterLeavesRecordCut(t *testing.T) {
	b, starts, _ := followPcap(t)
	path := filepath.Join(t.TempDir(), "cut")
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cut := starts[1] + 20
	if _, err := w.Write(b[:cut]); err != nil {
		t.Fatal(err)
	}
	_, got := followReader(t, path, false)
	if f := next(t, got); f.err != nil {
		t.Fatal(f.err)
	}
	readerAt(t, path, cut)
	w.Close()
	f := next(t, got)
	if f.err == nil || errors.Is(f.err, io.EOF) || !strings.Contains(f.err.Error(), "truncated") {
		t.Fatalf("got %v, want a truncated file", f.err)
	}
}

// TestFollowAlways: --follow waits at the end of a file nobody writes,
// reads what a writer that comes later appends, and ends at Stop, with
// io.EOF, not a truncated file, though a record is cut.
func TestFollowAlways(t *testing.T) {
	b, starts, _ := followPcap(t)
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, b[:starts[1]], 0o600); err != nil {
		t.Fatal(err)
	}
	files, got := followReader(t, path, true)
	if f := next(t, got); f.err != nil {
		t.Fatal(f.err)
	}
	readerAt(t, path, starts[1])
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b[starts[1] : starts[2]+10]); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if f := next(t, got); f.err != nil {
		t.Fatal(f.err)
	}
	readerAt(t, path, starts[2]+10)
	cf := <-files
	if !cf.Following() {
		t.Error("Following is false before Stop")
	}
	cf.Stop()
	if f := next(t, got); !errors.Is(f.err, io.EOF) {
		t.Fatalf("after Stop: %v, want io.EOF", f.err)
	}
	cf.Close()
}

// TestFollowTruncated: a writer that starts the file again is an error,
// not a wait for bytes that will never come at the old offset.
func TestFollowTruncated(t *testing.T) {
	b, starts, _ := followPcap(t)
	path := filepath.Join(t.TempDir(), "f")
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(b[:starts[2]]); err != nil {
		t.Fatal(err)
	}
	_, got := followReader(t, path, false)
	for range 2 {
		if f := next(t, got); f.err != nil {
			t.Fatal(f.err)
		}
	}
	readerAt(t, path, starts[2])
	if err := w.Truncate(0); err != nil {
		t.Fatal(err)
	}
	if f := next(t, got); f.err == nil || !strings.Contains(f.err.Error(), "truncated to 0 bytes") {
		t.Fatalf("got %v", f.err)
	}
}

// TestWriters finds this process by the descriptor it writes the file
// with, not by one it reads it with.
func TestWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if ws := Writers(st); len(ws) != 0 {
		t.Fatalf("read only: %+v", ws)
	}
	for _, flag := range []int{os.O_WRONLY, os.O_RDWR} {
		w, err := os.OpenFile(path, flag, 0)
		if err != nil {
			t.Fatal(err)
		}
		fd := int(w.Fd())
		ws := Writers(st)
		w.Close()
		if len(ws) != 1 || ws[0].PID != os.Getpid() || ws[0].FD != fd || ws[0].Comm == "" {
			t.Errorf("flags %#o: %+v, want this process (%d)", flag, ws, os.Getpid())
		}
	}
}
