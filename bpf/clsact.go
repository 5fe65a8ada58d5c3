package bpf

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// FilterName names our clsact filters, so that a filter left behind by a run
// that was killed can be recognised and removed at the next start.
const FilterName = "bpftop-cap"

// filterPrio is the priority of our filters; any free one would do.
const filterPrio = 0xbc

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// attachClsact attaches the programs as direct-action bpf filters on a clsact
// qdisc, creating the qdisc if there is none. Closing removes the filters,
// and the qdisc if we created it.
func attachClsact(a *Attachment, ifindex int, ifname string, ingress, egress *ebpf.Program, in, out bool) error {
	if n, err := RemoveStaleFilters(ifindex); err != nil {
		return err
	} else if n > 0 && a.Fallback != "" {
		a.Fallback += fmt.Sprintf("; removed %d stale filter(s) of an earlier run", n)
	}
	qdisc := &netlink.GenericQdisc{
		QdiscAttrs: netlink.QdiscAttrs{LinkIndex: ifindex, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT},
		QdiscType:  "clsact",
	}
	if err := netlink.QdiscAdd(qdisc); err == nil {
		a.closers = append(a.closers, closerFunc(func() error {
			if err := netlink.QdiscDel(qdisc); err != nil && !errors.Is(err, unix.ENODEV) && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("remove clsact qdisc from %q: %w", ifname, err)
			}
			return nil
		}))
	} else if !errors.Is(err, unix.EEXIST) {
		return classify(fmt.Sprintf("add clsact qdisc to %q", ifname), err)
	}
	for _, h := range []struct {
		on     bool
		prog   *ebpf.Program
		parent uint32
	}{
		{in, ingress, netlink.HANDLE_MIN_INGRESS},
		{out, egress, netlink.HANDLE_MIN_EGRESS},
	} {
		if !h.on {
			continue
		}
		f := &netlink.BpfFilter{
			FilterAttrs: netlink.FilterAttrs{
				LinkIndex: ifindex, Parent: h.parent, Handle: 1,
				Priority: filterPrio, Protocol: unix.ETH_P_ALL,
			},
			Fd: h.prog.FD(), Name: FilterName, DirectAction: true,
		}
		if err := netlink.FilterAdd(f); err != nil {
			_ = a.Close()
			return classify(fmt.Sprintf("add bpf filter to %q", ifname), err)
		}
		a.closers = append(a.closers, closerFunc(func() error {
			if err := netlink.FilterDel(f); err != nil && !errors.Is(err, unix.ENODEV) && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("remove bpf filter from %q: %w", ifname, err)
			}
			return nil
		}))
	}
	return nil
}

// RemoveStaleFilters removes bpf filters named FilterName from the clsact
// hooks of the interface: what a killed run of ours left behind. It returns
// how many it removed.
func RemoveStaleFilters(ifindex int) (int, error) {
	lnk, err := netlink.LinkByIndex(ifindex)
	if err != nil {
		return 0, fmt.Errorf("look up interface %d: %w", ifindex, err)
	}
	n := 0
	for _, parent := range []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS} {
		filters, err := netlink.FilterList(lnk, parent)
		if err != nil {
			// No clsact qdisc: nothing of ours can be there.
			continue
		}
		for _, f := range filters {
			bf, ok := f.(*netlink.BpfFilter)
			if !ok || !strings.HasPrefix(bf.Name, FilterName) {
				continue
			}
			if err := netlink.FilterDel(bf); err != nil {
				return n, classify("remove stale bpf filter", err)
			}
			n++
		}
	}
	return n, nil
}
