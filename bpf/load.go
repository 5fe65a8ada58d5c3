package bpf

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/filter"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// The hand-written parser and the C struct (packed: Go pads it to 8) must
// agree.
var (
	_ [HeaderSize - unsafe.Offsetof(capturePcapHdr{}.Task) - 4]struct{}
	_ [unsafe.Offsetof(capturePcapHdr{}.Task) + 4 - HeaderSize]struct{}
)

// TCMode chooses how the tc program is attached.
type TCMode string

// TC attach modes.
const (
	TCAuto   TCMode = "auto"   // tcx where the kernel has it (6.6+), else clsact
	TCX      TCMode = "tcx"    // tcx only
	TCClsact TCMode = "clsact" // the legacy clsact qdisc and a bpf filter
)

// Config holds the load-time constants and the attach choices.
type Config struct {
	Snaplen uint32 // bytes kept per packet; clamped to MaxCapLen in the kernel
	In, Out bool   // directions to capture
	XDP     bool   // attach at XDP (ingress only) instead of tc
	TCMode  TCMode // how to attach at tc; "" means auto
	// Filter is a compiled pcap-filter expression, run in the kernel before
	// a packet costs a perf record; empty keeps everything.
	Filter filter.Program
	// RingBuf, when not zero, is the size of one BPF ring buffer (a power
	// of two, at least a page) that the programs write to instead of the
	// per-CPU perf event array: Linux 5.8+, and 5.18+ with XDP.
	RingBuf uint32
	// RingBufWakeup is how many bytes pending in the ring buffer wake the
	// reader; 0 means 1/32 of it.
	RingBufWakeup uint32
	// CountFlows, when not zero, has the programs count every packet the
	// ring cannot take into a kernel flow table of this many flows
	// (Objects.Flows).
	CountFlows uint32
	// Overflow has the perf programs write a record the perf event array
	// refuses to a second one (Objects.Overflow), whose rings are bigger:
	// the first ones can then be small enough to stay in the CPU's cache.
	Overflow bool
	// Bell has the programs ring a doorbell (Objects.Bell) at the first
	// record after the reader armed it (Objects.ArmBell).
	Bell bool
	// EgressAt is where egress is recorded ("" is EgressAuto).
	EgressAt EgressHook
	// Ifindexes are the interfaces that will be attached, if known at
	// load: EgressAuto loads the transmit hook when one of them shapes.
	Ifindexes []int

	// Proc has the tc programs record in each packet's record the process
	// that owns its socket (proc.go); AttachProc then attaches the hooks
	// that find the owners.
	Proc bool
	// Match keeps only the packets of the processes it names (needs
	// Proc): the others are dropped in the kernel, counted in
	// Counters.ProcFiltered.
	Match ProcMatch

	xmitLinear bool // tests: the transmit hook as before Linux 6.12 (no skb dynptr)
}

// Sentinel errors; the top level adds the remedy.
var (
	ErrPermission  = errors.New("permission denied")
	ErrUnsupported = errors.New("not supported by this kernel")
)

// Objects are the loaded maps and programs.
type Objects struct {
	cfg      Config
	objs     captureObjects
	rbWakeup uint32 // the ring buffer's wakeup threshold, as loaded
	// bellArmed is the programs' bell_armed, in memory mapped from the
	// kernel (nil without Config.Bell, or before Linux 5.5).
	bellArmed *ebpf.Variable

	noBatch bool // the kernel has no batch lookups (Flows)
	keys    []captureFlowKey
	vals    []captureFlowCounts
	delKeys []captureFlowKey

	xmitLink link.Link // the transmit program's tracepoint, or nil
	xmitWhy  string    // why it was wanted (EgressAuto) and is not there

	hookSpec  *ebpf.CollectionSpec // the owner hooks to load (Config.Proc), or nil
	procLinks []link.Link          // the owner hooks attached
	procWhy   string               // why Config.Proc was asked and records carry no process

	// kernelBTF is the running kernel's BTF, parsed once for every
	// collection loaded (the CO-RE relocations, the tracepoints' targets)
	// and let go when the last is loaded: nil after.
	kernelBTF *btf.Cache
}

