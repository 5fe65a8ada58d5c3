package pcapfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

func testPackets() []packet.Packet {
	ts := time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)
	var ps []packet.Packet
	for i, n := range []int{60, 1514, 1, 300} {
		d := make([]byte, n)
		for j := range d {
			d[j] = byte(i*7 + j)
		}
		ps = append(ps, packet.Packet{Nanos: ts.Add(time.Duration(i) * 1001 * time.Nanosecond).UnixNano(), Ifindex: 3, Dir: packet.DirIn, OrigLen: uint32(n + i*100), Data: d})
	}
	return ps
}

func TestPcapRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewPcapWriter(&buf, 262144, 1)
	if err != nil {
		t.Fatal(err)
	}
	ps := testPackets()
	for i := range ps {
		if err := w.Write(&ps[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r, err := pcapgo.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != 1 || r.Snaplen() != 262144 {
		t.Errorf("header: link %v snaplen %d", r.LinkType(), r.Snaplen())
	}
	if r.Resolution().ToDuration() != time.Nanosecond {
		t.Errorf("resolution %v, want nanoseconds", r.Resolution())
	}
	for i, want := range ps {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if !bytes.Equal(data, want.Data) || !ci.Timestamp.Equal(want.Time()) || ci.Length != int(want.OrigLen) || ci.CaptureLength != len(want.Data) {
			t.Errorf("packet %d: got ts %v len %d/%d", i, ci.Timestamp, ci.CaptureLength, ci.Length)
		}
	}
	if _, _, err := r.ReadPacketData(); !errors.Is(err, io.EOF) {
		t.Errorf("after last packet: %v", err)
	}
}

// TestTcpdumpReadsOurPcap checks the file with a real peer.
func TestTcpdumpReadsOurPcap(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tcpdump not installed and CI=true")
		}
		t.Skip("tcpdump not installed")
	}
	p := filepath.Join(t.TempDir(), "t.pcap")
	f, err := CreateOutput(p)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := NewPcapWriter(f.File(), 262144, 1)
	ps := testPackets()
	for i := range ps {
		w.Write(&ps[i])
	}
	w.Flush()
	f.Close()
	out, err := exec.Command("tcpdump", "-nn", "-tt", "--nano", "-r", p).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump -r: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), ".123456789") || strings.Count(string(out), "\n") < len(ps) {
		t.Errorf("tcpdump output lacks our nanosecond stamps or packets:\n%s", out)
	}
}

// TestPcapWriterRecordBiggerThanBuffer: a record longer than the write
// buffer (a D-Bus capture's may be) is written whole, in order.
func TestPcapWriterRecordBiggerThanBuffer(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewPcapWriter(&buf, 1<<27, 231)
	ts := time.Date(2026, 11, 25, 10, 0, 0, 5, time.UTC)
	sizes := []int{10, pcapBufferSize*3 + 7, 20, directWrite - 1, directWrite, 5}
	for i, n := range sizes {
		d := bytes.Repeat([]byte{byte(i + 1)}, n)
		if err := w.WriteRecord(ts, uint32(n), uint32(n), d); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()[pcapHeaderLen:]
	for i, n := range sizes {
		if len(b) < pcapRecordLen+n {
			t.Fatalf("record %d: %d bytes left", i, len(b))
		}
		if got := binary.LittleEndian.Uint32(b[8:12]); got != uint32(n) {
			t.Fatalf("record %d: caplen %d, want %d", i, got, n)
		}
		if !bytes.Equal(b[pcapRecordLen:pcapRecordLen+n], bytes.Repeat([]byte{byte(i + 1)}, n)) {
			t.Fatalf("record %d: data differs", i)
		}
		b = b[pcapRecordLen+n:]
	}
	if len(b) != 0 || w.Count() != uint64(len(sizes)) {
		t.Errorf("%d bytes after the records, count %d", len(b), w.Count())
	}
}
