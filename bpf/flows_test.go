package bpf

import (
	"testing"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// TestDeleteFlows: counted flows are read back by key and side, and
// deleted in a batch that also names a key the kernel does not have.
func TestDeleteFlows(t *testing.T) {
	testutil.RequireRoot(t)
	o, err := Load(Config{Snaplen: 262144, In: true, CountFlows: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	for port := range 3 {
		f := udpFrame(100)
		f[34], f[35] = 0x10, byte(port) // source port 0x1000+port
		for range port + 1 {
			if err := o.Run(f); err != nil {
				t.Fatal(err)
			}
		}
	}
	flows := map[uint16]packet.FlowCounts{}
	var keys []packet.FlowKey
	if err := o.Flows(func(k *packet.FlowKey, c *packet.FlowCounts) {
		if k.EtherType != 0x0800 || k.Proto != 17 {
			t.Errorf("key %+v", k)
		}
		flows[min(k.LoPort, k.HiPort)] = *c // the source port; the other is 0x2425
		keys = append(keys, *k)
	}); err != nil {
		t.Fatal(err)
	}
	if len(flows) != 3 {
		t.Fatalf("%d flows, want 3: %+v", len(flows), flows)
	}
	for port := range 3 {
		c := flows[0x1000+uint16(port)]
		if c.Pkts[0]+c.Pkts[1] != uint64(port+1) || c.Bytes[0]+c.Bytes[1] != 100*uint64(port+1) {
			t.Errorf("flow from port %#x: %+v", 0x1000+port, c)
		}
	}
	gone := keys[0]
	gone.HiPort = 1 // no flow has it (LoPort+1 could be another flow's)
	if err := o.DeleteFlows([]packet.FlowKey{keys[0], gone, keys[1]}); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := o.Flows(func(k *packet.FlowKey, _ *packet.FlowCounts) {
		n++
		if *k != keys[2] {
			t.Errorf("left: %+v, want %+v", k, keys[2])
		}
	}); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d flows left, want 1", n)
	}
	if err := o.ClearFlows(); err != nil {
		t.Fatal(err)
	}
}
