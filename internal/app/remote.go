package app

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode"

	"github.com/bpftop-cap/bpftop-cap/packet"
	"github.com/bpftop-cap/bpftop-cap/pcapfile"
)

// --remote: the capture runs on other hosts, through the system's ssh
// client, as `bpftop-cap … -w - --format pcapng -U` (with sudo -n unless
// the user is root; copied there first when not installed). Each host's
// pcapng stream is merged into one, its interfaces named HOST:IFACE, and
// that stream goes where -r - would send it: the live view, text lines,
// or -w.

// remoteStopTimeout is how long a host has to end its capture once asked
// (its ssh's stdin closed) before its ssh is killed, which drops the
// connection: the remote shell then ends the capture all the same.
const remoteStopTimeout = 5 * time.Second

// remoteCountGrace is how long hosts have to end by themselves at -c
// before they are asked to.
const remoteCountGrace = 2 * time.Second

// validateRemote checks the command line of --remote: the capture flags
// go to the remote bpftop-cap, which checks them; here only what is used
// here, and what cannot be done remotely.
func (c *Config) validateRemote() error {
	var err error
	if c.remotes, err = parseRemotes(c.Remotes); err != nil {
		return usageErr("%v", err)
	}
	cmd := c.SSH
	if cmd == "" {
		cmd = "ssh"
	}
	if c.ssh, err = splitCommand(cmd); err != nil || len(c.ssh) == 0 {
		if err == nil {
			err = errors.New("empty")
		}
		return usageErr("invalid --ssh %q: %v", c.SSH, err)
	}
	if port := sshPortOption(c.ssh); port != "" {
		for _, h := range c.remotes {
			if h.port != "" {
				return usageErr("--ssh gives the port (%s) and --remote %s another: ssh keeps the first; give one", port, h.spec)
			}
		}
	}
	switch {
	case c.Read != "":
		return usageErr("--remote captures there: drop -r")
	case c.Demo:
		return usageErr("--remote and --demo do not go together")
	case c.ReadyFile != "" && (c.ListIfaces || c.ListLinkTypes):
		return usageErr("--ready-file with -D or -L: nothing is captured")
	}
	if c.FilterFile != "" { // read here: the remote host has not got it
		if len(c.Filter) > 0 {
			return usageErr("-F %s gives the filter expression: drop %q after the flags", c.FilterFile, strings.Join(c.Filter, " "))
		}
		b, err := os.ReadFile(c.FilterFile)
		if err != nil {
			return fmt.Errorf("read filter file: %w", err)
		}
		if c.Filter, err = filterFileWords(b); err != nil {
			return fmt.Errorf("filter file %s: %w", c.FilterFile, err)
		}
		c.FilterFile = ""
	}
	if c.Snaplen < 1 || c.Snaplen > 262144 {
		return usageErr("invalid snapshot length %d: must be 1 to 262144", c.Snaplen)
	}
	switch c.Format {
	case "":
		c.Format = "pcap"
		if strings.HasSuffix(c.Write, ".pcapng") {
			c.Format = "pcapng"
		}
	case "pcap", "pcapng":
	default:
		return usageErr("invalid --format %q: must be pcap or pcapng", c.Format)
	}
	if err := c.validateRotation(); err != nil {
		return err
	}
	if c.Write != "" && c.Format == "pcapng" && (c.rot.on() || c.Print) {
		return usageErr("--remote -w writes pcapng as one file: drop -C, -G and --print, or write pcap")
	}
	if n, err := parseSize(c.RingSize); err != nil || n < 1<<20 {
		return usageErr("invalid --ring-size %q: want a size of at least 1MiB, such as 64MiB or 1GiB", c.RingSize)
	}
	if c.MaxFlows < 1 {
		return usageErr("invalid --max-flows %d: must be at least 1", c.MaxFlows)
	}
	return nil
}

