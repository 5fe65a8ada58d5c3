package capture

import (
	"fmt"
	"net"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/packet"
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
	// tcx came with Linux 6.6; asking the kernel needs privileges -D
	// does not, so the release says it.
	tc := "clsact"
	if kernelAtLeast(6, 6) {
		tc = "tcx"
	}
	return fmt.Sprintf("%d.%s [%s] link-type %s; tc (%s), xdp", ifi.Index, ifi.Name, strings.Join(flags, ", "), LinkTypeOf(ifi).Name(), tc)
}

// DescribeAny is -D's line for -i any, as tcpdump lists its pseudo-device,
// with the link type it is written as and the hook.
func DescribeAny() string {
	tc := "clsact"
	if kernelAtLeast(6, 6) {
		tc = "tcx"
	}
	return fmt.Sprintf("%s (Pseudo-device that captures on all interfaces) [Up, Running] link-type %s; tc (%s)", AnyName, packet.LinkTypeSLL2.Name(), tc)
}

// kernelAtLeast reports whether the running kernel's release is at least
// major.minor.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}
