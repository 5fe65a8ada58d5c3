package pcapfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// Our own pcap reading and writing, following libpcap's savefile code
// rather than pcapgo's: libpcap keeps the link type's upper bits (the FCS
// length), reads records whose captured length exceeds their original
// length, and cuts records longer than the file's snapshot length, and
// `-r F -w OUT` has to give back exactly what `tcpdump -r F` reads.

const (
	pcapHeaderLen = 24
	pcapRecordLen = 16
	// maxSnaplen is libpcap's MAXIMUM_SNAPLEN.
	maxSnaplen = 262144
	// Link types whose records may be longer (libpcap max_snaplen_for_dlt).
	linkTypeDBUS     = 231
	linkTypeUSBPcap  = 249
	linkTypeEBHSCR   = 279
	linkTypeMask     = 0x03ffffff
	magicPcapKuznet  = 0xa1b2cd34 // "modified" pcap: 24 byte records
	kuznetRecordLen  = 24
	pcapVersionMajor = 2
	pcapVersionMinor = 4
)

// maxSnaplenFor is libpcap's max_snaplen_for_dlt.
func maxSnaplenFor(linkType uint32) uint32 {
	switch linkType & linkTypeMask {
	case linkTypeDBUS:
		return 128 * 1024 * 1024
	case linkTypeEBHSCR:
		return 8 * 1024 * 1024
	case linkTypeUSBPcap:
		return 1024 * 1024
	}
	return maxSnaplen
}

// adjustSnaplen is what libpcap 1.10 does with a file's snapshot length:
// only a zero or one that does not fit an int becomes the link type's
// maximum; the rest are kept, as tcpdump -w writes them back.
func adjustSnaplen(linkType, snaplen uint32) uint32 {
	if snaplen == 0 || snaplen > math.MaxInt32 {
		return maxSnaplenFor(linkType)
	}
	return snaplen
}

// pcapRecord is one record's header. The timestamp is kept as the file
// has it (seconds and nanoseconds, not normalised): fuzzed files carry
// fractions of a second above one second, and tcpdump writes them back.
type pcapRecord struct {
	Sec, Nsec uint32
	CapLen    uint32
	Len       uint32
}

// Time is the record's timestamp as a time.Time (normalised).
func (r pcapRecord) Time() time.Time { return time.Unix(int64(r.Sec), int64(r.Nsec)).UTC() }

func recordAt(ts time.Time, capLen, origLen uint32) pcapRecord {
	return pcapRecord{Sec: uint32(ts.Unix()), Nsec: uint32(ts.Nanosecond()), CapLen: capLen, Len: origLen}
}

// pcapReader reads a classic pcap file.
type pcapReader struct {
	r        io.Reader
	order    binary.ByteOrder
	nano     bool
	recLen   int
	linkType uint32 // with the upper (FCS) bits, as in the file
	snaplen  uint32 // adjusted as libpcap does
	hdr      [kuznetRecordLen]byte
	buf      []byte
	n        int
}

// atEnd reports whether a short read met the end of the file.
func atEnd(err error) bool { return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) }

func truncated(what string, want, got int) error {
	return fmt.Errorf("truncated capture file; tried to read %d %s bytes, only got %d", want, what, got)
}

// newPcapReader reads the file header.
func newPcapReader(r io.Reader) (*pcapReader, error) {
	var h [pcapHeaderLen]byte
	if n, err := io.ReadFull(r, h[:]); err != nil {
		if n == 0 {
			return nil, fmt.Errorf("%w: the file is empty", ErrBadFile)
		}
		return nil, truncated("file header", pcapHeaderLen, n)
	}
	p := &pcapReader{r: r, recLen: pcapRecordLen}
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		switch order.Uint32(h[0:4]) {
		case magicPcapMicro:
			p.order = order
		case magicPcapNano:
			p.order, p.nano = order, true
		case magicPcapKuznet:
			p.order, p.recLen = order, kuznetRecordLen
		}
	}
	if p.order == nil {
		return nil, fmt.Errorf("%w (starts with %#08x)", ErrBadFile, binary.BigEndian.Uint32(h[0:4]))
	}
	if major := p.order.Uint16(h[4:6]); major < pcapVersionMajor {
		return nil, fmt.Errorf("%w: archaic pcap format version %d", ErrBadFile, major)
	}
	p.linkType = p.order.Uint32(h[20:24])
	p.snaplen = adjustSnaplen(p.linkType, p.order.Uint32(h[16:20]))
	return p, nil
}

