package capture

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/packet"
)

// Config says what to capture and how.
type Config struct {
	Interface  string   // one interface, or
	Interfaces []string // several, sharing one set of programs and one perf ring
	BPF        bpf.Config
	Reader     Options
	// FilterLink is the link type BPF.Filter was compiled for; 0 is
	// Ethernet.
	FilterLink packet.LinkType
	// Promisc puts every interface in promiscuous mode while capturing,
	// as tcpdump does unless -p. Not possible (no CAP_NET_RAW): capture
	// goes on, and Session.PromiscErr says why.
	Promisc bool
	// Any captures on every interface of the network namespace, those
	// that appear while capturing too (-i any; Interface(s) and Promisc
	// are not used).
	Any bool
	// Note, with Any, prints a line about an interface: passed over, or
	// attached during the capture with something to know. It may be called
	// from WatchInterface's goroutine.
	Note func(string)
	// BeforeAttach, if set, is called with the loaded programs before any
	// interface is attached (process attribution attaches its hooks and
	// seeds the sockets already open there, so the first packet finds
	// them).
	BeforeAttach func(*bpf.Objects)
}

func (c Config) names() []string {
	if len(c.Interfaces) > 0 {
		return c.Interfaces
	}
	return []string{c.Interface}
}

// Session is a live capture: the programs loaded and attached to one or
// more interfaces, and the reader over their perf rings.
type Session struct {
	Iface       *net.Interface    // the first interface
	Attach      *bpf.Attachment   // its attachment
	Ifaces      []*net.Interface  // every interface, in the order given
	LinkTypes   []packet.LinkType // each interface's (LinkTypeOf)
	Attachments []*bpf.Attachment
	Reader      *Reader
	Clock       *Clock
	PromiscErr  error // Config.Promisc asked, and an interface could not be made promiscuous
	objs        *bpf.Objects
	detachMu    sync.Mutex
	promisc     []int     // the sockets holding the interfaces promiscuous
	any         *anyState // -i any; nil otherwise
}

// ErrUnsupportedLink is returned for what an interface's link type does
// not support yet.
var ErrUnsupportedLink = errors.New("not supported on this link type")

// ErrNoInterface is returned for an interface that does not exist.
var ErrNoInterface = errors.New("no such interface")

// Precheck finds the interfaces and checks privileges: the mistakes a user
// should hear about before anything else happens.
func Precheck(names ...string) ([]*net.Interface, error) {
	var ifis []*net.Interface
	seen := map[int]bool{}
	for _, name := range names {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return nil, fmt.Errorf("%w: %q", ErrNoInterface, name)
		}
		if seen[ifi.Index] {
			return nil, fmt.Errorf("interface %q given twice", name)
		}
		seen[ifi.Index] = true
		ifis = append(ifis, ifi)
	}
	if len(ifis) == 0 {
		return nil, fmt.Errorf("%w: none given", ErrNoInterface)
	}
	if err := CheckPrivileges(); err != nil {
		return nil, err
	}
	return ifis, nil
}

// Open loads the capture programs and attaches them to every interface.
// On error nothing is left attached or loaded.
func Open(cfg Config) (*Session, error) {
	if cfg.Any {
		return openAny(cfg)
	}
	ifis, err := Precheck(cfg.names()...)
	if err != nil {
		return nil, err
	}
	var linkTypes []packet.LinkType
	for _, ifi := range ifis {
		lt := LinkTypeOf(ifi)
		if want := max(cfg.FilterLink, packet.LinkTypeEthernet); lt != want && len(cfg.BPF.Filter) > 0 {
			// The kernel filter reads the packet at its link type's offsets.
			return nil, fmt.Errorf("%w: the capture filter was compiled for link-type %s; %s is %s", ErrUnsupportedLink, want.Name(), ifi.Name, lt.Name())
		}
		linkTypes = append(linkTypes, lt)
	}
	for _, ifi := range ifis {
		cfg.BPF.Ifindexes = append(cfg.BPF.Ifindexes, ifi.Index)
	}
	s, err := load(cfg)
	if err != nil {
		return nil, err
	}
	s.Ifaces, s.LinkTypes = ifis, linkTypes
	for i, ifi := range ifis {
		s.Reader.SetLinkType(uint32(ifi.Index), linkTypes[i])
	}
	for _, ifi := range ifis {
		att, err := s.objs.Attach(ifi.Index, ifi.Name, ifi.Flags&net.FlagLoopback != 0)
		if err != nil {
			_ = s.Close()
			return nil, err
		}
		s.Attachments = append(s.Attachments, att)
	}
	s.Iface, s.Attach = ifis[0], s.Attachments[0]
	var notPromisc []string
	var promiscErr error
	for _, ifi := range ifis {
		if !cfg.Promisc {
			break
		}
		fd, err := promiscuous(ifi.Index)
		if err != nil {
			notPromisc, promiscErr = append(notPromisc, ifi.Name), err
			continue
		}
		s.promisc = append(s.promisc, fd)
	}
	if promiscErr != nil {
		// One line for all: the reason is the same for each.
		s.PromiscErr = fmt.Errorf("%s not in promiscuous mode: %w", strings.Join(notPromisc, ", "), promiscErr)
	}
	return s, nil
}

