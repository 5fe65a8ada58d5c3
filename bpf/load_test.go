package bpf

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/perf"
	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/filter"
	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// frame is a minimal Ethernet frame for BPF_PROG_TEST_RUN (which wants at
// least an Ethernet header).
func frame(n int) []byte {
	b := make([]byte, n)
	copy(b, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x00})
	for i := 14; i < n; i++ {
		b[i] = byte(i)
	}
	return b
}

// loadWithReader loads the programs with cfg and opens a reader on their
// perf ring (without one the kernel refuses every record); both are closed
// when the test ends.
func loadWithReader(t *testing.T, cfg Config) (*Objects, *perf.Reader) {
	t.Helper()
	o, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	rd, err := perf.NewReader(o.Events(), 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close() })
	return o, rd
}

// TestProgramsEmitRecords runs each program on crafted frames with
// BPF_PROG_TEST_RUN and reads the records back from the perf ring: the
// kernel side writes the bpf_pcap_hdr layout ParseRecord expects, honours
// snaplen and the direction mask, and counts what it did.
func TestProgramsEmitRecords(t *testing.T) {
	testutil.RequireRoot(t)
	for _, tc := range []struct {
		name    string
		cfg     Config
		prog    func(o *Objects) *ebpf.Program
		dir     packet.Dir
		hook    packet.Hook
		emitted bool
	}{
		{"tc ingress", Config{Snaplen: 64, In: true, Out: true}, func(o *Objects) *ebpf.Program { return o.objs.CaptureTcIngress }, packet.DirIn, packet.HookTC, true},
		{"tc egress", Config{Snaplen: 64, In: true, Out: true}, func(o *Objects) *ebpf.Program { return o.objs.CaptureTcEgress }, packet.DirOut, packet.HookTC, true},
		{"tc egress not wanted", Config{Snaplen: 64, In: true}, func(o *Objects) *ebpf.Program { return o.objs.CaptureTcEgress }, packet.DirOut, packet.HookTC, false},
		{"tc egress alone", Config{Snaplen: 64, Out: true}, func(o *Objects) *ebpf.Program { return o.objs.CaptureTcEgress }, packet.DirOut, packet.HookTC, true},
		{"tc ingress not wanted", Config{Snaplen: 64, Out: true}, func(o *Objects) *ebpf.Program { return o.objs.CaptureTcIngress }, packet.DirIn, packet.HookTC, false},
		{"xdp", Config{Snaplen: 64, In: true, XDP: true}, func(o *Objects) *ebpf.Program { return o.objs.CaptureXdp }, packet.DirIn, packet.HookXDP, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, rd := loadWithReader(t, tc.cfg)
			if !tc.emitted {
				// A direction not asked for is not loaded (it would cost a
				// verifier run for nothing).
				if tc.prog(o) != nil {
					t.Fatal("program for a direction not asked for was loaded")
				}
				return
			}

			in := frame(200)
			if _, err := tc.prog(o).Run(&ebpf.RunOptions{Data: in}); err != nil {
				t.Fatalf("test run: %v", err)
			}
			c, err := o.Counters()
			if err != nil {
				t.Fatal(err)
			}
			if c.Seen != 1 || c.Sent != 1 || c.Failed != 0 {
				t.Fatalf("counters %+v, want seen 1 sent 1", c)
			}
			rd.SetDeadline(time.Now().Add(2 * time.Second))
			rec, err := rd.Read()
			if err != nil {
				t.Fatalf("read record: %v", err)
			}
			r, p, err := ParseRecord(rec.RawSample)
			if err != nil {
				t.Fatal(err)
			}
			if r.Dir != tc.dir || r.Hook != tc.hook || r.Protocol != packet.LinkTypeEthernet {
				t.Errorf("record %+v, want dir %v hook %v", r, tc.dir, tc.hook)
			}
			if r.TotLen != uint32(len(in)) || r.CapLen != 64 || !bytes.Equal(p, in[:64]) {
				t.Errorf("record lengths %d/%d, payload match %v", r.CapLen, r.TotLen, bytes.Equal(p, in[:64]))
			}
			if r.KtimeNs == 0 {
				t.Error("no kernel timestamp")
			}
		})
	}
}

func TestLoadRejectsXDPEgress(t *testing.T) {
	if _, err := Load(Config{Snaplen: 64, Out: true, XDP: true}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("err = %v, want ErrUnsupported", err)
	}
	if _, err := Load(Config{Snaplen: 64}); err == nil {
		t.Fatal("no direction accepted")
	}
}

// TestFilterSpliced compiles expressions, splices them into every program
// and runs each on a crafted IPv4 frame: matching packets are sent to the
// ring, the others only counted as filtered.
func TestFilterSpliced(t *testing.T) {
	testutil.RequireRoot(t)
	in := frame(200) // IPv4 EtherType; byte 23 (the IP protocol) is 23
	for _, tc := range []struct {
		expr  string
		match bool
	}{
		{"ip", true},
		{"ip6", false},
		{"ip[9] = 23", true},
		{"udp or tcp", false},
		{"not arp and len >= 200", true},
		{"greater 201", false},
	} {
		prog, err := filter.Compile(tc.expr, 262144)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		for _, hook := range []string{"tc", "xdp"} {
			t.Run(tc.expr+"/"+hook, func(t *testing.T) {
				cfg := Config{Snaplen: 64, In: true, Filter: prog, XDP: hook == "xdp"}
				o, _ := loadWithReader(t, cfg)
				p := o.objs.CaptureTcIngress
				if cfg.XDP {
					p = o.objs.CaptureXdp
				}
				if _, err := p.Run(&ebpf.RunOptions{Data: in}); err != nil {
					t.Fatal(err)
				}
				c, err := o.Counters()
				if err != nil {
					t.Fatal(err)
				}
				want := Counters{Seen: 1, Sent: 1}
				if !tc.match {
					want = Counters{Seen: 1, Filtered: 1}
				}
				if c != want {
					t.Errorf("counters %+v, want %+v", c, want)
				}
			})
		}
	}
}

// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK, often 64 KiB:
// Load lifts it (this kernel ignores the limit, so the test checks the
// lifting, not the load), as far as the process may.
func TestLoadLiftsMemlock(t *testing.T) {
	testutil.RequireRoot(t)
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &old); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Setrlimit(unix.RLIMIT_MEMLOCK, &old) })
	// Below the hard limit, whatever it is, so that lifting shows.
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: min(64<<10, old.Max/2), Max: old.Max}); err != nil {
		t.Fatal(err)
	}
	objs, err := Load(Config{Snaplen: 128, In: true, Out: true})
	if err != nil {
		t.Fatal(err)
	}
	objs.Close()
	var now unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &now); err != nil {
		t.Fatal(err)
	}
	// Unlimited with CAP_SYS_RESOURCE; without it, the hard limit.
	if now.Cur != now.Max || now.Cur < old.Max {
		t.Errorf("memlock limit after Load: %d (hard %d), want the hard limit %d or more", now.Cur, now.Max, old.Max)
	}
}
