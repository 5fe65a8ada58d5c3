package capture

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// AnyName is the interface name that captures on every interface of the
// network namespace, as tcpdump -i any does.
const AnyName = "any"

// Link is an interface as the kernel describes it in a link message.
type Link struct {
	Index    int
	Name     string
	HWType   uint16  // its ARP hardware type (ARPHRD_*)
	Addr     [6]byte // its own hardware address, on Ethernet
	Loopback bool
	Up       bool
	LinkType packet.LinkType // how its packets begin at tc (linkTypeOfHW)
	Hook     string          // tcx or clsact, once attached
}

// ARP hardware types of the interfaces captured as Ethernet.
const (
	arphrdEther    = 1
	arphrdLoopback = 772
)

// linkTypeOfHW is how packets of an interface of hardware type hw begin at
// tc, and false for the types -i any does not capture: those LinkTypeOf
// would take for Ethernet without being so (802.11 monitor, CAN,
// InfiniBand, ...), where the link-layer header cannot be told apart from
// the packet.
func linkTypeOfHW(hw uint16) (packet.LinkType, bool) {
	switch hw {
	case arphrdEther, arphrdLoopback:
		return packet.LinkTypeEthernet, true
	}
	m := nl.IfInfomsg{IfInfomsg: unix.IfInfomsg{Type: hw}}
	if lt := linkTypeOfEncap(m.EncapType()); lt == packet.LinkTypeRaw {
		return lt, true
	}
	return 0, false
}

// Captured is how l's packets begin at tc, and false if -i any does not
// capture it (linkTypeOfHW).
func (l Link) Captured() (packet.LinkType, bool) { return linkTypeOfHW(l.HWType) }

// Links lists the interfaces of the caller's network namespace, from one
// rtnetlink dump.
func Links() ([]Link, error) {
	rib, err := syscall.NetlinkRIB(syscall.RTM_GETLINK, syscall.AF_UNSPEC)
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(rib)
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	var links []Link
	for i := range msgs {
		if l, ok := parseLink(&msgs[i]); ok {
			links = append(links, l)
		}
	}
	return links, nil
}

// parseLink reads an RTM_NEWLINK message of an interface (not a bridge
// port's, which comes in the same group with family AF_BRIDGE).
func parseLink(m *syscall.NetlinkMessage) (Link, bool) {
	if m.Header.Type != syscall.RTM_NEWLINK || len(m.Data) < syscall.SizeofIfInfomsg {
		return Link{}, false
	}
	ifim := (*syscall.IfInfomsg)(unsafe.Pointer(&m.Data[0]))
	if ifim.Family != syscall.AF_UNSPEC {
		return Link{}, false
	}
	l := Link{Index: int(ifim.Index), HWType: ifim.Type, Loopback: ifim.Flags&syscall.IFF_LOOPBACK != 0, Up: ifim.Flags&syscall.IFF_UP != 0}
	attrs, err := syscall.ParseNetlinkRouteAttr(m)
	if err != nil {
		return Link{}, false
	}
	for _, a := range attrs {
		switch a.Attr.Type {
		case syscall.IFLA_IFNAME:
			l.Name = unix.ByteSliceToString(a.Value)
		case syscall.IFLA_ADDRESS:
			if len(a.Value) == 6 {
				copy(l.Addr[:], a.Value)
			}
		}
	}
	return l, l.Name != ""
}

// deletedLinks are the interfaces an rtnetlink datagram says were deleted.
func deletedLinks(b []byte) []int {
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil {
		return nil
	}
	var gone []int
	for _, m := range msgs {
		if m.Header.Type != syscall.RTM_DELLINK || len(m.Data) < syscall.SizeofIfInfomsg {
			continue
		}
		if ifim := (*syscall.IfInfomsg)(unsafe.Pointer(&m.Data[0])); ifim.Family == syscall.AF_UNSPEC {
			gone = append(gone, int(ifim.Index))
		}
	}
	return gone
}

