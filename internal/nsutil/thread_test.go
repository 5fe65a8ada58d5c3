package nsutil

import (
	"syscall"
	"testing"
	"time"
)

// TestOffMainNeverOnMainThread runs fn many times, now and then after a
// pause that leaves the main thread idle (where the scheduler takes it up
// for the next goroutine), and checks fn never ran there.
func TestOffMainNeverOnMainThread(t *testing.T) {
	pid := syscall.Getpid()
	for i := range 2000 {
		var tid int
		OffMain(func() { tid = syscall.Gettid() })
		if tid == pid {
			t.Fatalf("run %d: fn ran on the main thread", i)
		}
		if i%100 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}
