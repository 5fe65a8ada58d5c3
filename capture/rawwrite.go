package capture

import (
	"io"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// OutputWriter is what -w writes f through: f itself, or for a regular
// file or a character device (/dev/null), on a machine with more than one
// CPU, a writer that makes raw write calls.
//
// An ordinary system call tells Go's runtime; after the process was idle
// the first one wakes the runtime's sysmon thread, which then polls every
// 20µs until the process is idle again. The reader goes idle at every
// wakeup, thousands of times a second during a TCP stream, and its first
// write woke sysmon every time: a quarter of the capture's CPU time in
// `perf record` (futex wake-ups, sysmon's sleeps, their context switches).
// A raw call keeps its P while it blocks, which the runtime cannot hand to
// another goroutine: a write to a file blocks only briefly, and with two
// or more CPUs the other goroutines (signals, the flusher) have another P
// meanwhile. Pipes and sockets, which can block for as long as their
// reader likes, keep f.
func OutputWriter(f *os.File) io.Writer {
	if runtime.GOMAXPROCS(0) < 2 {
		return f
	}
	sc, err := f.SyscallConn()
	if err != nil {
		return f
	}
	var st unix.Stat_t
	var serr error
	if err := sc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil || serr != nil {
		return f
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFCHR:
		return &rawWriter{f: f, sc: sc}
	}
	return f
}

type rawWriter struct {
	f  *os.File
	sc interface{ Control(func(fd uintptr)) error }
}

func (w *rawWriter) Write(b []byte) (int, error) {
	n := 0
	var werr error
	err := w.sc.Control(func(fd uintptr) {
		for n < len(b) {
			r, _, e := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[n])), uintptr(len(b)-n))
			switch {
			case e == unix.EINTR:
				continue
			case e == unix.EAGAIN:
				return // non-blocking after all: os.File waits below
			case e != 0:
				werr = &os.PathError{Op: "write", Path: w.f.Name(), Err: e}
				return
			case r == 0:
				werr = io.ErrShortWrite
				return
			}
			n += int(r)
		}
	})
	if err == nil {
		err = werr
	}
	if err == nil && n < len(b) {
		var m int
		m, err = w.f.Write(b[n:])
		n += m
	}
	return n, err
}
