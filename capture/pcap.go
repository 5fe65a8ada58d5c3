package capture

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
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

// PcapWriter writes nanosecond pcap through a buffer; unbuffered, pcapgo
// costs two write calls a packet.
type PcapWriter struct {
	bw *bufio.Writer
	w  *pcapgo.Writer
	n  uint64
}

// NewPcapWriter writes the file header of a nanosecond pcap of the given
// link type and snaplen to w.
func NewPcapWriter(w io.Writer, snaplen uint32, linkType layers.LinkType) (*PcapWriter, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	pw := pcapgo.NewWriterNanos(bw)
	if err := pw.WriteFileHeader(snaplen, linkType); err != nil {
		return nil, fmt.Errorf("write pcap header: %w", err)
	}
	return &PcapWriter{bw: bw, w: pw}, nil
}

// Write writes one packet record.
func (p *PcapWriter) Write(pkt *Packet) error {
	ci := gopacket.CaptureInfo{
		Timestamp:      pkt.TS,
		CaptureLength:  len(pkt.Data),
		Length:         max(pkt.OrigLen, len(pkt.Data)),
		InterfaceIndex: pkt.Ifindex,
	}
	if err := p.w.WritePacket(ci, pkt.Data); err != nil {
		return fmt.Errorf("write packet: %w", err)
	}
	p.n++
	return nil
}

// WriteRaw writes one record from its capture info, for converting files.
func (p *PcapWriter) WriteRaw(ci gopacket.CaptureInfo, data []byte) error {
	if err := p.w.WritePacket(ci, data); err != nil {
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
