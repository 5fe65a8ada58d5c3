package bpf

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
)

// Process attribution (Config.Proc): the tc programs put in each record
// the tgid of the process that owns the packet's socket, read from the
// socket's local storage (sk_owner), which the owner hooks fill in process
// context and SeedOwner fills for the sockets older than the capture.
// docs/design.md, "Which process".

// Owner is who owns a socket: the kernel's struct owner.
type Owner struct {
	Tgid, Pid uint32 // the process and the thread
	CgroupID  uint64 // its cgroup v2 (the directory's inode number)
	Comm      string // the process's name
}

func (o *captureOwner) owner() Owner {
	var b []byte
	for _, c := range o.Comm {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return Owner{Tgid: o.Tgid, Pid: o.Pid, CgroupID: o.CgroupId, Comm: string(b)}
}

func (ow Owner) kernel() captureOwner {
	k := captureOwner{Tgid: ow.Tgid, Pid: ow.Pid, CgroupId: ow.CgroupID}
	for i := 0; i < len(k.Comm)-1 && i < len(ow.Comm); i++ {
		k.Comm[i] = int8(ow.Comm[i])
	}
	return k
}

// procHooks are the owner hooks: the program, where it attaches, and
// what a user loses without it.
var procHooks = []struct {
	prog   string
	attach ebpf.AttachType
	what   string
}{
	{captureProgProcSockCreate, ebpf.AttachCGroupInetSockCreate, "socket creation"},
	{captureProgProcPostBind4, ebpf.AttachCGroupInet4PostBind, "bind (IPv4)"},
	{captureProgProcPostBind6, ebpf.AttachCGroupInet6PostBind, "bind (IPv6)"},
	{captureProgProcConnect4, ebpf.AttachCGroupInet4Connect, "connect (IPv4)"},
	{captureProgProcConnect6, ebpf.AttachCGroupInet6Connect, "connect (IPv6)"},
	{captureProgProcSendmsg4, ebpf.AttachCGroupUDP4Sendmsg, "UDP sendto (IPv4)"},
	{captureProgProcSendmsg6, ebpf.AttachCGroupUDP6Sendmsg, "UDP sendto (IPv6)"},
	{captureProgProcRecvmsg4, ebpf.AttachCGroupUDP4Recvmsg, "UDP recvfrom (IPv4)"},
	{captureProgProcRecvmsg6, ebpf.AttachCGroupUDP6Recvmsg, "UDP recvfrom (IPv6)"},
	{captureProgProcSend, ebpf.AttachTraceRawTp, "sends by another process than the socket's maker (Linux 6.3+)"},
	{captureProgProcRecv, ebpf.AttachTraceRawTp, "receives by another process than the socket's maker (Linux 6.3+)"},
}

// ProcMatch names the processes whose packets a capture keeps: each field
// set must match the owner of the packet's socket; a packet without one
// matches none.
type ProcMatch struct {
	Tgid uint32 // --pid: the process (and its threads); 0 for any
	Comm string // --comm: its name, at most 15 bytes; "" for any
	// --cgroup: the owner's cgroup v2 is one of these (directory inodes:
	// the cgroup asked for and those below it); none for any.
	Cgroups []uint64
}

// On reports whether m keeps fewer packets than all.
func (m ProcMatch) On() bool { return m.Tgid != 0 || m.Comm != "" || len(m.Cgroups) > 0 }

// set sets the programs' process filter to m.
func (m ProcMatch) set(spec *ebpf.CollectionSpec) error {
	if len(m.Comm) > 15 {
		return fmt.Errorf("process name %q: longer than the kernel's 15 bytes", m.Comm)
	}
	var bits uint8
	var comm [16]byte
	copy(comm[:], m.Comm)
	if m.Tgid != 0 {
		bits |= 1 // PF_PID
	}
	if m.Comm != "" {
		bits |= 2 // PF_COMM
	}
	if len(m.Cgroups) > 0 {
		bits |= 4 // PF_CGROUP
		cg := spec.Maps[captureMapWantCgroups]
		cg.MaxEntries = uint32(len(m.Cgroups))
		cg.Contents = nil
		for _, id := range m.Cgroups {
			cg.Contents = append(cg.Contents, ebpf.MapKV{Key: id, Value: uint8(1)})
		}
	}
	for _, v := range []struct {
		name string
		val  any
	}{
		{captureVarProcFilter, bits}, {captureVarWantTgid, m.Tgid}, {captureVarWantComm, comm},
	} {
		if err := spec.Variables[v.name].Set(v.val); err != nil {
			return fmt.Errorf("set %s: %w", v.name, err)
		}
	}
	return nil
}

// prepareProc sets up the owner maps in spec for Load: with attribution
// the tc programs look the owner up (with_proc) and keep what match asks
// for; without it the socket storage map, which they still name, becomes
// a hash of one entry, so that a kernel without socket storage (before
// 5.2) still loads them.
func prepareProc(spec *ebpf.CollectionSpec, on bool, match ProcMatch) error {
	if on {
		if err := match.set(spec); err != nil {
			return err
		}
		// Without bpf_skc_to_mptcp_sock (before 5.12) tc finds the
		// owner of an MPTCP socket only where a hook saw its subflows.
		if features.HaveProgramHelper(ebpf.SchedCLS, asm.FnSkcToMptcpSock) == nil {
			if err := spec.Variables[captureVarWithMptcp].Set(uint8(1)); err != nil {
				return err
			}
		}
		// Without bpf_fib_lookup tc cannot tell a packet for this host
		// from a forwarded one: sockets bound to a wildcard address then
		// name none of their packets.
		if features.HaveProgramHelper(ebpf.SchedCLS, asm.FnFibLookup) == nil {
			if err := spec.Variables[captureVarWithFib].Set(uint8(1)); err != nil {
				return err
			}
		}
		return spec.Variables[captureVarWithProc].Set(uint8(1))
	}
	m := spec.Maps[captureMapSkOwner]
	m.Type, m.Flags, m.MaxEntries = ebpf.Hash, 0, 1
	spec.Maps[captureMapProcs].MaxEntries = 1
	return nil
}

// ProcUnavailable says why records carry no process although Config.Proc
// asked for it ("" when they do).
func (o *Objects) ProcUnavailable() string { return o.procWhy }

// ownerHooks is the part of spec the owner hooks need: their programs and
// the two owner maps (they read no global), copied before Load changes
// spec for the capture programs.
func ownerHooks(spec *ebpf.CollectionSpec) *ebpf.CollectionSpec {
	hooks := &ebpf.CollectionSpec{
		Maps:      map[string]*ebpf.MapSpec{},
		Programs:  map[string]*ebpf.ProgramSpec{},
		Variables: map[string]*ebpf.VariableSpec{},
		Types:     spec.Types,
		ByteOrder: spec.ByteOrder,
	}
	for _, n := range []string{captureMapSkOwner, captureMapProcs} {
		hooks.Maps[n] = spec.Maps[n].Copy()
	}
	for _, h := range procHooks {
		hooks.Programs[h.prog] = spec.Programs[h.prog].Copy()
	}
	return hooks
}

// LoadDone lets go of what loading kept for AttachProc (the hooks' spec,
// the kernel's parsed BTF): without a cgroup v2 root AttachProc is never
// called, and they would stay for the capture's life.
func (o *Objects) LoadDone() { o.hookSpec, o.kernelBTF = nil, nil }

// AttachProc loads the owner hooks and attaches them: the cgroup ones at
// cgroupRoot (the root of the cgroup v2 hierarchy, so that they run for
// every process), as bpf links, the tracepoints as tracing links; all go
// away with the process. A hook the kernel refuses is left out and named
// in missing, a short phrase for the user; err is for a failure that
// leaves no hook at all. Attach the hooks before seeding the sockets
// already open (SeedOwner), so that no socket falls between the two.
func (o *Objects) AttachProc(cgroupRoot string) (missing []string, err error) {
	if o.hookSpec == nil {
		return nil, errors.New("process attribution was not loaded")
	}
	defer func() { o.hookSpec, o.kernelBTF = nil, nil }() // loaded once, let go
	dir, err := os.Open(cgroupRoot)
	if err != nil {
		return nil, fmt.Errorf("open the cgroup v2 root: %w", err)
	}
	defer dir.Close()
	progs := o.loadHooks()
	defer func() {
		for _, p := range progs {
			p.Close() // the links hold their own reference
		}
	}()
	var attached int
	for _, h := range procHooks {
		prog := progs[h.prog]
		if prog == nil {
			missing = append(missing, h.what)
			continue
		}
		var l link.Link
		if h.attach == ebpf.AttachTraceRawTp {
			l, err = link.AttachTracing(link.TracingOptions{Program: prog, AttachType: h.attach})
		} else {
			// A bpf link only, never the older program attachment,
			// which would outlive a killed capture.
			l, err = link.AttachRawLink(link.RawLinkOptions{Target: int(dir.Fd()), Program: prog, Attach: h.attach})
		}
		if err != nil {
			missing = append(missing, h.what)
			continue
		}
		o.procLinks = append(o.procLinks, l)
		attached++
	}
	if attached == 0 {
		return missing, errors.New("the kernel refused every socket owner hook")
	}
	return missing, nil
}

// loadHooks loads the owner hooks, sharing the owner maps and the
// kernel's BTF with the capture programs, in one collection: the loader's
// work (BTF, relocations) is then done once rather than once per hook. A
// hook the kernel refuses is left out (its error names it) and the others
// loaded again without it; an error that names no hook has each loaded
// alone, so that one refused does not take the others with it. The hooks
// left out are missing from the map.
func (o *Objects) loadHooks() map[string]*ebpf.Program {
	opts := ebpf.CollectionOptions{
		MapReplacements: map[string]*ebpf.Map{captureMapSkOwner: o.objs.SkOwner, captureMapProcs: o.objs.Procs},
		Cache:           o.kernelBTF,
	}
	load := func(names ...string) (*ebpf.Collection, error) {
		spec := *o.hookSpec
		spec.Programs = map[string]*ebpf.ProgramSpec{}
		for _, n := range names {
			spec.Programs[n] = o.hookSpec.Programs[n]
		}
		return ebpf.NewCollectionWithOptions(&spec, opts)
	}
	var want []string
	for _, h := range procHooks {
		want = append(want, h.prog)
	}
	for len(want) > 0 {
		coll, err := load(want...)
		if err == nil {
			return detach(coll)
		}
		refused := refusedHook(err, want)
		if refused == "" {
			break
		}
		want = slices.DeleteFunc(want, func(n string) bool { return n == refused })
	}
	progs := map[string]*ebpf.Program{}
	for _, n := range want {
		if coll, err := load(n); err == nil {
			maps.Copy(progs, detach(coll))
		}
	}
	return progs
}

// detach takes the programs out of coll and closes the rest (its clones
// of the owner maps).
func detach(coll *ebpf.Collection) map[string]*ebpf.Program {
	progs := map[string]*ebpf.Program{}
	for n := range coll.Programs {
		progs[n] = coll.DetachProgram(n)
	}
	coll.Close()
	return progs
}

// refusedHook is the hook of names that the collection loader's err is
// about ("program NAME: ..."), or "".
func refusedHook(err error, names []string) string {
	rest, ok := strings.CutPrefix(err.Error(), "program ")
	if !ok {
		return ""
	}
	name, _, ok := strings.Cut(rest, ":")
	if !ok || !slices.Contains(names, name) {
		return ""
	}
	return name
}

// SeedOwner records ow as the owner of the socket open as fd in this
// process (a duplicate of another process's), unless a hook already
// recorded one.
func (o *Objects) SeedOwner(fd int, ow Owner) error {
	if o.objs.SkOwner == nil || o.objs.SkOwner.Type() != ebpf.SkStorage {
		return errors.New("process attribution was not loaded")
	}
	v := ow.kernel()
	err := o.objs.SkOwner.Update(int32(fd), &v, ebpf.UpdateNoExist)
	if err != nil && !errors.Is(err, ebpf.ErrKeyExist) {
		return fmt.Errorf("record the owner of a socket: %w", err)
	}
	if err == nil {
		// A process a hook saw keeps what the hook wrote.
		_ = o.objs.Procs.Update(ow.Tgid, &v, ebpf.UpdateNoExist)
	}
	return nil
}

// LookupOwner returns what the kernel last recorded of the process tgid
// as a socket's owner.
func (o *Objects) LookupOwner(tgid uint32) (Owner, bool) {
	if o.objs.Procs == nil {
		return Owner{}, false
	}
	var v captureOwner
	if err := o.objs.Procs.Lookup(tgid, &v); err != nil {
		return Owner{}, false
	}
	return v.owner(), true
}

// closeProc detaches the owner hooks.
func (o *Objects) closeProc() error {
	var errs []error
	for _, l := range o.procLinks {
		errs = append(errs, l.Close())
	}
	o.procLinks = nil
	return errors.Join(errs...)
}

// Cgroup2Root finds where the cgroup v2 hierarchy is mounted, from
// mountinfo (/proc/self/mountinfo): /sys/fs/cgroup, or on a hybrid system
// /sys/fs/cgroup/unified. Only a mount of the hierarchy's root will do.
func Cgroup2Root(mountinfo string) (string, error) {
	for line := range strings.Lines(mountinfo) {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 1 || g[0] != "cgroup2" || f[3] != "/" {
			continue
		}
		return unescapeMount(f[4]), nil
	}
	return "", errors.New("no cgroup v2 hierarchy is mounted")
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, ok := octal3(s[i+1 : i+4]); ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func octal3(s string) (byte, bool) {
	if len(s) != 3 {
		return 0, false
	}
	var v int
	for i := 0; i < 3; i++ {
		if s[i] < '0' || s[i] > '7' {
			return 0, false
		}
		v = v*8 + int(s[i]-'0')
	}
	if v > 255 {
		return 0, false
	}
	return byte(v), true
}
