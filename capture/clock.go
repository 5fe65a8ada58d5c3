package capture

import (
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Clock converts the kernel's CLOCK_MONOTONIC packet stamps (bpf_ktime_get_ns)
// to wall-clock time. The offset between the two clocks is measured as the
// narrowest of several paired reads, and re-measured by Calibrate so that NTP
// slewing of the realtime clock is followed.
type Clock struct {
	offset atomic.Int64 // realtime - monotonic, ns
	width  atomic.Int64 // uncertainty of the last measurement, ns
}

// NewClock returns a calibrated clock.
func NewClock() *Clock {
	c := &Clock{}
	c.Calibrate()
	return c
}

// clockPairs is how many paired reads Calibrate takes.
const clockPairs = 7

// Calibrate measures the offset again: for each of several tries it reads
// monotonic, realtime, monotonic, and keeps the try whose monotonic reads are
// closest together, with realtime taken as the midpoint's.
func (c *Clock) Calibrate() {
	best, bestW := int64(0), int64(-1)
	var m1, rt, m2 unix.Timespec
	for range clockPairs {
		clockRead(unix.CLOCK_MONOTONIC, &m1)
		clockRead(unix.CLOCK_REALTIME, &rt)
		clockRead(unix.CLOCK_MONOTONIC, &m2)
		w := m2.Nano() - m1.Nano()
		if w < 0 {
			continue
		}
		if bestW < 0 || w < bestW {
			bestW = w
			best = rt.Nano() - (m1.Nano() + w/2)
		}
	}
	if bestW >= 0 {
		c.offset.Store(best)
		c.width.Store(bestW)
	}
}

// Offset is realtime minus monotonic in nanoseconds, and the width of the
// read window it was measured in.
func (c *Clock) Offset() (offset, width time.Duration) {
	return time.Duration(c.offset.Load()), time.Duration(c.width.Load())
}

// Wall converts a CLOCK_MONOTONIC stamp in nanoseconds to wall-clock time.
func (c *Clock) Wall(ktimeNs uint64) time.Time {
	return time.Unix(0, c.WallNanos(ktimeNs)).UTC()
}

// WallNanos converts a CLOCK_MONOTONIC stamp to Unix nanoseconds.
func (c *Clock) WallNanos(ktimeNs uint64) int64 {
	return int64(ktimeNs) + c.offset.Load()
}

// Monotonic reads CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns.
func Monotonic() uint64 {
	var ts unix.Timespec
	clockRead(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Nano())
}

// clockRead is clock_gettime as a raw system call: unix.ClockGettime is an
// ordinary one (not the vDSO), and every ordinary call after the process
// was idle wakes the runtime's sysmon, which then polls for a while.
func clockRead(id int32, ts *unix.Timespec) {
	_, _, _ = unix.RawSyscall(unix.SYS_CLOCK_GETTIME, uintptr(id), uintptr(unsafe.Pointer(ts)), 0)
}
