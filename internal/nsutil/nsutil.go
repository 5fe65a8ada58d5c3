package nsutil

import (
	"fmt"

	"github.com/vishvananda/netns"
)

// Do runs fn on a thread switched into the named namespace. Sockets made in
// fn stay in that namespace after it returns. The thread is never switched
// back: it exits with its goroutine, so no other code ever runs on it.
func Do(name string, fn func() error) error {
	var err error
	OffMain(func() {
		h, e := netns.GetFromName(name)
		if e != nil {
			err = fmt.Errorf("open netns %s: %w", name, e)
			return
		}
		defer h.Close()
		if e := netns.Set(h); e != nil {
			err = fmt.Errorf("enter netns %s: %w", name, e)
			return
		}
		err = fn()
	})
	return err
}