// Load loads the capture programs with cfg's constants.
func Load(cfg Config) (*Objects, error) {
	if !cfg.In && !cfg.Out {
		return nil, errors.New("no direction to capture")
	}
	if cfg.XDP && cfg.Out {
		return nil, fmt.Errorf("XDP sees ingress only: %w", ErrUnsupported)
	}
	if err := raiseMemlock(); err != nil {
		return nil, err
	}
	spec, err := loadCapture()
	if err != nil {
		return nil, fmt.Errorf("read embedded BPF object: %w", err)
	}
	var hookSpec *ebpf.CollectionSpec
	if cfg.Proc {
		hookSpec = ownerHooks(spec)
	}
	mask := uint32(0)
	if cfg.In {
		mask |= uint32(packet.DirIn)
	}
	if cfg.Out {
		mask |= uint32(packet.DirOut)
	}
	if err := spec.Variables[captureVarSnaplen].Set(cfg.Snaplen); err != nil {
		return nil, fmt.Errorf("set snaplen: %w", err)
	}
	if err := spec.Variables[captureVarDirMask].Set(mask); err != nil {
		return nil, fmt.Errorf("set direction: %w", err)
	}
	if len(cfg.Filter) > 0 {
		body, err := filter.ToEBPF(cfg.Filter, filterSymbol)
		if err != nil {
			return nil, err
		}
		for _, name := range []string{captureProgCaptureTcIngress, captureProgCaptureTcEgress, captureProgCaptureXdp,
			captureProgCaptureTcIngressRb, captureProgCaptureTcEgressRb, captureProgCaptureXdpRb, captureProgCaptureXmit} {
			if err := spliceFilter(spec.Programs[name], body); err != nil {
				return nil, err
			}
		}
		if err := spec.Variables[captureVarHasFilter].Set(uint8(1)); err != nil {
			return nil, fmt.Errorf("enable filter: %w", err)
		}
		// On tc a packet's tail may lie in pages the filter cannot read:
		// make as much of it readable as the filter may read.
		if err := spec.Variables[captureVarFilterPullLen].Set(cfg.Filter.Reach()); err != nil {
			return nil, fmt.Errorf("filter pull length: %w", err)
		}
	}
	// The flow table is made in any case (the programs name it), but of
	// one entry when nothing is counted into it.
	spec.Maps[captureMapFlows].MaxEntries = max(cfg.CountFlows, 1)
	if cfg.CountFlows > 0 {
		if err := spec.Variables[captureVarCountFlows].Set(uint8(1)); err != nil {
			return nil, fmt.Errorf("enable flow counting: %w", err)
		}
	}
	o := &Objects{cfg: cfg, kernelBTF: btf.NewCache()}
	if cfg.Match.On() && !cfg.Proc {
		return nil, errors.New("--pid, --comm and --cgroup need process attribution")
	}
	if cfg.Proc {
		// Without what attribution needs (socket storage, Linux 5.2; the
		// socket lookups), capture goes on without it.
		if err := prepareProc(spec, true, cfg.Match); err != nil {
			return nil, fmt.Errorf("enable process attribution: %w", err)
		}
		err := o.load(spec.Copy())
		var mptcp uint8
		if err != nil && spec.Variables[captureVarWithMptcp].Get(&mptcp) == nil && mptcp == 1 {
			// A verifier that refuses the MPTCP lookup costs that alone.
			if spec.Variables[captureVarWithMptcp].Set(uint8(0)) == nil {
				err = o.load(spec.Copy())
			}
		}
		if err == nil {
			o.hookSpec = hookSpec
			return o.loaded(cfg)
		}
		o.procWhy, _, _ = strings.Cut(err.Error(), "\n")
		if cfg.Match.On() {
			return nil, fmt.Errorf("--pid, --comm and --cgroup need process attribution: %s", o.procWhy)
		}
		o.cfg.Proc = false
		_ = spec.Variables[captureVarWithProc].Set(uint8(0))
	}
	if err := prepareProc(spec, false, ProcMatch{}); err != nil {
		return nil, err
	}
	if err := o.load(spec); err != nil {
		return nil, err
	}
	return o.loaded(cfg)
}

