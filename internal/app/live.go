package app

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/capture"
	"github.com/bpftop-cap/bpftop-cap/decode"
	"github.com/bpftop-cap/bpftop-cap/packet"
	"github.com/bpftop-cap/bpftop-cap/pcapfile"
	"github.com/bpftop-cap/bpftop-cap/proc"
	"github.com/bpftop-cap/bpftop-cap/ui"
)

// counterInterval is how often the capture's loss counters reach the view:
// as often as its rates move. Every timer wakes the process.
const counterInterval = time.Second

// kernelFlowInterval is how often the flow table takes the kernel's flow
// counts.
const kernelFlowInterval = time.Second

// liveDefaultPerfBuffer is the live view's per-CPU perf ring: twice
// headless mode's, halved on machines with more than two CPUs until all
// fit in liveTotalPerfBuffer (capture.ScalePerCPU), since decoding and the
// screen compete for the CPU and the rings must absorb their pauses, and a
// bulk flow fills one CPU's ring (docs/performance.md).
const (
	liveDefaultPerfBuffer = 64 << 20
	liveTotalPerfBuffer   = 128 << 20
)

// liveGCPercent is the garbage collector's target for the live view,
// unless GOGC says otherwise. Its heap is mostly long-lived buffers (the
// retention ring, the capture's batches) and it makes little garbage, so
// collecting when the heap grows by a quarter rather than doubles costs
// little CPU and keeps the RSS near what is live (docs/performance.md).
const liveGCPercent = 25

// live captures on the interfaces into a decode.Engine and runs the live
// view over it until the user quits or a signal arrives.
func live(cfg *Config, stdout, stderr io.Writer) error {
	tty, err := terminal(stdout) // the first thing to hear about
	if err != nil {
		return err
	}
	return runCapture(cfg, stdout, stderr, &viewer{tty: tty})
}

// viewer is the live view mode: the capture feeds the engine, the view
// shows it; an interface that goes away or -c detaches the capture but the
// view stays open on what was captured.
type viewer struct {
	tty          *os.File
	eng          *decode.Engine
	reachedCount atomic.Bool
	procFiltered atomic.Uint64 // the kernel's count of other processes' packets (--pid, --comm, --cgroup)
	kflows       *kernelFlows
	ifnames      map[int]string
	saves        sync.WaitGroup // saves in flight, finished before we exit
	// Lines the capture says while the view is on the screen (-i any: an
	// interface passed over) wait until it is gone.
	viewing atomic.Bool
	notesMu sync.Mutex
	notes   []string
}

// note is the capture's Config.Note in the live view: to stderr before the
// view starts, kept for after it while it runs.
func (v *viewer) note(stderr io.Writer) func(string) {
	return func(s string) {
		v.notesMu.Lock()
		defer v.notesMu.Unlock()
		if v.viewing.Load() {
			v.notes = append(v.notes, s)
			return
		}
		fmt.Fprintf(stderr, "bpftop-cap: %s\n", s)
	}
}

func (v *viewer) prepare(c *run, cc *capture.Config) error {
	cc.Note = v.note(c.stderr)
	// The kernel's flow counts key Ethernet frames: not kept when an
	// interface has another link type.
	ethernet := true
	for _, name := range c.cfg.Ifaces {
		if ifi, err := net.InterfaceByName(name); err != nil || capture.LinkTypeOf(ifi) != packet.LinkTypeEthernet {
			ethernet = false
		}
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(liveGCPercent)
	}
	cc.Reader.PerCPUBuffer = c.cfg.perfBufferBytes(capture.ScalePerCPU(liveDefaultPerfBuffer, liveTotalPerfBuffer, capture.OnlineCPUs()))
	// The kernel counts the packets a full ring refuses by flow, so that
	// the table's counts stay whole; not with -c, where the table must
	// hold the first N packets and no more.
	if c.cfg.Count == 0 && ethernet {
		cc.BPF.CountFlows = uint32(c.cfg.MaxFlows)
	}
	c.keepOnGone = true
	return nil
}

func (v *viewer) abort() {}

