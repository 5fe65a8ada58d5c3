package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The process attribution tests run small programs under distinctive
// names: this test binary, re-executed through a symlink named as the
// process should be (the kernel names a process after the file it
// executes), with helperEnv saying what to do.
const helperEnv = "BPFTOP_E2E_HELPER"

// helperWaitEnv, set, has a client wait for a line on stdin before it
// connects.
const helperWaitEnv = "BPFTOP_E2E_WAIT"

// runHelper is the helper's main: udp-echo ADDR, udp-client DST N,
// udp-shared-echo ADDR CHILD (udp-echo sharing its socket with CHILD, a
// helper path run as udp-fail-send), tcp-echo and mptcp-echo ADDR, tcp-client and mptcp-client DST N,
// udp-pinger DST (a datagram every 20 ms, until killed, each reply awaited
// a second at most). Servers print "ready" once listening (a TCP one then
// "tcp" or "mptcp", what its socket is); an MPTCP client prints "mptcp"
// when the connection is MPTCP end to end.
func runHelper(mode string) int {
	args := os.Args[1:]
	fail := func(err error) int { fmt.Fprintln(os.Stderr, mode+":", err); return 1 }
	switch mode {
	case "udp-echo":
		c, err := net.ListenPacket("udp4", args[0])
		if err != nil {
			return fail(err)
		}
		fmt.Println("ready")
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return fail(err)
			}
			if _, err := c.WriteTo(buf[:n], from); err != nil {
				return fail(err)
			}
		}
	case "udp-shared-echo":
		// udp-echo, its socket shared with a child (the helper at
		// args[1], as udp-fail-send) whose every send on it fails.
		c, err := net.ListenPacket("udp4", args[0])
		if err != nil {
			return fail(err)
		}
		f, err := c.(*net.UDPConn).File()
		if err != nil {
			return fail(err)
		}
		child := exec.Command(args[1])
		child.Env = append(os.Environ(), helperEnv+"=udp-fail-send")
		child.ExtraFiles = []*os.File{f}
		child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // goes with this process
		out, err := child.StdoutPipe()
		if err != nil {
			return fail(err)
		}
		if err := child.Start(); err != nil {
			return fail(err)
		}
		if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "failing\n" {
			return fail(fmt.Errorf("the child: %q, %v", line, err))
		}
		fmt.Println("ready")
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return fail(err)
			}
			if _, err := c.WriteTo(buf[:n], from); err != nil {
				return fail(err)
			}
		}
	case "udp-fail-send":
		// On the socket at descriptor 3: datagrams too big for UDP
		// (EMSGSIZE, refused before anything is sent), until the parent
		// goes.
		c, err := net.FilePacketConn(os.NewFile(3, "shared"))
		if err != nil {
			return fail(err)
		}
		big := make([]byte, 70000)
		dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
		parent := os.Getppid()
		for i := 0; os.Getppid() == parent; i++ {
			if _, err := c.WriteTo(big, dst); !errors.Is(err, syscall.EMSGSIZE) {
				return fail(fmt.Errorf("a send too big: %v", err))
			}
			if i == 0 {
				fmt.Println("failing")
			}
			time.Sleep(200 * time.Microsecond)
		}
		return 0
	case "tcp-echo", "mptcp-echo":
		// MPTCP asked for or refused: Go's default (1.24+) is MPTCP for
		// a listener where the kernel has it.
		var lc net.ListenConfig
		lc.SetMultipathTCP(mode == "mptcp-echo")
		ln, err := lc.Listen(context.Background(), "tcp4", args[0])
		if err != nil {
			return fail(err)
		}
		fmt.Println("ready", listenerProto(ln))
		for {
			c, err := ln.Accept()
			if err != nil {
				return fail(err)
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c) // until the client closes
			}()
		}
	case "udp-pinger":
		c, err := net.Dial("udp4", args[0])
		if err != nil {
			return fail(err)
		}
		buf := make([]byte, 2048)
		tick := time.NewTicker(20 * time.Millisecond)
		for i := 0; ; i++ {
			// A datagram refused (no server yet) or a reply lost is not
			// the pinger's business: it goes on.
			_, _ = fmt.Fprintf(c, "%s %d\n", tag(i), i)
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			_, _ = c.Read(buf)
			<-tick.C
		}
	case "udp-client", "tcp-client", "mptcp-client":
		if os.Getenv(helperWaitEnv) != "" {
			// Started early (its pid known, moved into a cgroup): go on
			// at a line on stdin.
			fmt.Println("waiting")
			if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
				return fail(err)
			}
		}
		proto := map[string]string{"udp-client": "udp4", "tcp-client": "tcp4", "mptcp-client": "tcp4"}[mode]
		d := net.Dialer{Timeout: 5 * time.Second}
		d.SetMultipathTCP(mode == "mptcp-client")
		c, err := d.Dial(proto, args[0])
		if err != nil {
			return fail(err)
		}
		if tc, ok := c.(*net.TCPConn); ok {
			if mp, err := tc.MultipathTCP(); err == nil && mp {
				fmt.Println("mptcp") // both ends speak it
			}
		}
		var n int
		fmt.Sscan(args[1], &n)
		rd := bufio.NewReader(c)
		for i := 0; i < n; i++ {
			msg := fmt.Sprintf("%s %d\n", tag(i), i)
			if _, err := c.Write([]byte(msg)); err != nil {
				return fail(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if proto == "udp4" {
				buf := make([]byte, 2048)
				if _, err := c.Read(buf); err != nil {
					return fail(err)
				}
			} else if _, err := rd.ReadString('\n'); err != nil {
				return fail(err)
			}
		}
		c.Close() // the client closes first: every packet of the server's side has its socket
		fmt.Println("done")
		return 0
	}
	return fail(fmt.Errorf("unknown mode"))
}

// helperAs returns the path of this test binary under the name comm, to
// run as a helper (with helperEnv set).
func helperAs(t *testing.T, comm string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), comm)
	if err := os.Symlink(self, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// listenerProto says what ln's socket is: "mptcp" or "tcp".
func listenerProto(ln net.Listener) string {
	sc, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		return "tcp"
	}
	proto := 0
	_ = sc.Control(func(fd uintptr) {
		proto, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PROTOCOL)
	})
	if proto == unix.IPPROTO_MPTCP {
		return "mptcp"
	}
	return "tcp"
}
