package capture

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/bpftop-cap/bpftop-cap/bpf"
)

// Config says what to capture and how.
type Config struct {
	Interface string
	BPF       bpf.Config
	Reader    Options
}

// Session is a live capture: the programs loaded and attached to one
// interface, and the reader over their perf rings.
type Session struct {
	Iface  *net.Interface
	Attach *bpf.Attachment
	Reader *Reader
	Clock  *Clock
	objs   *bpf.Objects
}

// ErrNoInterface is returned for an interface that does not exist.
var ErrNoInterface = errors.New("no such interface")

// Precheck finds the interface and checks privileges: the mistakes a user
// should hear about before anything else happens.
func Precheck(iface string) (*net.Interface, error) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrNoInterface, iface)
	}
	if err := CheckPrivileges(); err != nil {
		return nil, err
	}
	return ifi, nil
}

// Open loads and attaches the capture programs. On error nothing is left
// attached or loaded.
func Open(cfg Config) (*Session, error) {
	ifi, err := Precheck(cfg.Interface)
	if err != nil {
		return nil, err
	}
	objs, err := bpf.Load(cfg.BPF)
	if err != nil {
		return nil, err
	}
	clock := NewClock()
	rd, err := NewReader(objs.Events(), clock, cfg.Reader)
	if err != nil {
		objs.Close()
		return nil, err
	}
	att, err := objs.Attach(ifi.Index, ifi.Name)
	if err != nil {
		rd.Close()
		objs.Close()
		return nil, err
	}
	return &Session{Iface: ifi, Attach: att, Reader: rd, Clock: clock, objs: objs}, nil
}

// Counters reads the kernel's counters.
func (s *Session) Counters() (bpf.Counters, error) { return s.objs.Counters() }

// Detach removes the programs from the interface; the rings can still be
// drained afterwards. It is safe to call more than once.
func (s *Session) Detach() error {
	if s.Attach == nil {
		return nil
	}
	err := s.Attach.Close()
	return err
}

// Close detaches, closes the reader and unloads the programs.
func (s *Session) Close() error {
	return errors.Join(s.Detach(), s.Reader.Close(), s.objs.Close())
}

// Run reads until ctx is cancelled; see Reader.Run. Detach before cancelling
// so that the final drain is complete.
func (s *Session) Run(ctx context.Context, out chan<- *Batch) error {
	return s.Reader.Run(ctx, out)
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
