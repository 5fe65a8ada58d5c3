package app

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/bpftop-cap/bpftop-cap/capture"
	"github.com/bpftop-cap/bpftop-cap/packet"
	"github.com/bpftop-cap/bpftop-cap/pcapfile"
)

// headlessFlushInterval is how often headless mode reads records below the
// perf rings' watermark when it writes to a pipe, a socket or a terminal,
// where a program may be showing them as they come (the live view: every
// 50 ms, the reader's default); fileFlushInterval when it writes to a file,
// as tcpdump's buffer timeout. A lone packet after a quiet spell rings the
// programs' doorbell and is read at once either way (see capture's bell);
// these apply while packets keep coming below the watermark, a few
// thousand a second or fewer. Each read wakes two or three threads: the
// cost is in docs/performance.md. headlessIdleFlushInterval is how often
// the rings are looked at once a look found nothing, where the doorbell
// cannot be used.
const (
	headlessFlushInterval     = 200 * time.Millisecond
	fileFlushInterval         = time.Second
	headlessIdleFlushInterval = time.Second
)

// flushInterval is headless mode's FlushInterval for output to w.
func flushInterval(w io.Writer) time.Duration {
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			return fileFlushInterval
		}
	}
	return headlessFlushInterval
}

// record captures to a file (-w) until interrupted or -c is reached.
func record(cfg *Config, stdout, stderr io.Writer) error {
	return runCapture(cfg, stdout, stderr, &recorder{})
}

// recorder is the -w mode: the reader writes each packet to the file
// straight from the rings.
type recorder struct {
	rot       *rotator  // -C, -G: the files
	path      string    // the first file (-w's, or its rotation's name)
	opened    time.Time // when the first file was named (-G)
	out       *output
	w         io.Writer
	pw        capture.PacketWriter
	ng        *pcapfile.PcapngWriter
	res       capture.WriteResult
	writerErr error // a panic while writing
}

func (r *recorder) prepare(c *run, cc *capture.Config) error {
	r.path, r.opened = c.cfg.Write, time.Now()
	if c.cfg.rot.on() {
		r.path = c.cfg.rot.fileName(r.path, 0, r.opened)
	}
	out, err := openOutput(r.path, c.stdout)
	if err != nil {
		return err
	}
	r.out, r.w = out, out.w
	cc.Reader.PerCPUBuffer = c.cfg.perfBufferBytes(0)
	// No screen waits for a lone packet: reading below the rings'
	// watermark less often than the live view does costs less.
	cc.Reader.FlushInterval = flushInterval(r.w)
	if c.cfg.PacketBuffered {
		// -U feeds a program showing packets as they come (a view across
		// a pipe, --remote, an extcap): read as often as the live view.
		cc.Reader.FlushInterval = 0
	}
	cc.Reader.IdleFlushInterval = headlessIdleFlushInterval
	if f, ok := r.w.(*os.File); ok {
		r.w = pcapfile.OutputWriter(f)
	}
	return nil
}

