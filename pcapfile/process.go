package pcapfile

import (
	"strconv"
	"strings"
	"sync"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// SetProcessComments gives the comments that name a packet's process
// (packet.Packet's Pid), written after the hook's: "process: curl (pid
// 4123)", then its container or cgroup. comments returns nil for a pid it
// knows nothing of; it is called for every packet with a pid, and must be
// cheap (a cache).
func (p *PcapngWriter) SetProcessComments(comments func(pid uint32) []string) {
	p.procComments = comments
}

// Process is what a pcapng file's packet comments say of the process
// owning a packet, as bpftop-cap writes them (SetProcessComments):
// "process: NAME (pid PID)", then "container: RUNTIME ID" or "cgroup:
// PATH".
type Process struct {
	Pid       uint32
	Comm      string
	Container string // "docker 3f2a1b2c3d4e", "" if none said
	Cgroup    string // "" if none said
}

// procComments reads the process comments of one packet: its pid, 0 if
// none. Other comments (the hook's, anyone's) are passed over.
func procComments(comments []string) (Process, bool) {
	var p Process
	for _, c := range comments {
		switch {
		case strings.HasPrefix(c, "process: "):
			// The name may hold anything: the pid is in the last "(pid ".
			rest := strings.TrimPrefix(c, "process: ")
			i := strings.LastIndex(rest, " (pid ")
			if i < 0 || !strings.HasSuffix(rest, ")") {
				continue
			}
			pid, err := strconv.ParseUint(rest[i+len(" (pid "):len(rest)-1], 10, 32)
			if err != nil || pid == 0 || pid >= 1<<packet.PidBits {
				continue
			}
			p.Pid, p.Comm = uint32(pid), rest[:i]
		case strings.HasPrefix(c, "container: "):
			p.Container = strings.TrimPrefix(c, "container: ")
		case strings.HasPrefix(c, "cgroup: "):
			p.Cgroup = strings.TrimPrefix(c, "cgroup: ")
		}
	}
	return p, p.Pid != 0
}

// procNames keeps what a file's comments said of each process, the
// newest of a pid winning. Its own lock: a stream is read while the view
// names its processes.
type procNames struct {
	mu    sync.Mutex
	byPid map[uint32]Process
}

// note records p, which a packet's comments said.
func (n *procNames) note(p Process) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if q, ok := n.byPid[p.Pid]; ok && q == p {
		return
	}
	if n.byPid == nil {
		n.byPid = map[uint32]Process{}
	}
	n.byPid[p.Pid] = p
}

// Process returns what the file's comments read so far said of pid: a
// pcapng file written by bpftop-cap with process attribution names the
// process of each packet (NextPacket's Pid). Safe to call while another
// goroutine reads the file.
func (cf *File) Process(pid uint32) (Process, bool) {
	if cf.ng == nil {
		return Process{}, false
	}
	n := &cf.ng.procs
	n.mu.Lock()
	defer n.mu.Unlock()
	p, ok := n.byPid[pid]
	return p, ok
}

// HasProcesses reports whether a packet read so far named its process.
func (cf *File) HasProcesses() bool {
	if cf.ng == nil {
		return false
	}
	n := &cf.ng.procs
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.byPid) > 0
}