// loaded attaches the transmit hook of a loaded o.
func (o *Objects) loaded(cfg Config) (*Objects, error) {
	if o.hookSpec == nil {
		o.kernelBTF = nil // nothing more to load
	}
	if o.objs.CaptureXmit != nil {
		if err := o.attachXmit(); err != nil {
			if cfg.EgressAt == EgressXmit {
				o.Close()
				return nil, err
			}
			o.xmitWhy = err.Error()
			o.objs.CaptureXmit.Close()
			o.objs.CaptureXmit = nil
		}
	}
	return o, nil
}

// load loads what this capture uses and nothing else: the programs of its
// hook (tc or XDP) writing to its output (the perf event array, or the BPF
// ring buffer with cfg.RingBuf), and their maps. Kernels without ring
// buffers (before 5.8) can then load the perf programs, and the verifier,
// whose time is start-up time, checks only programs that will run.
func (o *Objects) load(spec *ebpf.CollectionSpec) error {
	cfg := o.cfg
	names := []string{captureProgCaptureTcIngress, captureProgCaptureTcEgress, captureProgCaptureXdp}
	output, unused := captureMapEvents, captureMapRb
	if cfg.RingBuf > 0 {
		if err := features.HaveMapType(ebpf.RingBuf); err != nil {
			return probeErr("BPF ring buffer (Linux 5.8+)", err)
		}
		if cfg.XDP {
			if err := features.HaveProgramHelper(ebpf.XDP, asm.FnXdpLoadBytes); err != nil {
				return probeErr("bpf_xdp_load_bytes, for --ringbuf with XDP (Linux 5.18+)", err)
			}
		}
		if cfg.RingBuf < uint32(os.Getpagesize()) || cfg.RingBuf&(cfg.RingBuf-1) != 0 {
			return fmt.Errorf("ring buffer size %d: must be a power of two of at least a page", cfg.RingBuf)
		}
		spec.Maps[captureMapRb].MaxEntries = cfg.RingBuf
		wake := cfg.RingBufWakeup
		if wake == 0 {
			wake = cfg.RingBuf / 32
		}
		o.rbWakeup = wake
		if err := spec.Variables[captureVarRbWakeup].Set(uint64(wake)); err != nil {
			return fmt.Errorf("set ring buffer wakeup: %w", err)
		}
		// The XDP one needs bpf_xdp_load_bytes, Linux 5.18.
		names = []string{captureProgCaptureTcIngressRb, captureProgCaptureTcEgressRb, captureProgCaptureXdpRb}
		output, unused = captureMapRb, captureMapEvents
		delete(spec.Maps, captureMapOverflow) // only the perf programs name it
	} else if cfg.Overflow {
		if err := spec.Variables[captureVarHasOverflow].Set(uint8(1)); err != nil {
			return fmt.Errorf("enable overflow ring: %w", err)
		}
	}
	if cfg.Bell {
		if err := spec.Variables[captureVarHasBell].Set(uint8(1)); err != nil {
			return fmt.Errorf("enable doorbell: %w", err)
		}
	}
	xmit := cfg.xmitWanted()
	if xmit && cfg.RingBuf > 0 {
		if cfg.EgressAt == EgressXmit {
			return fmt.Errorf("egress at transmit is written to the perf rings: drop --ringbuf or record egress at tc: %w", ErrUnsupported)
		}
		xmit, o.xmitWhy = false, "the transmit hook writes to the perf rings, not to --ringbuf"
	}
	// Only the programs that will be attached: each one loaded costs a
	// verifier run at start-up.
	var want []string
	switch {
	case cfg.XDP:
		want = names[2:]
	case cfg.In && cfg.Out && !(xmit && cfg.EgressAt == EgressXmit):
		want = names[:2]
	case cfg.In:
		want = names[:1]
	case !xmit || cfg.EgressAt != EgressXmit:
		want = names[1:2]
	}
	want = append(want, captureProgCaptureXmit) // dropped below unless wanted
	for name := range spec.Programs {
		if !slices.Contains(want, name) {
			delete(spec.Programs, name)
		}
	}
	delete(spec.Maps, unused)
	if xmit {
		if err := prepareXmit(spec, cfg); err != nil {
			return err
		}
		if cfg.xmitLinear {
			if err := spec.Variables[captureVarXmitDynptr].Set(uint8(0)); err != nil {
				return err
			}
		}
	} else {
		dropXmit(spec)
	}
	opts := ebpf.CollectionOptions{Cache: o.kernelBTF}
	coll, err := ebpf.NewCollectionWithOptions(spec, opts)
	if err != nil && xmit && len(cfg.Filter) > 0 {
		// Before Linux 6.12 a tp_btf program may not make an skb dynptr:
		// the filter then reads the packet's linear part only.
		if spec.Variables[captureVarXmitDynptr].Set(uint8(0)) == nil {
			if c, err2 := ebpf.NewCollectionWithOptions(spec, opts); err2 == nil {
				coll, err = c, nil
			}
		}
	}
	if err != nil && xmit && cfg.EgressAt != EgressXmit {
		// The kernel lacks what the transmit hook needs (BTF, the
		// tracepoint, bpf_skb_output) or refuses it: tc egress, then.
		xerr := classify("load the transmit hook", err)
		dropXmit(spec)
		if coll, err = ebpf.NewCollectionWithOptions(spec, opts); err == nil {
			xmit, o.xmitWhy = false, xerr.Error()
		}
	}
	if err != nil {
		return classify("load BPF programs", err)
	}
	defer coll.Close() // what was not detached below
	o.objs.Counters = coll.DetachMap(captureMapCounters)
	if cfg.Proc {
		o.objs.SkOwner = coll.DetachMap(captureMapSkOwner)
		o.objs.Procs = coll.DetachMap(captureMapProcs)
	}
	if cfg.CountFlows > 0 {
		o.objs.Flows = coll.DetachMap(captureMapFlows)
	}
	if cfg.Bell {
		// Armed through memory shared with the kernel (Linux 5.5+: the
		// global data maps are mmapable); without it, no doorbell.
		if v := coll.Variables[captureVarBellArmed]; v != nil && v.Set(uint32(0)) == nil {
			o.bellArmed = v
			o.objs.Bell = coll.DetachMap(captureMapBell)
		}
	}
	if cfg.RingBuf > 0 {
		o.objs.Rb = coll.DetachMap(output)
	} else {
		o.objs.Events = coll.DetachMap(output)
		if cfg.Overflow {
			o.objs.Overflow = coll.DetachMap(captureMapOverflow)
		}
	}
	if xmit {
		o.objs.CaptureXmit = coll.DetachProgram(captureProgCaptureXmit)
		o.objs.XmitIfaces = coll.DetachMap(captureMapXmitIfaces)
		o.objs.XmitScratch = coll.DetachMap(captureMapXmitScratch)
	}
	if cfg.XDP {
		o.objs.CaptureXdp = coll.DetachProgram(names[2])
	} else {
		if cfg.In {
			o.objs.CaptureTcIngress = coll.DetachProgram(names[0])
		}
		if cfg.Out {
			o.objs.CaptureTcEgress = coll.DetachProgram(names[1])
		}
	}
	return nil
}

