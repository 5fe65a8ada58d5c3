package app

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/bpftop-cap/bpftop-cap/capture"
	"github.com/bpftop-cap/bpftop-cap/decode"
	"github.com/bpftop-cap/bpftop-cap/filter"
	"github.com/bpftop-cap/bpftop-cap/packet"
	"github.com/bpftop-cap/bpftop-cap/pcapfile"
)

// Text mode: one line per packet in tcpdump's layout, when stdout is not
// a terminal and nothing is written with -w, or with --print.

// textMode reports whether the packets are printed as text lines.
func textMode(cfg *Config, stdout io.Writer) bool {
	if cfg.Print {
		return true
	}
	if cfg.Write != "" {
		return false
	}
	f, ok := stdout.(*os.File)
	return !ok || !term.IsTerminal(int(f.Fd()))
}

// textOptions are the printer's options from the flags.
func (c *Config) textOptions() decode.TextOptions {
	return decode.TextOptions{
		Time:     min(c.TimeFormat, decode.TimeDeltaFirst),
		Loc:      time.Local,
		Verbose:  c.Verbose,
		Link:     c.LinkHeader,
		Quiet:    c.Quiet,
		Hex:      c.Hex,
		HexASCII: c.HexASCII,
		ASCII:    c.ASCII,
		Absolute: c.AbsoluteSeq,
	}
}

// textWriter prints packets to stdout; it is a capture.PacketWriter, so
// the reader hands it packets straight from the rings. With several
// interfaces each line names the packet's.
type textWriter struct {
	p      *decode.TextPrinter
	w      *bufio.Writer
	line   []byte
	flush  bool                        // after every line (-l, or a pipe)
	ifname func(ifindex uint32) string // nil: one interface, not named
	proc   func(pid uint32) string     // names a packet's process (procLine), or nil
	err    error
}

func newTextWriter(cfg *Config, stdout io.Writer) *textWriter {
	flush := cfg.LineBuffered
	if f, ok := stdout.(*os.File); ok {
		// A file is written in blocks, as tcpdump writes it; a pipe or a
		// terminal gets each line as it comes.
		if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
			flush = true
		}
	}
	return &textWriter{p: decode.NewTextPrinter(cfg.textOptions()), w: bufio.NewWriterSize(stdout, 64<<10), flush: flush}
}

func (t *textWriter) Write(pk *packet.Packet) error {
	if t.err != nil {
		return t.err
	}
	var name string
	if t.ifname != nil {
		name = t.ifname(pk.Ifindex)
	}
	t.line = t.p.Append(t.line[:0], pk, name)
	if t.proc != nil {
		t.line = procLine(t.line, pk.Pid(), t.proc)
	}
	if _, t.err = t.w.Write(t.line); t.err == nil && t.flush {
		t.err = t.w.Flush()
	}
	return t.err
}

func (t *textWriter) Flush() error {
	if t.err != nil {
		return t.err
	}
	t.err = t.w.Flush()
	return t.err
}

// quietPipe is nil for a closed pipe (| head): the reader went away,
// which ends the printing as it ends tcpdump's, but is not an error.
func quietPipe(err error) error {
	if errors.Is(err, syscall.EPIPE) {
		return nil
	}
	return err
}

// printFile prints a saved capture (-r FILE, no -w, stdout not a
// terminal or --print).
func printFile(cfg *Config, stdout, stderr io.Writer) error {
	in, done, err := openReadFiltered(cfg)
	if err != nil {
		return err
	}
	defer done()
	if cfg.input == nil { // --remote's hosts say where they capture
		fmt.Fprintf(stderr, "reading from file %s, link-type %s, snapshot length %d\n", cfg.Read, in.LinkTypeName(), in.Snaplen)
	}
	progFor := linkFilters(cfg, in)
	tw := newTextWriter(cfg, stdout)
	var n, printed uint64
	for cfg.Count == 0 || printed < cfg.Count {
		pk, err := in.NextPacket()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if ferr := tw.Flush(); ferr != nil {
				return quietPipe(ferr)
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%s is truncated after %d packets", cfg.Read, n)
			}
			return fmt.Errorf("read %s after %d packets: %w", cfg.Read, n, err)
		}
		n++
		if len(cfg.prog) > 0 {
			prog, err := progFor(pk.LinkType())
			if err != nil {
				return err
			}
			if !prog.Match(pk.Data, pk.OrigLen) {
				continue
			}
		}
		printed++
		if err := tw.Write(&pk); err != nil {
			return quietPipe(err)
		}
	}
	return quietPipe(tw.Flush())
}

