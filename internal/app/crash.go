package app

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"
)

// panicError is a panic turned into an error: the one line a user sees,
// with the stack saved to a file for a bug report instead of the terminal.
type panicError struct {
	value any
	file  string
}

func (p *panicError) Error() string {
	if p.file == "" {
		return fmt.Sprintf("internal error: %v (please report it)", p.value)
	}
	return fmt.Sprintf("internal error: %v (stack saved in %s; please report it)", p.value, p.file)
}

// recovered converts a recovered panic value to a *panicError, saving the
// stack of the panicking goroutine. Call it from a deferred function:
//
//	defer func() { if r := recover(); r != nil { err = recovered(r) } }()
func recovered(r any) error {
	stack := debug.Stack()
	name := filepath.Join(os.TempDir(), fmt.Sprintf("bpftop-cap-crash-%d-%s.txt", os.Getpid(), time.Now().Format("20060102-150405")))
	text := fmt.Sprintf("bpftop-cap: panic: %v\n\n%s", r, stack)
	if err := os.WriteFile(name, []byte(text), 0o600); err != nil {
		name = ""
	}
	return &panicError{value: r, file: name}
}

// noPanic runs fn, turning a panic into an error.
func noPanic(fn func() error) func() error {
	return func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = recovered(r)
			}
		}()
		return fn()
	}
}

// releaseSignals stops catching signals once the capture is ending, so a
// second Ctrl-C ends the process the default way should the drain ever
// hang (the bpf links detach with it). The demo's child keeps catching
// them: its parent forwards signals that the terminal also sent it.
func releaseSignals(stop func()) {
	if os.Getenv(demoChildEnv) == "" {
		stop()
	}
}
