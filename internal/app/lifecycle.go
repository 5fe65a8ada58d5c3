package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/capture"
	"github.com/bpftop-cap/bpftop-cap/decode"
	"github.com/bpftop-cap/bpftop-cap/filter"
	"github.com/bpftop-cap/bpftop-cap/packet"
	"github.com/bpftop-cap/bpftop-cap/proc"
)

// watchInterval is how often a capture checks that its interfaces still
// exist when it cannot have the kernel's link notifications (it listens to
// those otherwise). Every timer wakes the process; an idle capture should
// cost little.
const watchInterval = time.Second

// consumer is what one mode (write a file, the live view) adds to the
// capture's lifecycle, which runCapture writes once: check the
// interfaces, prepare, open and attach, start, wait, detach, drain,
// summary.
type consumer interface {
	// prepare runs before the programs are loaded: the mode's own checks,
	// its output, its settings of the capture.
	prepare(c *run, cc *capture.Config) error
	// start starts the mode's goroutines on c.g once capture is live.
	start(c *run) error
	// abort undoes prepare when the capture fails to start.
	abort()
	// wait blocks until the mode is done: the view quits, or c.ctx ends.
	wait(c *run) error
	// drained runs once the programs are detached and the rings drained:
	// the mode finishes its output and says how many packets it kept.
	drained(c *run) (packets uint64, err error)
}

// run is one capture in progress, shared by the lifecycle and its mode.
type run struct {
	cfg    *Config
	stdout io.Writer
	stderr io.Writer
	sess   *capture.Session
	eng    *decode.Engine // the live view's, for the stats file; nil otherwise
	// countsFlows: the kernel program counts by flow what the ring refuses.
	countsFlows bool

	// ctx ends the capture: a signal, the mode (stop), a goroutine failing.
	ctx  context.Context
	stop context.CancelCauseFunc
	// readCtx ends the reader, once the programs are detached.
	readCtx context.Context
	g       errgroup.Group

	// keepOnGone: an interface that goes away detaches the capture but does
	// not end it (the live view stays open on what was captured).
	keepOnGone bool
	gone       atomic.Pointer[error]
	notes      []string    // printed after the summary
	procs      *proc.Table // names the packets' processes; nil without attribution (proc.go)
	cgroup2    cgroup2     // where the cgroup v2 hierarchy is, found once (proc.go)
}

// goneErr is the error of an interface that went away, or nil.
func (c *run) goneErr() error {
	if err := c.gone.Load(); err != nil {
		return *err
	}
	return nil
}

