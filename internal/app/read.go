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
	in, err := pcapfile.OpenFile(cfg.Read)
	if err != nil {
		return err
	}
	defer in.Close()
	fmt.Fprintf(stderr, "bpftop-cap: reading from %s file %s, link-type %v, snapshot length %d\n", in.Format, cfg.Read, in.LinkTypeName(), in.Snaplen)
	if len(cfg.prog) > 0 && in.LinkType&packet.LinkTypeMask != uint32(packet.LinkTypeEthernet) {
		return fmt.Errorf("filter expressions apply to Ethernet captures; %s is %s", cfg.Read, in.LinkTypeName())
	}
	signal.Ignore(syscall.SIGPIPE) // -w - | head: a write error, not death
	out, err := openOutput(cfg.Write, stdout)
	if err != nil {
		return err
	}
	defer out.close()
	err = out.start()
	var pw *pcapfile.PcapWriter
	if err == nil {
		pw, err = pcapfile.NewPcapWriter(out.w, in.Snaplen, in.LinkType)
	}
	if err != nil {
		out.discard()
		return err
	}
	var keep func([]byte, uint32) bool
	if len(cfg.prog) > 0 {
		keep = cfg.prog.Match
	}
	n, copyErr := in.CopyTo(pw, keep)
	flushErr := pw.Flush()
	closeErr := out.close()
	fmt.Fprintf(stderr, "%d packets written\n", n)
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
	in, err := pcapfile.OpenFile(cfg.Read)
	if err != nil {
		return err
	}
	defer in.Close()
	// The filter reads each packet at its link type's offsets: compiled
	// once per link type met (a pcapng file's interfaces may differ).
	progs := map[packet.LinkType]filter.Program{packet.LinkTypeEthernet: cfg.prog}
	progFor := func(lt packet.LinkType) (filter.Program, error) {
		if p, ok := progs[lt]; ok {
			return p, nil
		}
		p, err := filter.CompileArgsLink(cfg.Filter, cfg.Snaplen, uint32(lt))
		if err != nil {
			return nil, fmt.Errorf("%s is %s: %w", cfg.Read, lt.Name(), err)
		}
		progs[lt] = p
		return p, nil
	}
	ecfg := engineConfig(cfg)
	ecfg.IdleTimeout = -1 // a file's flows are all shown, however old
	eng := decode.NewEngine(ecfg)
	var first, last time.Time
	var n, kept uint64
	var loadErr error
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
	}
	if n == 0 && loadErr != nil {
		return loadErr
	}

	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stopSignals()
	name := filepath.Base(cfg.Read)
	if cfg.Read == "-" {
		name = "stdin"
	}
	model := ui.New(ui.Config{
		Engine: eng,
		Source: name,
		Hook:   "file",
		Filter: cfg.filterText(),
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
