package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/bpftop-cap/bpftop-cap/bpf"
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
// thousand a second or fewer. Each read wakes two or three threads: with a
// filter keeping 1,900 of 240,000 packets a second, over 4 s, the capture
// took 8.6-9.3 ms of CPU reading every 200 ms, 2.3-3.5 reading every second,
// tcpdump 2.4-2.9 (perf stat -p; 3 runs, 6 for once a second). headlessIdleFlushInterval is
// how often the rings are looked at once a look found nothing, where the
// doorbell cannot be used.
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

// watchInterval is how often a capture checks that its interfaces still
// exist when it cannot have the kernel's link notifications (it listens to
// those otherwise). Every timer wakes the process; an idle capture should
// cost little.
const watchInterval = time.Second

// headless captures to a pcap file until interrupted or -c is reached.
func headless(o *options, stdout, stderr io.Writer) error {
	if _, err := capture.Precheck(o.ifaces...); err != nil {
		return err
	}
	out, closeFile, removeFile, err := openOutput(o, stdout)
	if err != nil {
		return err
	}
	defer closeFile()
	cfg := captureConfig(o, 0)
	// No screen waits for a lone packet: reading below the rings'
	// watermark less often than the live view does costs less.
	cfg.Reader.FlushInterval = flushInterval(out)
	if f, ok := out.(*os.File); ok {
		out = pcapfile.OutputWriter(f)
	}
	cfg.Reader.IdleFlushInterval = headlessIdleFlushInterval
	sess, err := capture.Open(cfg)
	if err != nil {
		removeFile() // nothing was captured into it
		return err
	}
	defer sess.Close()

	if sess.Attach.Fallback != "" {
		fmt.Fprintf(stderr, "bpftop-cap: %s\n", sess.Attach.Fallback)
	}
	var ifaces []pcapfile.IfaceInfo
	for i, ifi := range sess.Ifaces {
		ifaces = append(ifaces, pcapfile.IfaceInfo{Index: ifi.Index, Name: ifi.Name, Hook: sess.Attachments[i].Mode})
	}
	var pw capture.PacketWriter
	var ng *pcapfile.PcapngWriter
	if o.format == "pcapng" {
		ng, err = pcapfile.NewPcapngWriter(out, uint32(o.snaplen), ifaces, strings.Join(o.filter, " "), "bpftop-cap "+versionString())
		pw = ng
	} else {
		pw, err = pcapfile.NewPcapWriter(out, uint32(o.snaplen), uint32(packet.LinkTypeEthernet))
	}
	if err != nil {
		removeFile()
		return err
	}
	fmt.Fprintf(stderr, "bpftop-cap: capturing on %s (%s, %s%s), link-type EN10MB (Ethernet), snapshot length %d bytes\n",
		strings.Join(sess.Names(), ", "), sess.Attach.Mode, o.direction, filterNote(o), o.snaplen)

	sigCtx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stopSignals()
	restorePriority := raisePriority(o, stderr)
	defer restorePriority()
	// A closed pipe (-w - | head) is a write error that ends the capture
	// through the normal path, not a signal that kills before cleanup.
	signal.Ignore(syscall.SIGPIPE)
	stopCtx, stop := context.WithCancel(sigCtx)
	defer stop()
	readCtx, stopRead := context.WithCancel(context.Background())
	defer stopRead()

	var (
		res       capture.WriteResult
		g         errgroup.Group
		writerErr error
	)
	writerStop := func() { faultHook("writer"); stop() }
	// The reader writes the file itself: no batches.
	g.Go(func() error {
		defer stop() // a reader that fails ends the capture
		var readErr error
		writerErr = noPanic(func() error {
			readErr = sess.RunDirect(readCtx, pw, o.count, writerStop, &res)
			return nil
		})()
		if writerErr != nil {
			_ = pw.Flush() // what was written so far is made readable
		}
		return readErr
	})
	if o.statsFile != "" {
		g.Go(noPanic(func() error { writeStatsEvery(stopCtx, o.statsFile, sess, nil); return nil }))
	}
	var goneErr error
	g.Go(func() error {
		sess.WatchInterface(stopCtx, watchInterval, func(err error) {
			goneErr = err
			stop()
		})
		return nil
	})
	var readyErr error
	if o.readyFile != "" {
		if readyErr = writeReadyFile(o.readyFile); readyErr != nil {
			stop()
		}
	}

	<-stopCtx.Done()
	restorePriority()
	releaseSignals(stopSignals)
	// Detach first so the rings stop filling, then drain them into the file.
	detachErr := sess.Detach()
	stopRead()
	readErr := g.Wait()
	if goneErr != nil {
		detachErr = nil // the links died with the interface
	}
	writeStats(o.statsFile, sess, nil)
	counters, cerr := sess.Counters()
	lost := sess.LostInRing(counters)
	if ng != nil && res.Err == nil {
		// The kernel counts for all interfaces together: with one, the
		// drops are its own; with several, they go in the comment only.
		stats := map[int]pcapfile.IfaceStats{}
		comment := fmt.Sprintf("all interfaces: kernel saw %d, sent %d to the ring, lost %d in it, filtered %d; %d dropped in user space",
			counters.Seen, counters.Sent, lost, counters.Filtered, sess.Reader.Stats.Dropped.Load())
		for _, ifi := range sess.Ifaces {
			st := pcapfile.IfaceStats{Comment: comment, Dropped: pcapfile.Unknown}
			if len(sess.Ifaces) == 1 {
				st.Dropped = lost + sess.Reader.Stats.Dropped.Load()
			}
			stats[ifi.Index] = st
		}
		res.Err = ng.Finish(stats)
	}
	closeErr := closeFile()

	fmt.Fprintf(stderr, "%d packets captured, %d lost in ring, %d dropped\n",
		res.Written, lost, sess.Reader.Stats.Dropped.Load())
	printCaptureNotes(stderr, o, sess, lost, counters, cerr == nil)
	switch {
	case readyErr != nil:
		return readyErr
	case writerErr != nil:
		return writerErr
	case goneErr != nil:
		return goneErr
	case res.Err != nil:
		return res.Err
	case readErr != nil:
		return readErr
	case detachErr != nil:
		return fmt.Errorf("detach: %w", detachErr)
	case closeErr != nil:
		return fmt.Errorf("close %s: %w", o.write, closeErr)
	case cerr != nil:
		return cerr
	}
	return nil
}

