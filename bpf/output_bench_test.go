package bpf

import (
	"bytes"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/perf"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/bpftop-cap/bpftop-cap/filter"
	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// BenchmarkKernelOutput measures what a captured packet costs in the
// kernel, on the CPU that handles the packet (on a veth pair, the
// sender's): the tc program run by BPF_PROG_TEST_RUN, timed by the kernel,
// with the packet written to the per-CPU perf event array (the design's
// bpf_perf_event_output) or to one BPF ring buffer (bpf_ringbuf_reserve,
// bpf_skb_load_bytes, submit), and with no output at all (a filter
// that keeps nothing) as the floor. perf+flows counts flows as the live view does:
// only packets the ring refuses, so a packet it takes costs nothing more;
// full and full+flows are the perf output with no reader, which refuses
// every record, without and with counting it into its flow (one flow,
// found each time). perf+hot writes to a 4 MiB ring per CPU with a 16 MiB
// overflow ring behind it (Config.Overflow), as a capture with default
// sizes does: a run's 2000 records fit in the first, whose pages the
// kernel then finds in the cache, where perf's 16 MiB ring (like the
// capture's 32 MiB ones before) is cold by the time it comes round.
// kernel-ns/pkt is the figure; the rings are drained between runs,
// outside the timing.
func BenchmarkKernelOutput(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root to load BPF programs")
	}
	for _, size := range []int{64, 1442} {
		for _, out := range []string{"none", "perf", "perf+hot", "perf+flows", "full", "full+flows", "ringbuf", "perf-in", "perf-in+proc"} {
			b.Run(map[int]string{64: "64B/", 1442: "1442B/"}[size]+out, func(b *testing.B) {
				prog, drain := loadForOutput(b, out)
				pkt := udpFrame(size)
				if strings.HasPrefix(out, "perf-in") {
					pkt = toBoundSocket(b, prog, size)
				}
				const repeat = 2000
				var total time.Duration
				runs := 0
				for b.Loop() {
					_, d, err := prog.Benchmark(pkt, repeat, nil)
					if err != nil {
						b.Fatal(err)
					}
					total += d * repeat
					runs += repeat
					b.StopTimer()
					drain()
					b.StartTimer()
				}
				b.ReportMetric(float64(total.Nanoseconds())/float64(runs), "kernel-ns/pkt")
			})
		}
	}
}

// TestRingBufProgramEmitsRecords: the ring buffer variant writes the
// records ParseRecord expects, whatever the size class.
func TestRingBufProgramEmitsRecords(t *testing.T) {
	testutil.RequireRoot(t)
	if err := features.HaveMapType(ebpf.RingBuf); err != nil {
		t.Skipf("this kernel has no BPF ring buffer: %v", err)
	}
	prog, rd := loadRingBuf(t)
	for _, size := range []int{60, 64, 96, 97, 1442, 3000} { // test runs take up to a page
		pkt := frame(size)
		if _, err := prog.Run(&ebpf.RunOptions{Data: pkt}); err != nil {
			t.Fatal(err)
		}
		rd.SetDeadline(time.Now().Add(100 * time.Millisecond)) // no wakeup below the threshold: the reader polls
		rec, err := rd.Read()
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		hdr, payload, err := ParseRecord(rec.RawSample)
		if err != nil || hdr.Dir != packet.DirOut || hdr.Hook != packet.HookTC || hdr.TotLen != uint32(size) || !bytes.Equal(payload, pkt) {
			t.Fatalf("%d bytes: %+v, %d bytes of payload, %v", size, hdr, len(payload), err)
		}
	}
}

func loadRingBuf(tb testing.TB) (*ebpf.Program, *ringbuf.Reader) {
	o, err := Load(Config{Snaplen: 262144, Out: true, RingBuf: 16 << 20})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { o.Close() })
	rd, err := ringbuf.NewReader(o.RingBuf())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rd.Close() })
	return o.objs.CaptureTcEgress, rd
}

