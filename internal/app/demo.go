package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/bpftop-cap/bpftop-cap/capture"
	"github.com/bpftop-cap/bpftop-cap/internal/demo"
)

// demoChildEnv marks the bpftop-cap the demo starts inside its namespace.
const demoChildEnv = "BPFTOP_CAP_DEMO_CHILD"

// runDemo builds the demo network, drives traffic through it, and runs
// bpftop-cap (the same command line, less --demo, plus -i) inside the
// namespace that holds the captured end of the veth pair. Everything is
// removed when that bpftop-cap exits; its exit status becomes ours.
func runDemo(cfg *Config, stderr io.Writer) error {
	if err := capture.CheckPrivileges(); err != nil {
		return fmt.Errorf("--demo creates network namespaces and attaches BPF programs: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	env, err := demo.Setup()
	if err != nil {
		return err
	}
	defer env.Teardown()

	// Signals go to the child; we stay to clean up after it.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	trafficDone := make(chan error, 1)

	var args []string
	for _, a := range cfg.Args {
		if a == "--demo" || strings.HasPrefix(a, "--demo=") {
			continue
		}
		args = append(args, a)
	}
	args = append([]string{"-i", env.IfA}, args...) // before a "--" that ends the flags
	// The traffic starts once the capture is live (its ready file), so
	// that the first round, which has every kind, is in it: started at
	// once, on a loaded machine it went by before the programs were
	// attached.
	ready := cfg.ReadyFile
	if ready == "" {
		dir, err := os.MkdirTemp("", "bpftop-cap-demo-")
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		defer os.RemoveAll(dir)
		ready = filepath.Join(dir, "ready")
		args = append([]string{"--ready-file", ready}, args...)
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), demoChildEnv+"=1")
	// The child watches the read end of this pipe (its fd 3): EOF means we
	// died (even by SIGKILL) and it ends itself instead of capturing on.
	alive, aliveW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer aliveW.Close()
	cmd.ExtraFiles = []*os.File{alive}
	fmt.Fprintf(stderr, "bpftop-cap: demo network ready: %s (%s) in namespace %s, traffic from %s (%s) in %s\n",
		env.IfA, env.AddrA, env.NsA, env.IfB, env.AddrB, env.NsB)
	err = env.StartInA(cmd)
	alive.Close()
	if err != nil {
		return fmt.Errorf("start the capture in the demo namespace: %w", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	go func() {
		// Until the capture is live, or 10 s (then the traffic runs
		// anyway: what it shows is the demo's point).
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(ready); err == nil {
				break
			}
		}
		if ctx.Err() != nil {
			trafficDone <- nil
			return
		}
		trafficDone <- env.Run(ctx, exe)
	}()
	trafficEnded := false
	for {
		select {
		case s := <-sigs:
			_ = cmd.Process.Signal(s)
			continue
		case err = <-waited:
		case err = <-trafficDone:
			trafficEnded = true
			if err != nil {
				_ = cmd.Process.Signal(syscall.SIGTERM)
				err = errors.Join(fmt.Errorf("demo traffic: %w", err), <-waited)
			} else {
				continue
			}
		}
		break
	}
	cancel()
	if !trafficEnded {
		<-trafficDone // its processes gone before the namespaces go
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		// The child already said why on the shared stderr.
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return &ExitError{Code: 128 + int(ws.Signal())}
		}
		return &ExitError{Code: ee.ExitCode()}
	}
	return err
}

// DemoChild runs this process as one of the demo's traffic processes
// when the demo started it as one (demo.RoleEnv): ok says so, code is its
// exit status.
func DemoChild() (code int, ok bool) { return demo.RunChild() }

// WatchDemoParent runs in the demo's child: when the parent's end of the
// pipe on fd 3 closes, the parent is gone, and the child stops itself with
// SIGTERM, through its normal cleanup.
func WatchDemoParent() {
	if os.Getenv(demoChildEnv) == "" {
		return
	}
	f := os.NewFile(3, "demo-parent")
	if f == nil {
		return
	}
	go func() {
		_, _ = io.Copy(io.Discard, f)
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
	}()
}
