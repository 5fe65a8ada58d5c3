package bpf

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/perf"

	"github.com/bpftop-cap/bpftop-cap/filter"
	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// TestXmitFilterVerifies: the transmit program runs the filter on a copy
// of the packet in a map value, where the verifier holds every load to the
// value's size instead of to data_end; filters of every shape of load load
// (absolute, indexed by the IP header length, indexed by a value read from
// the packet, the length), with the copy taken through an skb dynptr and
// from the linear part alone.
func TestXmitFilterVerifies(t *testing.T) {
	testutil.RequireRoot(t)
	for _, expr := range []string{
		"", "udp", "tcp port 80", "tcp[tcpflags] & tcp-syn != 0", "ip[100] = 0 or ip",
		"udp[8:4] = 0x62707466", "ip[ip[0] & 0xf] = 1", "ether[len - 1] = 0", "len > 100",
		"vlan 100 and udp", "ip6 and tcp dst port 443", "tcp[600:1] >= 0",
	} {
		// Through an skb dynptr (Linux 6.12+) and from the linear part.
		for _, linear := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/linear=%v", expr, linear), func(t *testing.T) {
				cfg := Config{Snaplen: 128, In: true, Out: true, EgressAt: EgressXmit, xmitLinear: linear}
				if expr != "" {
					prog, err := filter.Compile(expr, 262144)
					if err != nil {
						t.Fatal(err)
					}
					cfg.Filter = prog
				}
				o, err := Load(cfg)
				if err != nil {
					t.Fatalf("load with the transmit hook: %v", err)
				}
				defer o.Close()
				if o.objs.CaptureXmit == nil || o.xmitLink == nil {
					t.Fatal("transmit hook not loaded and attached")
				}
				if o.objs.CaptureTcEgress != nil {
					t.Error("tc egress loaded although egress is recorded at transmit")
				}
			})
		}
	}
}

