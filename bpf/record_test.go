package bpf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

func TestParseRecord(t *testing.T) {
	good := Record{Protocol: packet.LinkTypeEthernet, Ifindex: 7, Dir: packet.DirOut, Hook: packet.HookXDP, KtimeNs: 123456789, TotLen: 100, CapLen: 5, Pid: 4194303, CPU: 1022}
	payload := []byte{1, 2, 3, 4, 5}
	raw := AppendRecord(nil, good, payload)

	r, p, err := ParseRecord(raw)
	if err != nil {
		t.Fatal(err)
	}
	if r != good || !bytes.Equal(p, payload) {
		t.Fatalf("got %+v %v, want %+v %v", r, p, good, payload)
	}
	if len(raw)%8 != 4 {
		t.Fatalf("AppendRecord pads to %d bytes, want perf's 8-byte alignment with the u32 size", len(raw))
	}

	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(raw)) }
	le := binary.LittleEndian
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"empty", nil},
		{"short header", raw[:HeaderSize-1]},
		{"bad magic", mutate(func(b []byte) []byte { b[0] ^= 0xff; return b })},
		{"cap_len beyond sample", mutate(func(b []byte) []byte { le.PutUint32(b[28:], 64); le.PutUint32(b[24:], 64); return b })},
		{"cap_len > tot_len", mutate(func(b []byte) []byte { le.PutUint32(b[24:], 2); return b })},
		{"cap_len > max", mutate(func(b []byte) []byte { le.PutUint32(b[28:], MaxCapLen+1); le.PutUint32(b[24:], MaxCapLen+1); return b })},
		{"bad direction", mutate(func(b []byte) []byte { b[12] = 3; return b })},
		{"flags beyond 48 bits", mutate(func(b []byte) []byte { b[15] = 1; return b })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := ParseRecord(tc.raw); !errors.Is(err, ErrBadRecord) {
				t.Fatalf("err = %v, want ErrBadRecord", err)
			}
		})
	}

	// Trailing perf padding is ignored: the length comes from cap_len.
	padded := append(bytes.Clone(raw), 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee)
	if _, p, err := ParseRecord(padded); err != nil || !bytes.Equal(p, payload) {
		t.Fatalf("padded: %v %v", p, err)
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add(AppendRecord(nil, Record{Protocol: 1, Ifindex: 1, Dir: packet.DirIn, Hook: packet.HookTC, TotLen: 60, CapLen: 3}, []byte{1, 2, 3}))
	f.Add([]byte{})
	f.Add(make([]byte, HeaderSize))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, p, err := ParseRecord(raw)
		if err != nil {
			return
		}
		if len(p) != int(r.CapLen) || r.CapLen > r.TotLen || len(p) > MaxCapLen {
			t.Fatalf("accepted inconsistent record %+v with %d payload bytes", r, len(p))
		}
		// What parses re-encodes to the same header.
		again := AppendRecord(nil, r, p)
		if !bytes.Equal(again[:HeaderSize+len(p)], raw[:HeaderSize+len(p)]) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// TestRecordVLAN: a tag the kernel took out of the frame rides in the
// header's spare bits and goes back after the MAC addresses.
func TestRecordVLAN(t *testing.T) {
	frame := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00, 0x45}
	in := Record{Protocol: packet.LinkTypeEthernet, Ifindex: 7, Dir: packet.DirIn, Hook: packet.HookTC,
		KtimeNs: 99, TotLen: 60, CapLen: uint32(len(frame)), VlanTPID: 0x88a8, VlanTCI: 0x2064}
	raw := AppendRecord(nil, in, frame)
	var r Record
	payload, err := ParseInto(&r, raw)
	if err != nil {
		t.Fatal(err)
	}
	if r != in {
		t.Fatalf("parsed %+v, want %+v", r, in)
	}
	want := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x88, 0xa8, 0x20, 0x64, 0x08, 0x00, 0x45}
	if got := r.Tagged(nil, payload); !bytes.Equal(got, want) || r.TagLen(payload) != 4 {
		t.Fatalf("tagged %x (+%d), want %x", got, r.TagLen(payload), want)
	}
	// Untagged, and too short to hold the MACs: as they are.
	r.VlanTPID = 0
	if got := r.Tagged(nil, payload); !bytes.Equal(got, frame) || r.TagLen(payload) != 0 {
		t.Fatalf("untagged: %x", got)
	}
	r.VlanTPID = 0x8100
	if got := r.Tagged(nil, frame[:10]); !bytes.Equal(got, frame[:10]) || r.TagLen(frame[:10]) != 0 {
		t.Fatalf("short frame: %x", got)
	}
	// TCI bits without a TPID: not a record the programs write.
	bad := AppendRecord(nil, Record{Protocol: 1, Dir: packet.DirIn, TotLen: 15, CapLen: 15, VlanTCI: 5}, frame)
	if _, err := ParseInto(&r, bad); err == nil {
		t.Fatal("TCI without a TPID accepted")
	}
}