// runRemote is --remote: get every host ready (probe, copy), start their
// captures, merge their streams and hand the merged one to the view, the
// text printer or -w; at the end (q, a signal, -c, the streams' end) stop
// them and say what failed, one line per host.
func runRemote(cfg *Config, stdout, stderr io.Writer) error {
	list := cfg.ListIfaces || cfg.ListLinkTypes
	view := !list && cfg.Write == "" && !textMode(cfg, stdout)
	var tty *os.File
	if view {
		var err error
		if tty, err = terminal(stdout); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this binary to copy: %w", err)
	}
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stopSignals()

	// Every host at once: a probe, and a copy of this binary where it is
	// missing.
	preps := make([]*prepared, len(cfg.remotes))
	errs := make([]error, len(cfg.remotes))
	var wg sync.WaitGroup
	for i := range cfg.remotes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			preps[i], errs[i] = prepare(ctx, cfg, cfg.remotes[i], self)
		}()
	}
	wg.Wait()
	if err := eachLine(stderr, errs); err != nil {
		for _, p := range preps {
			p.removeCopy(cfg)
		}
		return err
	}
	if list {
		return eachLine(stderr, listRemote(cfg, preps, stdout))
	}

	sessions := make([]*session, len(preps))
	var ready atomic.Int32
	onReady := func() {
		if int(ready.Add(1)) == len(sessions) && cfg.ReadyFile != "" {
			if err := writeReadyFile(cfg.ReadyFile); err != nil {
				fmt.Fprintf(stderr, "bpftop-cap: %v\n", err)
			}
		}
	}
	for i, p := range preps {
		var echo io.Writer
		if !view { // the remote capture's lines, as they come
			echo = stderr
		}
		if sessions[i], err = startSession(cfg, p, echo, onReady); err != nil {
			for _, s := range sessions[:i] {
				s.stop()
				s.wait()
			}
			for _, p := range preps[i:] {
				p.removeCopy(cfg)
			}
			return err
		}
	}
	stopAll := func() {
		for _, s := range sessions {
			s.stop()
		}
	}
	// A host whose stream had ended when the signal came failed of
	// itself: its error is not the signal's.
	defer context.AfterFunc(ctx, func() {
		for _, s := range sessions {
			s.endedFirst.Store(s.ended.Load())
		}
		stopAll()
	})()

	// With -c each host stops itself after as many: one asked to stop as
	// it does so may die of the second signal without its summary line.
	countGrace := func() { time.AfterFunc(remoteCountGrace, stopAll) }
	m := newMerger(cfg, sessions)
	var consumerErr error
	var n uint64
	if cfg.Write != "" && cfg.Format == "pcapng" {
		n, consumerErr = m.writeFile(cfg, stdout, stopAll, countGrace)
		fmt.Fprintf(stderr, "%d packets written\n", n)
	} else {
		pr, pw, err := os.Pipe()
		if err != nil {
			stopAll()
			return err
		}
		merged := make(chan error, 1)
		go func() {
			_, err := m.run(pw, 0, stopAll, nil)
			pw.Close()
			merged <- err
		}()
		cfg.input = pr
		cfg.Read = labels(cfg.remotes)
		cfg.Filter, cfg.prog = nil, nil // applied there
		switch {
		case view:
			// ssh asks for a passphrase or password on the terminal: the
			// view takes it only once every host is past that.
			if !settled(ctx, sessions) {
				break
			}
			cfg.hostStatus = func() string { return failedHosts(sessions) }
			consumerErr = viewStream(cfg, tty, stderr)
		case cfg.Write == "":
			consumerErr = printFile(cfg, stdout, stderr)
		default:
			consumerErr = convert(cfg, stdout, stderr)
		}
		if cfg.Count > 0 && ctx.Err() == nil {
			select {
			case err := <-merged:
				merged <- err
			case <-time.After(remoteCountGrace):
			}
		}
		pr.Close()
		stopAll()
		<-merged
	}
	stopAll()
	var hostErrs []error
	for _, s := range sessions {
		err := s.wait()
		// After a signal (ssh may have had it too) only a host that had
		// failed before it is an error.
		if err != nil && (ctx.Err() == nil || s.endedFirst.Load() || s.captureFailed()) {
			hostErrs = append(hostErrs, err)
		}
	}
	switch {
	case len(hostErrs) > 0:
		return eachLine(stderr, hostErrs)
	case ctx.Err() != nil:
		return nil
	}
	return consumerErr
}

