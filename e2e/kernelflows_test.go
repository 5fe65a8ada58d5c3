package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/decode"
	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
	"github.com/bpftop-cap/bpftop-cap/packet"
	"github.com/bpftop-cap/bpftop-cap/pcapfile"
)

// TestKernelFlowsMatchDecode runs every Ethernet packet of tcpdump's test
// captures through the kernel program (BPF_PROG_TEST_RUN, counting flows)
// and through decode, then gives the flow table the kernel's counts, as
// the live view does. No perf reader is open, so every record fails and the
// kernel counts every packet, as a full ring would. The kernel's counts
// must be decode.KernelKeyOf's; in the table, a flow's kernel count must be
// its decoded count (never a packet decode put in another flow, which a
// flow only the kernel has would be too); and the kernel must key every
// flow decode keys outside tunnels, but for packets decode finds malformed
// or cut short.
func TestKernelFlowsMatchDecode(t *testing.T) {
	testutil.RequireRoot(t)
	dir := testutil.Corpus(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		testutil.SkipOrFail(t, "corpus missing: %v", err)
	}
	for _, xdp := range []bool{false, true} {
		// Whole packets, -s 68 (tcpdump's old default) and -s 54 (IPv6
		// headers and no more), which cut headers: the kernel sees all of
		// a packet but must key it by what the capture keeps, as decode
		// does.
		for _, snaplen := range []int{262144, 68, 54} {
			t.Run(fmt.Sprintf("%s/s%d", map[bool]string{false: "tc", true: "xdp"}[xdp], snaplen), func(t *testing.T) {
				o, err := bpf.Load(bpf.Config{Snaplen: uint32(snaplen), In: true, XDP: xdp, CountFlows: 1 << 16})
				if err != nil {
					t.Fatal(err)
				}
				defer o.Close()
				kernelFlowsMatchDecode(t, o, snaplen, dir, entries)
			})
		}
	}
}

func kernelFlowsMatchDecode(t *testing.T, o *bpf.Objects, snaplen int, dir string, entries []os.DirEntry) {
	// The kernel reports the ifindex the test run gives: loopback's.
	const ifindex = 1
	var files, packets, flows, matched, refused int
	var unmatched []string
	fragmented := map[string]bool{} // files with IP fragments after a first
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".pcap") && !strings.HasSuffix(name, ".pcapng") {
			continue
		}
		in, err := pcapfile.OpenFile(filepath.Join(dir, name))
		if err != nil {
			continue // files tcpdump refuses too; the converter tests cover them
		}
		if in.LinkType&0xffff != 1 {
			in.Close()
			continue
		}
		if err := o.ClearFlows(); err != nil {
			t.Fatal(err)
		}
		eng := decode.NewEngine(decode.Config{MaxFlows: 1 << 16, RingBytes: 1 << 20, IdleTimeout: -1, KernelCounts: true})
		// What the kernel should count, by decode.KernelKeyOf, the
		// kernel key's description in Go: key (no counts) -> counts.
		model := map[packet.FlowKey]packet.FlowCounts{}
		n := 0
		var last time.Time
		for {
			ts, _, _, data, err := in.Next()
			if err != nil { // io.EOF, or a file cut short
				break
			}
			// The test run takes an Ethernet header up to about a page.
			if len(data) < 14 || len(data) > 3000 {
				continue
			}
			if err := o.Run(data); err != nil {
				refused++ // the test run checks some headers itself
				continue
			}
			// The test run's packet is the wire; decode gets what the
			// capture keeps of it.
			kept := data[:min(len(data), snaplen)]
			if laterFragment(data) {
				fragmented[name] = true
			}
			eng.Add(packet.Packet{Nanos: packet.Nanos(ts), Ifindex: uint32(ifindex), OrigLen: uint32(len(data)), Data: kept})
			if key, srcIsLo, ok := decode.KernelKeyOf(kept, ifindex); ok {
				side := 1
				if srcIsLo {
					side = 0
				}
				c := model[key]
				c.Pkts[side]++
				c.Bytes[side] += uint64(len(data))
				model[key] = c
			}
			n++
			last = ts
		}
		in.Close()
		if n == 0 {
			continue
		}
		var kfs []decode.KernelFlow
		err = o.Flows(func(k *packet.FlowKey, c *packet.FlowCounts) {
			if k.Ifindex != ifindex {
				t.Errorf("%s: kernel flow on ifindex %d, want %d", name, k.Ifindex, ifindex)
			}
			kfs = append(kfs, decode.KernelFlow{FlowKey: *k, FlowCounts: *c})
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, kf := range kfs {
			key := kf.FlowKey
			want, ok := model[key]
			if !ok || want.Pkts != kf.Pkts || want.Bytes != kf.Bytes {
				t.Errorf("%s: the kernel counted %+v; decode.KernelKeyOf %v, %+v", name, kf, ok, want)
			}
			delete(model, key)
		}
		for key := range model {
			t.Errorf("%s: decode.KernelKeyOf counts %+v, the kernel does not", name, key)
		}
		eng.TakeEvicted(nil) // as the live view does before each SetKernelCounts
		// As if the ring had lost packets: a flow only the kernel keyed
		// joins the table then, and would count a packet twice.
		eng.SetCaptureCounters(1, 0)
		m := eng.SetKernelCounts(kfs, last)
		views := eng.Flows(decode.SortBytes, "", last)
		var decoded uint64
		plain := 0
		for _, v := range views {
			decoded += v.DecodedPkts
			if v.Tunnel == "" {
				plain++
			}
			// Where the kernel counted a flow, it counted its packets and
			// no other: every one, but for the fragments after a
			// datagram's first, which decode counts in the datagram's
			// flow and the kernel under a key without ports.
			if v.KernelPkts > v.DecodedPkts || v.KernelPkts != 0 && v.KernelPkts < v.DecodedPkts && !fragmented[name] ||
				v.Packets() != v.DecodedPkts+v.KernelPkts {
				t.Errorf("%s: flow %s %s <-> %s: the kernel counted %d packets, decode %d, shown %d", name, v.Proto, v.A, v.B, v.KernelPkts, v.DecodedPkts, v.Packets())
			}
		}
		if decoded != uint64(n) {
			t.Errorf("%s: the flows hold %d decoded packets; %d were fed", name, decoded, n)
		}
		if m < plain {
			unmatched = append(unmatched, name)
			// Only where decode found a broken or cut-short header.
			if st := eng.Stats(last); st.Malformed+st.Truncated+st.Unsupported == 0 {
				t.Errorf("%s: the kernel keyed %d of its %d flows, all its packets well formed", name, m, plain)
			}
		}
		files++
		packets += n
		flows += plain
		matched += m
	}
	t.Logf("%d Ethernet captures, %d packets (%d more refused by the test run): the kernel keyed %d of the %d flows decode keyed outside tunnels; files with some not: %v",
		files, packets, refused, matched, flows, unmatched)
	if files < 100 {
		t.Errorf("only %d Ethernet captures read", files)
	}
}

// laterFragment reports whether an Ethernet frame (untagged) holds an
// IPv4 fragment after the first, or an IPv6 packet with a fragment header
// whose offset is not 0.
func laterFragment(d []byte) bool {
	if len(d) < 14 {
		return false
	}
	switch uint16(d[12])<<8 | uint16(d[13]) {
	case 0x0800:
		return len(d) >= 22 && (uint16(d[20]&0x1f)<<8|uint16(d[21])) != 0
	case 0x86dd:
		return len(d) >= 62 && d[20] == 44 && (uint16(d[56])<<8|uint16(d[57]))>>3 != 0
	}
	return false
}
