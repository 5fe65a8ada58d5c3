package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The process attribution tests run small programs under distinctive
// names: this test binary, re-executed through a symlink named as the
// process should be (the kernel names a process after the file it
// executes), with helperEnv saying what to do.
const helperEnv = "BPFTOP_E2E_HELPER"

// runHelper is the helper's main: udp-echo ADDR, udp-client DST N,
// tcp-echo ADDR, tcp-client DST N, udp-pinger DST (a datagram every 20
// ms, until killed, each reply awaited a second at most). Servers print
// "ready" once listening.
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
	case "tcp-echo":
		ln, err := net.Listen("tcp4", args[0])
		if err != nil {
			return fail(err)
		}
		fmt.Println("ready")
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
	case "udp-client", "tcp-client":
		proto := map[string]string{"udp-client": "udp4", "tcp-client": "tcp4"}[mode]
		c, err := net.DialTimeout(proto, args[0], 5*time.Second)
		if err != nil {
			return fail(err)
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