// load loads the programs and opens the reader of their rings: a
// session with nothing attached yet.
func load(cfg Config) (*Session, error) {
	cfg.Reader.Snaplen = int(cfg.BPF.Snaplen)
	cfg.BPF.Overflow = cfg.BPF.RingBuf == 0 && cfg.Reader.UsesOverflow()
	cfg.BPF.Bell = true
	objs, err := bpf.Load(cfg.BPF)
	if err != nil {
		return nil, err
	}
	clock := NewClock()
	var rd *Reader
	if rb := objs.RingBuf(); rb != nil {
		opts := cfg.Reader
		opts.RingBufWakeup = int(objs.RingBufWakeup())
		rd, err = NewRingBufReader(rb, clock, opts)
	} else {
		rd, err = NewReader(objs.Events(), objs.Overflow(), clock, cfg.Reader)
	}
	if err != nil {
		objs.Close()
		return nil, err
	}
	rd.UseBell(objs.Bell(), objs.ArmBell)
	if cfg.BeforeAttach != nil {
		cfg.BeforeAttach(objs)
	}
	return &Session{Reader: rd, Clock: clock, objs: objs}, nil
}

// LostInRing is how many packets were lost in the rings: the larger of
// perf's lost count (which a ring writes only when it next takes a record)
// and c.Failed, the program's count of records no ring took.
func (s *Session) LostInRing(c bpf.Counters) uint64 {
	return max(s.Reader.Stats.Lost.Load(), c.Failed)
}

// Names lists the interfaces' names.
func (s *Session) Names() []string {
	var n []string
	for _, ifi := range s.Ifaces {
		n = append(n, ifi.Name)
	}
	return n
}

// Counters reads the kernel's counters.
func (s *Session) Counters() (bpf.Counters, error) { return s.objs.Counters() }

// Detach removes the programs from the interface; the rings can still be
// drained afterwards. It is safe to call more than once.
func (s *Session) Detach() error {
	s.detachMu.Lock()
	defer s.detachMu.Unlock()
	if s.any != nil {
		return s.detachAny()
	}
	var errs []error
	for _, a := range s.Attachments {
		errs = append(errs, a.Close())
	}
	return errors.Join(errs...)
}

// Close detaches, closes the reader, unloads the programs and lets the
// interfaces leave promiscuous mode.
func (s *Session) Close() error {
	errs := []error{s.Detach(), s.Reader.Close(), s.objs.Close()}
	for _, fd := range s.promisc {
		errs = append(errs, unix.Close(fd))
	}
	s.promisc = nil
	if s.any != nil {
		s.any.closeEvents()
	}
	return errors.Join(errs...)
}

// RunDirect reads and writes to w until ctx is cancelled; see
// Reader.RunDirect. Detach before cancelling.
func (s *Session) RunDirect(ctx context.Context, w PacketWriter, limit uint64, stop func(), res *WriteResult) error {
	return s.Reader.RunDirect(ctx, w, limit, stop, res)
}

// RunPasses reads and writes to w until ctx is cancelled; see
// Reader.RunPasses. Detach before cancelling.
func (s *Session) RunPasses(ctx context.Context, w PacketWriter, limit uint64, stop func(), res *WriteResult) error {
	return s.Reader.RunPasses(ctx, w, limit, stop, res)
}

// Linux capability numbers (linux/capability.h).
const (
	capNetAdmin = 12
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// ErrPrivileges is returned when the process lacks what capture needs.
var ErrPrivileges = errors.New("missing privileges")

// CheckPrivileges tells from the effective capability set whether loading
// and attaching can work: CAP_NET_ADMIN, and CAP_BPF with CAP_PERFMON (or
// CAP_SYS_ADMIN on kernels before 5.8).
func CheckPrivileges() error {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil // cannot tell; let the kernel decide
	}
	var eff uint64
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			eff, err = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return nil
			}
		}
	}
	has := func(c uint) bool { return eff&(1<<c) != 0 }
	var missing []string
	if !has(capNetAdmin) {
		missing = append(missing, "CAP_NET_ADMIN")
	}
	if !has(capSysAdmin) {
		if !has(capBPF) {
			missing = append(missing, "CAP_BPF")
		}
		if !has(capPerfmon) {
			missing = append(missing, "CAP_PERFMON")
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s", ErrPrivileges, strings.Join(missing, ", "))
	}
	return nil
}

// Flows calls fn for every flow the kernel counted (bpf.Config.CountFlows).
func (s *Session) Flows(fn func(*packet.FlowKey, *packet.FlowCounts)) error { return s.objs.Flows(fn) }

// DeleteFlows forgets flows the kernel counted.
func (s *Session) DeleteFlows(keys []packet.FlowKey) error { return s.objs.DeleteFlows(keys) }

// ClearFlows forgets every flow the kernel counted.
func (s *Session) ClearFlows() error { return s.objs.ClearFlows() }