// RingBuf is the BPF ring buffer the programs write to, or nil when they
// write to the perf event array (Events).
func (o *Objects) RingBuf() *ebpf.Map { return o.objs.Rb }

// RingBufWakeup is the pending bytes at which the programs wake the ring
// buffer's reader.
func (o *Objects) RingBufWakeup() uint32 { return o.rbWakeup }

// filterSymbol is the subprogram in capture.c whose body the filter replaces.
const filterSymbol = "pcap_filter"

// spliceFilter replaces the body of the pcap_filter subprogram in ps with
// body, keeping the first instruction's metadata (symbol, BTF func info) so
// the kernel still sees the same functions.
func spliceFilter(ps *ebpf.ProgramSpec, body asm.Instructions) error {
	start, end := -1, len(ps.Instructions)
	for i, ins := range ps.Instructions {
		sym := ins.Symbol()
		if sym == "" {
			continue
		}
		if start >= 0 {
			end = i
			break
		}
		if sym == filterSymbol {
			start = i
		}
	}
	if start < 0 {
		return fmt.Errorf("program %s has no %s subprogram to splice the filter into", ps.Name, filterSymbol)
	}
	body = slices.Clone(body)
	body[0] = body[0].WithMetadata(ps.Instructions[start].Metadata)
	ps.Instructions = slices.Concat(ps.Instructions[:start], body, ps.Instructions[end:])
	return nil
}

