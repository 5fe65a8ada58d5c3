package bpf

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/perf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

func TestCgroup2Root(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n", "/sys/fs/cgroup/unified"},
		{"35 24 0:30 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n", "/sys/fs/cgroup"},
		// A bind mount of a sub-hierarchy is not the root; a v1 hierarchy is not v2.
		{"50 30 0:37 /system.slice /mnt/x rw - cgroup2 cgroup2 rw\n41 30 0:38 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n" +
			"60 30 0:37 / /mnt/with\\040space rw - cgroup2 cgroup2 rw\n", "/mnt/with space"},
	} {
		got, err := Cgroup2Root(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Cgroup2Root(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := Cgroup2Root("41 30 0:38 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"); err == nil {
		t.Error("no cgroup2 mount: no error")
	}
}

// udpTo is an Ethernet frame of a UDP datagram from src to dst (IPv4),
// for BPF_PROG_TEST_RUN.
func udpTo(t testing.TB, src, dst *net.UDPAddr) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src.IP.To4(), DstIP: dst.IP.To4()}
	udp := &layers.UDP{SrcPort: layers.UDPPort(src.Port), DstPort: layers.UDPPort(dst.Port)}
	_ = udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload("proc")); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// cgroupRoot is the root of the cgroup v2 hierarchy the hooks attach to.
func cgroupRoot(t *testing.T) string {
	t.Helper()
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	root, err := Cgroup2Root(string(mi))
	if err != nil {
		testutil.SkipOrFail(t, "%v", err)
	}
	return root
}

// nextRecord reads the next record (what, for the failure) and the CPU
// whose ring it came from.
func nextRecord(t *testing.T, rd *perf.Reader, what string) (Record, int) {
	t.Helper()
	rd.SetDeadline(time.Now().Add(time.Second))
	rec, err := rd.Read()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	hdr, _, err := ParseRecord(rec.RawSample)
	if err != nil {
		t.Fatal(err)
	}
	return hdr, rec.CPU
}

// TestProcIngressOwner: the tc ingress program finds the socket a
// datagram is for as the stack would (BPF_PROG_TEST_RUN runs it in this
// process's network namespace) and records its owner: written by the bind
// hook for a socket bound after the hooks were attached, by SeedOwner for
// one bound before, and none for a datagram no socket takes.
func TestProcIngressOwner(t *testing.T) {
	testutil.RequireRoot(t)
	root := cgroupRoot(t)
	// Bound before the hooks: only a seed can name its owner.
	old, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()

	o, rd := loadWithReader(t, Config{Snaplen: 128, In: true, Out: true, Proc: true})
	if why := o.ProcUnavailable(); why != "" {
		t.Fatalf("attribution unavailable: %s", why)
	}
	missing, err := o.AttachProc(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range missing {
		if !strings.Contains(m, "6.3") {
			t.Errorf("hook missing: %s", m)
		}
	}
	// Bound after: the bind hook names this process.
	fresh, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()

	f, err := old.File() // a duplicate, as SeedOwner gets another process's socket
	if err != nil {
		t.Fatal(err)
	}
	const seeded = 4194303 // no process of ours: the seed's, not a hook's
	if err := o.SeedOwner(int(f.Fd()), Owner{Tgid: seeded, Pid: seeded, Comm: "seeded"}); err != nil {
		t.Fatal(err)
	}
	f.Close()

	peer := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 9), Port: 999}
	unbound := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
	for _, tc := range []struct {
		name string
		dst  *net.UDPAddr
		want uint32
	}{
		{"bound after the hooks", fresh.LocalAddr().(*net.UDPAddr), uint32(os.Getpid())},
		{"bound before, seeded", old.LocalAddr().(*net.UDPAddr), seeded},
		{"no socket", unbound, 0},
	} {
		if _, err := o.objs.CaptureTcIngress.Run(&ebpf.RunOptions{Data: udpTo(t, peer, tc.dst)}); err != nil {
			t.Fatal(err)
		}
		hdr, cpu := nextRecord(t, rd, tc.name)
		if hdr.Pid != tc.want || hdr.CPU != int32(cpu) {
			t.Errorf("%s: pid %d on CPU %d, want %d on CPU %d", tc.name, hdr.Pid, hdr.CPU, tc.want, cpu)
		}
	}
	ow, ok := o.LookupOwner(uint32(os.Getpid()))
	if !ok || ow.Comm != exeName() || ow.Tgid != uint32(os.Getpid()) {
		t.Errorf("owner of this process: %+v %v, want the name %q", ow, ok, exeName())
	}
	if ow, ok := o.LookupOwner(seeded); !ok || ow.Comm != "seeded" {
		t.Errorf("seeded owner: %+v %v", ow, ok)
	}
}

