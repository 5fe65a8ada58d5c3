package bpf

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/cilium/ebpf"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// FilterName starts the names of our clsact filters: "bpftop-cap-PID". A
// filter left behind by a run that was killed is recognised by its dead
// PID and removed at the next start; a live run's filters are left alone.
const FilterName = "bpftop-cap"

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// ignorable are the errors of removing something that is already gone.
func ignorable(err error) bool {
	return errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL)
}

var clsactParents = []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS}

// attachClsact attaches the programs as direct-action bpf filters on a clsact
// qdisc, creating the qdisc if there is none; the kernel picks the filters'
// priority and handle, so several runs (and other tools) can share the
// qdisc. Closing removes our filters, then the qdisc if we created it (or
// took over a killed run's) and nothing else is left on it.
func attachClsact(a *Attachment, ifindex int, ifname string, ingress, egress *ebpf.Program, in, out bool) error {
	stale, err := RemoveStaleFilters(ifindex)
	if err != nil {
		return err
	}
	if stale > 0 {
		note := fmt.Sprintf("removed %d filter(s) left by a killed run", stale)
		if a.Fallback != "" {
			note = a.Fallback + "; " + note
		}
		a.Fallback = note
	}
	qdisc := &netlink.GenericQdisc{
		QdiscAttrs: netlink.QdiscAttrs{LinkIndex: ifindex, Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT},
		QdiscType:  "clsact",
	}
	owned := stale > 0
	if err := netlink.QdiscAdd(qdisc); err == nil {
		owned = true
	} else if !errors.Is(err, unix.EEXIST) {
		return classify(fmt.Sprintf("add clsact qdisc to %q", ifname), err)
	}
	if owned {
		a.closers = append(a.closers, closerFunc(func() error {
			if n, err := countFilters(ifindex); err != nil || n > 0 {
				return nil // someone else's filters: leave their qdisc
			}
			if err := netlink.QdiscDel(qdisc); err != nil && !ignorable(err) {
				return fmt.Errorf("remove clsact qdisc from %q: %w", ifname, err)
			}
			return nil
		}))
	}
	name := FilterName + "-" + strconv.Itoa(os.Getpid())
	// Ingress goes ahead of the other filters (seen before one drops it),
	// egress after them (what they let leave).
	for _, h := range []struct {
		on     bool
		prog   *ebpf.Program
		parent uint32
		prio   uint16
	}{
		{in, ingress, netlink.HANDLE_MIN_INGRESS, firstPrio(ifindex)},
		{out, egress, netlink.HANDLE_MIN_EGRESS, 0xffff},
	} {
		if !h.on {
			continue
		}
		f := &netlink.BpfFilter{
			FilterAttrs: netlink.FilterAttrs{LinkIndex: ifindex, Parent: h.parent, Protocol: unix.ETH_P_ALL, Priority: h.prio},
			Fd:          h.prog.FD(), Name: name, DirectAction: true,
		}
		err := netlink.FilterAdd(f)
		if err != nil && h.prio != 0 {
			// The priority is another kind of classifier's (or another
			// protocol's): let the kernel choose, and say so.
			f.Priority = 0
			if err = netlink.FilterAdd(f); err == nil {
				note := "another tc filter holds the priority bpftop-cap wanted: it may run before bpftop-cap's"
				if a.Fallback != "" {
					note = a.Fallback + "; " + note
				}
				a.Fallback = note
			}
		}
		if err != nil {
			_ = a.Close()
			return classify(fmt.Sprintf("add bpf filter to %q", ifname), err)
		}
		parent := h.parent
		a.closers = append(a.closers, closerFunc(func() error {
			_, err := removeFilters(ifindex, parent, func(n string) bool { return n == name })
			if err != nil && !ignorable(err) {
				return fmt.Errorf("remove bpf filter from %q: %w", ifname, err)
			}
			return nil
		}))
	}
	return nil
}

// firstPrio is the priority that puts a filter ahead of the ingress
// filters there: one less than the lowest (a smaller number runs first);
// 1 when a filter has 1, which adds ours to that bpf classifier, at the
// head of its list; 0 (the kernel's choice) when there are none.
func firstPrio(ifindex int) uint16 {
	lnk, err := netlink.LinkByIndex(ifindex)
	if err != nil {
		return 0
	}
	fs, err := netlink.FilterList(lnk, netlink.HANDLE_MIN_INGRESS)
	if err != nil || len(fs) == 0 {
		return 0
	}
	lowest := uint16(0xffff)
	for _, f := range fs {
		if p := f.Attrs().Priority; p > 0 {
			lowest = min(lowest, p)
		}
	}
	return max(lowest-1, 1)
}

// removeFilters deletes the bpf filters under parent whose name matches.
func removeFilters(ifindex int, parent uint32, match func(name string) bool) (int, error) {
	lnk, err := netlink.LinkByIndex(ifindex)
	if err != nil {
		return 0, err
	}
	filters, err := netlink.FilterList(lnk, parent)
	if err != nil {
		return 0, nil // no clsact qdisc: nothing of ours can be there
	}
	n := 0
	for _, f := range filters {
		bf, ok := f.(*netlink.BpfFilter)
		if !ok || !match(bf.Name) {
			continue
		}
		if err := netlink.FilterDel(bf); err != nil && !ignorable(err) {
			return n, err
		}
		n++
	}
	return n, nil
}

// countFilters counts the filters (of any kind and owner) on the clsact hooks.
func countFilters(ifindex int) (int, error) {
	lnk, err := netlink.LinkByIndex(ifindex)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, parent := range clsactParents {
		fs, err := netlink.FilterList(lnk, parent)
		if err != nil {
			continue
		}
		n += len(fs)
	}
	return n, nil
}

// staleName reports whether a filter name is ours and its run is gone.
func staleName(name string) bool {
	if name == FilterName {
		return true // an early version's, without a PID
	}
	rest, ok := strings.CutPrefix(name, FilterName+"-")
	if !ok {
		return false
	}
	pid, err := strconv.Atoi(rest)
	if err != nil || pid <= 0 {
		return false
	}
	err = syscall.Kill(pid, 0)
	return errors.Is(err, syscall.ESRCH)
}

// RemoveStaleFilters removes the bpf filters that killed runs of ours left
// on the clsact hooks of the interface and returns how many it removed.
func RemoveStaleFilters(ifindex int) (int, error) {
	total := 0
	for _, parent := range clsactParents {
		n, err := removeFilters(ifindex, parent, staleName)
		total += n
		if err != nil {
			return total, classify("remove stale bpf filter", err)
		}
	}
	return total, nil
}