// loadForOutput loads the egress program of the given output, as a
// capture does, and returns it with a function that empties its ring.
func loadForOutput(b *testing.B, out string) (*ebpf.Program, func()) {
	if out == "ringbuf" {
		prog, rd := loadRingBuf(b)
		var rec ringbuf.Record
		return prog, func() {
			rd.SetDeadline(time.Now())
			for rd.ReadInto(&rec) == nil {
			}
		}
	}
	cfg := Config{Snaplen: 262144, Out: true}
	if strings.HasPrefix(out, "perf-in") {
		// Ingress, where attribution costs most: the packet's socket is
		// looked up as the stack would (toBoundSocket).
		cfg = Config{Snaplen: 262144, In: true, Proc: strings.HasSuffix(out, "+proc")}
	}
	if strings.HasSuffix(out, "+flows") {
		cfg.CountFlows = 1 << 16
	}
	if out == "none" {
		// The program counts the packet and returns: a filter that keeps
		// nothing (a program for a direction not asked for is not loaded).
		prog, err := filter.Compile("less 0", 262144)
		if err != nil {
			b.Fatal(err)
		}
		cfg.Filter = prog
	}
	cfg.Overflow = out == "perf+hot"
	cfg.Bell = true // as capture.Open loads them (the bell never armed here)
	o, err := Load(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { o.Close() })
	if strings.HasPrefix(out, "full") {
		return o.objs.CaptureTcEgress, func() {} // no reader: every record refused
	}
	// A wakeup at a watermark, as the capture has it (1/32 of its 16 MiB,
	// as the ring buffer's threshold).
	open := func(m *ebpf.Map, size int) *perf.Reader {
		rd, err := perf.NewReaderWithOptions(m, size, perf.ReaderOptions{Watermark: 512 << 10})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { rd.Close() })
		return rd
	}
	var rds []*perf.Reader
	if cfg.Overflow {
		rds = append(rds, open(o.Events(), 4<<20), open(o.Overflow(), 16<<20))
	} else {
		rds = append(rds, open(o.Events(), 16<<20))
	}
	var rec perf.Record
	prog := o.objs.CaptureTcEgress
	if cfg.In {
		prog = o.objs.CaptureTcIngress
		benchObjs = o
	}
	return prog, func() {
		for _, rd := range rds {
			rd.SetDeadline(time.Now())
			for rd.ReadInto(&rec) == nil {
			}
		}
	}
}

// TestPerfProgramsDoNotUseRingBuf: the perf programs reference no ring
// buffer, so that kernels without one (before 5.8) can load them.
func TestPerfProgramsDoNotUseRingBuf(t *testing.T) {
	spec, err := loadCapture()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{captureProgCaptureTcIngress, captureProgCaptureTcEgress, captureProgCaptureXdp} {
		for _, ins := range spec.Programs[name].Instructions {
			if ins.Reference() == captureMapRb {
				t.Errorf("%s references %s", name, captureMapRb)
			}
		}
	}
	uses := false
	for _, ins := range spec.Programs[captureProgCaptureTcEgressRb].Instructions {
		uses = uses || ins.Reference() == captureMapRb
	}
	if !uses {
		t.Errorf("%s does not reference %s: the test looks at the wrong thing", captureProgCaptureTcEgressRb, captureMapRb)
	}
}