// probeErr reports a failed feature probe: unsupported when the kernel
// lacks the feature, else what went wrong (permissions, say).
func probeErr(what string, err error) error {
	if errors.Is(err, ebpf.ErrNotSupported) {
		return fmt.Errorf("%s: %w", what, ErrUnsupported)
	}
	return classify("probe "+what, err)
}

// classify wraps err with the sentinel a user needs to see.
func classify(what string, err error) error {
	switch {
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%s: %w (%v)", what, ErrPermission, err)
	case errors.Is(err, ebpf.ErrNotSupported):
		return fmt.Errorf("%s: %w (%v)", what, ErrUnsupported, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Events is the perf event array the programs write records to.
func (o *Objects) Events() *ebpf.Map { return o.objs.Events }

// Overflow is the perf event array that takes the records Events refuses,
// or nil when the programs have none (Config.Overflow).
func (o *Objects) Overflow() *ebpf.Map { return o.objs.Overflow }

// Bell is the doorbell's perf event array, or nil when the programs ring
// none (Config.Bell not set, or a kernel before 5.5). Its events should wake
// the reader at every record.
func (o *Objects) Bell() *ebpf.Map { return o.objs.Bell }

// ArmBell arms the doorbell (on) or disarms it: armed, the next record
// the programs write rings it and disarms it. Arming is a store to memory
// shared with the kernel (no system call), followed by a full memory
// barrier: a caller that looks at the rings after arming sees every record
// written before the programs could see the bell armed.
func (o *Objects) ArmBell(on bool) {
	if o.bellArmed == nil {
		return
	}
	v := uint32(0)
	if on {
		v = 1
	}
	_ = o.bellArmed.Set(v) // cannot fail: Set(0) worked at load
	// Set is a plain copy; an atomic read-modify-write (a locked
	// instruction on amd64) keeps the loads that follow from passing it.
	fence.Add(1)
}

// fence is ArmBell's barrier.
var fence atomic.Uint32

// Close releases the programs and maps. Attachments made through bpf links
// hold their own reference and must be closed first.
func (o *Objects) Close() error {
	err := o.closeProc()
	if o.xmitLink != nil {
		err = errors.Join(err, o.xmitLink.Close())
		o.xmitLink = nil
	}
	return errors.Join(err, o.objs.Close())
}

// Counters are the kernel-side counters, summed over CPUs.
type Counters struct {
	Seen     uint64 // packets the programs ran on
	Sent     uint64 // records written to the perf ring
	Failed   uint64 // records the ring refused: lost in the kernel
	Filtered uint64 // packets not sent (direction or filter)
	// ProcFiltered counts the packets that passed the filter and were
	// not sent because of Config.Match.
	ProcFiltered uint64
	// Overflowed counts the records of Sent that the first perf ring
	// refused and the overflow ring took (Config.Overflow).
	Overflowed uint64
}

// Counters reads and sums the per-CPU counters.
func (o *Objects) Counters() (Counters, error) {
	var per []captureCounters
	if err := o.objs.Counters.Lookup(uint32(0), &per); err != nil {
		return Counters{}, fmt.Errorf("read counters: %w", err)
	}
	var c Counters
	for _, p := range per {
		c.Seen += p.Seen
		c.Sent += p.Sent
		c.Failed += p.Failed
		c.Filtered += p.Filtered
		c.ProcFiltered += p.ProcFiltered
		c.Overflowed += p.Overflowed
	}
	return c, nil
}

// Attachment describes how the programs were attached to one interface.
type Attachment struct {
	Hook     packet.Hook
	Mode     string // "tcx", "clsact" or "xdp"
	Fallback string // why a fallback was taken, or ""
	Others   string // the other tools' programs found on the hooks (otherPrograms), or ""
	Egress   string // what to know of egress here (a shaping root qdisc), or ""
	// EgressAt is where egress is recorded: "tc", "xmit" (at transmit,
	// after the qdisc), or "" when it is not.
	EgressAt EgressHook
	closers  []io.Closer
}

// Where says where the programs run, for the first line and the pcapng
// interface description: the attach mode, and egress at transmit.
func (a *Attachment) Where() string {
	switch {
	case a.EgressAt != EgressXmit:
		return a.Mode
	case a.Mode == "":
		return "egress at xmit"
	}
	return a.Mode + ", egress at xmit"
}

// Close detaches everything this attachment added, in reverse order.
func (a *Attachment) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i].Close(); err != nil {
			errs = append(errs, err)
		}
	}
	a.closers = nil
	return errors.Join(errs...)
}

