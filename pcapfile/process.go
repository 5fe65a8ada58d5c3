package pcapfile

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

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

// procNames keeps what a file's comments said of each pid: the processes
// it named in turn (a pid reused), each from the first packet naming it.
// Its own lock: a stream is read while the view names its processes.
type procNames struct {
	mu    sync.Mutex
	byPid map[uint32][]procSeen // oldest first, at most maxProcGens
}

type procSeen struct {
	Process
	from int64 // Unix nanoseconds of the first packet naming it
}

// maxProcGens is how many processes of one pid are kept: a file naming
// another on every packet costs no more.
const maxProcGens = 8

// note records p, which the comments of a packet of time ts said. The
// packets of a file are nearly in time order, not quite (each CPU's come
// in order): a late one goes where its time puts it.
func (n *procNames) note(p Process, ts int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	gens := n.byPid[p.Pid]
	i := len(gens) // where ts goes: after every gen that began by then
	for i > 0 && gens[i-1].from > ts {
		i--
	}
	switch {
	case i > 0 && gens[i-1].Process == p:
		return // known from before ts
	case i < len(gens) && gens[i].Process == p:
		gens[i].from = ts // it began earlier than thought
		return
	}
	if n.byPid == nil {
		n.byPid = map[uint32][]procSeen{}
	}
	gens = slices.Insert(gens, i, procSeen{p, ts})
	if len(gens) > maxProcGens {
		gens = gens[1:]
	}
	n.byPid[p.Pid] = gens
}

// Process returns what the file's comments read so far said of pid at
// time at: the process the packets named from the newest first packet
// at or before at (the oldest if none; the newest for the zero time). A
// pcapng file written by bpftop-cap with process attribution names the
// process of each packet (NextPacket's Pid). Safe to call while another
// goroutine reads the file.
func (cf *File) Process(pid uint32, at time.Time) (Process, bool) {
	if cf.ng == nil {
		return Process{}, false
	}
	n := &cf.ng.procs
	n.mu.Lock()
	defer n.mu.Unlock()
	gens := n.byPid[pid]
	if len(gens) == 0 {
		return Process{}, false
	}
	if at.IsZero() {
		return gens[len(gens)-1].Process, true
	}
	ns := at.UnixNano()
	for i := len(gens) - 1; i > 0; i-- {
		if gens[i].from <= ns {
			return gens[i].Process, true
		}
	}
	return gens[0].Process, true
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
