package bpf

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"

	"github.com/bpftop-cap/bpftop-cap/packet"
)

func (k *captureFlowKey) export() packet.FlowKey {
	return packet.FlowKey{Ifindex: k.Ifindex, EtherType: k.Ethertype, Proto: k.Proto, Lo: k.Lo, Hi: k.Hi, LoPort: k.LoPort, HiPort: k.HiPort}
}

func kernelKey(k *packet.FlowKey) captureFlowKey {
	return captureFlowKey{Ifindex: k.Ifindex, Ethertype: k.EtherType, Proto: k.Proto, Lo: k.Lo, Hi: k.Hi, LoPort: k.LoPort, HiPort: k.HiPort}
}

// flowBatch is how many flows one batch lookup returns.
const flowBatch = 4096

// Flows calls fn for every flow the kernel counted (Config.CountFlows);
// nothing when it counts none. A flow may be missing or counted from
// scratch after the kernel evicted it to make room (least recently used).
func (o *Objects) Flows(fn func(*packet.FlowKey, *packet.FlowCounts)) error {
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
	var fk packet.FlowKey // out here: fn's pointers make them escape, once a call
	var fc packet.FlowCounts
	it := m.Iterate()
	for it.Next(&k, &v) {
		fk, fc = k.export(), packet.FlowCounts{Pkts: v.Pkts, Bytes: v.Bytes}
		fn(&fk, &fc)
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("read flows: %w", err)
	}
	return nil
}

func (o *Objects) flowsBatch(m *ebpf.Map, fn func(*packet.FlowKey, *packet.FlowCounts)) error {
	if o.keys == nil {
		o.keys, o.vals = make([]captureFlowKey, flowBatch), make([]captureFlowCounts, flowBatch)
	}
	var cursor ebpf.MapBatchCursor
	var fk packet.FlowKey // out here: fn's pointers make them escape, once a call
	var fc packet.FlowCounts
	for {
		n, err := m.BatchLookup(&cursor, o.keys, o.vals, nil)
		for i := range n {
			fk, fc = o.keys[i].export(), packet.FlowCounts{Pkts: o.vals[i].Pkts, Bytes: o.vals[i].Bytes}
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
	var keys []packet.FlowKey
	if err := o.Flows(func(k *packet.FlowKey, _ *packet.FlowCounts) { keys = append(keys, *k) }); err != nil {
		return err
	}
	return o.DeleteFlows(keys)
}

// DeleteFlows forgets the flows of keys, in batches where the kernel has
// them (Linux 5.6+); keys not there (evicted by the kernel meanwhile) are
// no error.
func (o *Objects) DeleteFlows(keys []packet.FlowKey) error {
	m := o.objs.Flows
	if m == nil || len(keys) == 0 {
		return nil
	}
	kk := o.delKeys[:0]
	for i := range keys {
		kk = append(kk, kernelKey(&keys[i]))
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
