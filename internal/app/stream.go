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
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/bpftop-cap/bpftop-cap/decode"
	"github.com/bpftop-cap/bpftop-cap/packet"
	"github.com/bpftop-cap/bpftop-cap/pcapfile"
	"github.com/bpftop-cap/bpftop-cap/ui"
)

// liveStream reports whether -r reads a stream that may still be growing:
// a pipe on stdin or a FIFO, whose end is the writer's. The view shows
// such a source as it comes instead of loading it first. A terminal on
// stdin is not one (the view reads its keys there).
func liveStream(path string) bool {
	var st os.FileInfo
	var err error
	if path == "-" {
		if term.IsTerminal(int(os.Stdin.Fd())) {
			return false
		}
		st, err = os.Stdin.Stat()
	} else {
		st, err = os.Stat(path)
	}
	if err != nil {
		return false // OpenFile says why
	}
	return st.Mode()&(os.ModeNamedPipe|os.ModeSocket|os.ModeCharDevice) != 0
}

// streamClock is the view clock of a stream: the newest packet's time,
// moving on with the wall clock while the stream is live (so a quiet
// writer's rates fall, as a capture's do), frozen at it once the stream
// has ended (as a file's).
type streamClock struct {
	mu     sync.Mutex
	newest time.Time // the newest packet's timestamp
	at     time.Time // the wall time it came
	ended  bool
}

func (c *streamClock) saw(ts time.Time) {
	c.mu.Lock()
	if ts.After(c.newest) {
		c.newest, c.at = ts, time.Now()
	}
	c.mu.Unlock()
}

func (c *streamClock) end() {
	c.mu.Lock()
	c.ended = true
	c.mu.Unlock()
}

func (c *streamClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.newest.IsZero():
		return time.Now()
	case c.ended:
		return c.newest
	}
	return c.newest.Add(time.Since(c.at))
}

// viewStream is viewFile for a live stream (-r - from a pipe, -r FIFO, a
// file being written):
// the view starts at once and a goroutine feeds the engine as packets
// arrive; the status bar says the stream is live, then how it ended, and
// the view stays open on what came.
func viewStream(cfg *Config, tty *os.File, stderr io.Writer) error {
	sigCtx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stopSignals()
	ctx, cancel := context.WithCancelCause(sigCtx)
	defer cancel(nil)

	// The byte order of the stream is not known before its header, which
	// may be long in coming: a display filter reads it little-endian.
	eng := decode.NewEngine(engineConfig(cfg))
	followed := growing(cfg) // a regular file: --follow, or who writes it
	var clock streamClock
	var status atomic.Pointer[string]
	setStatus := func(s string) { status.Store(&s) }
	setStatus("live: waiting for the stream")
	if followed != "" {
		setStatus("live, " + followed + ": waiting for the header")
	}
	var n, kept atomic.Uint64
	var failed atomic.Pointer[error]
	var snaplen atomic.Uint32
	snaplen.Store(uint32(cfg.Snaplen))
	var ifnames atomic.Pointer[map[int]string]
	ifnames.Store(new(map[int]string))
	// A pcapng stream's comments may name the packets' processes.
	var opened atomic.Pointer[pcapfile.File]
	file := opened.Load
	eng.SetProcessNames(fileProcLabel(file))
	eng.SetProcessContainers(fileProcContainer(file))

	// The reader: opening a FIFO waits for its writer, and a read waits
	// for the next packet; quitting closes the file, and a read that a
	// close cannot interrupt ends with the process.
	var mu sync.Mutex
	var in *pcapfile.File
	quit := false
	go func() {
		f, err := openView(cfg)
		if err != nil {
			cancel(err)
			return
		}
		mu.Lock()
		in = f
		if quit {
			mu.Unlock()
			return
		}
		mu.Unlock()
		if err := fileFilter(cfg, f); err != nil {
			cancel(err)
			return
		}
		snaplen.Store(f.Snaplen)
		opened.Store(f)
		progFor := linkFilters(cfg, f)
		if followed != "" {
			setStatus("live, " + followed)
		} else {
			setStatus("live")
		}
		var nIfaces int
		var dropped uint64
		for ctx.Err() == nil {
			pk, err := f.NextPacket()
			// A pcapng stream announces interfaces as they appear and
			// sends its statistics (the remote capture's drops) at the end.
			if k := f.InterfaceCount(); k != nIfaces {
				nIfaces = k
				names := f.Interfaces()
				eng.SetInterfaceNames(names)
				ifnames.Store(&names)
			}
			if d := f.CaptureDropped(); d != dropped {
				dropped = d
				eng.SetCaptureCounters(0, d)
			}
			if err != nil {
				clock.end()
				switch {
				case errors.Is(err, io.EOF) && followed != "":
					setStatus(fmt.Sprintf("file ended after %d packets: writer gone", n.Load()))
				case errors.Is(err, io.EOF), errors.Is(err, os.ErrClosed): // os.ErrClosed: quitting
					setStatus(fmt.Sprintf("stream ended after %d packets", n.Load()))
				default:
					setStatus(fmt.Sprintf("stream ended after %d packets: %v", n.Load(), err))
					failed.Store(&err)
				}
				return
			}
			n.Add(1)
			if len(cfg.prog) > 0 {
				prog, err := progFor(pk.LinkType())
				if err != nil {
					cancel(err)
					return
				}
				if !prog.Match(pk.Data, pk.OrigLen) {
					continue
				}
			}
			eng.Add(pk)
			clock.saw(pk.Time())
			if kept.Add(1) == cfg.Count {
				stopAtCount(cfg, f, &clock, setStatus)
				return
			}
		}
	}()

	name := filepath.Base(cfg.Read)
	if cfg.Read == "-" {
		name = "stdin"
	}
	hook := "stream"
	if followed != "" {
		hook = "followed"
	}
	statusText := func() string {
		if cfg.hostStatus != nil { // --remote: hosts that failed
			if h := cfg.hostStatus(); h != "" {
				return *status.Load() + "; " + h
			}
		}
		return *status.Load()
	}
	model := ui.New(ui.Config{
		Engine:         eng,
		Source:         name,
		Hook:           hook,
		Filter:         cfg.filterText(),
		Live:           true,
		Status:         statusText,
		InterfaceNames: func() map[int]string { return *ifnames.Load() },
		Processes:      func() bool { f := opened.Load(); return f != nil && f.HasProcesses() },
		NoProcesses:    "no process named yet: only bpftop-cap's pcapng streams carry them",
		ProcessName:    fileProcLabel(file),
		Save: func(path string, pkts []packet.Packet) (int, error) {
			return pcapfile.SaveFile(path, pkts, pcapfile.Save{Format: "pcap", Snaplen: snaplen.Load()})
		},
		SaveTag: strings.TrimSuffix(name, filepath.Ext(name)),
		Now:     clock.now,
	})
	runErr := runView(ctx, model, tty)
	cancel(nil)
	mu.Lock()
	quit = true
	if in != nil {
		in.Close()
		if cfg.Read == "-" {
			os.Stdin.Close() // the writer gets EPIPE now, not at our exit
		}
	}
	mu.Unlock()
	fmt.Fprintf(stderr, "%d packets read, %d shown\n", n.Load(), kept.Load())
	if failed := failed.Load(); failed != nil {
		fmt.Fprintf(stderr, "bpftop-cap: %s: %v\n", name, *failed)
	}
	return viewFailed(ctx, runErr)
}
