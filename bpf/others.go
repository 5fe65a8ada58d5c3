package bpf

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
)

// otherPrograms describes the programs other tools have attached to the
// interface's hooks (tcx, clsact filters, XDP), as bpftool names them (id
// and name), in a line for the user: a CNI or a firewall there may drop or
// redirect packets, and the user should know where the capture stands
// among them. "" when there are none. Called before attaching, so all
// it finds is someone else's.
func otherPrograms(ifindex int) string {
	var parts []string
	name := func(id ebpf.ProgramID) string {
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			return fmt.Sprintf("%d", id)
		}
		defer p.Close()
		if info, err := p.Info(); err == nil && info.Name != "" {
			return fmt.Sprintf("%d %s", id, info.Name)
		}
		return fmt.Sprintf("%d", id)
	}
	for _, h := range []struct {
		at   ebpf.AttachType
		what string
	}{{ebpf.AttachTCXIngress, "tcx ingress"}, {ebpf.AttachTCXEgress, "tcx egress"}} {
		r, err := link.QueryPrograms(link.QueryOptions{Target: ifindex, Attach: h.at})
		if err != nil || len(r.Programs) == 0 {
			continue // no tcx in this kernel, or nothing there
		}
		var ids []string
		for _, p := range r.Programs {
			ids = append(ids, name(p.ID))
		}
		parts = append(parts, h.what+": "+strings.Join(ids, ", "))
	}
	lnk, err := netlink.LinkByIndex(ifindex)
	if err != nil {
		return strings.Join(parts, "; ")
	}
	for _, h := range []struct {
		parent uint32
		what   string
	}{{netlink.HANDLE_MIN_INGRESS, "tc ingress"}, {netlink.HANDLE_MIN_EGRESS, "tc egress"}} {
		fs, err := netlink.FilterList(lnk, h.parent)
		if err != nil {
			continue
		}
		var names []string
		for _, f := range fs {
			bf, ok := f.(*netlink.BpfFilter)
			if !ok {
				names = append(names, f.Type())
				continue
			}
			if strings.HasPrefix(bf.Name, FilterName+"-") {
				continue // another bpftop-cap, or ours of a killed run (removed)
			}
			names = append(names, fmt.Sprintf("%s (prio %d)", bf.Name, bf.Priority))
		}
		if len(names) > 0 {
			parts = append(parts, h.what+": "+strings.Join(names, ", "))
		}
	}
	if x := lnk.Attrs().Xdp; x != nil && x.Attached && x.ProgId != 0 {
		parts = append(parts, "xdp: "+name(ebpf.ProgramID(x.ProgId)))
	}
	return strings.Join(parts, "; ")
}

// shapingQdisc names the interface's root qdisc when it shapes, paces or
// delays what it is given (tbf, htb, netem, cake, fq's pacing, ...): tc
// egress runs before the root qdisc, so on such an interface what is
// recorded leaving is what was handed to it, stamped before its wait;
// "" for the others (a queue that only drops when full, a priority
// scheduler).
func shapingQdisc(ifindex int) string {
	lnk, err := netlink.LinkByIndex(ifindex)
	if err != nil {
		return ""
	}
	qs, err := netlink.QdiscList(lnk)
	if err != nil {
		return ""
	}
	for _, q := range qs {
		if q.Attrs().Parent != netlink.HANDLE_ROOT {
			continue
		}
		switch t := q.Type(); t {
		case "tbf", "htb", "hfsc", "cbq", "netem", "cake", "fq", "taprio", "etf", "cbs", "qfq", "drr", "ets":
			return t
		}
	}
	return ""
}
