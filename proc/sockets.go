package proc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bpftop-cap/bpftop-cap/internal/nsutil"
	"golang.org/x/sys/unix"
)

// Socket is a TCP or UDP socket open in a process.
type Socket struct {
	Pid uint32 // the process holding it (of several, the highest pid)
	Fd  int    // its descriptor there
	DiagSocket
}

// fdRef is a socket descriptor found in /proc/PID/fd.
type fdRef struct {
	pid   uint32
	fd    int
	inode uint64
}

// Sockets finds the TCP and UDP sockets open in the processes under
// procRoot (/proc), in every network namespace one of them is in: the
// sockets of each namespace from sock_diag, matched by inode to the
// descriptors in /proc/PID/fd. A process or namespace that cannot be read
// (gone meanwhile, say) is skipped; errs says why, at most one per
// namespace.
func Sockets(procRoot string) (socks []Socket, errs []error) {
	refs, nsPid := scanFds(procRoot)
	// Socket inodes are unique across namespaces (one sockfs), and a
	// process may hold a socket of another namespace than its own.
	byInode := map[uint64]DiagSocket{}
	for ns, pid := range nsPid {
		list, err := dumpIn(filepath.Join(procRoot, strconv.FormatUint(uint64(pid), 10), "ns", "net"))
		if err != nil {
			errs = append(errs, fmt.Errorf("sockets of network namespace %d: %w", ns, err))
			continue
		}
		for _, s := range list {
			if s.Inode != 0 {
				byInode[s.Inode] = s
			}
		}
	}
	seen := map[uint64]int{} // inode -> index in socks
	for _, r := range refs {
		d, ok := byInode[r.inode]
		if !ok {
			continue // not TCP or UDP (a UNIX or netlink socket, say)
		}
		if i, dup := seen[r.inode]; dup {
			if r.pid > socks[i].Pid {
				socks[i].Pid, socks[i].Fd = r.pid, r.fd
			}
			continue
		}
		seen[r.inode] = len(socks)
		socks = append(socks, Socket{Pid: r.pid, Fd: r.fd, DiagSocket: d})
	}
	return socks, errs
}

// scanFds lists the socket descriptors of every process under procRoot,
// and a process in each network namespace met.
func scanFds(procRoot string) (refs []fdRef, nsPid map[uint64]uint32) {
	nsPid = map[uint64]uint32{}
	ents, _ := os.ReadDir(procRoot)
	for _, e := range ents {
		pid, err := strconv.ParseUint(e.Name(), 10, 32)
		if err != nil || pid == 0 {
			continue
		}
		dir := filepath.Join(procRoot, e.Name())
		l, err := os.Readlink(filepath.Join(dir, "ns", "net"))
		if err != nil {
			continue
		}
		ns, ok := linkInode(l, "net")
		if !ok {
			continue
		}
		fds, err := os.ReadDir(filepath.Join(dir, "fd"))
		if err != nil {
			continue
		}
		found := false
		for _, f := range fds {
			fd, err := strconv.Atoi(f.Name())
			if err != nil {
				continue
			}
			l, err := os.Readlink(filepath.Join(dir, "fd", f.Name()))
			if err != nil {
				continue
			}
			if ino, ok := linkInode(l, "socket"); ok {
				refs = append(refs, fdRef{pid: uint32(pid), fd: fd, inode: ino})
				found = true
			}
		}
		if _, ok := nsPid[ns]; !ok && found {
			nsPid[ns] = uint32(pid)
		}
	}
	return refs, nsPid
}

// linkInode reads the inode in a /proc link of the form "KIND:[INODE]"
// ("socket:[12345]", "net:[4026531840]").
func linkInode(l, kind string) (uint64, bool) {
	rest, ok := strings.CutPrefix(l, kind+":[")
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, "]")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(num, 10, 64)
	return n, err == nil
}

// dumpIn runs DumpSockets in the network namespace at nsPath, on a thread
// of its own that is not switched back (nsutil.OffMain: it exits after);
// in this thread's namespace, on this one.
func dumpIn(nsPath string) ([]DiagSocket, error) {
	var a, b unix.Stat_t
	if unix.Stat(nsPath, &a) == nil && unix.Stat("/proc/thread-self/ns/net", &b) == nil && a.Ino == b.Ino && a.Dev == b.Dev {
		return DumpSockets()
	}
	type result struct {
		list []DiagSocket
		err  error
	}
	var r result
	nsutil.OffMain(func() {
		fd, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			r.err = err
			return
		}
		err = unix.Setns(fd, unix.CLONE_NEWNET)
		unix.Close(fd)
		if err != nil {
			r.err = fmt.Errorf("enter: %w", err)
			return
		}
		r.list, r.err = DumpSockets()
	})
	return r.list, r.err
}

// ErrNoPidfd says the kernel (before 5.6) or its policy (Yama's
// ptrace_scope 3) does not let a descriptor be taken from another process.
var ErrNoPidfd = errors.New("cannot take a socket from another process (pidfd_getfd)")

// Seed tells the kernel who owns each socket: a duplicate of its
// descriptor (pidfd_getfd) goes to record with the owner as /proc and the
// cgroup v2 hierarchy at cgroupRoot describe it, and is closed. A process
// gone meanwhile is skipped. It returns how many were recorded.
func Seed(procRoot, cgroupRoot string, socks []Socket, record func(fd int, o Owner) error) (int, error) {
	n := 0
	var firstErr error
	pidfds := map[uint32]int{}
	owners := map[uint32]Owner{}
	defer func() {
		for _, fd := range pidfds {
			unix.Close(fd)
		}
	}()
	for _, s := range socks {
		pidfd, ok := pidfds[s.Pid]
		if !ok {
			fd, err := unix.PidfdOpen(int(s.Pid), 0)
			if err != nil {
				if errors.Is(err, unix.ENOSYS) {
					return n, ErrNoPidfd
				}
				continue // gone
			}
			pidfd, pidfds[s.Pid] = fd, fd
			owners[s.Pid] = ownerOf(procRoot, cgroupRoot, s.Pid)
		}
		fd, err := unix.PidfdGetfd(pidfd, s.Fd, 0)
		if err != nil {
			if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
				return n, fmt.Errorf("%w: %v", ErrNoPidfd, err)
			}
			continue // closed meanwhile
		}
		err = record(fd, owners[s.Pid])
		unix.Close(fd)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if err == nil {
			n++
		}
	}
	return n, firstErr
}

// ownerOf describes process pid as the kernel's hooks would: its name,
// its cgroup's id.
func ownerOf(procRoot, cgroupRoot string, pid uint32) Owner {
	dir := filepath.Join(procRoot, strconv.FormatUint(uint64(pid), 10))
	o := Owner{Tgid: pid, Pid: pid}
	if b, err := os.ReadFile(filepath.Join(dir, "comm")); err == nil {
		o.Comm = strings.TrimSuffix(string(b), "\n")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup")); err == nil && cgroupRoot != "" {
		if p := cgroupOfProc(b); p != "" {
			o.CgroupID = inode(filepath.Join(cgroupRoot, p))
		}
	}
	return o
}
