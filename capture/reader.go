package capture

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// Options tune the reader. Zero values take the defaults.
type Options struct {
	PerCPUBuffer  int           // perf ring bytes per CPU; default 32 MiB, less with more than 2 CPUs (ScalePerCPU)
	Watermark     int           // bytes in a CPU's ring before a wakeup; default 1/8 of the ring (defaultWatermarkShare)
	FlushInterval time.Duration // how often pending records are read regardless; default 50ms
	// IdleFlushInterval is how often the rings are looked at once a look
	// found nothing new: a capture with no traffic then wakes that often,
	// and a lone packet after a quiet spell waits that long at most. It is
	// never below FlushInterval (the default).
	IdleFlushInterval time.Duration
	// HotBuffer is the size of each CPU's first perf ring when
	// PerCPUBuffer is at least 4 times as big: the programs write there
	// first and to the PerCPUBuffer ring (the overflow ring,
	// bpf.Config.Overflow) only what it refuses. 0 means
	// DefaultHotBuffer; negative, one ring per CPU.
	HotBuffer int
	// RingBufWakeup is the ring buffer's wakeup threshold in bytes, when
	// the programs write to one (bpf.Config.RingBuf; NewRingBufReader).
	RingBufWakeup int
	// Snaplen bounds a packet's captured bytes once a VLAN tag the kernel
	// took out is put back (4 more), as libpcap cuts it; 0: no bound.
	Snaplen int
	// Cooked leaves out a VLAN tag the kernel took out of the frame, as
	// libpcap does in a Linux cooked capture (-i any: LINUX_SLL2, whose
	// protocol field is then the frame's EtherType after the tag).
	Cooked bool
}

// Default perf ring sizes: DefaultPerCPUBuffer per CPU, halved on
// machines with more CPUs until all the rings fit in DefaultTotalBuffer,
// but never below MinScaledPerCPU (ScalePerCPU). 32 MiB holds some tens of
// milliseconds of a bulk TCP transfer, enough for a loaded 2-CPU machine
// where 8 MiB lost packets (docs/performance.md).
const (
	DefaultPerCPUBuffer = 32 << 20
	DefaultTotalBuffer  = 64 << 20
	MinScaledPerCPU     = 1 << 20
)

// defaultWatermarkShare: the reader is woken once a CPU's ring holds this
// share of it (Options.Watermark). A hot ring wakes at a quarter of it
// (NewReader). With one ring per CPU (a --perf-buffer under 16MiB), an
// eighth rather than a 32nd costs the capture less CPU for no more loss
// (docs/performance.md). Each wakeup costs a pass over the rings.
const defaultWatermarkShare = 8

// DefaultHotBuffer is the first perf ring's size per CPU (Options.HotBuffer)
// when the rings are at least 4 times as big. The kernel copies each
// packet into the ring where the last lap through it left cache lines: in
// a ring that fits in the CPU's cache that copy is cheap, in a 32 MiB one
// it misses on every line. A bulk TCP stream's 64 KiB GSO frames on veth
// cost the sending CPU twice as much to copy into 32 MiB rings as into
// 4 MiB ones (perf: skb_copy_bits' memcpy against the sender's own copy
// from user space, 0.40 against 0.20, one perf record -a run each; tcpdump
// with -B 65536: 0.88, with its default 2 MiB: 0.29). The big ring behind
// takes what the reader is too late for.
const DefaultHotBuffer = 4 << 20

// overflow reports whether the reader has a hot ring and an overflow ring
// per CPU (after defaults).
func (o *Options) overflow() bool {
	return o.HotBuffer > 0 && o.PerCPUBuffer >= 4*o.HotBuffer
}

// UsesOverflow reports whether a reader with these options reads two perf
// rings per CPU, so that the programs must be loaded with
// bpf.Config.Overflow.
func (o Options) UsesOverflow() bool {
	o.defaults()
	return o.overflow()
}

// ScalePerCPU returns perCPU halved until cpus rings of that size fit in
// total bytes, or until it reaches MinScaledPerCPU. The kernel allocates
// every page of every CPU's ring up front, so a default that is right on
// a 2-CPU laptop would take gigabytes on a 96-CPU server; there the
// traffic is spread over more CPUs, and each ring needs less.
func ScalePerCPU(perCPU, total, cpus int) int {
	for perCPU/2 >= MinScaledPerCPU && cpus*perCPU > total {
		perCPU /= 2
	}
	return perCPU
}

// OnlineCPUs is the number of CPUs the perf rings are made for: one per
// CPU online (a CPU that is possible but offline gets none). It falls back
// to the possible CPUs, then to 1, if the kernel does not say.
func OnlineCPUs() int {
	if b, err := os.ReadFile("/sys/devices/system/cpu/online"); err == nil {
		if n := countCPUList(strings.TrimSpace(string(b))); n > 0 {
			return n
		}
	}
	if n, err := ebpf.PossibleCPU(); err == nil && n > 0 {
		return n
	}
	return 1
}

