package bpf

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
)

// FlowKey is a flow as the kernel counts it: the live view's flow key
// (decode's flowKey), both directions in one entry. Lo and Hi are IP
// addresses in 16-byte form (IPv4 mapped) or, for frames that are not IP,
// MAC addresses in the first 6 bytes; ports are in host order.
type FlowKey struct {
	Ifindex        uint32
	EtherType      uint16
	Proto          uint8
	Lo, Hi         [16]byte
	LoPort, HiPort uint16
}

// FlowCounts are the packets and wire bytes of one flow that the ring could
// not take, counted by the kernel: index 0 sent by the key's lo endpoint,
// 1 by hi.
type FlowCounts struct {
	Pkts, Bytes [2]uint64
}

func (k *captureFlowKey) export() FlowKey {
	return FlowKey{Ifindex: k.Ifindex, EtherType: k.Ethertype, Proto: k.Proto, Lo: k.Lo, Hi: k.Hi, LoPort: k.LoPort, HiPort: k.HiPort}
}

func (k *FlowKey) kernel() captureFlowKey {
	return captureFlowKey{Ifindex: k.Ifindex, Ethertype: k.EtherType, Proto: k.Proto, Lo: k.Lo, Hi: k.Hi, LoPort: k.LoPort, HiPort: k.HiPort}
}

// flowBatch is how many flows one batch lookup returns.
const flowBatch = 4096

// Flows calls fn for every flow the kernel counted (Config.CountFlows);
// nothing when it counts none. A flow may be missing or counted from
// scratch after the kernel evicted it to make room (least recently used).
func (o *Objects) Flows(fn func(*FlowKey, *FlowCounts)) error {
	m := o.objs.Flows
	if m == nil {
		return nil
	}
	if !o.noBatch {
		err := o.flowsBatch(m, fn)
		if err == nil {
			return nil
		}
		if !errors.Is(err, ebpf.ErrNotSupported) {
			return fmt.Errorf("read flows: %w", err)
		}
		o.noBatch = true // Linux before 5.6: one lookup per flow
	}
	var k captureFlowKey
	var v captureFlowCounts
	var fk FlowKey // out here: fn's pointers make them escape, once a call
	var fc FlowCounts
	it := m.Iterate()
	for it.Next(&k, &v) {
		fk, fc = k.export(), FlowCounts{Pkts: v.Pkts, Bytes: v.Bytes}
		fn(&fk, &fc)
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("read flows: %w", err)
	}
	return nil
}

func (o *Objects) flowsBatch(m *ebpf.Map, fn func(*FlowKey, *FlowCounts)) error {
	if o.keys == nil {
		o.keys, o.vals = make([]captureFlowKey, flowBatch), make([]captureFlowCounts, flowBatch)
	}
	var cursor ebpf.MapBatchCursor
	var fk FlowKey // out here: fn's pointers make them escape, once a call
	var fc FlowCounts
	for {
		n, err := m.BatchLookup(&cursor, o.keys, o.vals, nil)
		for i := range n {
			fk, fc = o.keys[i].export(), FlowCounts{Pkts: o.vals[i].Pkts, Bytes: o.vals[i].Bytes}
			fn(&fk, &fc)
		}
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return nil // the end
		}
		if err != nil {
			if n > 0 {
				// Flows were handed on already: do not start over
				// (%v: not ErrNotSupported, which would).
				return fmt.Errorf("batch lookup: %v", err)
			}
			return err
		}
	}
}

// Run runs the loaded program (tc ingress, else tc egress, or XDP) once on
// frame with BPF_PROG_TEST_RUN, as if it had arrived: for tests and
// benchmarks of what the kernel side does with a given packet. The frame
// must hold an Ethernet header at least.
func (o *Objects) Run(frame []byte) error {
	p := o.objs.CaptureTcIngress
	switch {
	case o.cfg.XDP:
		p = o.objs.CaptureXdp
	case p == nil:
		p = o.objs.CaptureTcEgress
	}
	if p == nil {
		return errors.New("no program loaded")
	}
	if _, err := p.Run(&ebpf.RunOptions{Data: frame}); err != nil {
		return fmt.Errorf("test run: %w", err)
	}
	return nil
}

// ClearFlows forgets every flow the kernel counted.
func (o *Objects) ClearFlows() error {
	if o.objs.Flows == nil {
		return nil
	}
	var keys []FlowKey
	if err := o.Flows(func(k *FlowKey, _ *FlowCounts) { keys = append(keys, *k) }); err != nil {
		return err
	}
	return o.DeleteFlows(keys)
}

// DeleteFlows forgets the flows of keys, in batches where the kernel has
// them (Linux 5.6+); keys not there (evicted by the kernel meanwhile) are
// no error.
func (o *Objects) DeleteFlows(keys []FlowKey) error {
	m := o.objs.Flows
	if m == nil || len(keys) == 0 {
		return nil
	}
	kk := o.delKeys[:0]
	for i := range keys {
		kk = append(kk, keys[i].kernel())
	}
	o.delKeys = kk
	for len(kk) > 0 && !o.noBatch {
		n, err := m.BatchDelete(kk, nil)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ebpf.ErrKeyNotExist) && n < len(kk):
			kk = kk[n+1:] // the one at n is gone already
		case errors.Is(err, ebpf.ErrNotSupported):
			o.noBatch = true
		default:
			return fmt.Errorf("delete flows: %w", err)
		}
	}
	for i := range kk {
		if err := m.Delete(&kk[i]); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("delete flow: %w", err)
		}
	}
	return nil
}