// runCapture is the lifecycle of a capture on interfaces, for every mode.
func runCapture(cfg *Config, stdout, stderr io.Writer, m consumer) error {
	c := &run{cfg: cfg, stdout: stdout, stderr: stderr}
	var filterLink packet.LinkType
	var err error
	if cfg.captureAny() {
		if err := capture.CheckPrivileges(); err != nil {
			return err
		}
		if filterLink, err = anyFilter(cfg); err != nil {
			return err
		}
	} else {
		var ifis []*net.Interface
		if ifis, err = capture.Precheck(cfg.Ifaces...); err != nil {
			return err
		}
		if filterLink, err = filterFor(cfg, ifis); err != nil {
			return err
		}
	}
	match, err := c.procMatch()
	if err != nil {
		return err
	}
	cc := capture.Config{
		Interfaces: cfg.Ifaces,
		BPF: bpf.Config{
			Snaplen:  cfg.Snaplen,
			In:       cfg.Direction != "out",
			Out:      cfg.Direction != "in",
			XDP:      cfg.XDP,
			TCMode:   bpf.TCMode(cfg.TCAttach),
			EgressAt: bpf.EgressHook(cfg.EgressAt),
			Filter:   cfg.prog,
			RingBuf:  cfg.ringBufBytes(),
			Proc:     !cfg.NoProc && !cfg.XDP,
			Match:    match,
		},
		Promisc:    !cfg.NoPromisc,
		FilterLink: filterLink,
		Any:        cfg.captureAny(),
		Note:       anyNote(stderr),
	}
	// XDP runs before the stack finds a packet's socket: no attribution
	// there, as the README says, and no line each time saying so.
	if cc.BPF.Proc {
		cc.BeforeAttach = procSetup(c)
	}
	if err := m.prepare(c, &cc); err != nil {
		return err
	}
	sess, err := capture.Open(cc)
	if flowsErr := err; err != nil && cc.BPF.CountFlows > 0 {
		// A kernel that refuses the flow table (its verifier, its memory)
		// still gets the capture.
		cc.BPF.CountFlows = 0
		if sess, err = capture.Open(cc); err == nil {
			fmt.Fprintf(stderr, "bpftop-cap: flows not counted in the kernel (%v): packets lost in a full ring are missing from the flow table's counts\n", flowsErr)
		}
	}
	if err != nil {
		m.abort()
		return err
	}
	defer sess.Close() // detaches on every way out, panics included
	c.sess, c.countsFlows = sess, cc.BPF.CountFlows > 0
	if sess.Attach.Fallback != "" {
		fmt.Fprintf(stderr, "bpftop-cap: %s\n", sess.Attach.Fallback)
	}
	for i, a := range sess.Attachments {
		if a.Egress != "" {
			fmt.Fprintf(stderr, "bpftop-cap: %s\n", a.Egress)
		}
		if a.Others != "" {
			fmt.Fprintf(stderr, "bpftop-cap: other programs on %s: %s; %s\n", sess.Ifaces[i].Name, a.Others, whereWeStand(a))
		}
	}
	if sess.PromiscErr != nil {
		fmt.Fprintf(stderr, "bpftop-cap: %v\n", sess.PromiscErr)
	}

	sigCtx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stopSignals()
	restorePriority := raisePriority(cfg, stderr)
	defer restorePriority()
	// A closed pipe (-w - | head) is a write error that ends the capture
	// through the normal path, not a signal that kills before cleanup.
	signal.Ignore(syscall.SIGPIPE)
	c.ctx, c.stop = context.WithCancelCause(sigCtx)
	defer c.stop(nil)
	readCtx, stopRead := context.WithCancel(context.Background())
	defer stopRead()
	c.readCtx = readCtx

	if err := dropPrivileges(c, m); err != nil { // -Z
		m.abort()
		return err
	}
	if err := m.start(c); err != nil {
		m.abort()
		return err
	}
	c.g.Go(noPanic(func() error {
		sess.WatchInterface(c.ctx, watchInterval, func(err error) {
			c.gone.Store(&err)
			if c.keepOnGone {
				_ = sess.Detach()
			} else {
				c.stop(nil)
			}
		})
		return nil
	}))
	if cfg.StatsFile != "" {
		c.g.Go(noPanic(func() error { writeStatsEvery(c.ctx, cfg.StatsFile, sess, c.eng); return nil }))
	}
	var readyErr error
	if cfg.ReadyFile != "" {
		if readyErr = writeReadyFile(cfg.ReadyFile); readyErr != nil {
			c.stop(readyErr)
		}
	}

	waitErr := m.wait(c)
	c.stop(nil)
	restorePriority()
	releaseSignals(stopSignals)
	// Detach first so the rings stop filling, then drain them.
	detachErr := sess.Detach()
	stopRead()
	readErr := c.g.Wait()
	goneErr := c.goneErr()
	if goneErr != nil {
		detachErr = nil // the links died with the interface
	}
	packets, drainErr := m.drained(c)
	writeStats(cfg.StatsFile, sess, c.eng)
	counters, cerr := sess.Counters()
	lost := sess.LostInRing(counters)
	fmt.Fprintf(stderr, "%d packets captured, %d lost in ring, %d dropped\n", packets, lost, sess.Reader.Stats.Dropped.Load())
	printCaptureNotes(stderr, cfg, sess, lost, counters, cerr == nil)
	for _, n := range c.notes {
		fmt.Fprintf(stderr, "bpftop-cap: %s\n", n)
	}
	switch {
	case readyErr != nil:
		return readyErr
	case waitErr != nil:
		return waitErr
	case drainErr != nil:
		return drainErr
	case goneErr != nil:
		return goneErr
	case readErr != nil:
		return readErr
	case detachErr != nil:
		return fmt.Errorf("detach: %w", detachErr)
	case cerr != nil:
		return cerr
	}
	return nil
}

// filterNote describes the filter for the start line.
func filterNote(cfg *Config) string {
	if len(cfg.Filter) == 0 {
		return procFilterNote(cfg)
	}
	return fmt.Sprintf(", filter %q", cfg.filterText()) + procFilterNote(cfg)
}

