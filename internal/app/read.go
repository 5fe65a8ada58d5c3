package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/bpftop-cap/bpftop-cap/decode"
	"github.com/bpftop-cap/bpftop-cap/filter"
	"github.com/bpftop-cap/bpftop-cap/packet"
	"github.com/bpftop-cap/bpftop-cap/pcapfile"
	"github.com/bpftop-cap/bpftop-cap/ui"
)

// convert copies a saved capture to a pcap file (-r FILE -w OUT).
func convert(cfg *Config, stdout, stderr io.Writer) error {
	// -w overwrites a file: never the one being read.
	if a, err := os.Stat(cfg.Read); err == nil && cfg.Read != "-" && cfg.Write != "-" {
		if b, err := os.Stat(cfg.Write); err == nil && os.SameFile(a, b) {
			return usageErr("-w %s is the file -r reads; write to another file", cfg.Write)
		}
	}
	in, done, err := openReadFiltered(cfg)
	if err != nil {
		return err
	}
	defer done()
	if cfg.input == nil { // --remote's hosts say where they capture
		fmt.Fprintf(stderr, "bpftop-cap: reading from %s file %s, link-type %v, snapshot length %d\n", in.Format, cfg.Read, in.LinkTypeName(), in.Snaplen)
	}
	name, opened := cfg.Write, time.Now()
	if cfg.rot.on() {
		name = cfg.rot.fileName(name, 0, opened)
	}
	out, err := openOutput(name, stdout)
	if err != nil {
		return err
	}
	defer out.close()
	if err = cfg.user.become(out.file); err == nil { // -Z, as tcpdump: once the files are open
		err = out.start()
	}
	var keep func([]byte, uint32) bool
	if len(cfg.prog) > 0 {
		keep = cfg.prog.Match
	}
	if cfg.Print { // and write: each packet written is printed too, as tcpdump --print
		tw := newTextWriter(cfg, stdout)
		in.Copied = func(p *packet.Packet) { _ = tw.Write(p) }
		defer func() { _ = tw.Flush() }()
	}
	if err == nil && cfg.rot.on() {
		n, err := convertRotating(cfg, in, out, name, opened, keep)
		fmt.Fprintf(stderr, "%d packets written\n", n)
		if errors.Is(err, errFilesDone) {
			fmt.Fprintf(stderr, "bpftop-cap: maximum file limit reached: %d\n", cfg.rot.count)
			err = nil
		}
		return err
	}
	var pw *pcapfile.PcapWriter
	if err == nil {
		pw, err = cfg.newPcapWriter(out.w, in.Snaplen, in.LinkType)
	}
	if err != nil {
		out.discard()
		return err
	}
	if cfg.PacketBuffered { // -U: each packet out as it comes, a live stream's too
		copied := in.Copied
		in.Copied = func(p *packet.Packet) {
			if copied != nil {
				copied(p)
			}
			_ = pw.Flush() // an error sticks: the next write returns it
		}
	}
	n, copyErr := in.CopyN(pw, keep, cfg.Count)
	flushErr := pw.Flush()
	closeErr := out.close()
	fmt.Fprintf(stderr, "%d packets written\n", n)
	if in.Skipped > 0 {
		fmt.Fprintf(stderr, "bpftop-cap: %d packets of interfaces of other link types than %s left out: a pcap file holds one\n", in.Skipped, in.LinkTypeName())
	}
	switch {
	case copyErr != nil:
		return fmt.Errorf("read %s: %w", cfg.Read, copyErr)
	case flushErr != nil:
		return flushErr
	case closeErr != nil:
		return fmt.Errorf("close %s: %w", cfg.Write, closeErr)
	}
	return nil
}

