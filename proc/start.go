package proc

import (
	"bytes"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// startTime returns when process pid began, from /proc/PID/stat (its
// start time, field 22, in clock ticks since boot), if its name there is
// comm: the process the kernel recorded may have exited and its pid been
// reused by one that opened no socket yet.
func startTime(pid uint32, comm string) (time.Time, bool) {
	b, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/stat")
	if err != nil {
		return time.Time{}, false
	}
	ticks, name, ok := parseStat(b)
	if !ok || name != comm {
		return time.Time{}, false
	}
	// The start time counts on the boot-time clock: now on the wall clock
	// less now on that clock is when it began.
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return time.Time{}, false
	}
	const userHZ = 100 // the unit of /proc's clock ticks on every Linux ABI
	boot := time.Now().Add(-time.Duration(ts.Nano()))
	return boot.Add(time.Duration(ticks) * (time.Second / userHZ)), true
}

// parseStat reads the name (field 2) and the start time (field 22) of a
// /proc/PID/stat. The name is in parentheses and may hold anything,
// parentheses and spaces included: the fields after it follow the last
// ')'.
func parseStat(b []byte) (start uint64, comm string, ok bool) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return 0, "", false
	}
	f := bytes.Fields(b[end+1:]) // field 3 on
	if len(f) < 20 {
		return 0, "", false
	}
	start, err := strconv.ParseUint(string(f[19]), 10, 64)
	return start, string(b[open+1 : end]), err == nil
}
