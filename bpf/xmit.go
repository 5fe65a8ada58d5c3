package bpf

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// EgressHook chooses where egress is recorded.
type EgressHook string

// Egress hooks.
const (
	// EgressAuto records egress at transmit on an interface whose root
	// qdisc shapes (shapingQdisc), where the kernel allows it, and at tc
	// elsewhere.
	EgressAuto EgressHook = "auto"
	// EgressTC records egress at tc egress, which runs before the root
	// qdisc: a packet the qdisc then drops is recorded too, and each is
	// stamped before its wait there.
	EgressTC EgressHook = "tc"
	// EgressXmit records egress at transmit (the net_dev_start_xmit
	// tracepoint, in xmit_one), after the root qdisc, where tcpdump's
	// packet socket sees it: Linux 5.5+ with BTF.
	EgressXmit EgressHook = "xmit"
)

// xmitWanted says whether Load loads the transmit hook: egress is
// captured, not at XDP, and it is asked for, or (auto) one of the
// interfaces to be attached has a shaping root qdisc.
func (cfg Config) xmitWanted() bool {
	if !cfg.Out || cfg.XDP {
		return false
	}
	switch cfg.EgressAt {
	case EgressXmit:
		return true
	case EgressTC:
		return false
	}
	for _, i := range cfg.Ifindexes {
		if shapingQdisc(i) != "" {
			return true
		}
	}
	return false
}

// prepareXmit sets the transmit program's load-time constants and sizes
// its maps: the namespace whose interfaces it records, and the filter's
// scratch buffer, one per CPU, as long as the filter may read.
func prepareXmit(spec *ebpf.CollectionSpec, cfg Config) error {
	// The calling thread's: a caller may have switched it alone (setns).
	var st syscall.Stat_t
	err := syscall.Stat("/proc/thread-self/ns/net", &st)
	if err != nil {
		err = syscall.Stat("/proc/self/ns/net", &st) // before Linux 3.17
	}
	if err != nil {
		return fmt.Errorf("find the network namespace: %w", err)
	}
	if err := spec.Variables[captureVarXmitNetns].Set(uint32(st.Ino)); err != nil {
		return fmt.Errorf("set the network namespace: %w", err)
	}
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		return fmt.Errorf("count the CPUs: %w", err)
	}
	m := spec.Maps[captureMapXmitScratch]
	m.MaxEntries = uint32(cpus)
	if len(cfg.Filter) > 0 {
		// filter_pull_len is Reach: the verifier holds each of the
		// filter's loads to the buffer's size.
		m.ValueSize = (max(cfg.Filter.Reach(), 8) + 7) &^ 7
	}
	return nil
}

// dropXmit removes the transmit program and its maps from spec.
func dropXmit(spec *ebpf.CollectionSpec) {
	delete(spec.Programs, captureProgCaptureXmit)
	delete(spec.Maps, captureMapXmitIfaces)
	delete(spec.Maps, captureMapXmitScratch)
}

// attachXmit attaches the transmit program to its tracepoint, for every
// interface at once: it records those Attach adds to xmit_ifaces. The
// link goes away with the process.
func (o *Objects) attachXmit() error {
	l, err := link.AttachTracing(link.TracingOptions{Program: o.objs.CaptureXmit})
	if err != nil {
		return classify("attach to the net_dev_start_xmit tracepoint", err)
	}
	o.xmitLink = l
	return nil
}

// xmitUnavailable is why the transmit hook was wanted (EgressAuto) and is
// not used, or "".
func (o *Objects) xmitUnavailable() string { return o.xmitWhy }

// recordAtXmit adds the interface to those the transmit program records;
// the closer takes it out again.
func (o *Objects) recordAtXmit(a *Attachment, ifindex int, ifname string) error {
	key := uint32(ifindex)
	if err := o.objs.XmitIfaces.Update(key, uint8(1), ebpf.UpdateAny); err != nil {
		return classify(fmt.Sprintf("record egress of %q at transmit", ifname), err)
	}
	a.closers = append(a.closers, closerFunc(func() error {
		err := o.objs.XmitIfaces.Delete(key)
		if errors.Is(err, ebpf.ErrKeyNotExist) || errors.Is(err, os.ErrClosed) {
			return nil
		}
		return err
	}))
	return nil
}