// settled waits until every host has started its stream or failed; false
// if a signal came first.
func settled(ctx context.Context, sessions []*session) bool {
	for _, s := range sessions {
		select {
		case <-s.settled:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// failedHosts is the view's word on hosts whose stream ended while it
// was open: the others are still live.
func failedHosts(sessions []*session) string {
	var l []string
	for _, s := range sessions {
		if s.ended.Load() && !s.stopping.Load() && s.failed() {
			l = append(l, s.host.label)
		}
	}
	if len(l) == 0 {
		return ""
	}
	return strings.Join(l, ", ") + " failed (see the end)"
}

// eachLine prints every error but the last (nil ones skipped) as a line
// of its own, as main prints the last, which it returns: hosts' errors
// joined would come out as one line.
func eachLine(stderr io.Writer, errs []error) error {
	var last error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if last != nil && last.Error() != "" {
			fmt.Fprintln(stderr, "bpftop-cap: "+Message(last))
		}
		last = err
	}
	return last
}

// labels names the hosts together: the view's source, the text mode's.
func labels(hosts []remoteHost) string {
	var l []string
	for _, h := range hosts {
		l = append(l, h.label)
	}
	return strings.Join(l, ",")
}

// prepared is a host ready to capture: the binary to run there.
type prepared struct {
	host   remoteHost
	probe  probe
	binary string // bpftop-cap's path there
	dir    string // the private directory of a copy; "": installed
	iface  string // the default route's interface, when -i was not given
}

// prepare probes the host and copies this binary there if need be.
func prepare(ctx context.Context, cfg *Config, h remoteHost, self string) (*prepared, error) {
	needRoute := len(cfg.Ifaces) == 0 && !cfg.ListIfaces
	out, lines, code, err := runSSH(ctx, cfg, h, probeScript(needRoute), nil)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, remoteError(h.label, code, lines)
	}
	p := &prepared{host: h}
	if p.probe, err = parseProbe(out); err != nil {
		return nil, fmt.Errorf("%s: %w", h.label, err)
	}
	if err := checkUser(p.probe); err != nil {
		return nil, fmt.Errorf("%s: %w", h.label, err)
	}
	if needRoute {
		if p.iface = parseDefaultRoute(strings.NewReader(p.probe.routes)); p.iface == "" {
			return nil, fmt.Errorf("%s: no default route there to pick an interface by: give -i", h.label)
		}
	}
	p.binary = p.probe.binary
	if p.binary != "" {
		return p, nil
	}
	if err := checkCopy(p.probe); err != nil {
		return nil, fmt.Errorf("%s: %w", h.label, err)
	}
	bin, err := os.Open(self)
	if err != nil {
		return nil, fmt.Errorf("open this binary to copy: %w", err)
	}
	defer bin.Close()
	st, err := bin.Stat()
	if err != nil {
		return nil, fmt.Errorf("open this binary to copy: %w", err)
	}
	out, lines, code, err = runSSH(ctx, cfg, h, uploadScript(st.Size()), bin)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, fmt.Errorf("copy bpftop-cap there: %w", remoteError(h.label, code, lines))
	}
	if p.dir, err = parseUpload(out); err != nil {
		return nil, fmt.Errorf("%s: %w", h.label, err)
	}
	p.binary = p.dir + "/bpftop-cap"
	return p, nil
}

// removeCopy removes a copy that no capture ran from (whose shell would
// have removed it), as well as it can.
func (p *prepared) removeCopy(cfg *Config) {
	if p == nil || p.dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, _, _ = runSSH(ctx, cfg, p.host, "rm -rf "+shQuote(p.dir), nil)
	p.dir = ""
}

// command is the remote capture's command line: sudo's, then the binary's.
func (p *prepared) command(cfg *Config) []string {
	argv := append([]string{p.binary}, remoteArgs(cfg, p.iface)...)
	if !p.probe.root {
		argv = append([]string{p.probe.sudo, "-n", "--"}, argv...)
	}
	return argv
}

// runSSH runs script on h and returns its output (up to 1 MiB), the last
// lines of its stderr and its exit status (255: ssh's own failure).
func runSSH(ctx context.Context, cfg *Config, h remoteHost, script string, stdin io.Reader) (string, []string, int, error) {
	argv := sshArgv(cfg.ssh, h, script)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	out := &capped{max: 1 << 20}
	errs := newLineTail(nil)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, out, errs
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.Exited():
		return out.String(), errs.last(), ee.ExitCode(), nil
	case err != nil && ctx.Err() != nil:
		return "", nil, 0, fmt.Errorf("%s: interrupted", h.label)
	case err != nil:
		return "", nil, 0, fmt.Errorf("%s: run %s: %w", h.label, argv[0], err)
	}
	return out.String(), errs.last(), 0, nil
}

