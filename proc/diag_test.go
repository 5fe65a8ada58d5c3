package proc

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// diagMsg encodes a sock_diag answer as the kernel does.
func diagMsg(s DiagSocket) []byte {
	b := make([]byte, nlmsgHdrLen+diagMsgLen)
	ne, be := binary.NativeEndian, binary.BigEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], diagByFamily)
	m := b[nlmsgHdrLen:]
	m[0], m[1] = s.Family, s.State
	be.PutUint16(m[4:], s.Src.Port())
	be.PutUint16(m[6:], s.Dst.Port())
	src, dst := s.Src.Addr().AsSlice(), s.Dst.Addr().AsSlice()
	copy(m[8:], src)
	copy(m[24:], dst)
	ne.PutUint32(m[40:], s.Ifindex)
	ne.PutUint32(m[44:], uint32(s.Cookie))
	ne.PutUint32(m[48:], uint32(s.Cookie>>32))
	ne.PutUint32(m[68:], uint32(s.Inode))
	return b
}

func done() []byte {
	b := make([]byte, nlmsgHdrLen+4)
	binary.NativeEndian.PutUint32(b, uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], nlmsgDone)
	return b
}

func TestParseDiag(t *testing.T) {
	want := []DiagSocket{
		{Family: unix.AF_INET, State: 10, Src: netip.MustParseAddrPort("127.0.0.1:8080"), Dst: netip.MustParseAddrPort("0.0.0.0:0"), Cookie: 1<<40 | 7, Inode: 12345},
		{Family: unix.AF_INET6, State: 1, Src: netip.MustParseAddrPort("[fd00::1]:443"), Dst: netip.MustParseAddrPort("[fd00::2]:50000"), Ifindex: 3, Cookie: 9, Inode: 4294967295},
	}
	var b []byte
	for _, s := range want {
		b = append(b, diagMsg(s)...)
	}
	got, err := parseDiag(b, nil)
	if err != nil || len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("parseDiag = %+v, %v; want %+v", got, err, want)
	}
	if _, err := parseDiag(append(diagMsg(want[0]), done()...), nil); !errors.Is(err, errDumpDone) {
		t.Errorf("after NLMSG_DONE: %v", err)
	}
	for name, bad := range map[string][]byte{
		"short header":  b[:10],
		"cut message":   b[:nlmsgHdrLen+20],
		"length beyond": append([]byte{0xff, 0xff, 0, 0}, b[4:nlmsgHdrLen]...),
	} {
		if _, err := parseDiag(bad, nil); err == nil || errors.Is(err, errDumpDone) {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzParseDiag(f *testing.F) {
	f.Add(diagMsg(DiagSocket{Family: unix.AF_INET, Src: netip.MustParseAddrPort("1.2.3.4:5"), Dst: netip.MustParseAddrPort("5.6.7.8:9"), Inode: 1}))
	f.Add(append(diagMsg(DiagSocket{Family: unix.AF_INET6, Src: netip.MustParseAddrPort("[::1]:5"), Dst: netip.MustParseAddrPort("[::]:0")}), done()...))
	f.Fuzz(func(t *testing.T, b []byte) {
		out, _ := parseDiag(b, nil)
		for _, s := range out {
			if s.Family != unix.AF_INET && s.Family != unix.AF_INET6 {
				t.Fatalf("family %d accepted", s.Family)
			}
		}
	})
}

// fileInode is the inode of the socket under a net.Conn or listener.
func fileInode(t *testing.T, c interface{ File() (*os.File, error) }) (uint64, int) {
	t.Helper()
	f, err := c.File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino, int(f.Fd())
}

// TestDumpSockets: sock_diag lists this process's sockets in every state
// asked for (a TCP listener, an unconnected and a connected UDP socket,
// IPv4 and IPv6) with their addresses, a cookie and the inode fstat
// gives; Sockets matches each to this process and a descriptor of it.
func TestDumpSockets(t *testing.T) {
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	c, err := net.DialUDP("udp4", nil, u.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	u6, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		testutil.SkipOrFail(t, "no IPv6: %v", err)
	}
	defer u6.Close()
	type sock struct {
		conn  interface{ File() (*os.File, error) }
		proto uint8
		state uint8
		local net.Addr
	}
	socks := []sock{
		{ln, unix.IPPROTO_TCP, 10, ln.Addr()}, // TCP_LISTEN
		{u, unix.IPPROTO_UDP, 7, u.LocalAddr()},
		{c, unix.IPPROTO_UDP, 1, c.LocalAddr()},
		{u6, unix.IPPROTO_UDP, 7, u6.LocalAddr()},
	}
	list, err := DumpSockets()
	if err != nil {
		t.Fatal(err)
	}
	byInode := map[uint64]DiagSocket{}
	for _, s := range list {
		byInode[s.Inode] = s
	}
	inodes := map[uint64]bool{}
	for _, s := range socks {
		ino, _ := fileInode(t, s.conn)
		inodes[ino] = true
		d, ok := byInode[ino]
		if !ok {
			t.Errorf("%v: inode %d not in the dump", s.local, ino)
			continue
		}
		if d.Protocol != s.proto || d.State != s.state || d.Cookie == 0 || d.Src.String() != s.local.String() {
			t.Errorf("%v: %+v", s.local, d)
		}
	}
	found, errs := Sockets("/proc")
	if len(errs) > 0 {
		t.Logf("namespaces not read: %v", errs)
	}
	n := 0
	for _, s := range found {
		if !inodes[s.Inode] {
			continue
		}
		n++
		if s.Pid != uint32(os.Getpid()) {
			t.Errorf("inode %d: pid %d, want %d", s.Inode, s.Pid, os.Getpid())
		}
		l, err := os.Readlink("/proc/self/fd/" + itoa(s.Fd))
		if ino, ok := linkInode(l, "socket"); err != nil || !ok || ino != s.Inode {
			t.Errorf("inode %d: fd %d is %q", s.Inode, s.Fd, l)
		}
	}
	if n != len(socks) {
		t.Errorf("Sockets found %d of this process's %d sockets", n, len(socks))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestLinkInode(t *testing.T) {
	for in, want := range map[string]uint64{"socket:[12345]": 12345, "net:[4026531840]": 0, "socket:[": 0, "socket:[x]": 0, "/dev/null": 0} {
		got, ok := linkInode(in, "socket")
		if got != want || ok != (want != 0) {
			t.Errorf("linkInode(%q) = %d %v", in, got, ok)
		}
	}
}

// TestSeed: each socket's descriptor reaches record as a duplicate of
// that very socket, with its process's name.
func TestSeed(t *testing.T) {
	testutil.RequireRoot(t)
	u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	ino, _ := fileInode(t, u)
	socks, _ := Sockets("/proc")
	var mine []Socket
	for _, s := range socks {
		if s.Inode == ino {
			mine = append(mine, s)
		}
	}
	if len(mine) != 1 {
		t.Fatalf("%d sockets of inode %d", len(mine), ino)
	}
	comm, _ := os.ReadFile("/proc/self/comm")
	n, err := Seed("/proc", "", mine, func(fd int, o Owner) error {
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil || st.Ino != ino {
			t.Errorf("fd %d: inode %d (%v), want %d", fd, st.Ino, err, ino)
		}
		if o.Tgid != uint32(os.Getpid()) || o.Comm+"\n" != string(comm) {
			t.Errorf("owner %+v", o)
		}
		return nil
	})
	if n != 1 || err != nil {
		t.Errorf("Seed: %d, %v", n, err)
	}
}
