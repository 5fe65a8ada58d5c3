package pcapfile

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// ErrBadFile is wrapped by the errors for files that are not captures.
var ErrBadFile = errors.New("not a pcap or pcapng file")

// File reads packets from a saved pcap or pcapng capture the way libpcap
// does.
type File struct {
	Format   string // "pcap" or "pcapng"
	LinkType uint32 // as in the file header, upper (FCS) bits included
	Snaplen  uint32 // adjusted as libpcap does: 0 or too big means the maximum
	// BigEndian is the byte order of the file (of its first section):
	// a LINKTYPE_NULL header is in it, and filters compare it so.
	BigEndian bool
	f         *os.File
	next      func() (pcapRecord, []byte, error)
	link      packet.LinkType // of the packet Next returned last
	// Skipped counts the packets CopyTo left out: a pcapng file's packets
	// of an interface of another link type than the first's.
	Skipped uint64
	// Copied, when set, is called with each packet CopyTo writes (--print).
	Copied func(*packet.Packet)
	ng     *ngState // pcapng only: interfaces, direction, statistics
	tail   *tail    // a followed file (OpenFollow)
}

// LinkTypeName names the link type as tcpdump does, roughly.
func (cf *File) LinkTypeName() string {
	lt := cf.LinkType & linkTypeMask
	if name := packet.LinkType(lt).Name(); !strings.HasPrefix(name, "link type") {
		return name // tcpdump's name
	}
	if name := layers.LinkType(lt).String(); !strings.HasPrefix(name, "Unknown") {
		return name
	}
	return fmt.Sprintf("link type %d", lt)
}

// Magic numbers at the start of capture files.
const (
	magicPcapMicro = 0xa1b2c3d4
	magicPcapNano  = 0xa1b23c4d
	magicPcapng    = 0x0a0d0d0a

	pcapngByteOrderMagic = 0x1a2b3c4d
)

// OpenFile opens a pcap or pcapng file ("-" reads standard input).
func OpenFile(path string) (*File, error) {
	f := os.Stdin
	if path != "-" {
		var err error
		if f, err = os.Open(path); err != nil {
			return nil, fmt.Errorf("open capture: %w", err)
		}
	}
	cf, err := newFile(f)
	if cf != nil {
		cf.f = f
	}
	if err != nil {
		if f != os.Stdin {
			f.Close()
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return cf, nil
}

// OpenStream reads a capture from r as it comes (a remote capture's
// stream, named name in errors). Close closes r if it is an *os.File.
func OpenStream(r io.Reader, name string) (*File, error) {
	cf, err := newFile(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	cf.f, _ = r.(*os.File)
	return cf, nil
}

func newFile(rd io.Reader) (*File, error) {
	br := bufio.NewReaderSize(rd, 64<<10)
	head, err := br.Peek(4)
	if len(head) < 4 {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: the file is empty or shorter than a header", ErrBadFile)
		}
		return nil, err
	}
	cf := &File{}
	if binary.LittleEndian.Uint32(head) == magicPcapng {
		if bom, _ := br.Peek(12); len(bom) == 12 {
			cf.BigEndian = binary.BigEndian.Uint32(bom[8:]) == pcapngByteOrderMagic
		}
		// Interfaces may differ in link type: every packet is read, each
		// with its own (libpcap refuses such files; the view shows each
		// packet as what it is, a conversion to pcap keeps the first's).
		ng := &ngState{}
		cf.ng = ng
		r, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{
			SkipUnknownVersion: true, WantMixedLinkType: true,
			SectionEndCallback: ng.sectionEnd, StatisticsCallback: ng.statistics,
		})
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadFile, err)
		}
		// The first interface, which names the file's link type and
		// snapshot length, comes before the first packet: read it now.
		first, firstCI, firstOpts, firstErr := r.ReadPacketDataWithOptions()
		ifc0, err := r.Interface(0)
		if err != nil {
			if firstErr != nil && !errors.Is(firstErr, io.EOF) {
				return nil, fmt.Errorf("%w: %v", ErrBadFile, firstErr)
			}
			return nil, fmt.Errorf("%w: no interface description block", ErrBadFile)
		}
		first = bytes.Clone(first) // the reader's buffer is reused
		pending := true
		cf.Format, cf.LinkType = "pcapng", uint32(ifc0.LinkType)
		cf.Snaplen = adjustSnaplen(cf.LinkType, ifc0.SnapLength)
		cf.next = func() (pcapRecord, []byte, error) {
			data, ci, opts, err := first, firstCI, firstOpts, firstErr
			if pending {
				pending = false
			} else {
				data, ci, opts, err = r.ReadPacketDataWithOptions()
			}
			if err != nil {
				return pcapRecord{}, nil, err
			}
			cf.link = packet.LinkType(cf.LinkType & linkTypeMask)
			ng.pid = 0
			if ifc, err := r.Interface(ci.InterfaceIndex); err == nil {
				cf.link = packet.LinkType(uint32(ifc.LinkType) & linkTypeMask)
				ng.packet(ci.InterfaceIndex, ifc.Name, &opts, cf.BigEndian, ci.Timestamp)
			}
			rec := recordAt(ci.Timestamp, uint32(len(data)), uint32(ci.Length))
			if rec.CapLen > cf.Snaplen {
				rec.CapLen = cf.Snaplen
				data = data[:cf.Snaplen]
			}
			return rec, data, nil
		}
		return cf, nil
	}
	r, err := newPcapReader(br)
	if err != nil {
		return nil, err
	}
	cf.Format, cf.LinkType, cf.Snaplen, cf.next = "pcap", r.linkType, r.snaplen, r.next
	cf.link = packet.LinkType(r.linkType & linkTypeMask)
	cf.BigEndian = r.order == binary.BigEndian
	return cf, nil
}