func (v *viewer) start(c *run) error {
	cfg, sess := c.cfg, c.sess
	ecfg := engineConfig(cfg)
	ecfg.KernelCounts = c.countsFlows
	v.eng = decode.NewEngine(ecfg)
	c.eng = v.eng
	v.ifnames = map[int]string{}
	for _, ifi := range sess.Ifaces {
		v.ifnames[ifi.Index] = ifi.Name
	}
	v.eng.SetInterfaceNames(v.ifnames)
	if c.procs != nil {
		v.eng.SetProcessNames(c.procs.LabelAt)
		v.eng.SetProcessContainers(containerOf(c.procs))
	}

	// The reader adds every packet to the engine itself, from where the
	// kernel put it, blocking while the engine works (the must-deliver
	// path: backpressure lands in the perf ring, where it is counted).
	// With a limit (-c) it adds that many, then detaches: the view stays
	// open on what was captured.
	c.g.Go(cancelling(c.stop, func() error {
		return sess.RunPasses(c.readCtx, v.eng.Writer(), cfg.Count, func() {
			v.reachedCount.Store(true)
			_ = sess.Detach()
		}, &capture.WriteResult{})
	}))
	c.g.Go(cancelling(c.stop, func() error {
		t := time.NewTicker(counterInterval)
		defer t.Stop()
		named := v.ifnames
		for {
			v.copyCounters(sess)
			if sess.Any() { // interfaces come and go: name them
				if names := sess.LinkNames(); !maps.Equal(names, named) {
					named = names
					v.eng.SetInterfaceNames(names)
				}
			}
			select {
			case <-c.ctx.Done():
				return nil
			case <-t.C:
			}
		}
	}))
	v.kflows = &kernelFlows{sess: sess, eng: v.eng}
	if ecfg.KernelCounts {
		c.g.Go(noPanic(func() error {
			t := time.NewTicker(kernelFlowInterval)
			defer t.Stop()
			for {
				select {
				case <-c.ctx.Done():
					return nil
				case <-t.C:
				}
				v.kflows.round()
			}
		}))
	}
	return nil
}

func (v *viewer) wait(c *run) error {
	cfg, sess := c.cfg, c.sess
	stopped := func() string {
		if err := c.goneErr(); err != nil {
			return err.Error() + "; w saves what was captured"
		}
		if v.reachedCount.Load() {
			return fmt.Sprintf("captured %d packets (-c); w saves them", cfg.Count)
		}
		return ""
	}
	format, note := saveFormat(cfg, len(sess.Ifaces))
	save, ext := v.saver(c, format), "."+format
	var procFiltered func() uint64
	if cfg.procFiltered() {
		procFiltered = v.procFiltered.Load
	}
	model := ui.New(ui.Config{
		Engine:        v.eng,
		ShowInterface: len(sess.Ifaces) > 1 || sess.Any(),
		ShowProcess:   c.procs != nil,
		NoProcesses:   noProcesses(cfg),
		ProcessName:   procName(c.procs),
		Interfaces:    v.ifnames,
		Stopped:       stopped,
		Source:        names(sess, ","),
		Hook:          sess.Attach.Where(),
		Filter:        cfg.filterText(),
		Live:          true,
		ProcFiltered:  procFiltered,
		Save:          save,
		SaveExt:       ext,
		SaveNote:      note,
		SaveTag:       names(sess, "_"),
	})
	v.notesMu.Lock()
	v.viewing.Store(true)
	v.notesMu.Unlock()
	err := viewFailed(c.ctx, runView(c.ctx, model, v.tty))
	v.notesMu.Lock()
	v.viewing.Store(false)
	c.notes = append(c.notes, v.notes...)
	v.notesMu.Unlock()
	v.saves.Wait() // a save still running (a signal ended the view) is finished
	return err
}

// saveFormat is the format of the view's w: --format's, else pcapng when
// the packets carry more than pcap can keep (several interfaces, or both
// directions), else pcap, which every tool reads; and what the footer
// says of it.
func saveFormat(cfg *Config, ifaces int) (format, note string) {
	switch {
	case cfg.Format != "":
		return cfg.Format, cfg.Format
	case cfg.captureAny():
		return "pcap", "pcap: Linux cooked v2, as tcpdump -i any writes (interface and direction kept)"
	case ifaces > 1:
		return "pcapng", "pcapng: keeps each packet's interface and direction"
	case cfg.Direction == "inout":
		return "pcapng", "pcapng: keeps each packet's direction"
	}
	return "pcap", "pcap: one interface, one direction"
}

