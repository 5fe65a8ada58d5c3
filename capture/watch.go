package capture

import (
	"context"
	"errors"
	"fmt"
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

// WatchInterface polls every interval until ctx ends and calls gone once
// with an error wrapping ErrInterfaceGone if one of the session's
// interfaces is deleted (or renamed and replaced). The programs' links die with the
// interface; what was captured until then is still drained and saved.
func (s *Session) WatchInterface(ctx context.Context, every time.Duration, gone func(error)) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return // cannot watch; nothing else depends on it
		}
	}
	defer unix.Close(fd)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, ifi := range s.Ifaces {
			name, err := ifaceName(fd, ifi.Index)
			if errors.Is(err, unix.ENODEV) || (err == nil && name != ifi.Name) {
				gone(fmt.Errorf("%w: %s", ErrInterfaceGone, ifi.Name))
				return
			}
		}
	}
}
