package pcapfile

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// procRoot is where the processes are listed; a variable for the tests.
var procRoot = "/proc"

// Writer is a process holding a file open for writing.
type Writer struct {
	PID  int
	FD   int
	Comm string // the process's name, from /proc/PID/comm
}

// Writers lists the processes that hold the file fi describes open for
// writing, as /proc shows them: all of them to root, one's own to a user;
// none of another PID namespace's (a container's) but those /proc lists.
// A file written through a memory map, or by a process that opens it
// anew for each write, is not seen.
func Writers(fi os.FileInfo) []Writer {
	procs, err := os.ReadDir(procRoot)
	if err != nil {
		return nil
	}
	var out []Writer
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		dir := procRoot + "/" + p.Name()
		fds, err := os.ReadDir(dir + "/fd") // EACCES: another user's
		if err != nil {
			continue
		}
		for _, e := range fds {
			fd, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			w := Writer{PID: pid, FD: fd}
			if w.holds(fi) {
				comm, _ := os.ReadFile(dir + "/comm")
				w.Comm = strings.TrimSpace(string(comm))
				out = append(out, w)
			}
		}
	}
	return out
}

// holds reports whether w's descriptor is open on the file, for writing.
func (w Writer) holds(fi os.FileInfo) bool {
	base := procRoot + "/" + strconv.Itoa(w.PID)
	fd := strconv.Itoa(w.FD)
	st, err := os.Stat(base + "/fd/" + fd)
	if err != nil || !os.SameFile(st, fi) {
		return false
	}
	return fdWritable(base + "/fdinfo/" + fd)
}

// fdWritable reads a /proc/PID/fdinfo/FD: its flags line is the open
// flags in octal, whose low two bits are the access mode.
func fdWritable(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "flags:")
		if !ok {
			continue
		}
		flags, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
		if err != nil {
			return false
		}
		mode := flags & syscall.O_ACCMODE
		return mode == syscall.O_WRONLY || mode == syscall.O_RDWR
	}
	return false
}

// writerWatch tells a tail whether its file is still written: the
// writers found last are looked at again (cheap), and /proc is walked
// again only when they are all gone (a child may hold the file it
// inherited).
type writerWatch struct {
	file  os.FileInfo
	known []Writer
}

func (w *writerWatch) writing() bool {
	alive := w.known[:0]
	for _, k := range w.known {
		if k.holds(w.file) {
			alive = append(alive, k)
		}
	}
	w.known = alive
	if len(w.known) == 0 {
		w.known = Writers(w.file)
	}
	return len(w.known) > 0
}
