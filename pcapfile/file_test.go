package pcapfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

func pcapBytes(t testing.TB, order binary.ByteOrder, magic uint32, recs int) []byte {
	var b bytes.Buffer
	h := make([]byte, 24)
	order.PutUint32(h[0:], magic)
	order.PutUint16(h[4:], 2)
	order.PutUint16(h[6:], 4)
	order.PutUint32(h[16:], 65535)
	order.PutUint32(h[20:], 1)
	b.Write(h)
	for i := range recs {
		r := make([]byte, 16)
		order.PutUint32(r[0:], 1700000000+uint32(i))
		order.PutUint32(r[4:], 123456)
		order.PutUint32(r[8:], 60)
		order.PutUint32(r[12:], 60)
		b.Write(r)
		b.Write(bytes.Repeat([]byte{byte(i)}, 60))
	}
	return b.Bytes()
}

func TestOpenFileVariants(t *testing.T) {
	for _, tc := range []struct {
		name  string
		order binary.ByteOrder
		magic uint32
		nsec  int
	}{
		{"little-endian micro", binary.LittleEndian, magicPcapMicro, 123456000},
		{"big-endian micro", binary.BigEndian, magicPcapMicro, 123456000},
		{"little-endian nano", binary.LittleEndian, magicPcapNano, 123456},
		{"big-endian nano", binary.BigEndian, magicPcapNano, 123456},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cf, err := newFile(bytes.NewReader(pcapBytes(t, tc.order, tc.magic, 3)))
			if err != nil {
				t.Fatal(err)
			}
			if cf.Format != "pcap" || cf.LinkType != 1 || cf.Snaplen != 65535 {
				t.Errorf("header %+v", cf)
			}
			for i := range 3 {
				ts, capLen, origLen, data, err := cf.Next()
				if err != nil {
					t.Fatal(err)
				}
				if !ts.Equal(time.Unix(1700000000+int64(i), int64(tc.nsec))) || capLen != 60 || origLen != 60 || data[0] != byte(i) {
					t.Errorf("record %d: %v %d %d", i, ts, capLen, origLen)
				}
			}
			if _, _, _, _, err := cf.Next(); !errors.Is(err, io.EOF) {
				t.Errorf("end: %v", err)
			}
		})
	}
}

func TestOpenFileRefusesGarbage(t *testing.T) {
	good := pcapBytes(t, binary.LittleEndian, magicPcapMicro, 2)
	dir := t.TempDir()
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"empty", "empty", nil},
		{"garbage", "not a pcap or pcapng file", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"short header", "truncated", good[:10]},
		{"archaic", "archaic", func() []byte { b := bytes.Clone(good); b[4] = 1; return b }()},
		{"pcapng garbage", "not a pcap or pcapng file", []byte{0x0a, 0x0d, 0x0d, 0x0a, 1, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			os.WriteFile(p, tc.data, 0o600)
			_, err := OpenFile(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
	// A file cut in the middle of a record: the packets before, then an error.
	cf, err := newFile(bytes.NewReader(good[:len(good)-5]))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, _ := NewPcapWriter(&buf, 65535, 1)
	n, err := cf.CopyTo(w, nil)
	if n != 1 || err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("cut file: %d packets, %v", n, err)
	}
	if _, err := OpenFile(filepath.Join(dir, "does-not-exist")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzReadCapture: no input makes the reader panic or loop, and what it
// reads it can write back.
func FuzzReadCapture(f *testing.F) {
	f.Add(pcapBytes(f, binary.LittleEndian, magicPcapMicro, 2))
	f.Add(pcapBytes(f, binary.BigEndian, magicPcapNano, 1))
	f.Add([]byte{0x0a, 0x0d, 0x0d, 0x0a})
	ng, _ := twoIfacePcapng(f)
	f.Add(ng)
	if dir, err := testutil.CorpusDir(); err == nil {
		ents, _ := os.ReadDir(dir)
		for i, e := range ents {
			if i%20 != 0 {
				continue
			}
			if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil && len(b) < 64<<10 {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cf, err := newFile(bytes.NewReader(b))
		if err != nil {
			return
		}
		w, _ := NewPcapWriter(io.Discard, cf.Snaplen, cf.LinkType)
		_, _ = cf.CopyTo(w, nil)
		// The view's path: interfaces, directions, statistics.
		cf, _ = newFile(bytes.NewReader(b))
		for {
			p, err := cf.NextPacket()
			if err != nil {
				break
			}
			if p.Ifindex != 0 && cf.Interfaces()[int(p.Ifindex)] == "" {
				t.Fatalf("packet of interface %d, which has no name", p.Ifindex)
			}
		}
		_ = cf.CaptureDropped()
	})
}

// TestMixedLinkTypesPcapng: a pcapng file whose interfaces differ in link
// type (the view's w on an Ethernet and a tun interface writes one) gives
// every packet with its own link type; CopyTo to pcap keeps the first
// interface's and counts the others.
func TestMixedLinkTypesPcapng(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mixed.pcapng")
	eth := make([]byte, 60)
	eth[12], eth[13] = 0x08, 0x00
	raw := []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}
	pkts := []packet.Packet{{Ifindex: 1, Data: eth, OrigLen: 60, Nanos: 1e9}, {Ifindex: 2, Data: raw, OrigLen: 20, Nanos: 2e9}, {Ifindex: 1, Data: eth, OrigLen: 60, Nanos: 3e9}}
	pkts[1].SetLinkType(packet.LinkTypeRaw)
	_, err := SaveFile(path, pkts, Save{Format: "pcapng", Snaplen: 262144, Ifaces: []IfaceInfo{
		{Index: 1, Name: "eth0", LinkType: packet.LinkTypeEthernet}, {Index: 2, Name: "tun0", LinkType: packet.LinkTypeRaw}}})
	if err != nil {
		t.Fatal(err)
	}
	cf, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []packet.LinkType
	for {
		p, err := cf.NextPacket()
		if err != nil {
			break
		}
		got = append(got, p.LinkType())
	}
	cf.Close()
	if want := []packet.LinkType{packet.LinkTypeEthernet, packet.LinkTypeRaw, packet.LinkTypeEthernet}; !slices.Equal(got, want) {
		t.Errorf("link types read %v, want %v", got, want)
	}
	cf, err = OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer cf.Close()
	var buf bytes.Buffer
	pw, err := NewPcapWriter(&buf, cf.Snaplen, cf.LinkType)
	if err != nil {
		t.Fatal(err)
	}
	n, err := cf.CopyTo(pw, nil)
	if err != nil || n != 2 || cf.Skipped != 1 || cf.LinkType != 1 {
		t.Errorf("CopyTo: %d written, %d skipped, link type %d, %v; want 2, 1, Ethernet", n, cf.Skipped, cf.LinkType, err)
	}
}
