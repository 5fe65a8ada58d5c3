package capture

import (
	"io"
	"math"
	"os"
	"testing"

	"github.com/bpftop-cap/bpftop-cap/pcapfile"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// BenchmarkRecordToPcap is user space's per-packet work for -w without
// the rings: parse and validate the record, stamp it, write it as pcap
// (to io.Discard), as a pass does for each record it merges (emit).
func BenchmarkRecordToPcap(b *testing.B) {
	for _, size := range []int{64, 1442} {
		b.Run(map[int]string{64: "64B", 1442: "1442B"}[size], func(b *testing.B) {
			raw := bpf.AppendRecord(nil, bpf.Record{Protocol: 1, Ifindex: 2, Dir: packet.DirOut, Hook: packet.HookTC, KtimeNs: 1e9, TotLen: uint32(size), CapLen: uint32(size)}, make([]byte, size))
			r := newReader(nil, NewClock(), Options{})
			w, _ := pcapfile.NewPcapWriter(io.Discard, 262144, 1)
			var res WriteResult
			r.write = newFileSink(w, 0, func() {}, &res).write
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			var hdr bpf.Record
			for i := 0; i < b.N; i++ {
				payload, err := bpf.ParseInto(&hdr, raw)
				if err != nil {
					b.Fatal(err)
				}
				r.emit(&hdr, payload)
			}
			if res.Err != nil || res.Written != uint64(b.N) {
				b.Fatalf("wrote %d of %d: %v", res.Written, b.N, res.Err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpkts/s")
		})
	}
}

// BenchmarkDirect is RunDirect's per-packet work after a wakeup: one merge
// pass over rings the size of the default (8 MiB each) filled as the
// kernel fills them, records parsed in place, stamped and written as pcap
// (to io.Discard). With two rings, consecutive records alternate between
// them, the worst case for the merge.
func BenchmarkDirect(b *testing.B) {
	for _, size := range []int{64, 1442} {
		for _, nrings := range []int{1, 2} {
			name := map[int]string{64: "64B", 1442: "1442B"}[size] + map[int]string{1: "/1ring", 2: "/2rings"}[nrings]
			b.Run(name, func(b *testing.B) {
				src := &perfRings{}
				r := fakeReader(src)
				var perRing int
				for i := range nrings {
					f := newFakeRing(i, 8<<20, 0)
					for kt := uint64(1e9 + i); f.sample(bpf.Record{Protocol: 1, Ifindex: 2, Dir: packet.DirOut, Hook: packet.HookTC, KtimeNs: kt, TotLen: uint32(size), CapLen: uint32(size)}, make([]byte, size)); kt += 2 {
						if i == 0 {
							perRing++
						}
					}
					src.rings = append(src.rings, f.mmapRing)
				}
				benchPasses(b, size, perRing*nrings, func(write func(*packet.Packet)) {
					for _, rg := range src.rings {
						rg.meta.Data_tail = 0 // read the same records again
					}
					r.writePass(math.MaxUint64, write)
				})
			})
		}
	}
}

// BenchmarkDirectRingBuf is BenchmarkDirect for the ring buffer: one pass
// over a 64 MiB ring buffer filled with records in stamp order, as one
// CPU writes them (two CPUs' records out of order cost a sort).
func BenchmarkDirectRingBuf(b *testing.B) {
	for _, size := range []int{64, 1442} {
		b.Run(map[int]string{64: "64B", 1442: "1442B"}[size], func(b *testing.B) {
			f := newFakeRingBuf(64 << 20)
			r := fakeReader(f.bpfRing)
			payload := make([]byte, size)
			records := 0
			for kt := uint64(1e9); *f.prodPos+uint64(size)+64 <= f.size; kt += 1000 {
				f.put(bpf.AppendRecord(nil, bpf.Record{Protocol: 1, Ifindex: 2, Dir: packet.DirOut, Hook: packet.HookTC, KtimeNs: kt, TotLen: uint32(size), CapLen: uint32(size)}, payload), 0)
				records++
			}
			prod := *f.prodPos
			benchPasses(b, size, records, func(write func(*packet.Packet)) {
				*f.consPos, *f.prodPos = 0, prod // read the same records again
				r.writePass(math.MaxUint64, write)
			})
		})
	}
}

// benchPasses runs pass, which writes the records of one full ring (perPass
// packets of size bytes), as pcap to io.Discard until b.N packets are
// written, and reports the time per packet.
func benchPasses(b *testing.B, size, perPass int, pass func(write func(*packet.Packet))) {
	w, _ := pcapfile.NewPcapWriter(io.Discard, 262144, 1)
	var res WriteResult
	out := newFileSink(w, 0, func() {}, &res)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += perPass {
		pass(out.write)
	}
	b.StopTimer()
	if res.Err != nil || res.Written < uint64(b.N) {
		b.Fatalf("wrote %d of %d: %v", res.Written, b.N, res.Err)
	}
	b.ReportMetric(float64(res.Written)/b.Elapsed().Seconds()/1e6, "Mpkts/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(res.Written), "ns/pkt")
}

// BenchmarkPcapWriteBig writes 64 KiB packets (GSO frames of a TCP stream)
// as pcap to a file in /dev/shm (a tmpfs, else the test's temporary
// directory), rewound every 16 MiB so that the page cache stays small.
func BenchmarkPcapWriteBig(b *testing.B) {
	dir := "/dev/shm"
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		dir = b.TempDir()
	}
	f, err := os.CreateTemp(dir, "bench-*.pcap")
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	w, err := pcapfile.NewPcapWriter(f, 262144, 1)
	if err != nil {
		b.Fatal(err)
	}
	pkt := &packet.Packet{Data: make([]byte, 64<<10), OrigLen: 64 << 10, Nanos: 1e18}
	b.SetBytes(int64(len(pkt.Data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := w.Write(pkt); err != nil {
			b.Fatal(err)
		}
		if i%256 == 255 {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}