// Next returns the next packet; io.EOF at the clean end of the file. The
// data is valid until the next call.
func (cf *File) Next() (ts time.Time, capLen, origLen uint32, data []byte, err error) {
	rec, data, err := cf.next()
	return rec.Time(), rec.CapLen, rec.Len, data, err
}

// NextPacket is Next as a Packet, with the packet's link type (a pcapng
// file's interfaces may each have their own). Its Data is valid until the
// next call.
func (cf *File) NextPacket() (packet.Packet, error) {
	rec, data, err := cf.next()
	if err != nil {
		return packet.Packet{}, err
	}
	p := packet.Packet{Data: data, Nanos: packet.Nanos(rec.Time()), OrigLen: rec.Len}
	p.SetLinkType(cf.link)
	if cf.ng != nil {
		p.Ifindex, p.Dir = cf.ng.ifindex, cf.ng.dir
		p.SetTask(cf.ng.pid, -1)
	}
	return p, nil
}

// Close closes the file.
func (cf *File) Close() error {
	cf.Stop()
	if cf.f == nil || cf.f == os.Stdin {
		return nil
	}
	return cf.f.Close()
}

// CopyTo writes the packets of the file that keep accepts (all, if keep is
// nil) to w and returns how many it wrote. A file that ends mid-record
// gives an error after the packets before it.
func (cf *File) CopyTo(w *PcapWriter, keep func(data []byte, wireLen uint32) bool) (uint64, error) {
	return cf.CopyN(w, keep, 0)
}

// CopyN is CopyTo that stops after limit packets written (0: no limit), as
// -c does.
func (cf *File) CopyN(w *PcapWriter, keep func(data []byte, wireLen uint32) bool, limit uint64) (uint64, error) {
	var n uint64
	for limit == 0 || n < limit {
		rec, data, err := cf.next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return n, fmt.Errorf("truncated capture file after %d packets", n)
		}
		if err != nil {
			return n, fmt.Errorf("after %d packets: %w", n, err)
		}
		if cf.link != packet.LinkType(cf.LinkType&linkTypeMask) {
			cf.Skipped++ // a pcap file has one link type
			continue
		}
		if keep != nil && !keep(data, rec.Len) {
			continue
		}
		if err := w.writeRecord(rec, data); err != nil {
			return n, err
		}
		if cf.Copied != nil {
			p := packet.Packet{Data: data, Nanos: packet.Nanos(rec.Time()), OrigLen: rec.Len}
			p.SetLinkType(cf.link)
			cf.Copied(&p)
		}
		n++
	}
	return n, nil
}