// anyState is a session's -i any: the interfaces it follows.
type anyState struct {
	cfg    Config
	events *os.File // link notifications, opened before the first dump; nil: poll
	// Under Session.detachMu:
	attached map[int]*bpf.Attachment
	passed   map[int]bool // not captured, and said so once
	detached bool         // Detach ran: attach nothing more
	// links is every interface attached since the start (a packet of one
	// that went may still be in the rings), replaced whole on a change:
	// the writer reads it for every packet.
	links atomic.Pointer[map[uint32]Link]
}

// say prints one line through Config.Note.
func (a *anyState) say(format string, args ...any) {
	if a.cfg.Note != nil {
		a.cfg.Note(fmt.Sprintf(format, args...))
	}
}

// openAny is Open for -i any: the programs attached to every interface
// there is, lo included (ingress only, see bpf.Attach), not promiscuous
// (libpcap cannot make "any" promiscuous either). An interface that
// cannot be captured is passed over with a line through Config.Note.
// WatchInterface then follows the interfaces that come and go.
func openAny(cfg Config) (*Session, error) {
	if cfg.BPF.XDP {
		return nil, fmt.Errorf("-i any captures at tc: %w", bpf.ErrUnsupported)
	}
	if err := CheckPrivileges(); err != nil {
		return nil, err
	}
	a := &anyState{cfg: cfg, attached: map[int]*bpf.Attachment{}, passed: map[int]bool{}}
	// Listening before the dump: an interface that appears after it
	// sends a notification.
	a.events = openLinkEvents()
	links, err := Links()
	if err == nil && len(links) == 0 {
		err = fmt.Errorf("%w: the network namespace has none", ErrNoInterface)
	}
	if err != nil {
		a.closeEvents()
		return nil, err
	}
	cfg.Reader.Cooked = true
	s, err := load(cfg)
	if err != nil {
		a.closeEvents()
		return nil, err
	}
	s.any = a
	s.detachMu.Lock()
	for _, l := range links {
		s.attachLink(l, false)
	}
	s.detachMu.Unlock()
	if len(s.Attachments) == 0 {
		_ = s.Close()
		return nil, fmt.Errorf("%w: none of the %d could be captured", ErrNoInterface, len(links))
	}
	s.Iface, s.Attach = s.Ifaces[0], s.Attachments[0]
	return s, nil
}

func (a *anyState) closeEvents() {
	if a.events != nil {
		a.events.Close()
		a.events = nil
	}
}

// attachLink attaches the programs to l unless it is attached or was
// passed over, and records it first, so that its first packet finds it
// (Session.Link, the reader's link type). Those of the start (later false)
// go into the session's Ifaces and Attachments, whose notes the caller
// prints; a later one's notes are said here. It runs under s.detachMu.
func (s *Session) attachLink(l Link, later bool) {
	a := s.any
	if _, ok := a.attached[l.Index]; ok || a.passed[l.Index] {
		if cur := s.linkOf(l.Index); ok && (cur.Name != l.Name || cur.Addr != l.Addr) {
			l.LinkType, l.Hook = cur.LinkType, cur.Hook
			s.setLink(l) // renamed, or given another address
		}
		return
	}
	pass := func(format string, args ...any) {
		a.passed[l.Index] = true
		a.say("not capturing on %s: "+format, append([]any{l.Name}, args...)...)
	}
	lt, ok := linkTypeOfHW(l.HWType)
	if !ok {
		pass("its hardware type (ARPHRD %d) is neither Ethernet nor IP", l.HWType)
		return
	}
	if want := max(a.cfg.FilterLink, packet.LinkTypeEthernet); len(a.cfg.BPF.Filter) > 0 && lt != want {
		pass("it is link-type %s, and the capture filter was compiled for link-type %s", lt.Name(), want.Name())
		return
	}
	l.LinkType = lt
	s.setLink(l)
	s.Reader.SetLinkType(uint32(l.Index), lt)
	att, err := s.objs.Attach(l.Index, l.Name, l.Loopback)
	if err != nil {
		if _, e := net.InterfaceByIndex(l.Index); e != nil {
			return // gone already; the next dump will not list it
		}
		pass("%v", err)
		return
	}
	a.attached[l.Index] = att
	l.Hook = att.Mode
	s.setLink(l)
	if !later {
		flags := net.Flags(0)
		if l.Loopback {
			flags = net.FlagLoopback
		}
		s.Ifaces = append(s.Ifaces, &net.Interface{Index: l.Index, Name: l.Name, Flags: flags, HardwareAddr: l.Addr[:]})
		s.LinkTypes = append(s.LinkTypes, lt)
		s.Attachments = append(s.Attachments, att)
		return
	}
	for _, n := range []string{att.Fallback, att.Egress} {
		if n != "" {
			a.say("%s", n)
		}
	}
	if att.Others != "" {
		a.say("other programs on %s: %s", l.Name, att.Others)
	}
}