// viewFile loads a saved capture (-r FILE, no -w) into a decode.Engine and
// runs the live view over it. No privileges are needed.
func viewFile(cfg *Config, stdout, stderr io.Writer) error {
	tty, err := terminal(stdout)
	if err != nil {
		return err
	}
	if liveStream(cfg.Read) || growing(cfg) != "" {
		return viewStream(cfg, tty, stderr)
	}
	in, err := pcapfile.OpenFile(cfg.Read)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := fileFilter(cfg, in); err != nil {
		return err
	}
	// The filter reads each packet at its link type's offsets: compiled
	// for the file's, and for each other link type a pcapng file's
	// interfaces may have.
	progs := map[packet.LinkType]filter.Program{packet.LinkType(in.LinkType & packet.LinkTypeMask): cfg.prog}
	progFor := func(lt packet.LinkType) (filter.Program, error) {
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
	ecfg := engineConfig(cfg)
	ecfg.IdleTimeout = -1 // a file's flows are all shown, however old
	ecfg.BigEndian = in.BigEndian
	eng := decode.NewEngine(ecfg)
	if in.Format == "pcapng" { // its comments may name the processes
		file := func() *pcapfile.File { return in }
		eng.SetProcessNames(fileProcLabel(file))
		eng.SetProcessContainers(fileProcContainer(file))
	}
	var first, last time.Time
	var n, kept uint64
	var loadErr error
	var facts string
	for {
		pk, err := in.NextPacket()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			loadErr = fmt.Errorf("read %s after %d packets: %w", cfg.Read, n, err)
			if errors.Is(err, io.ErrUnexpectedEOF) {
				loadErr = fmt.Errorf("%s is truncated after %d packets", cfg.Read, n)
			}
			break
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
		eng.Add(pk)
		ts := pk.Time()
		kept++
		if ts.After(last) {
			last = ts
		}
		if first.IsZero() || ts.Before(first) {
			first = ts
		}
		if kept == cfg.Count { // -c: the first N that pass the filter, as tcpdump -r
			facts = fmt.Sprintf("the first %d packets (-c)", kept)
			break
		}
	}
	if n == 0 && loadErr != nil {
		return loadErr
	}
	// A pcapng file names its interfaces and says what its capture lost.
	eng.SetInterfaceNames(in.Interfaces())
	eng.SetCaptureCounters(0, in.CaptureDropped())

	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stopSignals()
	name := filepath.Base(cfg.Read)
	if cfg.Read == "-" {
		name = "stdin"
	}
	model := ui.New(ui.Config{
		Engine:        eng,
		Source:        name,
		Hook:          "file",
		Filter:        cfg.filterText(),
		Facts:         facts,
		ShowInterface: in.InterfaceCount() > 1,
		ShowProcess:   in.HasProcesses(),
		NoProcesses:   "no process names in this capture: only bpftop-cap's pcapng files carry them",
		ProcessName:   fileProcLabel(func() *pcapfile.File { return in }),
		Interfaces:    in.Interfaces(),
		Save: func(path string, pkts []packet.Packet) (int, error) {
			return pcapfile.SaveFile(path, pkts, pcapfile.Save{Format: "pcap", Snaplen: in.Snaplen})
		},
		SaveTag: strings.TrimSuffix(name, filepath.Ext(name)),
		Now:     func() time.Time { return last }, // rates as of the end of the file
	})
	runErr := runView(ctx, model, tty)
	fmt.Fprintf(stderr, "%d packets read, %d shown\n", n, kept)
	if loadErr != nil {
		fmt.Fprintf(stderr, "bpftop-cap: %v\n", loadErr)
	}
	return viewFailed(ctx, runErr)
}

// fileFilter compiles the filter for the link type of the file being read
// (a pcapng file's first interface's: viewFile compiles it for the others
// as it meets them, a conversion to pcap leaves their packets out), with
// the code tcpdump -r runs on it.
func fileFilter(cfg *Config, in *pcapfile.File) error {
	if len(cfg.Filter) == 0 {
		return nil
	}
	lt := in.LinkType & packet.LinkTypeMask
	if !filter.LinkSupported(lt) {
		return fmt.Errorf("filter expressions apply to Ethernet, Linux cooked (SLL, SLL2), raw IP, BSD loopback and PPP captures; %s is %s", cfg.Read, in.LinkTypeName())
	}
	prog, err := filter.CompileArgsFile(cfg.Filter, cfg.Snaplen, lt, in.BigEndian)
	if err != nil {
		if lt == uint32(packet.LinkTypeEthernet) {
			return usageErr("%v", err)
		}
		return usageErr("%v (%s is link-type %s)", err, cfg.Read, in.LinkTypeName())
	}
	cfg.prog = prog
	return nil
}