// saver is the view's w: the retention ring to a file in format.
func (v *viewer) saver(c *run, format string) ui.SaveFunc {
	cfg, sess := c.cfg, c.sess
	s := pcapfile.Save{Format: format, Snaplen: cfg.Snaplen}
	if c.procs != nil {
		s.Processes = c.procs.Comments
	}
	if sess.Any() {
		// As -w writes -i any: LINUX_SLL2, each interface as the
		// session knew it.
		s.Cooked = func(ifindex uint32) (pcapfile.CookedIface, bool) {
			l, ok := sess.Link(ifindex)
			return pcapfile.CookedIface{Name: l.Name, HAType: l.HWType, Addr: l.Addr, Hook: l.Hook}, ok
		}
		s.Filter, s.Application = cfg.filterText(), "bpftop-cap "+cfg.Version
		s.Comment = "saved from the live view's retention ring"
	} else if format == "pcapng" {
		s.Hooks = map[int]packet.Hook{}
		for i, ifi := range sess.Ifaces {
			s.Ifaces = append(s.Ifaces, pcapfile.IfaceInfo{Index: ifi.Index, Name: ifi.Name, Hook: sess.Attachments[i].Where(), LinkType: sess.LinkTypes[i]})
			s.Hooks[ifi.Index] = sess.Attachments[i].Hook
			if sess.Attachments[i].EgressAt == bpf.EgressXmit {
				if s.OutHooks == nil {
					s.OutHooks = map[int]packet.Hook{}
				}
				s.OutHooks[ifi.Index] = packet.HookXmit
			}
		}
		s.Filter, s.Application = cfg.filterText(), "bpftop-cap "+cfg.Version
		s.Comment = "saved from the live view's retention ring"
	}
	return trackSaves(&v.saves, func(path string, pkts []packet.Packet) (int, error) {
		return pcapfile.SaveFile(path, pkts, s)
	})
}

// trackSaves counts the saves in flight in wg.
func trackSaves(wg *sync.WaitGroup, save ui.SaveFunc) ui.SaveFunc {
	return func(path string, pkts []packet.Packet) (int, error) {
		wg.Add(1)
		defer wg.Done()
		return save(path, pkts)
	}
}

func (v *viewer) drained(c *run) (uint64, error) {
	v.copyCounters(c.sess)
	if v.kflows.failed > 0 {
		c.notes = append(c.notes, fmt.Sprintf("reading the kernel's flow counts failed %d times (last: %v); the flow table counted what was decoded then", v.kflows.failed, v.kflows.lastErr))
	}
	return v.eng.Stats(time.Now()).Packets, nil
}

// engineConfig bounds the live view's flow table and retention ring.
func engineConfig(cfg *Config) decode.Config {
	ring, err := parseSize(cfg.RingSize)
	if err != nil {
		ring = 0 // the default
	}
	return decode.Config{MaxFlows: cfg.MaxFlows, RingBytes: int(ring)}
}

// cancelling runs fn (a panic becomes an error, see noPanic); an error
// cancels the view, which then ends and reports it.
func cancelling(cancel context.CancelCauseFunc, fn func() error) func() error {
	return func() error {
		err := noPanic(fn)()
		if err != nil {
			cancel(err)
		}
		return err
	}
}

// copyCounters hands the capture's loss counters to the engine (lost in
// ring is the larger of what perf and the BPF program counted), and keeps
// the process filters' count for the status bar.
func (v *viewer) copyCounters(sess *capture.Session) {
	c, _ := sess.Counters() // zero on error: perf's count alone
	v.eng.SetCaptureCounters(sess.LostInRing(c), sess.Reader.Stats.Dropped.Load())
	v.procFiltered.Store(c.ProcFiltered)
}

// kernelFlows gives the flow table, once a round, the kernel program's
// counts of the packets of each flow that the ring could not take.
type kernelFlows struct {
	sess    *capture.Session
	eng     *decode.Engine
	keys    []packet.FlowKey
	flows   []decode.KernelFlow
	clear   bool // a round failed with evicted keys taken: forget all the kernel's flows
	failed  int  // rounds that failed; their tables kept what was decoded
	lastErr error
}

// round deletes from the kernel the flows the table evicted (so a flow
// seen again starts from zero in both), then reads the kernel's flows into
// the table.
func (k *kernelFlows) round() {
	if err := k.sync(); err != nil {
		k.failed++
		k.lastErr = err
		k.clear = true
	}
}

func (k *kernelFlows) sync() error {
	evicted, all := k.eng.TakeEvicted(k.keys[:0])
	k.keys = evicted
	if all || k.clear {
		if err := k.sess.ClearFlows(); err != nil {
			return err
		}
		k.clear = false
		evicted = evicted[:0]
	}
	if err := k.sess.DeleteFlows(evicted); err != nil {
		return err
	}
	kfs := k.flows[:0]
	err := k.sess.Flows(func(fk *packet.FlowKey, c *packet.FlowCounts) {
		kfs = append(kfs, decode.KernelFlow{FlowKey: *fk, FlowCounts: *c})
	})
	k.flows = kfs
	if err != nil {
		return err
	}
	k.eng.SetKernelCounts(kfs, time.Now())
	return nil
}

// procName names a packet's process for the packet detail, nil without
// attribution.
func procName(t *proc.Table) func(uint32, time.Time) string {
	if t == nil {
		return nil
	}
	return t.LabelAt
}
