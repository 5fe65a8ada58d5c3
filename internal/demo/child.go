package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

// RoleEnv, set in a process's environment, makes bpftop-cap one of the
// demo's traffic processes (its value the role, a name from roles) instead
// of itself. Only the demo sets it, on the processes it starts.
const RoleEnv = "BPFTOP_CAP_DEMO_ROLE"

// role is one of the demo's traffic processes. Its name is the process's
// (comm, at most 15 bytes); inA says it runs in namespace A, the one
// captured on, else in B (the rest of the world, seen only through the
// veth); server says it listens, else it dials; args are its command line
// after the name, from the demo's addresses; run listens or dials, says
// "ready" with a line on stdout, then works until killed.
type role struct {
	name   string
	inA    bool
	server bool
	args   func(e *Env) []string
	run    func(args []string) error
}

// roles are the demo's traffic processes. A, the host watched, serves DNS,
// HTTP and HTTPS to a browser in B, and itself pings B and uploads to it:
// the processes view shows servers and clients.
var roles = []role{
	{name: "demo-dns", inA: true, server: true, args: on(aSide, portDNS), run: func(a []string) error {
		pc, err := net.ListenPacket("udp4", a[0])
		if err != nil {
			return err
		}
		ready()
		return serveDNS(pc)
	}},
	{name: "demo-web", inA: true, server: true, args: on(aSide, portHTTP), run: func(a []string) error {
		l, err := net.Listen("tcp4", a[0])
		if err != nil {
			return err
		}
		ready()
		return webServer().Serve(l)
	}},
	{name: "demo-tls", inA: true, server: true, args: on(aSide, portTLS), run: func(a []string) error {
		l, err := net.Listen("tcp4", a[0])
		if err != nil {
			return err
		}
		ready()
		return serveTLS(l)
	}},
	{name: "demo-sink", server: true, args: on(bSide, portBulk, portBurst), run: func(a []string) error {
		l, err := net.Listen("tcp4", a[0])
		if err != nil {
			return err
		}
		pc, err := net.ListenPacket("udp4", a[1])
		if err != nil {
			return err
		}
		ready()
		return serveSink(l, pc)
	}},
	// A browser: looks names up, fetches pages over HTTP and HTTPS.
	{name: "demo-client", args: func(e *Env) []string { return []string{e.AddrA} }, run: func(a []string) error {
		ready()
		clientLoop(context.Background(), a[0], []kind{{lookup, true}, {fetch, true}, {fetchTLS, false}})
		return nil
	}},
	{name: "demo-ping", inA: true, args: func(e *Env) []string { return []string{e.AddrB, e.AddrA} }, run: func(a []string) error {
		ready()
		clientLoop(context.Background(), a[0], []kind{{pinger(a[1]), false}})
		return nil
	}},
	// Uploads: UDP bursts and TCP bulk transfers to demo-sink.
	{name: "demo-bulk", inA: true, args: func(e *Env) []string { return []string{e.AddrB} }, run: func(a []string) error {
		ready()
		clientLoop(context.Background(), a[0], []kind{{burst, false}, {bulk, false}})
		return nil
	}},
}

func aSide(e *Env) string { return e.AddrA }
func bSide(e *Env) string { return e.AddrB }

// on gives a server its addresses to listen on: side's, with ports.
func on(side func(*Env) string, ports ...int) func(e *Env) []string {
	return func(e *Env) []string {
		var a []string
		for _, p := range ports {
			a = append(a, net.JoinHostPort(side(e), strconv.Itoa(p)))
		}
		return a
	}
}

func ready() { fmt.Println("ready") }

// RunChild runs the role RoleEnv names and returns the process's exit
// status; ok is false when RoleEnv is unset (this is not a demo process).
// The demo stops its processes with SIGTERM (or SIGKILL, should it die
// first); a terminal's ^C or hangup goes to the demo, which ends them in
// order, so they ignore those.
func RunChild() (code int, ok bool) {
	name, set := os.LookupEnv(RoleEnv)
	if !set {
		return 0, false
	}
	signal.Ignore(syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
	for _, r := range roles {
		if r.name == name {
			args := os.Args[1:]
			if want := len(r.args(&Env{})); len(args) != want {
				fmt.Printf("%s: %d arguments, want %d\n", name, len(args), want)
				return 2, true
			}
			err := r.run(args)
			if err == nil {
				return 0, true
			}
			fmt.Println(name+":", err)
			return 1, true
		}
	}
	fmt.Println(errors.New("unknown demo role " + name))
	return 2, true
}