// linkFilters returns the filter for each link type a file's packets may
// have (a pcapng file's interfaces may differ): compiled for the file's
// (by fileFilter), and for the others when first met.
func linkFilters(cfg *Config, in *pcapfile.File) func(packet.LinkType) (filter.Program, error) {
	progs := map[packet.LinkType]filter.Program{packet.LinkType(in.LinkType & packet.LinkTypeMask): cfg.prog}
	return func(lt packet.LinkType) (filter.Program, error) {
		if p, ok := progs[lt]; ok {
			return p, nil
		}
		p, err := filter.CompileArgsFile(cfg.Filter, cfg.Snaplen, uint32(lt), in.BigEndian)
		if err != nil {
			return nil, usageErr("%v (%s has packets of link-type %s)", err, cfg.Read, lt.Name())
		}
		progs[lt] = p
		return p, nil
	}
}

// printLive captures on interfaces and prints each packet as it comes.
func printLive(cfg *Config, stdout, stderr io.Writer) error {
	return runCapture(cfg, stdout, stderr, &printer{})
}

// printer is the live text mode: the reader prints each packet straight
// from the rings.
type printer struct {
	tw        *textWriter
	res       capture.WriteResult
	writerErr error
}

func (p *printer) prepare(c *run, cc *capture.Config) error {
	cc.Reader.PerCPUBuffer = c.cfg.perfBufferBytes(0)
	p.tw = newTextWriter(c.cfg, c.stdout)
	return nil
}

func (p *printer) start(c *run) error {
	cfg, sess := c.cfg, c.sess
	lt, on := sess.LinkTypes[0], names(sess, ", ")
	if sess.Any() {
		lt, on = packet.LinkTypeSLL2, capture.AnyName
	}
	p.tw.ifname, p.tw.proc = ifaceNamer(sess), c.procLabels()
	fmt.Fprintf(c.stderr, "bpftop-cap: listening on %s (%s, %s%s), link-type %s, snapshot length %d bytes\n",
		on, sess.Attach.Mode, cfg.Direction, filterNote(cfg), lt.Name(), cfg.Snaplen)
	stop := func() { c.stop(nil) }
	c.g.Go(func() error {
		defer c.stop(nil)
		var readErr error
		p.writerErr = noPanic(func() error {
			readErr = sess.RunDirect(c.readCtx, p.tw, cfg.Count, stop, &p.res)
			return nil
		})()
		return readErr
	})
	return nil
}

func (p *printer) abort() {}

func (p *printer) wait(c *run) error {
	<-c.ctx.Done()
	return nil
}

func (p *printer) drained(c *run) (uint64, error) {
	err := p.tw.Flush()
	switch {
	case p.writerErr != nil:
		return p.res.Written, p.writerErr
	case p.res.Err != nil:
		return p.res.Written, quietPipe(p.res.Err)
	}
	return p.res.Written, quietPipe(err)
}

// ifaceNamer names the interface of each packet when there are several
// (-i any, or -i a,b), as tcpdump -i any does; nil with one.
func ifaceNamer(sess *capture.Session) func(uint32) string {
	if !sess.Any() && len(sess.Ifaces) < 2 {
		return nil
	}
	return func(ifindex uint32) string {
		if l, ok := sess.Link(ifindex); ok {
			return l.Name
		}
		for _, ifi := range sess.Ifaces {
			if uint32(ifi.Index) == ifindex {
				return ifi.Name
			}
		}
		return fmt.Sprintf("ifindex %d", ifindex)
	}
}

// teeWriter writes each packet to a file and prints it (-w with --print).
type teeWriter struct {
	file capture.PacketWriter
	text *textWriter
}

func (t teeWriter) Write(pk *packet.Packet) error {
	if err := t.file.Write(pk); err != nil {
		return err
	}
	return t.text.Write(pk)
}

func (t teeWriter) Flush() error {
	err := t.file.Flush()
	if terr := t.text.Flush(); err == nil {
		err = terr
	}
	return err
}