// next reads one record; io.EOF at a clean end. data is valid until the
// next call.
func (p *pcapReader) next() (pcapRecord, []byte, error) {
	h := p.hdr[:p.recLen]
	if n, err := io.ReadFull(p.r, h); err != nil {
		if n == 0 && (errors.Is(err, io.EOF)) {
			return pcapRecord{}, nil, io.EOF
		}
		if !atEnd(err) {
			return pcapRecord{}, nil, err // a read error, not the end of the file
		}
		return pcapRecord{}, nil, truncated("record header", p.recLen, n)
	}
	rec := pcapRecord{
		Sec:    p.order.Uint32(h[0:4]),
		Nsec:   p.order.Uint32(h[4:8]),
		CapLen: p.order.Uint32(h[8:12]),
		Len:    p.order.Uint32(h[12:16]),
	}
	if !p.nano {
		rec.Nsec *= 1000 // wraps as libpcap's 32-bit field does
	}
	if max := maxSnaplenFor(p.linkType); rec.CapLen > p.snaplen && rec.CapLen > max {
		return pcapRecord{}, nil, fmt.Errorf("invalid captured length %d in record %d, bigger than the maximum of %d", rec.CapLen, p.n+1, max)
	}
	data, err := p.readData(int(rec.CapLen))
	if err != nil {
		return pcapRecord{}, nil, err
	}
	// Longer than the file's snapshot length: libpcap keeps the first
	// snaplen bytes and says so in caplen.
	if rec.CapLen > p.snaplen {
		rec.CapLen = p.snaplen
		data = data[:p.snaplen]
	}
	p.n++
	return rec, data, nil
}

// readData reads n bytes of packet data into the reader's buffer. The
// buffer grows with the data actually read, not with the length a record
// claims, so a hostile file cannot make us allocate 128 MiB per record.
func (p *pcapReader) readData(n int) ([]byte, error) {
	const step = 1 << 20
	if cap(p.buf) >= n || n <= step {
		if cap(p.buf) < n {
			p.buf = make([]byte, n)
		}
		data := p.buf[:n]
		if got, err := io.ReadFull(p.r, data); err != nil {
			if !atEnd(err) {
				return nil, err
			}
			return nil, truncated("captured", n, got)
		}
		return data, nil
	}
	data := p.buf[:0]
	for len(data) < n {
		chunk := min(step, n-len(data))
		data = slices.Grow(data, chunk)
		got, err := io.ReadFull(p.r, data[len(data):len(data)+chunk])
		data = data[:len(data)+got]
		if err != nil && !atEnd(err) {
			return nil, err
		}
		if err != nil {
			return nil, truncated("captured", n, len(data))
		}
	}
	p.buf = data
	return data, nil
}

// appendPcapHeader appends the file header of a nanosecond pcap in host
// (little-endian) order, as tcpdump --time-stamp-precision=nano -w writes.
func appendPcapHeader(b []byte, snaplen, linkType uint32) []byte {
	return appendPcapHeaderMagic(b, magicPcapNano, snaplen, linkType)
}

// appendPcapHeaderMagic appends a pcap file header with the given magic:
// magicPcapNano or magicPcapMicro.
func appendPcapHeaderMagic(b []byte, magic, snaplen, linkType uint32) []byte {
	le := binary.LittleEndian
	b = le.AppendUint32(b, magic)
	b = le.AppendUint16(b, pcapVersionMajor)
	b = le.AppendUint16(b, pcapVersionMinor)
	b = le.AppendUint32(b, 0) // thiszone
	b = le.AppendUint32(b, 0) // sigfigs
	b = le.AppendUint32(b, snaplen)
	return le.AppendUint32(b, linkType)
}
