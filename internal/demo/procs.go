package demo

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bpftop-cap/bpftop-cap/internal/nsutil"
)

// Run starts the demo's traffic processes (roles: servers, then clients),
// each exe run under its role's name, and keeps them
// until ctx ends; then it stops them and returns nil. It returns an error
// when one cannot start, or ends while ctx lasts. No process outlives Run,
// nor the process that called it, even killed: they get SIGKILL when it
// dies.
func (e *Env) Run(ctx context.Context, exe string) error {
	// The kernel names a process after the file it executes: a symlink
	// to exe per role gives each its name (comm).
	dir, err := os.MkdirTemp("", Prefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return fmt.Errorf("demo processes: %w", err)
	}
	defer os.RemoveAll(dir)
	var sp [2]*spawner // A, B
	for i, ns := range []string{e.NsA, e.NsB} {
		if sp[i], err = startSpawner(ns); err != nil {
			return fmt.Errorf("demo processes: %w", err)
		}
		defer sp[i].close()
	}
	var procs []*proc
	exited := make(chan *proc, len(roles))
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	for _, servers := range []bool{true, false} {
		var started []*proc
		for _, r := range roles {
			if r.server != servers {
				continue
			}
			link := filepath.Join(dir, r.name)
			if err := os.Symlink(exe, link); err != nil {
				return fmt.Errorf("demo processes: %w", err)
			}
			s := sp[1]
			if r.inA {
				s = sp[0]
			}
			p, err := s.start(r.name, link, r.args(e), exited)
			if err != nil {
				return fmt.Errorf("start %s: %w", r.name, err)
			}
			procs = append(procs, p)
			started = append(started, p)
		}
		for _, p := range started {
			select {
			case <-p.ready:
			case p := <-exited:
				return p.exitErr()
			case <-ctx.Done():
				return nil
			}
		}
	}
	select {
	case p := <-exited:
		return p.exitErr()
	case <-ctx.Done():
		return nil
	}
}

// proc is one running demo process.
type proc struct {
	name  string
	cmd   *exec.Cmd
	ready chan struct{} // closed when it said "ready"
	done  chan struct{} // closed when it has ended and been waited for
	err   error         // Wait's, after done

	mu   sync.Mutex
	said string // its last line of output but "ready"
}

// exitErr says why p ended.
func (p *proc) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.said != "" {
		return fmt.Errorf("%s ended (%v): %s", p.name, p.err, p.said)
	}
	return fmt.Errorf("%s ended: %v", p.name, p.err)
}

// stop ends p with SIGTERM, or SIGKILL when that is not enough, and waits
// for it.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// spawner starts processes from one OS thread, in a network namespace,
// that lives until close: a process started with Pdeathsig gets its signal
// when the thread that started it ends, not the whole process.
type spawner struct {
	reqs chan func()
	done chan error
}

func startSpawner(ns string) (*spawner, error) {
	s := &spawner{reqs: make(chan func()), done: make(chan error, 1)}
	in := make(chan struct{})
	go func() {
		s.done <- nsutil.Do(ns, func() error {
			close(in)
			for fn := range s.reqs {
				fn()
			}
			return nil
		})
	}()
	select {
	case <-in:
		return s, nil
	case err := <-s.done:
		return nil, err
	}
}

// close ends the spawner's thread, and with it (by SIGKILL) any process it
// started that still runs.
func (s *spawner) close() {
	close(s.reqs)
	<-s.done
}

// start runs path as name with args, and sends the proc on exited when it
// ends (exited must have room).
func (s *spawner) start(name, path string, args []string, exited chan<- *proc) (*proc, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer w.Close()
	cmd := exec.Command(path, args...)
	cmd.Args[0] = name
	cmd.Env = append(os.Environ(), RoleEnv+"="+name)
	cmd.Stdout, cmd.Stderr = w, w // stderr too: nothing of it may reach the live view's terminal
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	errc := make(chan error, 1)
	s.reqs <- func() { errc <- cmd.Start() }
	if err := <-errc; err != nil {
		r.Close()
		return nil, err
	}
	p := &proc{name: name, cmd: cmd, ready: make(chan struct{}), done: make(chan struct{})}
	read := make(chan struct{})
	go func() {
		defer close(read)
		defer r.Close()
		sc := bufio.NewScanner(r)
		ready := false
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "ready" && !ready {
				ready = true
				close(p.ready)
				continue
			}
			p.mu.Lock()
			p.said = line
			p.mu.Unlock()
		}
	}()
	go func() {
		p.err = cmd.Wait()
		<-read // its last words
		close(p.done)
		exited <- p
	}()
	return p, nil
}
