package pcapfile

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"
)

// TestProcessCommentsRoundTrip: the process comments the writer puts on
// each packet are read back as the packet's pid and, by pid, the name,
// container or cgroup; a packet without them has no pid.
func TestProcessCommentsRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewPcapngWriter(&buf, 262144, []IfaceInfo{{Index: 7, Name: "eth0", Hook: "tcx"}}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	names := map[uint32][]string{
		4123: {"process: curl (pid 4123)", "container: docker 3f2a1b2c3d4e"},
		911:  {"process: my (pid 1) app (pid 911)", "cgroup: /system.slice/nginx.service"},
	}
	w.SetProcessComments(func(pid uint32) []string { return names[pid] })
	ps := testPackets()
	pids := []uint32{4123, 0, 911, 77} // 77: the writer knows no name, writes none
	for i := range ps {
		ps[i].Ifindex = 7
		ps[i].SetTask(pids[i], i)
		if err := w.Write(&ps[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finish(nil); err != nil {
		t.Fatal(err)
	}
	cf, err := newFile(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if cf.HasProcesses() {
		t.Error("HasProcesses before any packet")
	}
	for i := 0; ; i++ {
		p, err := cf.NextPacket()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		want := pids[i]
		if want == 77 {
			want = 0
		}
		if p.Pid() != want {
			t.Errorf("packet %d: pid %d, want %d", i, p.Pid(), want)
		}
	}
	for pid, want := range map[uint32]Process{
		4123: {Pid: 4123, Comm: "curl", Container: "docker 3f2a1b2c3d4e"},
		911:  {Pid: 911, Comm: "my (pid 1) app", Cgroup: "/system.slice/nginx.service"},
	} {
		if got, ok := cf.Process(pid, time.Time{}); !ok || got != want {
			t.Errorf("Process(%d) = %+v %v, want %+v", pid, got, ok, want)
		}
	}
	if _, ok := cf.Process(77, time.Time{}); ok || !cf.HasProcesses() {
		t.Errorf("Process(77) found, or HasProcesses false")
	}
}

// TestProcComments: comments that do not name a process in the writer's
// form name none.
func TestProcComments(t *testing.T) {
	for _, c := range [][]string{
		nil,
		{"hook: tc"},
		{"process: curl"},
		{"process: curl (pid x)"},
		{"process: curl (pid 0)"},
		{"process: curl (pid 4194304)"}, // beyond a pid's 22 bits
		{"process: curl (pid 12"},
		{"container: docker abc"},
	} {
		if p, ok := procComments(c); ok {
			t.Errorf("%q: %+v", c, p)
		}
	}
	if p, ok := procComments([]string{"hook: tc", "process: a b (pid 4194303)"}); !ok || p.Pid != 4194303 || p.Comm != "a b" {
		t.Errorf("the largest pid: %+v %v", p, ok)
	}
}

// TestSaveProcesses: the live view's w, to pcapng, names the processes as
// -w does, read back as a file's.
func TestSaveProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ring.pcapng")
	ps := testPackets()
	for i := range ps {
		ps[i].Ifindex = 3
		ps[i].SetTask(uint32(500+i%2), -1)
	}
	n, err := SaveFile(path, ps, Save{Format: "pcapng", Snaplen: 65535, Ifaces: []IfaceInfo{{Index: 3, Name: "veth0", Hook: "tcx"}},
		Processes: func(pid uint32) []string {
			if pid == 500 {
				return []string{"process: srv (pid 500)"}
			}
			return nil
		}})
	if err != nil || n != len(ps) {
		t.Fatalf("save: %d, %v", n, err)
	}
	cf, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer cf.Close()
	for i := 0; ; i++ {
		p, err := cf.NextPacket()
		if errors.Is(err, io.EOF) {
			break
		}
		if want := uint32(500 * (1 - i%2)); err != nil || p.Pid() != want {
			t.Errorf("packet %d: pid %d, %v; want %d", i, p.Pid(), err, want)
		}
	}
	if p, ok := cf.Process(500, time.Time{}); !ok || p.Comm != "srv" {
		t.Errorf("Process(500): %+v %v", p, ok)
	}
}

// TestProcessPidReuse: a file whose packets name one pid for a process,
// then for another (the pid reused), names each at the time of its
// packets, not the newest everywhere.
func TestProcessPidReuse(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewPcapngWriter(&buf, 262144, []IfaceInfo{{Index: 7, Name: "eth0", Hook: "tcx"}}, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	curl := true
	w.SetProcessComments(func(pid uint32) []string {
		if curl {
			return []string{"process: curl (pid 4123)"}
		}
		return []string{"process: sshd (pid 4123)"}
	})
	ps := testPackets()
	for i := range ps {
		ps[i].Ifindex = 7
		ps[i].SetTask(4123, 0)
		curl = i < 2
		if err := w.Write(&ps[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finish(nil); err != nil {
		t.Fatal(err)
	}
	cf, err := newFile(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := cf.NextPacket(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []string{"curl", "curl", "sshd", "sshd"} {
		if p, ok := cf.Process(4123, ps[i].Time()); !ok || p.Comm != want {
			t.Errorf("packet %d: %+v %v, want %s", i, p, ok, want)
		}
	}
	if p, _ := cf.Process(4123, ps[0].Time().Add(-time.Hour)); p.Comm != "curl" {
		t.Errorf("before the first packet: %q, want the oldest", p.Comm)
	}
	if p, _ := cf.Process(4123, time.Time{}); p.Comm != "sshd" {
		t.Errorf("now: %q, want the newest", p.Comm)
	}
}

// TestProcessNamesOutOfOrder: a packet of the pid's old process read
// after the first of its new one (packets of two CPUs, nearly in time
// order) does not make the old process current again.
func TestProcessNamesOutOfOrder(t *testing.T) {
	a := Process{Pid: 42, Comm: "curl"}
	b := Process{Pid: 42, Comm: "sshd"}
	var n procNames
	n.note(a, 100)
	n.note(b, 300)
	n.note(a, 200) // late: between curl's first and sshd's
	n.note(b, 250) // sshd began a little earlier than its first packet read
	cf := &File{ng: &ngState{}}
	cf.ng.procs.byPid = n.byPid
	for _, tc := range []struct {
		at   int64
		want string
	}{{150, "curl"}, {220, "curl"}, {260, "sshd"}, {400, "sshd"}} {
		got, ok := cf.Process(42, time.Unix(0, tc.at))
		if !ok || got.Comm != tc.want {
			t.Errorf("at %d: %q, want %q", tc.at, got.Comm, tc.want)
		}
	}
	if k := len(n.byPid[42]); k != 2 {
		t.Errorf("%d entries for two processes: %+v", k, n.byPid[42])
	}
}