// countCPUList counts the CPUs in a kernel CPU list such as "0-3,6,8-11";
// 0 if it does not parse.
func countCPUList(s string) int {
	n := 0
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 0 || b < a {
			return 0
		}
		n += b - a + 1
	}
	return n
}

func (o *Options) defaults() {
	if o.PerCPUBuffer <= 0 {
		o.PerCPUBuffer = ScalePerCPU(DefaultPerCPUBuffer, DefaultTotalBuffer, OnlineCPUs())
	}
	if o.Watermark <= 0 {
		o.Watermark = o.PerCPUBuffer / defaultWatermarkShare
	}
	if o.HotBuffer == 0 {
		o.HotBuffer = DefaultHotBuffer
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 50 * time.Millisecond
	}
}

// Reader reads capture records from the kernel's rings in place: the
// per-CPU perf rings, or one BPF ring buffer. One loop reads either (a
// source), handing the records to a sink: a file (RunDirect) or the live
// view's engine (RunPasses).
type Reader struct {
	ps    *pollSet // and its source
	opts  Options
	clock *Clock
	Stats Stats

	// closeOnce: a second Close (Session.Close while the loop returns)
	// waits until the first has released the rings, so that the maps
	// they are in are closed only then.
	closeOnce sync.Once
	direct    packet.Packet             // RunDirect's packet being written
	tagged    []byte                    // RunDirect's frame with its VLAN tag put back
	lastStamp uint64                    // RunDirect's newest stamp written, for Stats.Late
	write     func(*packet.Packet)      // writePass's
	emitFunc  func(*bpf.Record, []byte) // r.emit, made once
	// links holds the interfaces whose packets are not Ethernet (nil when
	// none are); replaced whole, as interfaces come and go while reading.
	links atomic.Pointer[map[uint32]packet.LinkType]
}

// SetLinkType records that packets of interface ifindex begin with a
// header of link type lt. It is safe to call while the reader runs.
func (r *Reader) SetLinkType(ifindex uint32, lt packet.LinkType) {
	old := r.links.Load()
	if old == nil && lt == packet.LinkTypeEthernet {
		return
	}
	m := make(map[uint32]packet.LinkType)
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	if lt == packet.LinkTypeEthernet {
		delete(m, ifindex)
	} else {
		m[ifindex] = lt
	}
	r.links.Store(&m)
}

// linkOf is the link type of interface ifindex's packets.
func (r *Reader) linkOf(ifindex uint32) packet.LinkType {
	if m := r.links.Load(); m != nil {
		if lt, ok := (*m)[ifindex]; ok {
			return lt
		}
	}
	return packet.LinkTypeEthernet
}

// source is a kind of kernel ring the reading loop reads: perfRings or a
// bpfRing.
type source interface {
	// merge hands each the records stamped before cutoff, oldest first
	// (payload is valid during the call), and gives their ring space
	// back; it returns how many records and bytes it handed on.
	merge(st *Stats, cutoff uint64, each func(h *bpf.Record, payload []byte)) (n, bytes uint64)
	// pending reports whether a wakeup's worth of records came since the
	// last pass; drained, whether every record was taken out of the ring;
	// holding, whether the source keeps records read but not handed on.
	pending() bool
	drained() bool
	holding() bool
	close()
}

// NewReader opens the per-CPU perf rings of events, and of overflow when
// the options ask for an overflow ring (UsesOverflow; overflow is then
// not nil).
func NewReader(events, overflow *ebpf.Map, clock *Clock, opts Options) (*Reader, error) {
	opts.defaults()
	hot := opts.overflow()
	if hot != (overflow != nil) {
		return nil, fmt.Errorf("open perf ring: overflow ring %v, but the options say %v", overflow != nil, hot)
	}
	p, err := newPollSet()
	if err != nil {
		return nil, fmt.Errorf("open perf ring: %w", err)
	}
	rings := &perfRings{}
	p.src = rings
	if hot {
		err = rings.add(p, events, opts.HotBuffer, min(opts.Watermark, opts.HotBuffer/4), true)
		if err == nil {
			err = rings.add(p, overflow, opts.PerCPUBuffer, opts.Watermark, false)
		}
	} else {
		err = rings.add(p, events, opts.PerCPUBuffer, opts.Watermark, false)
	}
	if err != nil {
		p.close()
		return nil, fmt.Errorf("open perf ring: %w", err)
	}
	return newReader(p, clock, opts), nil
}

// NewRingBufReader reads the BPF ring buffer rb in place, through the
// same loop as the perf rings; each pass sorts what it reads by time, so
// the tiny inversions between CPUs that race for the ring are put right.
func NewRingBufReader(rb *ebpf.Map, clock *Clock, opts Options) (*Reader, error) {
	opts.defaults()
	p, err := newPollSet()
	if err != nil {
		return nil, fmt.Errorf("open ring buffer: %w", err)
	}
	ring, err := openRingBuf(p, rb, opts.RingBufWakeup)
	if err != nil {
		p.close()
		return nil, fmt.Errorf("open ring buffer: %w", err)
	}
	p.src = ring
	return newReader(p, clock, opts), nil
}

