package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/capture"
	"github.com/bpftop-cap/bpftop-cap/filter"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// Wireshark's extcap protocol (the extcap(4) manual): Wireshark and tshark
// run every program in their extcap folder with --extcap-interfaces to
// list its interfaces, then --extcap-dlts and --extcap-config for each,
// --extcap-capture-filter to check a capture filter, and --capture
// --fifo PATH to capture: the program writes pcapng to the FIFO until
// Wireshark closes it or sends SIGTERM. bpftop-cap answers as itself, or
// as a link to itself in that folder.

// ExtcapPrefix starts the name of each extcap interface: Linux allows no
// ":" in an interface name, so none collides with a name Wireshark lists
// itself, and the interface is what follows it.
const ExtcapPrefix = "bpftop-cap:"

// Extcap is Wireshark's extcap flags on the command line.
type Extcap struct {
	Interfaces  bool   // --extcap-interfaces: list the interfaces
	Version     string // --extcap-version: Wireshark's version (not needed)
	Interface   string // --extcap-interface: bpftop-cap:IFACE
	DLTs        bool   // --extcap-dlts: the interface's link type
	Config      bool   // --extcap-config: what the capture dialog offers
	Capture     bool   // --capture: capture to Fifo
	Fifo        string // --fifo: the FIFO Wireshark reads pcapng from
	Filter      string // --extcap-capture-filter
	FilterGiven bool   // --extcap-capture-filter was given (without --capture: check it)
	ControlIn   string // --extcap-control-in: Wireshark's control pipe to us
	ControlOut  string // --extcap-control-out: ours to Wireshark
	Hook        string // --extcap-hook: tc (""), xmit or xdp

	fifoOpen bool // extcapCapture has the FIFO open: Validate makes the capture -w to it
}

// On reports whether Wireshark ran bpftop-cap as an extcap.
func (e *Extcap) On() bool {
	return e.Interfaces || e.DLTs || e.Config || e.Capture || e.Interface != "" || e.Fifo != "" || e.FilterGiven
}

// query reports whether Wireshark asks a question rather than for a capture.
func (e *Extcap) query() bool { return e.On() && !e.Capture }

// ifaceName is the interface --extcap-interface names.
func (e *Extcap) ifaceName() (string, error) {
	name, ok := strings.CutPrefix(e.Interface, ExtcapPrefix)
	switch {
	case e.Interface == "":
		return "", usageErr("--extcap-interface not given")
	case !ok || name == "":
		return "", usageErr("--extcap-interface %q is not one of bpftop-cap's (%sIFACE)", e.Interface, ExtcapPrefix)
	}
	return name, nil
}

// validateExtcap checks the extcap flags. A question needs nothing more
// (done). A capture is checked in two steps: first its flags, then, once
// extcapCapture has the FIFO open, it becomes -w to the FIFO (the
// interface, pcapng written after every pass as -U, the filter and the
// hook) and done is false, so that Validate goes on as for -w.
func (c *Config) validateExtcap() (done bool, err error) {
	e := &c.Extcap
	if !e.Capture {
		if (e.DLTs || e.Config || e.FilterGiven) && e.Interface == "" {
			return true, usageErr("--extcap-dlts, --extcap-config and --extcap-capture-filter need --extcap-interface")
		}
		return true, nil
	}
	name, err := e.ifaceName()
	if err != nil {
		return true, err
	}
	switch {
	case e.Fifo == "":
		return true, usageErr("--capture needs --fifo")
	case c.Write != "" || c.Read != "" || len(c.Ifaces) > 0 || len(c.Filter) > 0:
		return true, usageErr("--capture takes its interface, output and filter from --extcap-interface, --fifo and --extcap-capture-filter")
	case !e.fifoOpen:
		return true, nil
	}
	c.Ifaces, c.Write, c.Format, c.PacketBuffered = []string{name}, e.Fifo, "pcapng", true
	if strings.TrimSpace(e.Filter) != "" {
		c.Filter = []string{e.Filter}
	}
	switch e.Hook {
	case "", "tc":
	case "xmit":
		c.EgressAt = string(bpf.EgressXmit)
	case "xdp":
		c.XDP = true
		if c.Direction == "inout" {
			c.Direction = "in" // the dialog's default: all XDP sees
		}
	default:
		return true, usageErr("invalid --extcap-hook %q: must be tc, xmit or xdp", e.Hook)
	}
	return false, nil
}