// setLink records l for Session.Link.
func (s *Session) setLink(l Link) {
	a := s.any
	m := map[uint32]Link{}
	if old := a.links.Load(); old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	m[uint32(l.Index)] = l
	a.links.Store(&m)
}

// linkOf is what the session recorded of interface index.
func (s *Session) linkOf(index int) Link {
	l, _ := s.Link(uint32(index))
	return l
}

// Link is what a -i any session knows of interface ifindex, for each of
// its packets: every interface attached since the start, those that went
// included. It may be called while interfaces come and go.
func (s *Session) Link(ifindex uint32) (Link, bool) {
	if s.any == nil {
		return Link{}, false
	}
	m := s.any.links.Load()
	if m == nil {
		return Link{}, false
	}
	l, ok := (*m)[ifindex]
	return l, ok
}

// LinkNames names every interface a -i any session attached since the
// start, by index.
func (s *Session) LinkNames() map[int]string {
	names := map[int]string{}
	if s.any == nil {
		return names
	}
	if m := s.any.links.Load(); m != nil {
		for i, l := range *m {
			names[int(i)] = l.Name
		}
	}
	return names
}

// Any reports whether the session captures on every interface (-i any).
func (s *Session) Any() bool { return s.any != nil }

// dropLink detaches from interface index, which went away. Under
// s.detachMu.
func (s *Session) dropLink(index int) {
	a := s.any
	delete(a.passed, index)
	if att, ok := a.attached[index]; ok {
		_ = att.Close() // its links and filters went with it
		delete(a.attached, index)
	}
}

// detachAny detaches from every interface; no more are attached after it.
// An interface that went away meanwhile took our programs with it: the
// error of closing what it held is not one. Under s.detachMu.
func (s *Session) detachAny() error {
	a := s.any
	a.detached = true
	var errs []error
	for index, att := range a.attached {
		if err := att.Close(); err != nil {
			if _, e := net.InterfaceByIndex(index); e == nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// followLinks is WatchInterface for -i any: on every link notification
// (or, where those cannot be had, every interval) it lists the
// interfaces, attaches to those that appeared and detaches from those
// that went, until ctx ends. A notification of a deletion detaches from
// that interface even if another has taken its index by the time of the
// list, which is then attached as a new one.
func (s *Session) followLinks(ctx context.Context, every time.Duration) {
	a := s.any
	follow := func(gone []int) {
		links, err := Links()
		if err != nil {
			return // the next notification or tick tries again
		}
		s.detachMu.Lock()
		defer s.detachMu.Unlock()
		if a.detached {
			return
		}
		for _, i := range gone {
			s.dropLink(i)
		}
		present := map[int]bool{}
		for _, l := range links {
			present[l.Index] = true
			s.attachLink(l, true)
		}
		for i := range a.attached {
			if !present[i] {
				s.dropLink(i)
			}
		}
		for i := range a.passed {
			if !present[i] {
				delete(a.passed, i)
			}
		}
	}
	follow(nil)
	if ev := a.events; ev != nil {
		// The deadline ends a Read waiting for a notification.
		defer context.AfterFunc(ctx, func() { _ = ev.SetReadDeadline(time.Unix(1, 0)) })()
		buf := make([]byte, 64<<10)
		for {
			n, err := ev.Read(buf)
			if ctx.Err() != nil {
				return
			}
			if err != nil && !errors.Is(err, unix.ENOBUFS) {
				break // poll instead
			}
			// An overrun (ENOBUFS) lost notifications: the list has
			// what they said, deletions whose index was taken again
			// apart.
			follow(deletedLinks(buf[:max(n, 0)]))
		}
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			follow(nil)
		}
	}
}