// filterNote describes the filter for the start line.
func filterNote(o *options) string {
	if len(o.filter) == 0 {
		return ""
	}
	return fmt.Sprintf(", filter %q", strings.Join(o.filter, " "))
}

// printCaptureNotes prints, after the summary line, what the kernel filter
// dropped and any malformed records that were skipped.
func printCaptureNotes(stderr io.Writer, o *options, sess *capture.Session, lost uint64, counters bpf.Counters, haveCounters bool) {
	if len(o.prog) > 0 && haveCounters {
		fmt.Fprintf(stderr, "bpftop-cap: %d packets seen, %d not matching the filter were dropped in the kernel\n",
			counters.Seen, counters.Filtered)
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

// sizeString writes a byte count the way the size flags take it: 8MiB,
// 512KiB, 1000B.
func sizeString(n int) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.Itoa(n>>30) + "GiB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

// writeReadyFile creates path holding our PID, whole or not at all (it is
// written beside it and renamed): a script that sees the file can read
// the PID at once.
func writeReadyFile(path string) error {
	if err := writeFileWhole(path, []byte(fmt.Sprintln(os.Getpid()))); err != nil {
		return fmt.Errorf("write ready file: %w", err)
	}
	return nil
}

// writeFileWhole writes b to a file beside path, then renames it to path,
// so that a reader finds no file or all of it (mode 0600).
func writeFileWhole(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