func exeName() string {
	b, _ := os.ReadFile("/proc/self/comm")
	return strings.TrimSpace(string(b))
}

// TestProcHooksGoWithTheProcess: the owner hooks are bpf links: closing
// the objects leaves none of their programs on the cgroup. (Other
// captures, e2e tests running beside this one, attach and detach theirs
// meanwhile: only ours are counted.)
func TestProcHooksGoWithTheProcess(t *testing.T) {
	testutil.RequireRoot(t)
	root := cgroupRoot(t)
	before := cgroupProgs(t, root)
	o, err := Load(Config{Snaplen: 128, In: true, Out: true, Proc: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.AttachProc(root); err != nil {
		t.Fatal(err)
	}
	var ours []ebpf.ProgramID
	for id := range cgroupProgs(t, root) {
		if !before[id] {
			ours = append(ours, id)
		}
	}
	if len(ours) == 0 {
		t.Fatal("no program of ours on the cgroup root while attached")
	}
	o.Close()
	after := cgroupProgs(t, root)
	for _, id := range ours {
		if after[id] {
			t.Errorf("program %d still on the cgroup root after Close", id)
		}
	}
}

// cgroupProgs lists the programs attached to the cgroup at the socket
// creation hook.
func cgroupProgs(t *testing.T, dir string) map[ebpf.ProgramID]bool {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := link.QueryPrograms(link.QueryOptions{Target: int(f.Fd()), Attach: ebpf.AttachCGroupInetSockCreate})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[ebpf.ProgramID]bool{}
	for _, p := range res.Programs {
		ids[p.ID] = true
	}
	return ids
}

// TestProcMatch: with --pid, --comm or --cgroup the tc ingress program
// sends only the datagrams whose socket's owner matches, and counts the
// others in ProcFiltered; a datagram no socket takes matches nothing.
func TestProcMatch(t *testing.T) {
	testutil.RequireRoot(t)
	root := cgroupRoot(t)
	cg, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	var self string // this process's cgroup v2, where its sockets are
	for _, l := range strings.Split(string(cg), "\n") {
		if p, ok := strings.CutPrefix(l, "0::"); ok {
			self = p
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(root, self), &st); err != nil {
		t.Fatal(err)
	}
	// Both sockets are this process's; the older one is seeded as
	// another's (a made-up pid and name).
	old, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	const seeded = 4194302
	peer := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 9), Port: 999}
	unbound := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
	for _, tc := range []struct {
		name  string
		match ProcMatch
		want  [3]bool // sent: to the fresh socket, the seeded one, none
	}{
		{"pid", ProcMatch{Tgid: uint32(os.Getpid())}, [3]bool{true, false, false}},
		{"comm", ProcMatch{Comm: "seededproc"}, [3]bool{false, true, false}},
		{"pid and comm", ProcMatch{Tgid: seeded, Comm: "other"}, [3]bool{false, false, false}},
		{"cgroup", ProcMatch{Cgroups: []uint64{st.Ino + 1, st.Ino}}, [3]bool{true, false, false}},
		{"another cgroup", ProcMatch{Cgroups: []uint64{st.Ino + 1}}, [3]bool{false, false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, rd := loadWithReader(t, Config{Snaplen: 128, In: true, Out: true, Proc: true, Match: tc.match})
			if why := o.ProcUnavailable(); why != "" {
				t.Fatalf("attribution unavailable: %s", why)
			}
			if _, err := o.AttachProc(root); err != nil {
				t.Fatal(err)
			}
			fresh, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer fresh.Close()
			f, err := old.File()
			if err != nil {
				t.Fatal(err)
			}
			if err := o.SeedOwner(int(f.Fd()), Owner{Tgid: seeded, Pid: seeded, Comm: "seededproc"}); err != nil {
				t.Fatal(err)
			}
			f.Close()
			var sent, dropped uint64
			for i, dst := range []*net.UDPAddr{fresh.LocalAddr().(*net.UDPAddr), old.LocalAddr().(*net.UDPAddr), unbound} {
				if _, err := o.objs.CaptureTcIngress.Run(&ebpf.RunOptions{Data: udpTo(t, peer, dst)}); err != nil {
					t.Fatal(err)
				}
				if tc.want[i] {
					sent++
					rd.SetDeadline(time.Now().Add(time.Second))
					if _, err := rd.Read(); err != nil {
						t.Errorf("datagram %d: no record: %v", i, err)
					}
				} else {
					dropped++
				}
			}
			c, err := o.Counters()
			if err != nil {
				t.Fatal(err)
			}
			if c.Sent != sent || c.ProcFiltered != dropped || c.Seen != 3 || c.Filtered != 0 {
				t.Errorf("counters %+v, want %d sent, %d dropped for their process", c, sent, dropped)
			}
		})
	}
}