// listRemote is -D or -L on each host: its lines, named by the host when
// there are several.
func listRemote(cfg *Config, preps []*prepared, stdout io.Writer) []error {
	var errs []error
	for _, p := range preps {
		out, lines, code, err := runSSH(context.Background(), cfg, p.host, listScript(p.command(cfg), p.dir), nil)
		p.dir = "" // the script removed it
		if err == nil && code != 0 {
			err = remoteError(p.host.label, code, lines)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		_, out, _ = strings.Cut(out, "\n"+streamMarker+"\n")
		for _, l := range strings.SplitAfter(out, "\n") {
			if l == "" {
				continue
			}
			if len(preps) > 1 {
				l = p.host.label + ": " + l
			}
			io.WriteString(stdout, printable(l))
		}
	}
	return errs
}

// session is one host's capture: its ssh, whose stdin we hold (closing it
// stops the capture), whose stdout is the stream.
type session struct {
	cfg        *Config
	host       remoteHost
	prep       *prepared
	cmd        *exec.Cmd
	stdin      *os.File // ours: closed to stop
	stdout     *os.File // the stream
	stderr     *lineTail
	echo       bool          // its stderr is shown as it comes
	started    atomic.Bool   // the remote shell printed its marker
	ended      atomic.Bool   // the stream ended (the merger's reader saw it)
	stopping   atomic.Bool   // stopped here while its stream went on
	endedFirst atomic.Bool   // its stream had ended when a signal came
	settled    chan struct{} // closed when the marker came or the stream ended
	stopOnce   sync.Once
	exited     chan struct{}
	waitErr    error
	streamErr  error // the stream's, set by the merger's reader
}

// startSession starts the capture on p's host. echo, if not nil, gets the
// remote capture's stderr lines as they come, named by the host; onReady
// runs once the remote capture says it is capturing.
func startSession(cfg *Config, p *prepared, echo io.Writer, onReady func()) (*session, error) {
	s := &session{cfg: cfg, host: p.host, prep: p, echo: echo != nil, exited: make(chan struct{}), settled: make(chan struct{})}
	argv := sshArgv(cfg.ssh, p.host, runScript(p.command(cfg), p.dir))
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	var once sync.Once
	s.stderr = newLineTail(func(line string) {
		if strings.HasPrefix(line, "bpftop-cap: capturing on ") {
			once.Do(onReady)
		}
		if echo != nil {
			fmt.Fprintln(echo, "bpftop-cap: "+printable(hostLine(p.host.label, line)))
		}
	})
	s.cmd = exec.Command(argv[0], argv[1:]...)
	s.cmd.Stdin, s.cmd.Stdout, s.cmd.Stderr = inR, outW, s.stderr
	s.cmd.WaitDelay = time.Second
	err = s.cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("%s: run %s: %w", p.host.label, argv[0], err)
	}
	s.stdin, s.stdout = inW, outR
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	return s, nil
}

// stop asks the remote capture to end: ssh's stdin ends, and the remote
// shell, reading its own, sends the capture SIGTERM. A host that has not
// ended in time loses its connection.
func (s *session) stop() {
	s.stopOnce.Do(func() {
		s.stopping.Store(!s.ended.Load())
		s.stdin.Close()
		go func() {
			select {
			case <-s.exited:
				return
			case <-time.After(remoteStopTimeout):
			}
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.exited:
			case <-time.After(time.Second):
				_ = s.cmd.Process.Kill()
			}
		}()
	})
}

// wait waits for ssh to exit and says what went wrong there, if anything
// did that was not our stopping it.
func (s *session) wait() error {
	<-s.exited
	s.stdout.Close()
	if !s.started.Load() && s.prep.dir != "" {
		s.prep.removeCopy(s.cfg) // the shell that would remove it never ran
	}
	var ee *exec.ExitError
	switch {
	case s.stopping.Load() && !s.captureFailed():
		return nil // whatever it said after
	case errors.As(s.waitErr, &ee) && ee.Exited() && ee.ExitCode() != 0:
		if lines := s.stderr.last(); !s.echo || len(lines) == 0 {
			return remoteError(s.host.label, ee.ExitCode(), lines)
		}
		return &ExitError{Code: 1} // its lines said why
	case s.waitErr != nil && (ee == nil || !ee.Exited()):
		return fmt.Errorf("%s: ssh: %v", s.host.label, s.waitErr)
	case s.streamErr != nil:
		return fmt.Errorf("%s: %w", s.host.label, s.streamErr)
	}
	return nil
}