// Attach attaches the programs to the interface with index ifindex. On a
// loopback interface every packet passes tc egress and then tc ingress:
// there only one hook is attached, ingress unless only out is asked, so
// each packet is recorded once, as libpcap keeps only the incoming copy.
// On error nothing stays attached.
func (o *Objects) Attach(ifindex int, ifname string, loopback bool) (*Attachment, error) {
	if o.cfg.XDP {
		l, err := link.AttachXDP(link.XDPOptions{Program: o.objs.CaptureXdp, Interface: ifindex})
		if err != nil {
			what := fmt.Sprintf("attach XDP to %q", ifname)
			if others := otherPrograms(ifindex); strings.Contains(others, "xdp: ") {
				// The hook holds one program: say whose it is.
				what += " (" + others[strings.Index(others, "xdp: "):] + " is attached there)"
			}
			if errors.Is(err, unix.ERANGE) {
				// What the kernel logs (veth: "peer MTU too large") and
				// does not return.
				err = fmt.Errorf("%w: the interface's MTU (on a veth, its peer's) is too large for XDP: lower it, or capture at tc (drop --xdp)", err)
			}
			return nil, classify(what, err)
		}
		return &Attachment{Hook: packet.HookXDP, Mode: "xdp", closers: []io.Closer{l}}, nil
	}
	mode := o.cfg.TCMode
	if mode == "" {
		mode = TCAuto
	}
	a := &Attachment{Hook: packet.HookTC, Others: otherPrograms(ifindex)}
	in, out := o.cfg.In, o.cfg.Out
	if loopback && in && out {
		out = false
	}
	q := shapingQdisc(ifindex)
	xmit := out && o.objs.CaptureXmit != nil && (o.cfg.EgressAt == EgressXmit || q != "")
	switch {
	case xmit:
		a.EgressAt = EgressXmit
		if q != "" {
			a.Egress = fmt.Sprintf("egress on %s is recorded at transmit, after its %s qdisc", ifname, q)
		}
	case out:
		a.EgressAt = EgressTC
		if q != "" {
			a.Egress = fmt.Sprintf("egress on %s is recorded before its %s qdisc: packets it drops are recorded as sent, and stamped before they wait in it", ifname, q)
			if why := o.xmitUnavailable(); why != "" {
				a.Egress += " (not at transmit: " + why + ")"
			}
		}
	}
	if xmit && !in {
		// Nothing at tc.
		if err := o.recordAtXmit(a, ifindex, ifname); err != nil {
			return nil, err
		}
		return a, nil
	}
	if err := o.attachTC(a, mode, ifindex, ifname, in, out && !xmit); err != nil {
		return nil, err
	}
	if xmit {
		if err := o.recordAtXmit(a, ifindex, ifname); err != nil {
			_ = a.Close()
			return nil, err
		}
	}
	return a, nil
}

