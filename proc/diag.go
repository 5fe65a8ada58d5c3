package proc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// DiagSocket is one socket as sock_diag (INET_DIAG) describes it.
type DiagSocket struct {
	Family   uint8 // unix.AF_INET or unix.AF_INET6
	Protocol uint8 // unix.IPPROTO_TCP or unix.IPPROTO_UDP
	State    uint8 // TCP's state numbers (UDP: 7, closed, when unconnected; 1 when connected)
	Src, Dst netip.AddrPort
	Ifindex  uint32 // bound to a device, 0 if not
	Cookie   uint64
	Inode    uint64 // 0 for a socket no file holds (time-wait, a connection not accepted yet)
}

// Netlink and inet_diag layouts (linux/netlink.h, linux/inet_diag.h).
const (
	nlmsgHdrLen   = 16
	diagReqLen    = 56 // struct inet_diag_req_v2
	diagMsgLen    = 72 // struct inet_diag_msg
	allStates     = 0xffffffff
	nlmsgDone     = 3
	nlmsgError    = 2
	nlmsgOverrun  = 4
	dumpRequest   = unix.NLM_F_REQUEST | unix.NLM_F_DUMP
	diagByFamily  = unix.SOCK_DIAG_BY_FAMILY
	nlAlignTo     = 4
	maxDiagBuffer = 1 << 16
)

// diagRequest is the dump request of every socket of one family and
// protocol, in every state.
func diagRequest(family, protocol uint8, seq uint32) []byte {
	b := make([]byte, nlmsgHdrLen+diagReqLen)
	le := binary.NativeEndian
	le.PutUint32(b[0:], uint32(len(b)))
	le.PutUint16(b[4:], diagByFamily)
	le.PutUint16(b[6:], dumpRequest)
	le.PutUint32(b[8:], seq)
	b[16], b[17] = family, protocol
	le.PutUint32(b[20:], allStates)
	return b
}

// errDumpDone ends a dump (NLMSG_DONE).
var errDumpDone = errors.New("end of dump")

// parseDiag appends to out the sockets in one netlink read of a dump and
// returns it, with errDumpDone after the dump's last message. The bytes
// come from the kernel, but are parsed as if they could be anything:
// a message that does not fit is an error, never a panic.
func parseDiag(b []byte, out []DiagSocket) ([]DiagSocket, error) {
	ne := binary.NativeEndian
	for len(b) > 0 {
		if len(b) < nlmsgHdrLen {
			return out, fmt.Errorf("sock_diag: %d bytes, short of a netlink header", len(b))
		}
		n := int(ne.Uint32(b[0:4]))
		typ := ne.Uint16(b[4:6])
		if n < nlmsgHdrLen || n > len(b) {
			return out, fmt.Errorf("sock_diag: message of %d bytes in %d", n, len(b))
		}
		body := b[nlmsgHdrLen:n]
		switch typ {
		case nlmsgDone:
			return out, errDumpDone
		case nlmsgError:
			if len(body) >= 4 {
				if errno := int32(ne.Uint32(body)); errno != 0 {
					return out, fmt.Errorf("sock_diag: %w", unix.Errno(-errno))
				}
			}
			return out, errors.New("sock_diag: error message")
		case nlmsgOverrun:
			return out, errors.New("sock_diag: overrun")
		case diagByFamily:
			s, err := parseDiagMsg(body)
			if err != nil {
				return out, err
			}
			out = append(out, s)
		}
		// Messages are padded to 4 bytes.
		n = (n + nlAlignTo - 1) &^ (nlAlignTo - 1)
		if n > len(b) {
			n = len(b)
		}
		b = b[n:]
	}
	return out, nil
}

// parseDiagMsg reads a struct inet_diag_msg (attributes after it are not
// asked for and are skipped). Ports and addresses are big endian, the
// rest in the host's order.
func parseDiagMsg(b []byte) (DiagSocket, error) {
	if len(b) < diagMsgLen {
		return DiagSocket{}, fmt.Errorf("sock_diag: message of %d bytes, want %d", len(b), diagMsgLen)
	}
	ne, be := binary.NativeEndian, binary.BigEndian
	s := DiagSocket{Family: b[0], State: b[1]}
	sport, dport := be.Uint16(b[4:6]), be.Uint16(b[6:8])
	var src, dst netip.Addr
	switch s.Family {
	case unix.AF_INET:
		src, dst = netip.AddrFrom4([4]byte(b[8:12])), netip.AddrFrom4([4]byte(b[24:28]))
	case unix.AF_INET6:
		src, dst = netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
	default:
		return DiagSocket{}, fmt.Errorf("sock_diag: address family %d", s.Family)
	}
	s.Src, s.Dst = netip.AddrPortFrom(src, sport), netip.AddrPortFrom(dst, dport)
	s.Ifindex = ne.Uint32(b[40:44])
	s.Cookie = uint64(ne.Uint32(b[44:48])) | uint64(ne.Uint32(b[48:52]))<<32
	s.Inode = uint64(ne.Uint32(b[68:72]))
	return s, nil
}

// DumpSockets lists the TCP and UDP sockets, IPv4 and IPv6, in every
// state (listening and unconnected ones too), of the network namespace
// the calling thread is in.
func DumpSockets() ([]DiagSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("open sock_diag: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("bind sock_diag: %w", err)
	}
	var out []DiagSocket
	buf := make([]byte, maxDiagBuffer)
	seq := uint32(0)
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		for _, proto := range []uint8{unix.IPPROTO_TCP, unix.IPPROTO_UDP} {
			seq++
			first := len(out)
			if err := unix.Sendto(fd, diagRequest(fam, proto, seq), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
				return nil, fmt.Errorf("sock_diag request: %w", err)
			}
			for {
				n, _, err := unix.Recvfrom(fd, buf, 0)
				if err != nil {
					return nil, fmt.Errorf("sock_diag read: %w", err)
				}
				out, err = parseDiag(buf[:n], out)
				if errors.Is(err, errDumpDone) {
					break
				}
				if err != nil {
					return nil, err
				}
			}
			for i := first; i < len(out); i++ {
				out[i].Protocol = proto
			}
		}
	}
	return out, nil
}
