package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"golang.org/x/sync/errgroup"
	"golang.org/x/term"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/capture"
	"github.com/bpftop-cap/bpftop-cap/decode"
	"github.com/bpftop-cap/bpftop-cap/packet"
	"github.com/bpftop-cap/bpftop-cap/pcapfile"
	"github.com/bpftop-cap/bpftop-cap/ui"
)

// counterInterval is how often the capture's loss counters reach the view:
// as often as its rates move. Every timer wakes the process (on the VMs
// measured, 0.1 ms of CPU a wakeup, with the Go runtime's own).
const counterInterval = time.Second

// viewFPS is the live view's frame rate: Bubble Tea's renderer wakes that
// often even when nothing changed, and key presses show within a frame.
// Its default of 60 cost an idle view 3.5 ms of CPU a second more than 30
// (perf stat -p over 10 s of an idle view in tmux).
const viewFPS = 30

// live captures on an interface into a decode.Engine and runs the live view
// over it until the user quits or a signal arrives.
func live(o *options, stdout, stderr io.Writer) error {
	tty, err := terminal(stdout)
	if err != nil {
		return err
	}
	if _, err := capture.Precheck(o.ifaces...); err != nil {
		return err
	}
	liveGC()
	ccfg := captureConfig(o, capture.ScalePerCPU(liveDefaultPerfBuffer, liveTotalPerfBuffer, capture.OnlineCPUs()))
	// The kernel counts the packets a full ring refuses by flow, so that
	// the table's counts stay whole; not with -c, where the table must
	// hold the first N packets and no more.
	if o.count == 0 {
		ccfg.BPF.CountFlows = uint32(o.maxFlows)
	}
	sess, err := capture.Open(ccfg)
	if flowsErr := err; err != nil && ccfg.BPF.CountFlows > 0 {
		// A kernel that refuses the flow table (its verifier, its memory)
		// still gets the capture.
		ccfg.BPF.CountFlows = 0
		if sess, err = capture.Open(ccfg); err == nil {
			fmt.Fprintf(stderr, "bpftop-cap: flows not counted in the kernel (%v): packets lost in a full ring are missing from the flow table's counts\n", flowsErr)
		}
	}
	if err != nil {
		return err
	}
	defer sess.Close() // detaches on every way out, panics included
	ecfg := engineConfig(o)
	ecfg.KernelCounts = ccfg.BPF.CountFlows > 0
	eng := decode.NewEngine(ecfg)

	if sess.Attach.Fallback != "" {
		fmt.Fprintf(stderr, "bpftop-cap: %s\n", sess.Attach.Fallback)
	}
	sigCtx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stopSignals()
	restorePriority := raisePriority(o, stderr)
	defer restorePriority()
	// ctx ends the view: a signal, or a capture goroutine failing.
	ctx, cancel := context.WithCancelCause(sigCtx)
	defer cancel(nil)
	readCtx, stopRead := context.WithCancel(context.Background())
	defer stopRead()
	countCtx, stopCount := context.WithCancel(ctx)
	defer stopCount()

	batches := make(chan *capture.Batch, 4)
	var reachedCount atomic.Bool
	var g errgroup.Group
	g.Go(cancelling(cancel, func() error {
		defer close(batches)
		return sess.Run(readCtx, batches)
	}))
	g.Go(func() error {
		return feed(batches, eng, cancel, o.count, func() {
			reachedCount.Store(true)
			_ = sess.Detach()
		})
	})
	// An interface that goes away stops the capture but not the view:
	// what was captured can still be looked at and saved.
	var gone atomic.Pointer[error]
	g.Go(noPanic(func() error {
		sess.WatchInterface(countCtx, watchInterval, func(err error) {
			gone.Store(&err)
			_ = sess.Detach()
		})
		return nil
	}))
	stopped := func() string {
		if err := gone.Load(); err != nil {
			return (*err).Error() + "; w saves what was captured"
		}
		if reachedCount.Load() {
			return fmt.Sprintf("captured %d packets (-c); w saves them", o.count)
		}
		return ""
	}
	if o.statsFile != "" {
		g.Go(noPanic(func() error { writeStatsEvery(countCtx, o.statsFile, sess, eng); return nil }))
	}
	g.Go(cancelling(cancel, func() error {
		t := time.NewTicker(counterInterval)
		defer t.Stop()
		for {
			copyCounters(sess, eng)
			select {
			case <-countCtx.Done():
				return nil
			case <-t.C:
			}
		}
	}))

	kflows := &kernelFlows{sess: sess, eng: eng}
	if ecfg.KernelCounts {
		g.Go(noPanic(func() error {
			t := time.NewTicker(kernelFlowInterval)
			defer t.Stop()
			for {
				select {
				case <-countCtx.Done():
					return nil
				case <-t.C:
				}
				kflows.round()
			}
		}))
	}

	save, ext := savePcap(uint32(o.snaplen)), ".pcap"
	if o.format == "pcapng" {
		save, ext = savePcapng(sess, o), ".pcapng"
	}
	// A save still running when the view ends (a signal) is finished
	// before we exit, so the file is never left cut short.
	var saves sync.WaitGroup
	save = trackSaves(&saves, save)
	defer saves.Wait()
	names := map[int]string{}
	for _, ifi := range sess.Ifaces {
		names[ifi.Index] = ifi.Name
	}
	eng.SetInterfaceNames(names)
	model := ui.New(ui.Config{
		Engine:        eng,
		ShowInterface: len(sess.Ifaces) > 1,
		Stopped:       stopped,
		Source:        strings.Join(sess.Names(), ","),
		Hook:          sess.Attach.Mode,
		Filter:        strings.Join(o.filter, " "),
		Live:          true,
		Save:          save,
		SaveExt:       ext,
		SaveTag:       strings.Join(sess.Names(), "_"),
	})
	if o.readyFile != "" {
		if err := writeReadyFile(o.readyFile); err != nil {
			cancel(err)
		}
	}
	runErr := runView(ctx, model, tty)
	restorePriority()
	releaseSignals(stopSignals)

	// Detach first so the rings stop filling, then drain them.
	detachErr := sess.Detach()
	stopRead()
	stopCount()
	readErr := g.Wait()
	goneErr := error(nil)
	if err := gone.Load(); err != nil {
		goneErr = *err
		detachErr = nil // the links died with the interface
	}
	copyCounters(sess, eng)
	writeStats(o.statsFile, sess, eng)
	counters, cerr := sess.Counters()

	st := eng.Stats(time.Now())
	fmt.Fprintf(stderr, "%d packets captured, %d lost in ring, %d dropped\n", st.Packets, st.Lost, st.Dropped)
	printCaptureNotes(stderr, o, sess, st.Lost, counters, cerr == nil)
	if kflows.failed > 0 {
		fmt.Fprintf(stderr, "bpftop-cap: reading the kernel's flow counts failed %d times (last: %v); the flow table counted what was decoded then\n", kflows.failed, kflows.lastErr)
	}
	switch viewErr := viewFailed(ctx, runErr); {
	case viewErr != nil:
		return viewErr
	case goneErr != nil:
		return goneErr
	case readErr != nil:
		return readErr
	case detachErr != nil:
		return fmt.Errorf("detach: %w", detachErr)
	}
	return nil
}