// captureFailed says whether the remote capture ended of its own failure:
// ssh passes on its exit status, 1 or 2, where one stopped by us (its
// shell's SIGTERM) exits 0 and ssh's own failures are 255. Its stream may
// end only after a signal here came, so the order cannot tell.
func (s *session) captureFailed() bool {
	select {
	case <-s.exited:
	default:
		return false
	}
	var ee *exec.ExitError
	return errors.As(s.waitErr, &ee) && ee.Exited() && (ee.ExitCode() == 1 || ee.ExitCode() == 2)
}

// failed says whether the ended stream of s was a failure so far: not
// read to its end, or its ssh gone with an error (-c ends well).
func (s *session) failed() bool {
	if s.streamErr != nil {
		return true
	}
	select {
	case <-s.exited:
		return s.waitErr != nil
	default:
		return false
	}
}

// lineTail is a remote stderr: each line to a callback as it comes, the
// last few kept for the error message.
type lineTail struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	onLine  func(string)
}

const (
	tailLines   = 16
	maxLineSize = 1024
)

func newLineTail(onLine func(string)) *lineTail { return &lineTail{onLine: onLine} }

func (t *lineTail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(t.partial) < maxLineSize {
				t.partial = append(t.partial, b[:min(len(b), maxLineSize-len(t.partial))]...)
			}
			break
		}
		if len(t.partial) < maxLineSize {
			t.partial = append(t.partial, b[:min(i, maxLineSize-len(t.partial))]...)
		}
		t.line(string(t.partial))
		t.partial, b = t.partial[:0], b[i+1:]
	}
	return n, nil
}

func (t *lineTail) line(l string) {
	l = strings.TrimSuffix(l, "\r")
	if len(t.lines) == tailLines {
		t.lines = append(t.lines[:0], t.lines[1:]...)
	}
	t.lines = append(t.lines, l)
	if t.onLine != nil {
		t.onLine(l)
	}
}

// last is the lines kept, the unfinished one included.
func (t *lineTail) last() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]string(nil), t.lines...)
	if len(t.partial) > 0 {
		out = append(out, string(t.partial))
	}
	for i := range out {
		out[i] = printable(out[i])
	}
	return out
}

// printable replaces what a terminal would act on (a remote host's
// bytes are not trusted either: controls, bidi overrides, as
// decode.Printable judges them) with '?', tabs and the line's end kept.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, s)
}

// capped keeps the first max bytes written to it.
type capped struct {
	bytes.Buffer
	max int
}

func (c *capped) Write(b []byte) (int, error) {
	if room := c.max - c.Len(); room > 0 {
		c.Buffer.Write(b[:min(len(b), room)])
	}
	return len(b), nil
}

// merger reads every host's stream and writes one pcapng stream of them
// all, each remote interface an interface of its own named HOST:IFACE.
type merger struct {
	cfg      *Config
	filter   string
	sessions []*session
	ch       chan mergeMsg
	ng       *pcapfile.PcapngWriter
	ids      map[[2]uint32]int // host, its interface -> ours
	first    map[int]int       // host -> ours of its first interface
	dropped  map[int]uint64    // host -> what its capture lost
}

// mergeMsg is a packet of a host (its data a copy), or the end of its
// stream.
type mergeMsg struct {
	host   int
	ifname string // with the first packet of an interface
	pk     packet.Packet
	end    bool
	drops  uint64 // with end
}

func newMerger(cfg *Config, sessions []*session) *merger {
	m := &merger{cfg: cfg, filter: cfg.filterText(), sessions: sessions, ch: make(chan mergeMsg, 1024),
		ids: map[[2]uint32]int{}, first: map[int]int{}, dropped: map[int]uint64{}}
	var wg sync.WaitGroup
	for i, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			drops, err := m.read(i, s)
			s.streamErr = err
			s.ended.Store(true)
			if !s.started.Load() {
				close(s.settled)
			}
			m.ch <- mergeMsg{host: i, end: true, drops: drops}
		}()
	}
	go func() {
		wg.Wait()
		close(m.ch)
	}()
	return m
}