// xmitRecords sends datagrams out of interface A of pair (and of other, a
// second pair whose interface A has the same index in its own namespace),
// with the transmit hook attached to pair's A with filter expr, and
// returns the records read from the ring.
func xmitRecords(t *testing.T, pair, other *testutil.Pair, expr string, vlanPush bool) ([]Record, [][]byte, int) {
	t.Helper()
	prog, err := filter.Compile(expr, 262144)
	if err != nil {
		t.Fatal(err)
	}
	var o *Objects
	var rd *perf.Reader
	var ifindex int
	err = testutil.InNetns(pair.NsA, func() error {
		ifi, err := net.InterfaceByName(pair.IfA)
		if err != nil {
			return err
		}
		ifindex = ifi.Index
		if o, err = Load(Config{Snaplen: 256, Out: true, EgressAt: EgressXmit, Filter: prog}); err != nil {
			return err
		}
		if rd, err = perf.NewReader(o.Events(), 1<<16); err != nil {
			return err
		}
		if vlanPush {
			// B answers no tagged ARP request: its address is given.
			pushVLAN(t, ifindex)
			staticNeighbour(t, pair)
		}
		a, err := o.Attach(ifindex, pair.IfA, false)
		if err != nil {
			return err
		}
		t.Cleanup(func() { a.Close() })
		if a.EgressAt != EgressXmit || a.Mode != "" || a.Where() != "egress at xmit" {
			t.Errorf("attachment %+v, want egress at xmit and nothing at tc", a)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close(); o.Close() })

	send := func(ns, to string, port int) {
		t.Helper()
		err := testutil.InNetns(ns, func() error {
			c, err := net.Dial("udp4", net.JoinHostPort(to, strconv.Itoa(port)))
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Write([]byte("bpftop-xmit"))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		send(pair.NsA, pair.AddrB, 7001)   // recorded
		send(pair.NsA, pair.AddrB, 7002)   // not matching
		send(pair.NsA, "127.0.0.1", 7001)  // another interface
		send(other.NsA, other.AddrB, 7001) // the same index, another namespace
	}
	var recs []Record
	var payloads [][]byte
	rd.SetDeadline(time.Now().Add(time.Second))
	for {
		rec, err := rd.Read()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		r, p, err := ParseRecord(rec.RawSample)
		if err != nil {
			t.Fatal(err)
		}
		recs, payloads = append(recs, r), append(payloads, append([]byte(nil), p...))
	}
	return recs, payloads, ifindex
}

// pushVLAN attaches to tc egress of ifindex (in the calling thread's
// namespace) a program that puts VLAN tag 100, priority 3, on every packet
// into the skb's metadata, as the VLAN device of a NIC with tag offload
// hands it to the driver; detached at cleanup.
func pushVLAN(t *testing.T, ifindex int) {
	t.Helper()
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "vlan_push", Type: ebpf.SchedCLS, License: "GPL",
		Instructions: asm.Instructions{
			asm.Mov.Imm(asm.R2, 0x0081), // htons(ETH_P_8021Q)
			asm.Mov.Imm(asm.R3, 100|3<<13),
			asm.FnSkbVlanPush.Call(),
			asm.Mov.Imm(asm.R0, -1), // TCX_NEXT
			asm.Return(),
		},
	})
	if err != nil {
		t.Fatalf("load vlan_push: %v", err)
	}
	t.Cleanup(func() { prog.Close() })
	l, err := link.AttachTCX(link.TCXOptions{Interface: ifindex, Program: prog, Attach: ebpf.AttachTCXEgress})
	if err != nil {
		t.Fatalf("attach vlan_push: %v", err)
	}
	t.Cleanup(func() { l.Close() })
}

// staticNeighbour gives A B's MAC address, so that A sends without ARP.
func staticNeighbour(t *testing.T, pair *testutil.Pair) {
	t.Helper()
	var mac net.HardwareAddr
	if err := testutil.InNetns(pair.NsB, func() error {
		ifi, err := net.InterfaceByName(pair.IfB)
		if err == nil {
			mac = ifi.HardwareAddr
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "-n", pair.NsA, "neigh", "replace", pair.AddrB, "lladdr", mac.String(), "dev", pair.IfA).CombinedOutput(); err != nil {
		t.Fatalf("ip neigh: %v %s", err, out)
	}
}

// TestXmitRecordsItsInterface: the transmit program records what leaves
// the attached interface and matches the filter, as a record of hook xmit,
// and nothing of another interface or of an interface of the same index
// in another namespace (the tracepoint fires for all of them).
func TestXmitRecordsItsInterface(t *testing.T) {
	testutil.RequireRoot(t)
	pair, other := testutil.NewPair(t), testutil.NewPair(t)
	same := false
	_ = testutil.InNetns(pair.NsA, func() error {
		a, err := net.InterfaceByName(pair.IfA)
		if err != nil {
			return err
		}
		return testutil.InNetns(other.NsA, func() error {
			b, err := net.InterfaceByName(other.IfA)
			same = err == nil && a.Index == b.Index
			return err
		})
	})
	if !same {
		t.Fatal("the two pairs' interfaces A do not share an index: the namespace check would not be tested")
	}
	recs, payloads, ifindex := xmitRecords(t, pair, other, "udp dst port 7001", false)
	if len(recs) != 3 {
		t.Fatalf("%d records, want the 3 datagrams to port 7001 out of %s: %+v", len(recs), pair.IfA, recs)
	}
	for i, r := range recs {
		if r.Hook != packet.HookXmit || r.Dir != packet.DirOut || r.Ifindex != uint32(ifindex) || r.VlanTPID != 0 {
			t.Errorf("record %d: %+v, want hook xmit, out, ifindex %d, no tag", i, r, ifindex)
		}
		// Ethernet, IPv4, UDP and the 11 byte payload.
		if r.TotLen != 14+20+8+11 || r.CapLen != r.TotLen || !strings.HasSuffix(string(payloads[i]), "bpftop-xmit") {
			t.Errorf("record %d: %d of %d bytes, %q", i, r.CapLen, r.TotLen, payloads[i])
		}
	}
}

// TestXmitVLANMetadata: a VLAN tag the kernel hands the driver in the
// skb's metadata (a tc program pushed it) rides in the record, as on tc.
func TestXmitVLANMetadata(t *testing.T) {
	testutil.RequireRoot(t)
	pair, other := testutil.NewPair(t), testutil.NewPair(t)
	recs, payloads, _ := xmitRecords(t, pair, other, "udp dst port 7001", true)
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3: %+v", len(recs), recs)
	}
	for i, r := range recs {
		if r.VlanTPID != 0x8100 || r.VlanTCI != 100|3<<13 {
			t.Errorf("record %d: tag %#x %#x, want 0x8100 %#x", i, r.VlanTPID, r.VlanTCI, 100|3<<13)
		}
		if et := string(payloads[i][12:14]); et != "\x08\x00" {
			t.Errorf("record %d: EtherType % x in the frame, want the tag kept out of it", i, et)
		}
	}
}
