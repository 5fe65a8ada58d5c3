package capture

import (
	"io"
	"testing"

	"github.com/bpftop-cap/bpftop-cap/bpf"
)

// BenchmarkRecordToPcap is user space's per-packet work for -w: parse and
// validate the record, stamp it, copy it into a batch, write it as pcap.
func BenchmarkRecordToPcap(b *testing.B) {
	for _, size := range []int{64, 1442} {
		b.Run(map[int]string{64: "64B", 1442: "1442B"}[size], func(b *testing.B) {
			raw := bpf.AppendRecord(nil, bpf.Record{Protocol: 1, Ifindex: 2, Dir: bpf.DirOut, Hook: bpf.HookTC, KtimeNs: 1e9, TotLen: uint32(size), CapLen: uint32(size)}, make([]byte, size))
			clock := NewClock()
			w, _ := NewPcapWriter(io.Discard, 262144, 1)
			batch := &Batch{Packets: make([]Packet, 0, 1024), buf: make([]byte, 0, 2<<20)}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				hdr, payload, err := bpf.ParseRecord(raw)
				if err != nil {
					b.Fatal(err)
				}
				if !batch.room(len(payload)) {
					for j := range batch.Packets {
						_ = w.Write(&batch.Packets[j])
					}
					batch.Release()
				}
				batch.add(Packet{TS: clock.Wall(hdr.KtimeNs), Ifindex: int(hdr.Ifindex), Dir: hdr.Dir, OrigLen: int(hdr.TotLen)}, payload)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpkts/s")
		})
	}
}