// read hands the packets of host i's stream to the writer, until it ends;
// then it returns what the remote capture said it lost.
func (m *merger) read(i int, s *session) (uint64, error) {
	r := bufio.NewReaderSize(s.stdout, 64<<10)
	// What a login script printed before the marker is passed over.
	for seen := 0; ; {
		line, err := r.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return 0, fmt.Errorf("the stream ended before it started")
		}
		if string(line) == streamMarker+"\n" {
			break
		}
		if seen += len(line); seen > 1<<20 {
			return 0, fmt.Errorf("no stream in the first MiB of output (does a login script print?)")
		}
	}
	s.started.Store(true)
	close(s.settled)
	f, err := pcapfile.OpenStream(r, "the stream")
	if err != nil {
		return 0, err
	}
	known := map[uint32]bool{}
	for {
		pk, err := f.NextPacket()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return f.CaptureDropped(), err
		}
		msg := mergeMsg{host: i, pk: pk}
		msg.pk.Data = bytes.Clone(pk.Data)
		if !known[pk.Ifindex] {
			known[pk.Ifindex] = true
			msg.ifname = f.Interfaces()[int(pk.Ifindex)]
		}
		m.ch <- msg
	}
}

// run writes the merged stream to w until every host's has ended (a write
// error stops the hosts, and the rest is read and dropped), flushing
// whenever it has caught up; after limit packets (0: no limit) it stops
// the hosts too. It returns the packets written.
func (m *merger) run(w io.Writer, limit uint64, stop, atLimit func()) (uint64, error) {
	var n uint64
	var err error
	done := false
	for msg := range m.ch {
		switch {
		case msg.end:
			m.dropped[msg.host] += msg.drops
			continue
		case done || err != nil:
			continue
		}
		if err = m.write(w, &msg); err == nil {
			n++
			if len(m.ch) == 0 {
				err = m.ng.Flush()
			}
		}
		switch {
		case err != nil:
			done = true
			stop()
		case limit > 0 && n >= limit:
			done = true
			atLimit()
		}
	}
	if m.ng != nil && err == nil {
		stats := map[int]pcapfile.IfaceStats{}
		for host, d := range m.dropped {
			if id, ok := m.first[host]; ok {
				stats[id] = pcapfile.IfaceStats{Dropped: d}
			}
		}
		err = m.ng.Finish(stats)
	}
	return n, err
}

// write writes one packet, the file's header or its interface's first.
func (m *merger) write(w io.Writer, msg *mergeMsg) error {
	key := [2]uint32{uint32(msg.host), msg.pk.Ifindex}
	id, ok := m.ids[key]
	if !ok {
		id = len(m.ids) + 1
		m.ids[key] = id
		if _, ok := m.first[msg.host]; !ok {
			m.first[msg.host] = id
		}
		label := m.sessions[msg.host].host.label
		name := msg.ifname
		if name == "" {
			name = fmt.Sprintf("if%d", msg.pk.Ifindex)
		}
		info := pcapfile.IfaceInfo{Index: id, Name: label + ":" + name, Hook: label + " over ssh", LinkType: msg.pk.LinkType()}
		if m.ng == nil {
			ng, err := pcapfile.NewPcapngWriter(w, m.cfg.Snaplen, []pcapfile.IfaceInfo{info}, m.filter, "bpftop-cap "+m.cfg.Version)
			if err != nil {
				return err
			}
			m.ng = ng
		} else if err := m.ng.AddInterface(info); err != nil {
			return err
		}
	}
	msg.pk.Ifindex = uint32(id)
	return m.ng.Write(&msg.pk)
}

// writeFile is -w with pcapng: the merged stream is the file.
func (m *merger) writeFile(cfg *Config, stdout io.Writer, stop, atLimit func()) (uint64, error) {
	out, err := openOutput(cfg.Write, stdout)
	if err == nil {
		err = out.start()
	}
	if err != nil {
		stop()
		_, _ = m.run(io.Discard, 0, func() {}, nil)
		return 0, err
	}
	n, err := m.run(out.w, cfg.Count, stop, atLimit)
	if cerr := out.close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", cfg.Write, cerr)
	}
	return n, quietPipe(err)
}