// liveGCPercent is the garbage collector's target for the live view,
// unless GOGC says otherwise. Its heap is mostly long-lived buffers (the
// retention ring, the capture's batches) and it makes little garbage, so
// collecting when the heap grows by a quarter rather than doubles costs
// little CPU and keeps the RSS near what is live: on a bulk TCP stream,
// 148-149 MiB peak instead of 242-250 (two runs each).
const liveGCPercent = 25

func liveGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(liveGCPercent)
	}
}

// liveFile loads a saved capture (-r FILE, no -w) into a decode.Engine and
// runs the live view over it. No privileges are needed.
func liveFile(o *options, stdout, stderr io.Writer) error {
	tty, err := terminal(stdout)
	if err != nil {
		return err
	}
	in, err := pcapfile.OpenFile(o.read)
	if err != nil {
		return err
	}
	defer in.Close()
	if in.LinkType&0x03ffffff != uint32(packet.LinkTypeEthernet) {
		return fmt.Errorf("the live view shows Ethernet captures only; %s is %s (convert it with -r FILE -w OUT)",
			o.read, in.LinkTypeName())
	}
	cfg := engineConfig(o)
	cfg.IdleTimeout = -1 // a file's flows are all shown, however old
	eng := decode.NewEngine(cfg)
	var last time.Time
	var n, kept uint64
	var loadErr error
	for {
		ts, _, origLen, data, err := in.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			loadErr = fmt.Errorf("read %s after %d packets: %w", o.read, n, err)
			if errors.Is(err, io.ErrUnexpectedEOF) {
				loadErr = fmt.Errorf("%s is truncated after %d packets", o.read, n)
			}
			break
		}
		n++
		if len(o.prog) > 0 && !o.prog.Match(data, origLen) {
			continue
		}
		eng.Add(packet.Packet{Nanos: packet.Nanos(ts), OrigLen: origLen, Data: data})
		kept++
		if ts.After(last) {
			last = ts
		}
	}
	if n == 0 && loadErr != nil {
		return loadErr
	}

	sigCtx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stopSignals()
	name := filepath.Base(o.read)
	if o.read == "-" {
		name = "stdin"
	}
	model := ui.New(ui.Config{
		Engine:  eng,
		Source:  name,
		Hook:    "file",
		Filter:  strings.Join(o.filter, " "),
		Save:    savePcap(in.Snaplen),
		SaveTag: strings.TrimSuffix(name, filepath.Ext(name)),
		Now:     func() time.Time { return last }, // rates as of the end of the file
	})
	runErr := runView(sigCtx, model, tty)
	fmt.Fprintf(stderr, "%d packets read, %d shown\n", n, kept)
	if loadErr != nil {
		fmt.Fprintf(stderr, "bpftop-cap: %v\n", loadErr)
	}
	return viewFailed(sigCtx, runErr)
}

