package capture

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrInterfaceGone is returned when the captured interface disappears.
var ErrInterfaceGone = errors.New("interface went away")

// ifaceName asks the kernel for the name of interface index, with one
// ioctl on a socket of the caller's network namespace.
func ifaceName(fd int, index int) (string, error) {
	ifr, err := unix.NewIfreq("")
	if err != nil {
		return "", err
	}
	ifr.SetUint32(uint32(index))
	// A raw call: it does not block, and an ordinary one would wake the
	// runtime's sysmon (see mmapring.go) five times a second.
	if _, _, e := unix.RawSyscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCGIFNAME, uintptr(unsafe.Pointer(ifr))); e != 0 {
		return "", e
	}
	return ifr.Name(), nil
}

// WatchInterface calls gone once, with an error wrapping
// ErrInterfaceGone, if one of the session's interfaces is deleted (or
// renamed and replaced), and returns when ctx ends or after that call.
// The programs' links die with the interface; what was captured until
// then is still drained and saved. It listens to the kernel's link
// notifications (rtnetlink), so an idle capture does not wake for it;
// where it cannot, it polls every interval.
//
// With -i any (Config.Any) it attaches to the interfaces that appear and
// detaches from those that go, and never calls gone (followLinks).
func (s *Session) WatchInterface(ctx context.Context, every time.Duration, gone func(error)) {
	if s.any != nil {
		s.followLinks(ctx, every)
		return
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return // cannot watch; nothing else depends on it
		}
	}
	defer unix.Close(fd)
	isGone := func() bool {
		for _, ifi := range s.Ifaces {
			name, err := ifaceName(fd, ifi.Index)
			if errors.Is(err, unix.ENODEV) || (err == nil && name != ifi.Name) {
				gone(fmt.Errorf("%w: %s", ErrInterfaceGone, ifi.Name))
				return true
			}
		}
		return false
	}
	if events := openLinkEvents(); events != nil {
		defer events.Close()
		// The deadline ends a Read waiting for an event.
		defer context.AfterFunc(ctx, func() { _ = events.SetReadDeadline(time.Unix(1, 0)) })()
		// Not parsed: any link event (or an overrun, ENOBUFS) is a reason
		// to ask about our interfaces again.
		buf := make([]byte, 16<<10)
		for {
			if isGone() {
				return
			}
			_, err := events.Read(buf)
			if ctx.Err() != nil {
				return
			}
			if err != nil && !errors.Is(err, unix.ENOBUFS) {
				break // poll instead
			}
		}
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if isGone() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// openLinkEvents is linkEvents (a test makes it fail).
var openLinkEvents = linkEvents

// linkEvents opens a socket that receives the kernel's notifications of
// link changes in the caller's network namespace, read through Go's
// netpoller; nil if it cannot.
func linkEvents() *os.File {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK}); err != nil {
		unix.Close(fd)
		return nil
	}
	return os.NewFile(uintptr(fd), "rtnetlink")
}
