package capture

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// ErrExists is returned by CreateOutput for an existing file without force.
var ErrExists = errors.New("file exists (use --force to overwrite)")

// CreateOutput creates a capture file with mode 0600. An existing file is
// only replaced with force.
func CreateOutput(path string, force bool) (*os.File, error) {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("create %s: %w", path, ErrExists)
	}
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if force {
		// O_TRUNC keeps an old file's mode; captures are private.
		if err := f.Chmod(0o600); err != nil {
			f.Close()
			return nil, fmt.Errorf("chmod %s: %w", path, err)
		}
	}
	return f, nil
}

// PcapWriter writes nanosecond pcap through a buffer; unbuffered, a record
// would cost two write calls.
type PcapWriter struct {
	bw *bufio.Writer
	w  pcapWriter
	n  uint64
}

// NewPcapWriter writes the file header of a nanosecond pcap of the given
// link type (as in the file header, upper FCS bits included) and snaplen.
func NewPcapWriter(w io.Writer, snaplen, linkType uint32) (*PcapWriter, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := writePcapHeader(bw, snaplen, linkType); err != nil {
		return nil, fmt.Errorf("write pcap header: %w", err)
	}
	return &PcapWriter{bw: bw, w: pcapWriter{w: bw}}, nil
}

// Write writes one captured packet.
func (p *PcapWriter) Write(pkt *Packet) error {
	return p.WriteRecord(pkt.TS, uint32(len(pkt.Data)), uint32(max(pkt.OrigLen, len(pkt.Data))), pkt.Data)
}

// WriteRecord writes one record as given; data must hold capLen bytes.
func (p *PcapWriter) WriteRecord(ts time.Time, capLen, origLen uint32, data []byte) error {
	return p.writeRecord(recordAt(ts, capLen, origLen), data)
}

func (p *PcapWriter) writeRecord(r pcapRecord, data []byte) error {
	if err := p.w.write(r, data[:r.CapLen]); err != nil {
		return fmt.Errorf("write packet: %w", err)
	}
	p.n++
	return nil
}

// Count is how many packets were written.
func (p *PcapWriter) Count() uint64 { return p.n }

// Flush writes out what is buffered.
func (p *PcapWriter) Flush() error {
	if err := p.bw.Flush(); err != nil {
		return fmt.Errorf("flush pcap: %w", err)
	}
	return nil
}