// extcapQuery answers Wireshark's questions on stdout, in the lines
// extcap(4) describes.
func extcapQuery(cfg *Config, stdout io.Writer) error {
	e := &cfg.Extcap
	var lines []string
	switch {
	case e.Interfaces:
		var err error
		if lines, err = extcapInterfaces(cfg.Version); err != nil {
			return err
		}
	case e.DLTs:
		name, err := e.ifaceName()
		if err != nil {
			return err
		}
		lt, err := extcapLinkType(name)
		if err != nil {
			return err
		}
		short, long, _ := strings.Cut(lt.Name(), " (")
		lines = []string{fmt.Sprintf("dlt {number=%d}{name=%s}{display=%s}", lt, short, strings.TrimSuffix(long, ")"))}
	case e.Config:
		name, err := e.ifaceName()
		if err != nil {
			return err
		}
		lines = extcapConfig(name == capture.AnyName)
	case e.FilterGiven:
		// Wireshark takes any output as the filter's error and none as
		// valid; the exit status must be 0 either way.
		if msg := extcapCheckFilter(cfg); msg != "" {
			lines = []string{msg}
		}
	}
	for _, l := range lines {
		if _, err := fmt.Fprintln(stdout, l); err != nil {
			return err
		}
	}
	return nil
}

// extcapInterfaces is --extcap-interfaces: bpftop-cap itself, then one
// interface per network interface of this namespace, then any.
func extcapInterfaces(version string) ([]string, error) {
	ifis, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	lines := []string{fmt.Sprintf("extcap {version=%s}", extcapValue(version))}
	for _, ifi := range ifis {
		if strings.ContainsAny(ifi.Name, "{}") {
			continue // a name the line cannot carry
		}
		lines = append(lines, fmt.Sprintf("interface {value=%s%s}{display=bpftop-cap eBPF: %s}", ExtcapPrefix, ifi.Name, ifi.Name))
	}
	lines = append(lines, fmt.Sprintf("interface {value=%s%s}{display=bpftop-cap eBPF: any interface}", ExtcapPrefix, capture.AnyName))
	return lines, nil
}

// extcapValue is s without the braces that would end a field.
func extcapValue(s string) string {
	return strings.NewReplacer("{", "(", "}", ")").Replace(s)
}

// extcapLinkType is the link type the interface is written as.
func extcapLinkType(name string) (packet.LinkType, error) {
	if name == capture.AnyName {
		return packet.LinkTypeSLL2, nil
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", capture.ErrNoInterface, name)
	}
	return capture.LinkTypeOf(ifi), nil
}

// extcapConfig is --extcap-config: the hook (not for any, which captures
// at tc), the direction and the snapshot length. Wireshark passes a
// setting as "CALL VALUE", and passes none the user did not change.
func extcapConfig(anyIface bool) []string {
	var lines []string
	n := 0
	if !anyIface {
		lines = append(lines,
			fmt.Sprintf("arg {number=%d}{call=--extcap-hook}{display=Hook}{type=selector}{tooltip=Where the eBPF program sees packets}", n),
			fmt.Sprintf("value {arg=%d}{value=tc}{display=tc: in and out (out at transmit behind a shaper)}{default=true}", n),
			fmt.Sprintf("value {arg=%d}{value=xmit}{display=tc in, out at transmit after the qdisc (as tcpdump)}", n),
			fmt.Sprintf("value {arg=%d}{value=xdp}{display=XDP: in only, before tc}", n))
		n++
	}
	lines = append(lines,
		fmt.Sprintf("arg {number=%d}{call=--direction}{display=Direction}{type=selector}{tooltip=Packets in, out or both (-Q)}", n),
		fmt.Sprintf("value {arg=%d}{value=inout}{display=In and out (in only at XDP)}{default=true}", n),
		fmt.Sprintf("value {arg=%d}{value=in}{display=In}", n),
		fmt.Sprintf("value {arg=%d}{value=out}{display=Out}", n))
	n++
	lines = append(lines,
		fmt.Sprintf("arg {number=%d}{call=--snapshot-length}{display=Snapshot length}{type=unsigned}{range=1,262144}{default=262144}{tooltip=Bytes kept per packet (-s)}", n))
	return lines
}