// terminal returns stdout if it is a terminal: the live view needs one.
func terminal(stdout io.Writer) (*os.File, error) {
	if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return f, nil
	}
	return nil, usageErr("the live view needs a terminal on stdout; use -w FILE to capture to a pcap file")
}

// runView runs the Bubble Tea program until the user quits or ctx ends.
// Bubble Tea restores the terminal on every way out, panics in Update,
// View and commands included.
func runView(ctx context.Context, model tea.Model, tty *os.File) error {
	sm := &safeModel{inner: model}
	p := tea.NewProgram(sm,
		tea.WithAltScreen(),
		tea.WithMouseCellMotion(),
		tea.WithContext(ctx),
		tea.WithOutput(tty),
		// Signals are ours (signal.NotifyContext cancels ctx): Bubble Tea's
		// own handler would race it and can block its shutdown forever.
		tea.WithoutSignalHandler(),
		tea.WithFPS(viewFPS),
	)
	_, err := p.Run()
	if sm.err != nil {
		return sm.err
	}
	return err
}

// safeModel turns a panic in the model's Update or View into an error
// (with the stack saved to a crash file, not printed) and a clean quit, so
// the terminal is restored and the user sees one line.
type safeModel struct {
	inner tea.Model
	err   error
}

func (m *safeModel) Init() tea.Cmd { return m.inner.Init() }

func (m *safeModel) Update(msg tea.Msg) (_ tea.Model, cmd tea.Cmd) {
	if m.err != nil {
		return m, tea.Quit
	}
	defer func() {
		if r := recover(); r != nil {
			m.err, cmd = recovered(r), tea.Quit
		}
	}()
	m.inner, cmd = m.inner.Update(msg)
	return m, cmd
}

func (m *safeModel) View() (v string) {
	if m.err != nil {
		return ""
	}
	defer func() {
		if r := recover(); r != nil {
			m.err, v = recovered(r), ""
		}
	}()
	return m.inner.View()
}

// viewFailed turns how the view ended into the error to report: nil for a
// quit or a signal, the cause when a capture goroutine cancelled ctx.
func viewFailed(ctx context.Context, runErr error) error {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	var pe *panicError
	switch {
	case errors.As(runErr, &pe):
		return runErr
	case errors.Is(runErr, tea.ErrProgramPanic):
		return fmt.Errorf("live view: %w", runErr)
	case runErr != nil && !errors.Is(runErr, tea.ErrProgramKilled):
		return fmt.Errorf("live view: %w", runErr)
	}
	return nil
}

// captureConfig is the capture the options ask for, with perfBuffer bytes
// per CPU unless --perf-buffer says otherwise (0: the reader's default).
func captureConfig(o *options, perfBuffer int) capture.Config {
	return capture.Config{
		Interfaces: o.ifaces,
		Reader:     capture.Options{PerCPUBuffer: o.perfBufferBytes(perfBuffer)},
		BPF: bpf.Config{
			Snaplen: uint32(o.snaplen),
			In:      o.direction != "out",
			Out:     o.direction != "in",
			XDP:     o.xdp,
			TCMode:  bpf.TCMode(o.tcAttach),
			Filter:  o.prog,
			RingBuf: o.ringBufBytes(),
		},
	}
}

