package capture

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// Describe is one line of -D for an interface, as tcpdump -D lists them
// (index, name, flags), with what bpftop-cap captures it as: its link
// type, and the tc attach mode this kernel offers (tcx from Linux 6.6,
// else a clsact qdisc), XDP in any case (generic where the driver has no
// native support).
func Describe(ifi *net.Interface) string {
	var flags []string
	if ifi.Flags&net.FlagUp != 0 {
		flags = append(flags, "Up")
	}
	if ifi.Flags&net.FlagRunning != 0 {
		flags = append(flags, "Running")
	}
	if ifi.Flags&net.FlagLoopback != 0 {
		flags = append(flags, "Loopback")
	}
	tc := "tcx"
	_, err := link.QueryPrograms(link.QueryOptions{Target: ifi.Index, Attach: ebpf.AttachTCXIngress})
	switch {
	case errors.Is(err, ebpf.ErrNotSupported):
		tc = "clsact"
	case err != nil:
		tc = "tcx or clsact" // not allowed to ask
	}
	return fmt.Sprintf("%d.%s [%s] link-type %s; tc (%s), xdp", ifi.Index, ifi.Name, strings.Join(flags, ", "), LinkTypeOf(ifi).Name(), tc)
}