// newReader makes a Reader of the rings in p (nil for benchmarks of the
// path after the rings).
func newReader(p *pollSet, clock *Clock, opts Options) *Reader {
	opts.defaults()
	return &Reader{ps: p, opts: opts, clock: clock}
}

// UseBell has the reader wake at the programs' doorbell (the perf event
// array bell, armed by arm: bpf.Objects.ArmBell), so that its flusher can
// sleep while nothing comes rather than tick. If the bell's rings cannot
// be made, it does nothing and the flusher ticks.
func (r *Reader) UseBell(bell *ebpf.Map, arm func(on bool)) {
	if bell == nil {
		return
	}
	if err := r.ps.addBell(bell, arm); err != nil {
		r.ps.arm = nil // the rings made are closed with the others
	}
}

// PerCPUBuffer returns the size of each CPU's perf ring (what was asked
// for, rounded up to a power of two pages as the kernel wants), or 0 when
// the reader reads a BPF ring buffer.
func (r *Reader) PerCPUBuffer() int {
	if _, ok := r.ps.src.(*perfRings); !ok {
		return 0
	}
	page := os.Getpagesize()
	return page * ringPages(r.opts.PerCPUBuffer, page)
}

// Close releases the rings. RunDirect and RunPasses close them themselves
// when they return; a Close while they run ends them first.
func (r *Reader) Close() error {
	r.closeOnce.Do(r.ps.close)
	return nil
}

// A sink is what the reading loop hands the records to.
type sink interface {
	pass(cutoff uint64) // read the rings once, up to cutoff where it merges
	due()               // hand on what was read: a flush or the bell came
	end()               // hand on everything: the loop returns
	settled() bool      // nothing is held back (see pollSet.settled)
}

// loop is RunDirect's and RunPasses': it waits for a wakeup (a watermark, the
// bell, a flush), has s read the rings, and ends once ctx is cancelled,
// after one more pass asked for then (the programs were detached first,
// so it finds everything), or when the reader is closed under it. It
// closes the rings when it returns.
func (r *Reader) loop(ctx context.Context, s sink) error {
	defer r.Close()
	p := r.ps
	// A Close from another goroutine waits for this, so that the rings
	// are unmapped only once neither the loop nor the flusher uses them
	// (deferred calls run last first: the flusher stops, then this).
	p.running.Store(true)
	defer close(p.stopped)
	defer r.startFlusher(ctx)()

	// final is set once we have asked for the last flush ourselves, after
	// seeing ctx done: only the flush that answers it ends the loop. An
	// earlier one (a tick's) reflects ring positions read before the
	// programs were detached, and records written after it would be lost.
	final := false
	for {
		flushed, err := p.wait()
		if p.closing.Load() {
			s.end()
			return nil // closed under us: the rings are about to go
		}
		if err != nil {
			s.end()
			return fmt.Errorf("read perf rings: %w", err)
		}
		rang, again := p.answerBell(r.clock)
		p.settled.Store(false)
		s.pass(passCutoff(final))
		if flushed && final {
			s.end()
			return nil
		}
		if flushed || rang || again {
			s.due() // the first packets after a quiet spell show at once
		}
		if rang && !p.src.drained() {
			p.passAgain()
		}
		if flushed && ctx.Err() != nil {
			final = true // one more pass after our own flush, taking everything
			p.flush()
		}
		p.settled.Store(s.settled())
	}
}

// startFlusher starts the goroutine that makes the rings readable below
// the watermark every FlushInterval, so a lone packet still shows, follows
// the realtime clock, and on cancellation asks for the final drain. When a
// tick finds the rings read to their heads and the reading loop holding
// nothing, it does not wake the loop; with a doorbell (UseBell) it then
// sleeps until the bell wakes the loop, else it ticks every
// IdleFlushInterval until something comes. The function it returns stops
// it and waits for it.
func (r *Reader) startFlusher(ctx context.Context) (stop func()) {
	var stopping sync.WaitGroup
	done := make(chan struct{})
	busy := r.opts.FlushInterval
	quiet := max(r.opts.IdleFlushInterval, busy)
	p := r.ps
	stopping.Add(1)
	go func() {
		defer stopping.Done()
		every := busy
		t := time.NewTicker(every)
		defer t.Stop()
		lastCal := time.Now()
		for {
			select {
			case <-t.C:
				if time.Since(lastCal) >= time.Second {
					r.clock.Calibrate()
					lastCal = time.Now()
				}
				next := busy
				switch {
				case !p.idle():
					p.flush()
				case p.arm != nil:
					t.Stop()
					woken, end := p.sleep(ctx, done)
					if end {
						if ctx.Err() != nil {
							p.flush() // wake a blocked read
						}
						return
					}
					if woken {
						lastCal = time.Now() // the loop set the clock as it woke us
					}
					p.flush() // a backstop's tick, or something came as the bell was armed
					every = 0 // the ticker was stopped: reset it
				default:
					next = quiet
				}
				if next != every {
					every = next
					t.Reset(every)
				}
			case <-ctx.Done():
				p.flush() // wake a blocked read
				return
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); stopping.Wait() }
}