// raisePriority applies --nice once the capture is open and its signals
// are caught. The default is best effort: without CAP_SYS_NICE the capture
// runs as it would have. A --nice given and not applied, or applied in
// part, says so, and the capture goes on. The returned function gives the
// session's autogroup its value back; it is called before the signals are
// let go, and may be called again.
func raisePriority(o *options, stderr io.Writer) (restore func()) {
	p, err := capture.RaisePriority(o.nice)
	if err != nil && o.niceGiven {
		if p.Threads > 0 {
			fmt.Fprintf(stderr, "bpftop-cap: --nice %d applied to the threads only (%v)\n", o.nice, err)
		} else {
			fmt.Fprintf(stderr, "bpftop-cap: --nice %d not applied (%v); capturing at the priority it was started with\n", o.nice, err)
		}
	}
	return p.Restore
}

// ringBufBytes is --ringbuf, or 0 (the perf rings).
func (o *options) ringBufBytes() uint32 {
	if n, err := parseSize(o.ringBuf); err == nil && n > 0 {
		return uint32(n)
	}
	return 0
}

// liveDefaultPerfBuffer is the live view's per-CPU perf ring: twice
// headless mode's, halved on machines with more than two CPUs until all
// fit in liveTotalPerfBuffer (capture.ScalePerCPU), since decoding and the
// screen compete for the CPU and the rings must absorb their pauses, and a
// bulk flow fills one CPU's ring. make bench's TCP cells (5 runs each, in
// one run): the live view lost packets in 2 of 5 runs with 32 MiB, in
// none with 64 MiB.
const (
	liveDefaultPerfBuffer = 64 << 20
	liveTotalPerfBuffer   = 128 << 20
)

// engineConfig bounds the live view's flow table and retention ring.
func engineConfig(o *options) decode.Config {
	ring, err := parseSize(o.ringSize)
	if err != nil {
		ring = 0 // the default
	}
	return decode.Config{MaxFlows: o.maxFlows, RingBytes: int(ring)}
}

// kernelFlowInterval is how often the flow table takes the kernel's flow
// counts.
const kernelFlowInterval = time.Second

// kernelFlows gives the flow table, once a round, the kernel program's
// counts of the packets of each flow that the ring could not take.
type kernelFlows struct {
	sess    *capture.Session
	eng     *decode.Engine
	buf     []decode.KernelFlow
	del     []packet.FlowKey
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
	evicted, all := k.eng.TakeEvicted(k.del[:0])
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
	k.del = evicted
	kfs := k.buf[:0]
	err := k.sess.Flows(func(fk *packet.FlowKey, c *packet.FlowCounts) {
		kfs = append(kfs, decode.KernelFlow{FlowKey: *fk, FlowCounts: *c})
	})
	k.buf = kfs
	if err != nil {
		return err
	}
	k.eng.SetKernelCounts(kfs, time.Now())
	return nil
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

// feed adds every captured packet to the engine, blocking the reader while
// it works (the must-deliver path: backpressure lands in the perf ring,
// where it is counted). The engine keeps a full batch's buffer as it is
// (no copy) until its packets leave the retention ring. After a failure it
// keeps releasing batches so the reader can drain and stop.
//
// With a limit (-c), it adds that many packets, then calls reached once
// (which detaches: the view stays open on what was captured).
func feed(in <-chan *capture.Batch, eng *decode.Engine, cancel context.CancelCauseFunc, limit uint64, reached func()) error {
	var failed error
	var added uint64
	for b := range in {
		if failed != nil || (limit > 0 && added >= limit) {
			b.Release()
			continue
		}
		pkts := b.Packets
		if limit > 0 && uint64(len(pkts)) > limit-added {
			pkts = pkts[:limit-added]
		}
		buf, release := b.Keep()
		if failed = addBatch(eng, pkts, buf, release); failed != nil {
			cancel(failed)
		}
		added += uint64(len(pkts))
		if limit > 0 && added == limit {
			reached()
		}
	}
	return failed
}

func addBatch(eng *decode.Engine, frames []packet.Packet, buf []byte, release func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = recovered(r)
		}
	}()
	eng.AddBatch(frames, buf, release)
	return nil
}

