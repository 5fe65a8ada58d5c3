package pcapfile

import (
	"io"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// OutputWriter is what -w writes f through: f itself, or for a file on a
// local file system or /dev/null, on a machine with more than one CPU, a
// writer that makes raw write calls.
//
// An ordinary system call tells Go's runtime; after the process was idle
// the first one wakes the runtime's sysmon thread, which then polls every
// 20µs until the process is idle again. The reader goes idle at every
// wakeup, thousands of times a second during a TCP stream, and its first
// write woke sysmon every time: a quarter of the capture's CPU time in
// `perf record` (futex wake-ups, sysmon's sleeps, their context switches).
//
// A raw call keeps its P while it blocks: the runtime cannot hand it to
// another goroutine, and a stop-the-world (a GC, ReadMemStats for
// --stats-file) waits for the call. So raw calls are made only where a
// write is quick: a local file system's page cache, /dev/null; with two or
// more Ps, so that the other goroutines (signals, the flusher) have one
// meanwhile; and the writer goes back to ordinary calls for good after a
// write that took longer than slowRawWrite (a disk throttling its writer).
// Pipes, sockets, network and FUSE file systems keep f.
func OutputWriter(f *os.File) io.Writer {
	if runtime.GOMAXPROCS(0) < 2 {
		return f
	}
	sc, err := f.SyscallConn()
	if err != nil {
		return f
	}
	var (
		st   unix.Stat_t
		fs   unix.Statfs_t
		serr error
	)
	if err := sc.Control(func(fd uintptr) {
		if serr = unix.Fstat(int(fd), &st); serr == nil {
			serr = unix.Fstatfs(int(fd), &fs)
		}
	}); err != nil || serr != nil {
		return f
	}
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == unix.Mkdev(1, 3): // /dev/null
	case st.Mode&unix.S_IFMT == unix.S_IFREG && localFS[int64(fs.Type)]:
	default:
		return f
	}
	return newRawWriter(f, sc)
}

// localFS are the file systems whose writes go to the page cache and
// return (statfs magic numbers, linux/magic.h).
var localFS = map[int64]bool{
	unix.TMPFS_MAGIC:           true,
	unix.EXT4_SUPER_MAGIC:      true, // also ext2 and ext3
	unix.XFS_SUPER_MAGIC:       true,
	unix.BTRFS_SUPER_MAGIC:     true,
	unix.F2FS_SUPER_MAGIC:      true,
	unix.OVERLAYFS_SUPER_MAGIC: true,
	0x2fc12fc1:                 true, // ZFS
}

// slowRawWrite is how long a raw write may take before the writer goes
// back to ordinary calls: a 256 KiB write to the page cache takes tens of
// microseconds. A variable for tests.
var slowRawWrite = 10 * time.Millisecond

type rawWriter struct {
	f    *os.File
	sc   syscall.RawConn
	slow atomic.Bool // a raw write was slow: ordinary calls from now on
	// The write in progress, for writeFD: Control's argument is a method
	// value made once, not a closure (with its variables) per write.
	b       []byte
	n       int
	err     error
	writeFD func(fd uintptr)
}

func newRawWriter(f *os.File, sc syscall.RawConn) *rawWriter {
	w := &rawWriter{f: f, sc: sc}
	w.writeFD = w.writeAll
	return w
}

func (w *rawWriter) Write(b []byte) (int, error) {
	// GOMAXPROCS follows the cgroup's CPU limit while running.
	if w.slow.Load() || runtime.GOMAXPROCS(0) < 2 {
		return w.f.Write(b)
	}
	w.b, w.n, w.err = b, 0, nil
	start := time.Now() // the vDSO's clock: no system call
	err := w.sc.Control(w.writeFD)
	if time.Since(start) > slowRawWrite {
		w.slow.Store(true)
	}
	n := w.n
	if err == nil {
		err = w.err
	}
	w.b, w.err = nil, nil
	if err == nil && n < len(b) {
		var m int
		m, err = w.f.Write(b[n:])
		n += m
	}
	return n, err
}

// writeAll writes w.b from w.n on with raw calls until done, an error
// (w.err) or EAGAIN (a non-blocking descriptor after all: os.File waits
// for the rest).
func (w *rawWriter) writeAll(fd uintptr) {
	for w.n < len(w.b) {
		r, _, e := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&w.b[w.n])), uintptr(len(w.b)-w.n))
		switch {
		case e == unix.EINTR:
			continue
		case e == unix.EAGAIN:
			return
		case e != 0:
			w.err = &os.PathError{Op: "write", Path: w.f.Name(), Err: e}
			return
		case r == 0:
			w.err = io.ErrShortWrite
			return
		}
		w.n += int(r)
	}
}