// attachTC attaches the tc programs of the directions asked (tcx, or a
// clsact qdisc's filters) and sets a.Mode; on error nothing stays attached.
func (o *Objects) attachTC(a *Attachment, mode TCMode, ifindex int, ifname string, in, out bool) error {
	if mode != TCClsact {
		err := o.attachTCX(a, ifindex, ifname, in, out)
		if err == nil {
			a.Mode = "tcx"
			return nil
		}
		if mode == TCX || !errors.Is(err, ErrUnsupported) {
			return err
		}
		a.Fallback = "tcx not supported (kernel before 6.6), using a clsact qdisc"
	}
	if err := attachClsact(a, ifindex, ifname, o.objs.CaptureTcIngress, o.objs.CaptureTcEgress, in, out); err != nil {
		return err
	}
	a.Mode = "clsact"
	return nil
}

func (o *Objects) attachTCX(a *Attachment, ifindex int, ifname string, in, out bool) error {
	hooks := []struct {
		on     bool
		prog   *ebpf.Program
		attach ebpf.AttachType
		name   string
		anchor link.Anchor
	}{
		// Ingress first and egress last: what arrives is seen before
		// another program (a CNI, a firewall) drops or redirects it, and
		// what leaves after they had their say.
		{in, o.objs.CaptureTcIngress, ebpf.AttachTCXIngress, "ingress", link.Head()},
		{out, o.objs.CaptureTcEgress, ebpf.AttachTCXEgress, "egress", link.Tail()},
	}
	for _, h := range hooks {
		if !h.on {
			continue
		}
		l, err := link.AttachTCX(link.TCXOptions{Interface: ifindex, Program: h.prog, Attach: h.attach, Anchor: h.anchor})
		if err != nil {
			_ = a.Close()
			return classify(fmt.Sprintf("attach tcx %s to %q", h.name, ifname), err)
		}
		a.closers = append(a.closers, l)
	}
	return nil
}

// raiseMemlock lifts RLIMIT_MEMLOCK, which kernels before 5.11 charge BPF
// maps and programs to. cilium/ebpf's rlimit package does this only where it
// is needed, but it finds out by creating a map in its init, on every
// start, --version included (its cost: docs/performance.md); lifting a
// limit newer kernels ignore costs two system calls.
func raiseMemlock() error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		return fmt.Errorf("read memlock limit: %w", err)
	}
	if lim.Cur == unix.RLIM_INFINITY {
		return nil
	}
	want := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &want)
	if errors.Is(err, os.ErrPermission) {
		// No CAP_SYS_RESOURCE: up to the hard limit, then.
		want.Cur, want.Max = lim.Max, lim.Max
		err = unix.Setrlimit(unix.RLIMIT_MEMLOCK, &want)
	}
	if err != nil {
		return fmt.Errorf("raise memlock limit: %w", err)
	}
	return nil
}