// copyCounters hands the capture's loss counters to the engine: lost in
// ring is the larger of what perf and the BPF program counted.
func copyCounters(sess *capture.Session, eng *decode.Engine) {
	c, _ := sess.Counters() // zero on error: perf's count alone
	eng.SetCaptureCounters(sess.LostInRing(c), sess.Reader.Stats.Dropped.Load())
}

// trackSaves counts the saves in flight in wg.
func trackSaves(wg *sync.WaitGroup, save ui.SaveFunc) ui.SaveFunc {
	return func(path string, frames []packet.Packet) (int, error) {
		wg.Add(1)
		defer wg.Done()
		return save(path, frames)
	}
}

// saveFile creates path (mode 0600, never replacing a file), lets write
// fill it, and syncs and closes it. A failed save removes the partial
// file; the ring is untouched, so the user can try again.
func saveFile(path string, write func(f *os.File) (int, error)) (n int, err error) {
	f, err := pcapfile.CreateOutput(path, false)
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close %s: %w", path, cerr)
		}
		if err != nil {
			os.Remove(path)
			n = 0
		}
	}()
	if n, err = write(f); err != nil {
		return 0, err
	}
	return n, f.Sync()
}

// savePcap returns the live view's save function for pcap.
func savePcap(snaplen uint32) ui.SaveFunc {
	return func(path string, frames []packet.Packet) (int, error) {
		return saveFile(path, func(f *os.File) (int, error) {
			pw, err := pcapfile.NewPcapWriter(f, snaplen, uint32(packet.LinkTypeEthernet))
			if err != nil {
				return 0, err
			}
			for i := range frames {
				fr := &frames[i]
				data := fr.Data[:min(len(fr.Data), int(snaplen))]
				if err := pw.WriteRecord(fr.Time(), uint32(len(data)), fr.WireLen(), data); err != nil {
					return 0, err
				}
			}
			return int(pw.Count()), pw.Flush()
		})
	}
}

// savePcapng is savePcap for --format pcapng: the file describes the
// session's interfaces, and each packet carries its direction and hook.
func savePcapng(sess *capture.Session, o *options) ui.SaveFunc {
	var ifaces []pcapfile.IfaceInfo
	hooks := map[int]packet.Hook{}
	for i, ifi := range sess.Ifaces {
		ifaces = append(ifaces, pcapfile.IfaceInfo{Index: ifi.Index, Name: ifi.Name, Hook: sess.Attachments[i].Mode})
		hooks[ifi.Index] = sess.Attachments[i].Hook
	}
	return func(path string, frames []packet.Packet) (int, error) {
		return saveFile(path, func(f *os.File) (int, error) {
			ng, err := pcapfile.NewPcapngWriter(f, uint32(o.snaplen), ifaces, strings.Join(o.filter, " "), "bpftop-cap "+versionString())
			if err != nil {
				return 0, err
			}
			for i := range frames {
				fr := &frames[i]
				fr.Hook = hooks[int(fr.Ifindex)]
				if err := ng.Write(fr); err != nil {
					return 0, err
				}
			}
			stats := map[int]pcapfile.IfaceStats{}
			for _, ifi := range sess.Ifaces {
				stats[ifi.Index] = pcapfile.IfaceStats{Dropped: pcapfile.Unknown, Comment: "saved from the live view's retention ring"}
			}
			return len(frames), ng.Finish(stats)
		})
	}
}

// defaultRouteInterface names the interface carrying the IPv4 default route
// with the lowest metric, from /proc/net/route; "" if there is none.
func defaultRouteInterface() string {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return ""
	}
	defer f.Close()
	return parseDefaultRoute(f)
}

// parseDefaultRoute reads the /proc/net/route format: a header line, then
// Iface Destination Gateway Flags RefCnt Use Metric Mask ..., in hex.
func parseDefaultRoute(r io.Reader) string {
	const rtfUp = 0x1
	best, bestMetric := "", uint64(1<<63)
	sc := bufio.NewScanner(r)
	sc.Scan() // header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 || f[1] != "00000000" || f[7] != "00000000" {
			continue
		}
		flags, err1 := strconv.ParseUint(f[3], 16, 32)
		metric, err2 := strconv.ParseUint(f[6], 10, 64)
		if err1 != nil || err2 != nil || flags&rtfUp == 0 {
			continue
		}
		if metric < bestMetric {
			best, bestMetric = f[0], metric
		}
	}
	return best
}
