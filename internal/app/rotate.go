package app

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/bpftop-cap/bpftop-cap/capture"
	"github.com/bpftop-cap/bpftop-cap/packet"
	"github.com/bpftop-cap/bpftop-cap/pcapfile"
)

// rotation is -C, -W and -G, checked.
type rotation struct {
	size  int64         // -C: a new file once one is larger (0: none)
	count int           // -W: a ring of so many files (-C), or stop after so many (-G)
	every time.Duration // -G: a new file once one is so old (0: none)
}

func (r rotation) on() bool { return r.size > 0 || r.every > 0 }

// digits is how many digits -W's file numbers have: enough for the
// highest, as tcpdump numbers them (none for -W 1).
func (r rotation) digits() int {
	if r.count <= 1 {
		return 0
	}
	return len(strconv.Itoa(r.count - 1))
}

// errFilesDone ends a capture that wrote its -W files with -G, with
// success, as tcpdump ends it.
var errFilesDone = errors.New("maximum file limit reached")

// newWriterFunc starts a capture file on w: its header (pcap) or section
// header and interface blocks (pcapng), returning the writer and, for
// pcapng, the pcapng writer under it (to finish the file with).
type newWriterFunc func(w io.Writer) (capture.PacketWriter, *pcapfile.PcapngWriter, error)

// rotator is -w's writer with -C or -G: it writes to one file at a time
// and, before a packet, closes it and opens the next when the file is
// larger than -C or older than -G, as tcpdump does. Each file is whole
// when closed: its own header, interface blocks and statistics. The files
// are opened as -w's (0600 when new, an existing one overwritten).
type rotator struct {
	path   string // -w: the name, a strftime format with -G
	rot    rotation
	newW   newWriterFunc
	now    func() time.Time
	out    *output
	count  *countingWriter
	pw     capture.PacketWriter
	ng     *pcapfile.PcapngWriter
	num    int       // the -C number of the current file
	files  int       // -G periods ended (tcpdump's Gflag_count)
	opened time.Time // when the current -G period began
	name   string    // the current file's name
}

// fileName names file num (-C's count) of the -G period begun at t: -w's
// name, through strftime with -G, then with -C the number, as many digits
// as -W's highest (none for the first file without -W).
func (rot rotation) fileName(path string, num int, t time.Time) string {
	if rot.every > 0 {
		path = strftime(path, t)
	}
	if rot.size == 0 {
		return path
	}
	if d := rot.digits(); num != 0 || d != 0 {
		path += fmt.Sprintf("%0*d", d, num)
	}
	return path
}

// countingWriter counts the bytes that went to the file.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// startRotation writes the first file's header to out, opened as name, at
// the start of the -G period begun at opened.
func startRotation(path string, rot rotation, out *output, name string, opened time.Time, now func() time.Time, newW newWriterFunc) (*rotator, error) {
	r := &rotator{path: path, rot: rot, newW: newW, now: now, opened: opened}
	if err := r.begin(out, name); err != nil {
		return nil, err
	}
	return r, nil
}

// begin starts writing a file.
func (r *rotator) begin(out *output, name string) error {
	w := out.w
	if f, ok := w.(*os.File); ok {
		w = pcapfile.OutputWriter(f)
	}
	r.out, r.name, r.count = out, name, &countingWriter{w: w}
	var err error
	r.pw, r.ng, err = r.newW(r.count)
	return err
}

// size is how large the current file is, with what its writer holds.
func (r *rotator) size() int64 {
	if b, ok := r.pw.(interface{ Buffered() int }); ok {
		if n := b.Buffered(); n >= 0 {
			return r.count.n + int64(n)
		}
	}
	// pcapng's writer cannot say what it holds, at most its buffer:
	// flushed near the limit, the count is exact.
	if r.count.n+ngBuffered >= r.rot.size {
		_ = r.pw.Flush()
	}
	return r.count.n
}

// ngBuffered is the most pcapng's writer (a bufio.Writer) holds.
const ngBuffered = 4096

// Write rotates if it is time, then writes p.
func (r *rotator) Write(p *packet.Packet) error {
	if r.rot.every > 0 {
		if now := r.now(); now.Sub(r.opened) >= r.rot.every {
			r.opened = now
			r.files++
			if r.rot.size == 0 && r.rot.count > 0 && r.files >= r.rot.count {
				if err := r.close(); err != nil {
					return err
				}
				return errFilesDone
			}
			r.num = 0
			if err := r.next(); err != nil {
				return err
			}
		}
	}
	if r.rot.size > 0 && r.size() > r.rot.size {
		r.num++
		if r.rot.count > 0 && r.num >= r.rot.count {
			r.num = 0
		}
		if err := r.next(); err != nil {
			return err
		}
	}
	return r.pw.Write(p)
}

// Flush flushes the current file.
func (r *rotator) Flush() error { return r.pw.Flush() }

// next closes the current file and opens the next.
func (r *rotator) next() error {
	if err := r.close(); err != nil {
		return err
	}
	name := r.rot.fileName(r.path, r.num, r.opened)
	out, err := openOutput(name, nil)
	if err == nil {
		if err = out.start(); err != nil {
			out.close()
		}
	}
	if err != nil {
		return err
	}
	return r.begin(out, name)
}

// close finishes the current file: pcapng's statistics blocks (what is
// known of a file the capture goes on after: its packets), then closes it.
func (r *rotator) close() error {
	var err error
	if r.ng != nil {
		stats := map[int]pcapfile.IfaceStats{}
		for _, index := range r.ng.Indexes() {
			stats[index] = pcapfile.IfaceStats{Dropped: pcapfile.Unknown}
		}
		err = r.ng.Finish(stats)
	} else {
		err = r.pw.Flush()
	}
	if cerr := r.out.close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", r.name, cerr)
	}
	r.ng = nil
	return err
}

// convertRotating is -r FILE -w OUT with -C or -G: the packets keep
// accepts, up to -c, to files in turn. The clock is the wall's, as
// tcpdump's, so -G rarely rotates a file read at once.
func convertRotating(cfg *Config, in *pcapfile.File, out *output, name string, opened time.Time, keep func([]byte, uint32) bool) (uint64, error) {
	r, err := startRotation(cfg.Write, cfg.rot, out, name, opened, time.Now, func(w io.Writer) (capture.PacketWriter, *pcapfile.PcapngWriter, error) {
		pw, err := cfg.newPcapWriter(w, in.Snaplen, in.LinkType)
		return pw, nil, err
	})
	if err != nil {
		out.discard()
		return 0, err
	}
	var n uint64
	for cfg.Count == 0 || n < cfg.Count {
		pk, err := in.NextPacket()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			r.close()
			return n, fmt.Errorf("read %s after %d packets: %w", cfg.Read, n, err)
		}
		if pk.LinkType() != packet.LinkType(in.LinkType&packet.LinkTypeMask) {
			in.Skipped++ // a pcap file has one link type
			continue
		}
		if keep != nil && !keep(pk.Data, pk.OrigLen) {
			continue
		}
		if err := r.Write(&pk); err != nil {
			if !errors.Is(err, errFilesDone) {
				r.close()
			}
			return n, err
		}
		if in.Copied != nil {
			in.Copied(&pk)
		}
		n++
	}
	return n, r.close()
}