// extcapCheckFilter compiles the capture filter as the capture would for
// the interface's link type, and returns the error, or "".
func extcapCheckFilter(cfg *Config) string {
	e := &cfg.Extcap
	name, err := e.ifaceName()
	if err != nil {
		return Message(err)
	}
	if strings.TrimSpace(e.Filter) == "" {
		return ""
	}
	lt, err := extcapLinkType(name)
	if err != nil {
		return Message(err)
	}
	if lt == packet.LinkTypeSLL2 {
		lt = packet.LinkTypeEthernet // -i any runs it on each interface's own frames
	}
	if _, err := filter.CompileLink(e.Filter, cfg.Snaplen, uint32(lt)); err != nil {
		return Message(err)
	}
	return ""
}

// extcapCapture is --capture: -w to the FIFO in pcapng, one pass at a time
// (-U), until Wireshark closes the FIFO or sends SIGTERM.
//
// The FIFO is opened first, before anything can fail: Wireshark's reader
// (dumpcap) opens it without waiting for a writer and then waits for data,
// and only a writer closing it ends that wait; an extcap that fails before
// opening it can leave tshark waiting for ever. Wireshark shows anything
// on stderr as an error, so the capture's lines (the start line, the
// summary, notes) are not written: its drops are in the file's
// statistics, and an error is still the one line main prints.
func extcapCapture(cfg *Config, stdout io.Writer) error {
	fifo, err := os.OpenFile(cfg.Extcap.Fifo, os.O_WRONLY, 0) // blocks until the reader opens it
	if err != nil {
		return fmt.Errorf("open --fifo: %w", err)
	}
	defer fifo.Close()
	hold := holdControlPipe(cfg.Extcap.ControlIn)
	defer hold.Close()
	cfg.Extcap.fifoOpen = true
	if err := cfg.Validate(); err != nil {
		return err
	}
	if len(cfg.Filter) > 0 { // as dispatch does for -w
		prog, err := filter.CompileArgs(cfg.Filter, cfg.Snaplen)
		if err != nil {
			return usageErr("%v", err)
		}
		cfg.prog = prog
	}
	return runCapture(cfg, stdout, io.Discard, &extcapRecorder{})
}

// holdControlPipe opens Wireshark's control pipe to us for reading and keeps
// it open, unread, until the capture ends: bpftop-cap offers no toolbar, so
// Wireshark should send nothing, and its opening the pipe must not block.
// The pipe back to Wireshark is not opened: it reads end of file.
func holdControlPipe(path string) io.Closer {
	if path == "" {
		return io.NopCloser(nil)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return io.NopCloser(nil)
	}
	return f
}

// extcapRecorder is -w's recorder, and it ends the capture when the FIFO's
// reader goes: Wireshark stopped, or tshark -c has its packets. A write
// would find that out only when a packet comes.
type extcapRecorder struct{ recorder }

func (r *extcapRecorder) start(c *run) error {
	if err := r.recorder.start(c); err != nil {
		return err
	}
	if r.out.file == nil {
		return nil
	}
	f := r.out.file.File()
	c.g.Go(noPanic(func() error {
		if readerGone(c.ctx, f) {
			c.stop(nil)
		}
		return nil
	}))
	return nil
}

// drained finishes the file as -w does; a FIFO whose reader went is how an
// extcap capture ends, not an error.
func (r *extcapRecorder) drained(c *run) (uint64, error) {
	n, err := r.recorder.drained(c)
	if errors.Is(err, unix.EPIPE) {
		err = nil
	}
	return n, err
}

// readerGone waits until the pipe f writes to has no reader left (true) or
// ctx ends (false). Linux reports POLLERR on a pipe's writing end once
// every reader has closed it.
func readerGone(ctx context.Context, f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var wake [2]int
	if err := unix.Pipe2(wake[:], unix.O_CLOEXEC); err != nil {
		return false
	}
	defer unix.Close(wake[0])
	defer unix.Close(wake[1])
	stop := context.AfterFunc(ctx, func() { _, _ = unix.Write(wake[1], []byte{0}) })
	defer stop()
	gone := false
	_ = rc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd)}, {Fd: int32(wake[0]), Events: unix.POLLIN}}
		for {
			_, err := unix.Poll(fds, -1)
			switch {
			case errors.Is(err, unix.EINTR):
				continue
			case err != nil:
				return
			case fds[0].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0:
				gone = true
				return
			case fds[1].Revents != 0:
				return
			}
		}
	})
	return gone
}
