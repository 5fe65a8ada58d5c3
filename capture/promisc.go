package capture

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// promiscuous puts the interface ifindex in promiscuous mode for as long
// as the returned socket is open, as libpcap does: the kernel counts a
// packet socket's PACKET_MR_PROMISC membership on the interface and drops
// it when the socket closes, on any exit, a SIGKILL included, so nothing
// is left behind (never `ip link set promisc on`). The socket's protocol is
// 0: it receives no packets.
func promiscuous(ifindex int) (fd int, err error) {
	fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("promiscuous mode: packet socket: %w (needs CAP_NET_RAW; -p captures without it)", err)
	}
	mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("promiscuous mode: %w", err)
	}
	return fd, nil
}
