package decode

import (
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// TestFlowProcess: a flow takes the process of its newest packet that
// names one (a packet without one, a time-wait ACK say, does not clear
// it), the view names it through SetProcessNames, the text filter finds
// it, and the retained packets keep their own pid.
func TestFlowProcess(t *testing.T) {
	fr := framesByName(t)
	e := NewEngine(Config{MaxFlows: 16, RingBytes: 1 << 16})
	e.SetProcessNames(func(pid uint32, _ time.Time) string { return fmt.Sprintf("curl[%d]", pid) })
	pids := []uint32{0, 4123, 0, 4123}
	for i, name := range []string{"tcp-syn", "tcp-synack", "tcp-ack", "tcp-ack"} {
		p := packet.Packet{Nanos: packet.Nanos(testTS.Add(time.Duration(i) * time.Millisecond)), Dir: packet.DirOut, Data: fr[name]}
		p.SetTask(pids[i], 1)
		e.Add(p)
	}
	// Another flow, of no process.
	e.Add(packet.Packet{Nanos: packet.Nanos(testTS), Data: fr["udp-1400"]})
	fs := e.Flows(SortBytes, "", testTS)
	if len(fs) != 2 {
		t.Fatalf("%d flows", len(fs))
	}
	for _, f := range fs {
		want, wantPid := "", uint32(0)
		if f.Proto == "TCP" {
			want, wantPid = "curl[4123]", 4123
		}
		if f.Pid != wantPid || f.Process != want {
			t.Errorf("%s flow: pid %d %q, want %d %q", f.Proto, f.Pid, f.Process, wantPid, want)
		}
		if v, ok := e.Flow(f.ID, testTS); !ok || v.Process != want {
			t.Errorf("Flow(%d): %q", f.ID, v.Process)
		}
	}
	if fs := e.Flows(SortBytes, "~curl[4123]", testTS); len(fs) != 1 || fs[0].Proto != "TCP" {
		t.Errorf("text filter on the process: %+v", fs)
	}
	for seq, want := range map[uint64]uint32{1: 0, 2: 4123, 3: 0, 4: 4123} {
		p, ok := e.Packet(seq)
		if !ok || p.Pid() != want {
			t.Errorf("packet %d: pid %d (%v), want %d", seq, p.Pid(), ok, want)
		}
	}
}

// TestRingRecordSize: a descriptor per retained packet; the process took
// the place of half the previous packet's sequence number.
func TestRingRecordSize(t *testing.T) {
	if n := unsafe.Sizeof(record{}); n != 48 {
		t.Errorf("sizeof(record) = %d, want 48", n)
	}
}

// TestFlowProcessAt: a flow is named as its process was at its last
// packet, so a pid reused since (curl's 4123, then sshd's) does not
// rename it; the processes view names a process at its own last packet.
func TestFlowProcessAt(t *testing.T) {
	reused := testTS.Add(time.Second) // sshd took pid 4123
	e := NewEngine(Config{MaxFlows: 16, RingBytes: 1 << 16})
	e.SetProcessNames(func(pid uint32, at time.Time) string {
		if at.Before(reused) {
			return fmt.Sprintf("curl[%d]", pid)
		}
		return fmt.Sprintf("sshd[%d]", pid)
	})
	curl := procPacket(t, 1000, 4123, packet.DirOut, 0)
	sshd := procPacket(t, 2000, 4123, packet.DirOut, 2000)
	e.Add(curl)
	now := testTS.Add(3 * time.Second)
	if fs := e.Flows(SortBytes, "", now); len(fs) != 1 || fs[0].Process != "curl[4123]" {
		t.Fatalf("curl's flow: %+v", fs)
	}
	if ps := e.Processes(SortBytes, now); len(ps) != 1 || ps[0].Process != "curl[4123]" {
		t.Fatalf("curl's row: %+v", ps)
	}
	e.Add(sshd)
	got := map[uint16]string{}
	for _, f := range e.Flows(SortBytes, "", now) {
		got[f.APort] = f.Process
	}
	if got[1000] != "curl[4123]" || got[2000] != "sshd[4123]" {
		t.Errorf("flows named %v, want curl's 1000 and sshd's 2000", got)
	}
}
