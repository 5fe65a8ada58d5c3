package capture

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// TestWatchInterface deletes a watched veth: gone is called once, with
// ErrInterfaceGone naming it, through the link notifications (the polling
// interval is an hour) and, where those cannot be had, by polling.
func TestWatchInterface(t *testing.T) {
	for _, tc := range []struct {
		name   string
		every  time.Duration
		events bool
	}{
		{"link notifications", time.Hour, true},
		{"polling", 10 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pair := testutil.NewPair(t)
			if !tc.events {
				openLinkEvents = func() *os.File { return nil }
				defer func() { openLinkEvents = linkEvents }()
			}
			var sess Session
			err := testutil.InNetns(pair.NsA, func() error {
				ifi, err := net.InterfaceByName(pair.IfA)
				sess.Ifaces = []*net.Interface{ifi}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			calls := make(chan error, 2)
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = testutil.InNetns(pair.NsA, func() error {
					sess.WatchInterface(ctx, tc.every, func(err error) { calls <- err })
					return nil
				})
			}()
			time.Sleep(50 * time.Millisecond) // watching, and the interface is there
			select {
			case err := <-calls:
				t.Fatalf("gone before the interface went: %v", err)
			default:
			}
			if out, err := exec.Command("ip", "-n", pair.NsA, "link", "del", pair.IfA).CombinedOutput(); err != nil {
				t.Fatalf("delete %s: %v %s", pair.IfA, err, out)
			}
			select {
			case err := <-calls:
				if !errors.Is(err, ErrInterfaceGone) || err.Error() != "interface went away: "+pair.IfA {
					t.Errorf("gone(%v)", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("gone not called within 10 s of the deletion")
			}
			select {
			case <-done: // returns after calling gone
			case <-time.After(10 * time.Second):
				t.Fatal("WatchInterface did not return after gone")
			}
			if len(calls) != 0 {
				t.Errorf("gone called again: %v", <-calls)
			}
		})
	}
}

// TestWatchInterfaceStops: WatchInterface returns when its context ends,
// without calling gone.
func TestWatchInterfaceStops(t *testing.T) {
	pair := testutil.NewPair(t)
	var sess Session
	_ = testutil.InNetns(pair.NsA, func() error {
		ifi, err := net.InterfaceByName(pair.IfA)
		sess.Ifaces = []*net.Interface{ifi}
		return err
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = testutil.InNetns(pair.NsA, func() error {
			sess.WatchInterface(ctx, time.Hour, func(err error) { t.Errorf("gone(%v)", err) })
			return nil
		})
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("WatchInterface still running 10 s after its context ended")
	}
}
