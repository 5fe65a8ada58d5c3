package app

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/capture"
)

// DefaultNice is the scheduling priority a capture raises itself to.
//
// The kernel program writes into the rings on the CPU that sends or
// receives the packet, and the rings hold a few tens of milliseconds of a
// fast stream. Packets are lost when the reader waits longer than that for
// a CPU, which is what happens when the traffic's own programs keep every
// CPU busy: with autogroups (the default on most distributions) each
// session gets an equal share, and a reader that sleeps between wakeups is
// not run soon enough; -10 is what kept the live view whole under a bulk
// stream on 2 CPUs (docs/performance.md).
const DefaultNice = -10

// Priority is what RaisePriority changed.
type Priority struct {
	Threads      int  // threads set to the nice value
	Autogroup    bool // the session's autogroup set to it too
	nice         int
	oldAutogroup int
	// autogroup is /proc/self/autogroup, opened when it was raised: once
	// -Z has made the process another user, the kernel lets only an
	// already open file give it back.
	autogroup *os.File
}

// RaisePriority sets the nice value of every thread of the process (threads
// made later inherit it from the thread that makes them) and of the
// session's autogroup, since between autogroups only the group's nice
// counts. A negative value only raises: a thread or group already at it or
// above is left alone. The group is the terminal session's: Restore gives
// it back its own value when the capture ends (a kill -9 leaves the session
// raised until it ends; with sudo's use_pty, Debian's default, the session
// is the command's own). Two captures in one session share the group: the
// first to end gives it back its value while the other still runs. Below 0
// needs CAP_SYS_NICE. On error p says what was done.
func RaisePriority(nice int) (p *Priority, err error) {
	p = &Priority{nice: nice}
	if nice == 0 {
		return p, nil
	}
	// A thread made while the list is walked may copy an old value from
	// its maker, and shows in /proc only once it is made: walk, setting
	// every thread not yet at the value, until two passes a moment apart
	// find none to set.
	seen := map[int]bool{}
	for pass, quiet := 0, 0; pass < 20 && quiet < 2; pass++ {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return p, err
		}
		set := 0
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			// The raw call returns 20 - nice.
			if raw, err := unix.Getpriority(unix.PRIO_PROCESS, tid); err == nil && (nice < 0 && 20-raw <= nice || nice > 0 && 20-raw == nice) {
				continue
			}
			if err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice); err != nil {
				if errors.Is(err, unix.ESRCH) {
					continue // the thread ended
				}
				if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
					return p, fmt.Errorf("%w: nice %d needs CAP_SYS_NICE", capture.ErrPrivileges, nice)
				}
				return p, fmt.Errorf("setpriority: %w", err)
			}
			set++
			if !seen[tid] {
				seen[tid] = true
				p.Threads++
			}
		}
		if set > 0 {
			quiet = 0
		} else if quiet++; quiet < 2 {
			time.Sleep(time.Millisecond)
		}
	}
	if nice > 0 || !autogroupsOn() {
		return p, nil
	}
	old, err := autogroupNice()
	if err != nil {
		return p, err
	}
	if old <= nice {
		return p, nil // already as high
	}
	if err := setAutogroupNice(nice); err != nil {
		return p, fmt.Errorf("session autogroup: %w", err)
	}
	p.Autogroup, p.oldAutogroup = true, old
	p.autogroup, _ = os.OpenFile("/proc/self/autogroup", os.O_RDWR, 0)
	return p, nil
}

// Restore puts the autogroup's nice value back, unless something else
// changed it meanwhile. The threads end with the process. It may be called
// more than once.
func (p *Priority) Restore() {
	if p == nil || !p.Autogroup {
		return
	}
	if p.autogroup != nil {
		defer p.autogroup.Close()
		var b [64]byte
		if n, err := p.autogroup.ReadAt(b[:], 0); n > 0 && (err == nil || errors.Is(err, io.EOF)) {
			if cur, err := parseAutogroup(b[:n]); err == nil && cur == p.nice {
				_ = writeAutogroup(p.autogroup, p.oldAutogroup)
			}
		}
	} else if cur, err := autogroupNice(); err == nil && cur == p.nice {
		_ = setAutogroupNice(p.oldAutogroup)
	}
	p.Autogroup = false
}

// writeAutogroup writes a nice value to an open /proc/self/autogroup,
// again while the kernel says EAGAIN (see setAutogroupNice).
func writeAutogroup(f *os.File, nice int) error {
	var err error
	for range 5 {
		if _, err = f.Write([]byte(strconv.Itoa(nice))); !errors.Is(err, unix.EAGAIN) {
			return err
		}
		time.Sleep(110 * time.Millisecond)
	}
	return err
}

// setAutogroupNice writes /proc/self/autogroup. Without CAP_SYS_ADMIN the
// kernel takes one such write in 100 ms from anyone (EAGAIN otherwise), and
// a capture that ends quickly must still give the value back: try again.
func setAutogroupNice(nice int) error {
	var err error
	for range 5 {
		if err = os.WriteFile("/proc/self/autogroup", []byte(strconv.Itoa(nice)), 0); !errors.Is(err, unix.EAGAIN) {
			return err
		}
		time.Sleep(110 * time.Millisecond)
	}
	return err
}

// autogroupNice reads the nice value of the process's autogroup from
// /proc/self/autogroup ("/autogroup-123 nice 0").
func autogroupNice() (int, error) {
	b, err := os.ReadFile("/proc/self/autogroup")
	if err != nil {
		return 0, err
	}
	return parseAutogroup(b)
}

// parseAutogroup reads the nice value of "/autogroup-123 nice 0".
func parseAutogroup(b []byte) (int, error) {
	f := strings.Fields(string(b))
	if len(f) != 3 || f[1] != "nice" {
		return 0, fmt.Errorf("unexpected /proc/self/autogroup: %q", b)
	}
	return strconv.Atoi(f[2])
}

func autogroupsOn() bool {
	b, err := os.ReadFile("/proc/sys/kernel/sched_autogroup_enabled")
	return err == nil && strings.TrimSpace(string(b)) == "1"
}
