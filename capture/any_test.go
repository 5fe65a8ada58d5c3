package capture

import (
	"context"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/filter"
	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// TestLinkTypeOfHW: -i any captures what LinkTypeOf captures as RAW, and
// of the rest only Ethernet and loopback.
func TestLinkTypeOfHW(t *testing.T) {
	for hw, want := range map[uint16]packet.LinkType{
		unix.ARPHRD_ETHER: packet.LinkTypeEthernet, unix.ARPHRD_LOOPBACK: packet.LinkTypeEthernet,
		unix.ARPHRD_NONE: packet.LinkTypeRaw, unix.ARPHRD_TUNNEL: packet.LinkTypeRaw, unix.ARPHRD_TUNNEL6: packet.LinkTypeRaw,
		unix.ARPHRD_SIT: packet.LinkTypeRaw, unix.ARPHRD_IPGRE: packet.LinkTypeRaw, unix.ARPHRD_IP6GRE: packet.LinkTypeRaw,
		unix.ARPHRD_PPP: packet.LinkTypeRaw, unix.ARPHRD_RAWIP: packet.LinkTypeRaw, unix.ARPHRD_SLIP: packet.LinkTypeRaw,
	} {
		if got, ok := linkTypeOfHW(hw); !ok || got != want {
			t.Errorf("ARPHRD %d: %v %v, want %v", hw, got, ok, want)
		}
	}
	for _, hw := range []uint16{unix.ARPHRD_CAN, unix.ARPHRD_IEEE80211_RADIOTAP, unix.ARPHRD_INFINIBAND, unix.ARPHRD_IEEE802154, unix.ARPHRD_FRAD} {
		if got, ok := linkTypeOfHW(hw); ok {
			t.Errorf("ARPHRD %d: captured as %v", hw, got)
		}
	}
}

// TestDeletedLinks: an rtnetlink datagram's interface deletions, not a
// bridge port's leaving (AF_BRIDGE) nor a new link.
func TestDeletedLinks(t *testing.T) {
	msg := func(typ uint16, family uint8, index int32) []byte {
		b := make([]byte, unix.SizeofNlMsghdr+unix.SizeofIfInfomsg)
		h := (*unix.NlMsghdr)(unsafe.Pointer(&b[0]))
		h.Len, h.Type = uint32(len(b)), typ
		ifim := (*unix.IfInfomsg)(unsafe.Pointer(&b[unix.SizeofNlMsghdr]))
		ifim.Family, ifim.Index = family, index
		return b
	}
	var b []byte
	b = append(b, msg(unix.RTM_DELLINK, unix.AF_UNSPEC, 5)...)
	b = append(b, msg(unix.RTM_DELLINK, unix.AF_BRIDGE, 6)...)
	b = append(b, msg(unix.RTM_NEWLINK, unix.AF_UNSPEC, 7)...)
	b = append(b, msg(unix.RTM_DELLINK, unix.AF_UNSPEC, 8)...)
	if got := deletedLinks(b); len(got) != 2 || got[0] != 5 || got[1] != 8 {
		t.Errorf("deletedLinks = %v, want [5 8]", got)
	}
	if got := deletedLinks(b[:10]); len(got) != 0 {
		t.Errorf("deletedLinks of a cut message = %v", got)
	}
}

// TestAnyFollowsLinks opens a -i any session in a namespace: it attaches
// to every interface there, to a veth created while it runs, detaches
// from it when it is deleted, passes over (once, with a line) a tun
// device its filter was not compiled for, and leaves nothing attached
// after Detach; by notifications and, where those cannot be had, by
// polling.
func TestAnyFollowsLinks(t *testing.T) {
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
			prog, err := filter.Compile("udp", 262144)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var notes []string
			var sess *Session
			if err := testutil.InNetns(pair.NsA, func() (err error) {
				sess, err = Open(Config{Any: true, BPF: bpf.Config{Snaplen: 262144, In: true, Out: true, Filter: prog},
					Note: func(s string) { mu.Lock(); notes = append(notes, s); mu.Unlock() }})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			// Only what the test made is asserted on: a namespace also
			// gets tunl0, sit0, gre0 ... where their modules are loaded.
			if names := sess.Names(); !slices.Contains(names, "lo") || !slices.Contains(names, pair.IfA) || !sess.Any() {
				t.Errorf("attached to %v, want lo and %s among them", names, pair.IfA)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = testutil.InNetns(pair.NsA, func() error {
					sess.WatchInterface(ctx, tc.every, func(err error) { t.Errorf("gone(%v)", err) })
					return nil
				})
			}()
			attached := func(name string) bool {
				progs, err := testutil.Attached(pair.NsA, name)
				return err == nil && len(progs) == 2
			}
			ip := func(args ...string) {
				t.Helper()
				if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
					t.Fatalf("ip %v: %v %s", args, err, out)
				}
			}
			ip("link", "add", "bpclate", "netns", pair.NsA, "type", "veth", "peer", "name", "bpclatep", "netns", pair.NsB)
			testutil.Eventually(t, 10*time.Second, func() bool { return attached("bpclate") }, "the new veth was not attached")
			var index int
			_ = testutil.InNetns(pair.NsA, func() error {
				ifi, err := net.InterfaceByName("bpclate")
				if err == nil {
					index = ifi.Index
				}
				return err
			})
			if l, ok := sess.Link(uint32(index)); !ok || l.Name != "bpclate" || l.LinkType != packet.LinkTypeEthernet || l.HWType != unix.ARPHRD_ETHER || l.Hook == "" {
				t.Errorf("Link(%d) = %+v, %v", index, l, ok)
			}
			ip("-n", pair.NsA, "link", "set", "bpclate", "name", "bpcrenamed")
			testutil.Eventually(t, 10*time.Second, func() bool { l, _ := sess.Link(uint32(index)); return l.Name == "bpcrenamed" }, "the rename was not followed")
			ip("-n", pair.NsA, "link", "del", "bpcrenamed")
			testutil.Eventually(t, 10*time.Second, func() bool {
				sess.detachMu.Lock()
				defer sess.detachMu.Unlock()
				_, ok := sess.any.attached[index]
				return !ok
			}, "the deleted veth was not dropped")
			if _, ok := sess.Link(uint32(index)); !ok {
				t.Error("a gone interface was forgotten: its packets may still be in the rings")
			}
			tun := openTestTun(t, pair.NsA, "bpctun9")
			defer tun.Close()
			testutil.Eventually(t, 10*time.Second, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return slices.ContainsFunc(notes, func(s string) bool { return strings.Contains(s, "bpctun9") })
			}, "the tun device was not passed over")
			ip("-n", pair.NsA, "link", "set", "bpctun9", "up") // a notification: not said again
			if err := sess.Detach(); err != nil {
				t.Fatal(err)
			}
			ip("link", "add", "bpclate2", "netns", pair.NsA, "type", "veth", "peer", "name", "bpclate2p", "netns", pair.NsB)
			cancel()
			<-done
			for _, name := range []string{"lo", pair.IfA, "bpclate2", "bpctun9"} {
				if progs, err := testutil.Attached(pair.NsA, name); err != nil || len(progs) > 0 {
					t.Errorf("%s after Detach: %v (%v)", name, progs, err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			var ours []string
			for _, n := range notes {
				if strings.Contains(n, "bpctun9") || strings.Contains(n, "bpclate") {
					ours = append(ours, n)
				}
			}
			if len(ours) != 1 || ours[0] != "not capturing on bpctun9: it is link-type RAW (Raw IP), and the capture filter was compiled for link-type EN10MB (Ethernet)" {
				t.Errorf("notes %q", notes)
			}
		})
	}
}

// openTestTun makes a tun device in namespace ns, held open by the
// returned file.
func openTestTun(t *testing.T, ns, name string) *os.File {
	t.Helper()
	var f *os.File
	if err := testutil.InNetns(ns, func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			unix.Close(fd)
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return err
		}
		f = os.NewFile(uintptr(fd), "tun")
		return nil
	}); err != nil {
		t.Fatalf("tun: %v", err)
	}
	return f
}
