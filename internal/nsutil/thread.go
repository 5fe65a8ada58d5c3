package nsutil

import (
	"runtime"
	"syscall"
)

// OffMain runs fn on an OS thread locked to it that is not the process's
// main thread, and lets that thread exit afterwards, so fn may leave it in
// another namespace. The main thread must never be the one: Go cannot end
// it and wedges it instead, and /proc/PID/ns/* (what ip netns pids, nsenter
// -t and our tests read) shows the main thread's namespaces, for good.
func OffMain(fn func()) {
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		if syscall.Gettid() == syscall.Getpid() {
			// Hold the main thread, so no goroutine can have it, while
			// another thread runs fn.
			OffMain(fn)
			runtime.UnlockOSThread()
			close(done)
			return
		}
		defer close(done)
		fn() // returns locked: the thread exits with the goroutine
	}()
	<-done
}