func (r *recorder) start(c *run) error {
	cfg, sess := c.cfg, c.sess
	if err := r.out.start(); err != nil {
		return err
	}
	lt, on := cfg.fileLinkType(sess.LinkTypes[0]), names(sess, ", ")
	if sess.Any() {
		lt, on = packet.LinkTypeSLL2, capture.AnyName
	}
	newW := func(w io.Writer) (capture.PacketWriter, *pcapfile.PcapngWriter, error) {
		switch {
		case sess.Any():
			return anyWriter(cfg, sess, w)
		case cfg.Format == "pcapng":
			var ifaces []pcapfile.IfaceInfo
			for i, ifi := range sess.Ifaces {
				ifaces = append(ifaces, pcapfile.IfaceInfo{Index: ifi.Index, Name: ifi.Name, Hook: sess.Attachments[i].Where(), LinkType: cfg.fileLinkType(sess.LinkTypes[i])})
			}
			ng, err := pcapfile.NewPcapngWriter(w, cfg.Snaplen, ifaces, cfg.filterText(), "bpftop-cap "+cfg.Version)
			return ng, ng, err
		}
		pw, err := cfg.newPcapWriter(w, cfg.Snaplen, uint32(lt))
		return pw, nil, err
	}
	newFile := newW
	newW = func(w io.Writer) (capture.PacketWriter, *pcapfile.PcapngWriter, error) {
		pw, ng, err := newFile(w)
		c.nameProcesses(ng)
		return pw, ng, err
	}
	var err error
	if cfg.rot.on() {
		r.rot, err = startRotation(cfg.Write, cfg.rot, r.out, r.path, r.opened, time.Now, newW)
		r.pw = r.rot
	} else {
		r.pw, r.ng, err = newW(r.w)
	}
	if err != nil {
		return err
	}
	if cfg.Print {
		tw := newTextWriter(cfg, c.stdout)
		tw.ifname, tw.proc = ifaceNamer(sess), c.procLabels()
		r.pw = teeWriter{file: r.pw, text: tw}
	}
	fmt.Fprintf(c.stderr, "bpftop-cap: capturing on %s (%s, %s%s), link-type %s, snapshot length %d bytes\n",
		on, sess.Attach.Where(), cfg.Direction, filterNote(cfg), fileLinkTypeName(lt), cfg.Snaplen)
	// The reader writes the file itself: no batches.
	writerStop := func() { faultHook("writer"); c.stop(nil) }
	c.g.Go(func() error {
		defer c.stop(nil) // a reader that fails ends the capture
		var readErr error
		r.writerErr = noPanic(func() error {
			if cfg.PacketBuffered {
				// -U: each pass's packets go to the file at its end.
				readErr = sess.RunPasses(c.readCtx, r.pw, cfg.Count, writerStop, &r.res)
			} else {
				readErr = sess.RunDirect(c.readCtx, r.pw, cfg.Count, writerStop, &r.res)
			}
			return nil
		})()
		if r.writerErr != nil {
			_ = r.pw.Flush() // what was written so far is made readable
		}
		return readErr
	})
	return nil
}

func (r *recorder) abort() { r.out.discard() }

func (r *recorder) outputFile() *pcapfile.Output { return r.out.file }

func (r *recorder) wait(c *run) error {
	<-c.ctx.Done()
	return nil
}

func (r *recorder) drained(c *run) (uint64, error) {
	sess := c.sess
	if r.rot != nil {
		r.ng, r.out = r.rot.ng, r.rot.out // the last file
		if errors.Is(r.res.Err, errFilesDone) {
			fmt.Fprintf(c.stderr, "bpftop-cap: maximum file limit reached: %d\n", c.cfg.rot.count)
			r.res.Err = nil
		}
	}
	if r.ng != nil && r.res.Err == nil {
		counters, _ := sess.Counters()
		lost := sess.LostInRing(counters)
		// The kernel counts for all interfaces together: with one, the
		// drops are its own; with several, they go in the comment only.
		stats := map[int]pcapfile.IfaceStats{}
		comment := fmt.Sprintf("all interfaces: kernel saw %d, sent %d to the ring, lost %d in it, filtered %d; %d dropped in user space",
			counters.Seen, counters.Sent, lost, counters.Filtered, sess.Reader.Stats.Dropped.Load())
		indexes := r.ng.Indexes() // with -i any, those that came later too
		for _, index := range indexes {
			st := pcapfile.IfaceStats{Comment: comment, Dropped: pcapfile.Unknown}
			if len(indexes) == 1 {
				st.Dropped = lost + sess.Reader.Stats.Dropped.Load()
			}
			stats[index] = st
		}
		r.res.Err = r.ng.Finish(stats)
	}
	closeErr := r.out.close()
	switch {
	case r.writerErr != nil:
		return r.res.Written, r.writerErr
	case r.res.Err != nil:
		return r.res.Written, r.res.Err
	case closeErr != nil:
		return r.res.Written, fmt.Errorf("close %s: %w", c.cfg.Write, closeErr)
	}
	return r.res.Written, nil
}