// TestRingBufLoad: the ring buffer programs load through the verifier at
// both hooks, with and without a spliced filter, and the filter keeps and
// drops what it should.
func TestRingBufLoad(t *testing.T) {
	testutil.RequireRoot(t)
	if err := features.HaveMapType(ebpf.RingBuf); err != nil {
		t.Skipf("this kernel has no BPF ring buffer: %v", err)
	}
	prog, err := filter.Compile("ip[9] = 17", 262144) // UDP
	if err != nil {
		t.Fatal(err)
	}
	for _, xdp := range []bool{false, true} {
		for _, f := range []filter.Program{nil, prog} {
			o, err := Load(Config{Snaplen: 262144, In: true, Out: !xdp, XDP: xdp, Filter: f, RingBuf: 1 << 20})
			if err != nil {
				t.Fatalf("xdp %v, filter %v: %v", xdp, f != nil, err)
			}
			if o.RingBuf() == nil || o.Events() != nil {
				t.Errorf("xdp %v: ring buffer %v, perf array %v", xdp, o.RingBuf(), o.Events())
			}
			p := o.objs.CaptureTcIngress
			if xdp {
				p = o.objs.CaptureXdp
			}
			rd, err := ringbuf.NewReader(o.RingBuf())
			if err != nil {
				t.Fatal(err)
			}
			udp, tcp := frame(80), frame(80)
			udp[14], udp[14+9] = 0x45, 17
			tcp[14], tcp[14+9] = 0x45, 6
			for _, pkt := range [][]byte{tcp, udp} {
				if _, err := p.Run(&ebpf.RunOptions{Data: pkt}); err != nil {
					t.Fatal(err)
				}
			}
			c, err := o.Counters()
			if err != nil {
				t.Fatal(err)
			}
			want := uint64(2)
			if f != nil {
				want = 1
			}
			if c.Sent != want || c.Failed != 0 {
				t.Errorf("xdp %v, filter %v: counters %+v, want %d sent", xdp, f != nil, c, want)
			}
			rd.SetDeadline(time.Now().Add(100 * time.Millisecond))
			rec, err := rd.Read()
			if err != nil {
				t.Fatal(err)
			}
			if _, payload, err := ParseRecord(rec.RawSample); err != nil || (f != nil && !bytes.Equal(payload, udp)) {
				t.Errorf("xdp %v, filter %v: record %v", xdp, f != nil, err)
			}
			rd.Close()
			o.Close()
		}
	}
}

// TestRingBufSmallSnaplen: a snapshot length shorter than an Ethernet
// header still gives records, as with the perf programs.
func TestRingBufSmallSnaplen(t *testing.T) {
	testutil.RequireRoot(t)
	if err := features.HaveMapType(ebpf.RingBuf); err != nil {
		t.Skipf("this kernel has no BPF ring buffer: %v", err)
	}
	o, err := Load(Config{Snaplen: 4, Out: true, RingBuf: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	rd, err := ringbuf.NewReader(o.RingBuf())
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	pkt := frame(64)
	if _, err := o.objs.CaptureTcEgress.Run(&ebpf.RunOptions{Data: pkt}); err != nil {
		t.Fatal(err)
	}
	rd.SetDeadline(time.Now().Add(100 * time.Millisecond))
	rec, err := rd.Read()
	if err != nil {
		t.Fatal(err)
	}
	hdr, payload, err := ParseRecord(rec.RawSample)
	if err != nil || hdr.CapLen != 4 || hdr.TotLen != 64 || !bytes.Equal(payload, pkt[:4]) {
		t.Fatalf("%+v, payload %x, %v", hdr, payload, err)
	}
}

// udpFrame is an Ethernet, IPv4 and UDP frame of n bytes.
func udpFrame(n int) []byte {
	b := frame(n)
	b[14], b[20], b[21], b[23] = 0x45, 0, 0, 17 // IHL 5, not a fragment, UDP
	return b
}

// benchObjs are the objects of the last ingress benchmark loaded, for
// toBoundSocket to seed.
var benchObjs *Objects

// toBoundSocket binds a UDP socket on 127.0.0.1, gives it an owner (as a
// capture seeds the sockets older than it) and returns a frame of size
// bytes to it, so that attribution finds its socket and owner.
func toBoundSocket(b *testing.B, prog *ebpf.Program, size int) []byte {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	if benchObjs != nil && benchObjs.cfg.Proc {
		f, err := c.File()
		if err != nil {
			b.Fatal(err)
		}
		if err := benchObjs.SeedOwner(int(f.Fd()), Owner{Tgid: uint32(os.Getpid()), Comm: "bench"}); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	pkt := udpTo(b, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 9), Port: 999}, c.LocalAddr().(*net.UDPAddr))
	if len(pkt) < size {
		pkt = append(pkt, make([]byte, size-len(pkt))...) // padding after the datagram
	}
	return pkt
}
