package app

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/pcapfile"
)

// switchUser is -Z's user, looked up: what the process becomes once the
// programs are attached and the output opened, as tcpdump's droproot.
type switchUser struct {
	name     string
	uid, gid int
	groups   []int // its supplementary groups (initgroups)
}

// lookupUser looks -Z's user up. As tcpdump, -Z does something only when
// run as root; -Z root stays root. It is not the default: a capture that
// has to remove clsact filters, follow -i any or save from the live view
// needs its privileges to the end.
func (c *Config) lookupUser() error {
	if c.User == "" || os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup(c.User)
	if err != nil {
		if _, ok := err.(user.UnknownUserError); ok {
			return usageErr("-Z %s: no such user", c.User)
		}
		return fmt.Errorf("-Z %s: %w", c.User, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("-Z %s: uid %q, gid %q", c.User, u.Uid, u.Gid)
	}
	if uid == 0 {
		return nil
	}
	su := &switchUser{name: c.User, uid: uid, gid: gid}
	gids, err := u.GroupIds()
	if err != nil {
		return fmt.Errorf("-Z %s: groups: %w", c.User, err)
	}
	for _, g := range gids {
		if n, err := strconv.Atoi(g); err == nil {
			su.groups = append(su.groups, n)
		}
	}
	switch {
	case c.captureAny():
		return usageErr("-Z with -i any: the interfaces that appear later need root to be captured")
	case c.Demo:
		return usageErr("-Z with --demo: the demo needs root to the end")
	}
	c.user = su
	return nil
}

// ownedOutput is a mode whose output file -Z gives to its user.
type ownedOutput interface{ outputFile() *pcapfile.Output }

// dropPrivileges is -Z, once the capture is attached: the output file this
// run created is given to the user, then every thread of the process
// becomes the user, with its groups and none of root's capabilities (Go's
// syscall.Setuid and Setgid apply to all threads). clsact filters cannot
// be removed without CAP_NET_ADMIN: with them -Z is refused.
func dropPrivileges(c *run, m consumer) error {
	su := c.cfg.user
	if su == nil {
		return nil
	}
	for _, a := range c.sess.Attachments {
		if a.Mode == string(bpf.TCClsact) {
			return usageErr("-Z: the clsact filters on %s need root to be removed at the end, and tcx (Linux 6.6) is not there: capture without -Z", names(c.sess, ", "))
		}
	}
	var out *pcapfile.Output
	if o, ok := m.(ownedOutput); ok {
		out = o.outputFile()
	}
	return su.become(out)
}

// become gives out to the user if this run created it, then makes every
// thread of the process the user.
func (su *switchUser) become(out *pcapfile.Output) error {
	if su == nil {
		return nil
	}
	if out != nil && out.Created() {
		if err := out.File().Chown(su.uid, su.gid); err != nil {
			return fmt.Errorf("-Z %s: give the output file to the user: %w", su.name, err)
		}
	}
	if err := syscall.Setgroups(su.groups); err != nil {
		return fmt.Errorf("-Z %s: setgroups: %w", su.name, err)
	}
	if err := syscall.Setgid(su.gid); err != nil {
		return fmt.Errorf("-Z %s: setgid: %w", su.name, err)
	}
	if err := syscall.Setuid(su.uid); err != nil {
		return fmt.Errorf("-Z %s: setuid: %w", su.name, err)
	}
	return nil
}
