package bpf

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

// Magic is the value of bpf_pcap_hdr.magic in every record.
const Magic = 0xb7fca7

// HeaderSize is the size of the bpf_pcap_hdr that precedes the packet bytes.
const HeaderSize = 36

// MaxCapLen is the most packet bytes one record carries: a perf sample's size
// is a u16 that also covers its headers (MAX_CAP_LEN in capture.c).
const MaxCapLen = 65400

// Record is a parsed bpf_pcap_hdr.
type Record struct {
	Protocol packet.LinkType
	Ifindex  uint32
	Dir      packet.Dir
	Hook     packet.Hook
	KtimeNs  uint64 // CLOCK_MONOTONIC
	TotLen   uint32 // length on the wire
	CapLen   uint32 // bytes captured
	// A VLAN tag the kernel took out of the frame into the skb (tc; the
	// programs read it there): its TPID (0x8100, 0x88a8), 0 if none, and
	// TCI. Put back by Tagged.
	VlanTPID, VlanTCI uint16
	// Pid is the tgid of the process whose socket sent or receives the
	// packet (Config.Proc), 0 if none is known.
	Pid uint32
	// CPU is the CPU the program ran on, -1 if not recorded.
	CPU int32
}

// taskPidBits: the pid's share of the record's task field (capture.h).
const taskPidBits = 22

// Tagged appends to dst the frame payload with r's VLAN tag put back after
// the two MAC addresses, as libpcap does from a packet socket's auxiliary
// data, and returns it; payload as it is when r has no tag or payload is
// too short to hold the addresses.
func (r *Record) Tagged(dst, payload []byte) []byte {
	if r.VlanTPID == 0 || len(payload) < 12 {
		return append(dst, payload...)
	}
	dst = append(dst, payload[:12]...)
	dst = binary.BigEndian.AppendUint16(dst, r.VlanTPID)
	dst = binary.BigEndian.AppendUint16(dst, r.VlanTCI)
	return append(dst, payload[12:]...)
}

// TagLen is how many bytes Tagged adds to payload.
func (r *Record) TagLen(payload []byte) uint32 {
	if r.VlanTPID == 0 || len(payload) < 12 {
		return 0
	}
	return 4
}

// ErrBadRecord is wrapped by every error ParseRecord returns.
var ErrBadRecord = errors.New("bad capture record")

// ParseRecord validates one perf sample and splits it into its header and the
// captured bytes. The payload aliases raw. Perf pads samples with up to 7
// bytes, so the length comes from cap_len, never from len(raw).
func ParseRecord(raw []byte) (Record, []byte, error) {
	var r Record
	payload, err := ParseInto(&r, raw)
	if err != nil {
		return Record{}, nil, err
	}
	return r, payload, nil
}

// ParseInto is ParseRecord writing the header to *r, for loops that parse
// millions of records: it copies no Record by value (a copy made with wide
// loads just after the fields were stored narrow stalls the CPU).
func ParseInto(r *Record, raw []byte) ([]byte, error) {
	if len(raw) < HeaderSize {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the %d byte header", ErrBadRecord, len(raw), HeaderSize)
	}
	le := binary.LittleEndian
	if m := le.Uint32(raw[0:4]); m != Magic {
		return nil, fmt.Errorf("%w: magic %#x", ErrBadRecord, m)
	}
	flags := le.Uint64(raw[8:16])
	proto := le.Uint32(raw[4:8])
	r.Protocol = packet.LinkType(proto & 0xffff)
	r.VlanTPID, r.VlanTCI = uint16(proto>>16), uint16(flags>>48)
	r.Ifindex = uint32(flags)
	r.Dir = packet.Dir(flags >> 32)
	r.Hook = packet.Hook(flags >> 40)
	r.KtimeNs = le.Uint64(raw[16:24])
	r.TotLen = le.Uint32(raw[24:28])
	r.CapLen = le.Uint32(raw[28:32])
	task := le.Uint32(raw[32:36])
	r.Pid = task & (1<<taskPidBits - 1)
	r.CPU = int32(task>>taskPidBits) - 1
	switch {
	case r.CapLen > r.TotLen:
		return nil, fmt.Errorf("%w: cap_len %d > tot_len %d", ErrBadRecord, r.CapLen, r.TotLen)
	case r.CapLen > MaxCapLen:
		return nil, fmt.Errorf("%w: cap_len %d > %d", ErrBadRecord, r.CapLen, MaxCapLen)
	case uint64(r.CapLen) > uint64(len(raw)-HeaderSize):
		return nil, fmt.Errorf("%w: cap_len %d but %d bytes follow the header", ErrBadRecord, r.CapLen, len(raw)-HeaderSize)
	case r.Dir != packet.DirIn && r.Dir != packet.DirOut:
		return nil, fmt.Errorf("%w: direction %d", ErrBadRecord, r.Dir)
	case flags>>48 != 0 && r.VlanTPID == 0:
		return nil, fmt.Errorf("%w: flags %#x beyond 48 bits without a VLAN tag", ErrBadRecord, flags)
	}
	return raw[HeaderSize : HeaderSize+int(r.CapLen)], nil
}

// AppendRecord encodes r and payload as the programs do, padded to 8 bytes
// as perf pads samples. It exists for tests and benchmarks.
func AppendRecord(dst []byte, r Record, payload []byte) []byte {
	le := binary.LittleEndian
	dst = le.AppendUint32(dst, Magic)
	dst = le.AppendUint32(dst, uint32(r.Protocol)|uint32(r.VlanTPID)<<16)
	dst = le.AppendUint64(dst, uint64(r.Ifindex)|uint64(r.Dir)<<32|uint64(r.Hook)<<40|uint64(r.VlanTCI)<<48)
	dst = le.AppendUint64(dst, r.KtimeNs)
	dst = le.AppendUint32(dst, r.TotLen)
	dst = le.AppendUint32(dst, r.CapLen)
	dst = le.AppendUint32(dst, r.Pid&(1<<taskPidBits-1)|uint32(r.CPU+1)<<taskPidBits)
	dst = append(dst, payload...)
	for (len(dst)+4)%8 != 0 { // perf's u32 size field + sample, padded to 8
		dst = append(dst, 0)
	}
	return dst
}