// printCaptureNotes prints, after the summary line, what the kernel filter
// dropped and any malformed records that were skipped.
func printCaptureNotes(stderr io.Writer, cfg *Config, sess *capture.Session, lost uint64, counters bpf.Counters, haveCounters bool) {
	if (len(cfg.prog) > 0 || cfg.procFiltered()) && haveCounters {
		fmt.Fprintf(stderr, "bpftop-cap: %d packets seen, %s were dropped in the kernel\n",
			counters.Seen, droppedNote(cfg, counters))
	}
	if lost > 0 {
		if n := sess.Reader.PerCPUBuffer(); n > 0 {
			fmt.Fprintf(stderr, "bpftop-cap: packets were lost because a perf ring (%s per CPU) filled up; a larger --perf-buffer absorbs longer bursts\n", sizeString(n))
		} else {
			fmt.Fprintf(stderr, "bpftop-cap: packets were lost because the ring buffer filled up; a larger --ringbuf absorbs longer bursts\n")
		}
	}
	if late := sess.Reader.Stats.Late.Load(); late > 0 {
		fmt.Fprintf(stderr, "bpftop-cap: %d packets are in the file after packets stamped later (written late by their CPU)\n", late)
	}
	if bad := sess.Reader.Stats.BadRecords.Load(); bad > 0 {
		fmt.Fprintf(stderr, "bpftop-cap: %d malformed records from the kernel were skipped\n", bad)
	}
}

// raisePriority applies --nice once the capture is open and its signals
// are caught. The default is best effort: without CAP_SYS_NICE the capture
// runs as it would have. A --nice given and not applied, or applied in
// part, says so, and the capture goes on. The returned function gives the
// session's autogroup its value back; it is called before the signals are
// let go, and may be called again.
func raisePriority(cfg *Config, stderr io.Writer) (restore func()) {
	p, err := RaisePriority(cfg.Nice)
	if err != nil && cfg.NiceGiven {
		if p.Threads > 0 {
			fmt.Fprintf(stderr, "bpftop-cap: --nice %d applied to the threads only (%v)\n", cfg.Nice, err)
		} else {
			fmt.Fprintf(stderr, "bpftop-cap: --nice %d not applied (%v); capturing at the priority it was started with\n", cfg.Nice, err)
		}
	}
	return p.Restore
}

// names is the session's interface names, joined by sep.
func names(sess *capture.Session, sep string) string { return strings.Join(sess.Names(), sep) }

// whereWeStand says where the capture's programs run among the others
// found on an interface's hooks: tc ingress programs go first and egress
// last, but an XDP program runs before any tc program, and on tcx the
// kernel runs clsact filters after every tcx program, egress too.
func whereWeStand(a *bpf.Attachment) string {
	var s []string
	switch a.Mode {
	case "xdp":
		s = append(s, "bpftop-cap's XDP program sees arriving packets before any tc program")
	default:
		s = append(s, "bpftop-cap's tc programs see ingress before the other tc programs and egress after them")
		if a.Mode == "tcx" && strings.Contains(a.Others, "tc egress") {
			s = append(s, "but before the clsact egress filters, which the kernel runs after tcx: a packet they drop is recorded leaving")
		}
		if strings.Contains(a.Others, "xdp: ") {
			s = append(s, "the XDP program runs before tc and may drop packets before bpftop-cap sees them")
		}
	}
	return strings.Join(s, "; ")
}

// filterFor compiles the capture filter for the interfaces' link type
// (RAW for those without a link-layer header) and hook into cfg.prog, and returns
// that link type; interfaces of different link types cannot share one.
func filterFor(cfg *Config, ifis []*net.Interface) (packet.LinkType, error) {
	lt := capture.LinkTypeOf(ifis[0])
	for _, ifi := range ifis[1:] {
		t := capture.LinkTypeOf(ifi)
		switch {
		case t == lt:
		case len(cfg.Filter) > 0:
			return 0, usageErr("one capture filter for %s (link-type %s) and %s (link-type %s): capture them apart", ifis[0].Name, lt.Name(), ifi.Name, t.Name())
		case cfg.Write != "" && cfg.Format != "pcapng":
			// A pcap file has one link type for all its packets.
			return 0, usageErr("%s is link-type %s and %s %s: write pcapng (--format pcapng) to capture both", ifis[0].Name, lt.Name(), ifi.Name, t.Name())
		}
	}
	if len(cfg.Filter) == 0 {
		return packet.LinkTypeEthernet, nil
	}
	if lt == packet.LinkTypeEthernet {
		if !cfg.XDP {
			// On tc the outer VLAN tag is in the skb's metadata: vlan as
			// tcpdump compiles it for a live interface. XDP sees it in
			// the frame, as dispatch compiled it.
			prog, err := filter.CompileArgsLiveTC(cfg.Filter, cfg.Snaplen)
			if err != nil {
				return 0, usageErr("%v", err)
			}
			cfg.prog = prog
		}
		return packet.LinkTypeEthernet, nil
	}
	prog, err := filter.CompileArgsLink(cfg.Filter, cfg.Snaplen, uint32(lt))
	if err != nil {
		return 0, usageErr("%v (on %s, link-type %s)", err, ifis[0].Name, lt.Name())
	}
	cfg.prog = prog
	return lt, nil
}
