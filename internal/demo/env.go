package demo

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/bpftop-cap/bpftop-cap/internal/nsutil"
)

// Prefix starts the names of the demo's namespaces.
const Prefix = "bpftop-demo-"

// Env is the demo network: namespace A (the "server", where bpftop-cap
// captures on IfA) and namespace B (the "client"), joined by a veth pair on
// 198.18.77.0/24, a benchmarking range that exists only inside them.
type Env struct {
	NsA, NsB     string
	IfA, IfB     string
	AddrA, AddrB string
}

// Setup removes what a killed earlier demo left behind, then creates the
// namespaces and the veth pair and brings them up.
func Setup() (*Env, error) {
	RemoveStale()
	pid := strconv.Itoa(os.Getpid())
	e := &Env{
		NsA: Prefix + pid + "-a", NsB: Prefix + pid + "-b",
		IfA: "demo0", IfB: "demo1",
		AddrA: "198.18.77.1", AddrB: "198.18.77.2",
	}
	if err := e.create(); err != nil {
		e.Teardown()
		return nil, fmt.Errorf("demo network: %w", err)
	}
	return e, nil
}

func (e *Env) create() error {
	errc := make(chan error, 1)
	go func() {
		// A thread of its own: NewNamed switches it into each new namespace.
		runtime.LockOSThread()
		errc <- e.createLocked()
	}()
	return <-errc
}

func (e *Env) createLocked() error {
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	var hs [2]netns.NsHandle
	for i, name := range []string{e.NsA, e.NsB} {
		h, err := netns.NewNamed(name)
		if err != nil {
			return fmt.Errorf("create namespace %s: %w", name, err)
		}
		hs[i] = h
		defer h.Close()
		if err := netns.Set(orig); err != nil {
			return err
		}
	}
	// Create the pair inside A, then move B's end.
	ha, err := netlink.NewHandleAt(hs[0])
	if err != nil {
		return err
	}
	defer ha.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: e.IfA}, PeerName: e.IfB}
	if err := ha.LinkAdd(veth); err != nil {
		return fmt.Errorf("create veth: %w", err)
	}
	peer, err := ha.LinkByName(e.IfB)
	if err != nil {
		return err
	}
	if err := ha.LinkSetNsFd(peer, int(hs[1])); err != nil {
		return fmt.Errorf("move %s: %w", e.IfB, err)
	}
	hb, err := netlink.NewHandleAt(hs[1])
	if err != nil {
		return err
	}
	defer hb.Close()
	for _, side := range []struct {
		h    *netlink.Handle
		name string
		addr string
	}{{ha, e.IfA, e.AddrA}, {hb, e.IfB, e.AddrB}} {
		l, err := side.h.LinkByName(side.name)
		if err != nil {
			return err
		}
		a, _ := netlink.ParseAddr(side.addr + "/24")
		if err := side.h.AddrAdd(l, a); err != nil {
			return fmt.Errorf("address %s: %w", side.name, err)
		}
		if err := side.h.LinkSetUp(l); err != nil {
			return err
		}
		if lo, err := side.h.LinkByName("lo"); err == nil {
			_ = side.h.LinkSetUp(lo)
		}
	}
	return nil
}

// Teardown deletes both namespaces, and with them the veth pair.
func (e *Env) Teardown() {
	_ = netns.DeleteNamed(e.NsA)
	_ = netns.DeleteNamed(e.NsB)
}

// InA runs fn in namespace A; InB in B.
func (e *Env) InA(fn func() error) error { return nsutil.Do(e.NsA, fn) }
func (e *Env) InB(fn func() error) error { return nsutil.Do(e.NsB, fn) }

// StartInA starts cmd as a process in namespace A.
func (e *Env) StartInA(cmd *exec.Cmd) error {
	// The child inherits the network namespace of the thread that forks it.
	return e.InA(cmd.Start)
}

// RemoveStale deletes demo namespaces whose creating process is gone (a
// demo that was killed), and its temporary directory of process names
// (procs.go). It returns how many namespaces it removed.
func RemoveStale() int {
	n := 0
	paths, _ := filepath.Glob("/run/netns/" + Prefix + "*")
	for _, p := range paths {
		if name := filepath.Base(p); stale(name) && netns.DeleteNamed(name) == nil {
			n++
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), Prefix+"*"))
	for _, d := range dirs {
		if fi, err := os.Lstat(d); err != nil || !fi.IsDir() || !stale(filepath.Base(d)) {
			continue
		}
		// Only what Run puts there: symlinks named as roles.
		for _, r := range roles {
			if fi, err := os.Lstat(filepath.Join(d, r.name)); err == nil && fi.Mode()&os.ModeSymlink != 0 {
				_ = os.Remove(filepath.Join(d, r.name))
			}
		}
		_ = os.Remove(d)
	}
	return n
}

// stale says whether name, Prefix and a pid and more, is of a process
// that is gone.
func stale(name string) bool {
	pidStr, _, _ := strings.Cut(strings.TrimPrefix(name, Prefix), "-")
	pid, err := strconv.Atoi(pidStr)
	return err == nil && !alive(pid)
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Addr is A's address with a port.
func (e *Env) Addr(port int) string { return net.JoinHostPort(e.AddrA, strconv.Itoa(port)) }
