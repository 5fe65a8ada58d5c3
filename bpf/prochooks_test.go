package bpf

import (
	"errors"
	"net"
	"os"
	"slices"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// refuse has the kernel refuse the owner hook prog of o when AttachProc
// loads it: the verifier rejects a read of a register never written.
func refuse(o *Objects, prog string) {
	ps := o.hookSpec.Programs[prog]
	ps.Instructions = asm.Instructions{
		asm.Mov.Reg(asm.R0, asm.R5).WithMetadata(ps.Instructions[0].Metadata),
		asm.Return(),
	}
}

// TestProcHookRefused: a hook the kernel refuses (the verifier, or a
// tracepoint it does not have) is named in missing and left off the
// cgroup, and the others are attached and record owners; when every hook
// is refused, AttachProc fails.
func TestProcHookRefused(t *testing.T) {
	testutil.RequireRoot(t)
	root := cgroupRoot(t)
	connectBefore := attachedAt(t, root, ebpf.AttachCGroupInet4Connect)
	createBefore := attachedAt(t, root, ebpf.AttachCGroupInetSockCreate)

	o, err := Load(Config{Snaplen: 128, In: true, Out: true, Proc: true})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	refuse(o, captureProgProcConnect4)
	o.hookSpec.Programs[captureProgProcSend].AttachTo = "bpftop_cap_no_such_tracepoint"
	missing, err := o.AttachProc(root)
	if err != nil {
		t.Fatal(err)
	}
	var wantMissing []string
	for _, h := range procHooks {
		if h.prog == captureProgProcConnect4 || h.prog == captureProgProcSend {
			wantMissing = append(wantMissing, h.what)
		}
	}
	if !slices.Equal(missing, wantMissing) {
		t.Errorf("missing %q, want %q", missing, wantMissing)
	}
	if n := attachedAt(t, root, ebpf.AttachCGroupInet4Connect); n != connectBefore {
		t.Errorf("%d programs at connect4 with its hook refused, %d before", n, connectBefore)
	}
	if n := attachedAt(t, root, ebpf.AttachCGroupInetSockCreate); n != createBefore+1 {
		t.Errorf("%d programs at socket creation, %d before: want one more", n, createBefore)
	}
	// The hooks attached run: a socket made now has this process as owner.
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, err := c.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ow captureOwner
	if err := o.objs.SkOwner.Lookup(int32(f.Fd()), &ow); err != nil || ow.Tgid != uint32(os.Getpid()) {
		t.Errorf("owner of a new socket: %+v, %v; want this process, %d", ow, err, os.Getpid())
	}

	all, err := Load(Config{Snaplen: 128, In: true, Out: true, Proc: true})
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	for _, h := range procHooks {
		refuse(all, h.prog)
	}
	missing, err = all.AttachProc(root)
	if err == nil || len(missing) != len(procHooks) || len(all.procLinks) != 0 {
		t.Errorf("every hook refused: err %v, %d missing, %d attached", err, len(missing), len(all.procLinks))
	}
}

// attachedAt counts the programs attached to the cgroup dir at attach.
func attachedAt(t *testing.T, dir string, attach ebpf.AttachType) int {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := link.QueryPrograms(link.QueryOptions{Target: int(f.Fd()), Attach: attach})
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Programs)
}

// TestRefusedHook: the hook a collection's error names, if one of those
// loaded; "" (each then loaded alone) for an error naming none.
func TestRefusedHook(t *testing.T) {
	names := []string{captureProgProcConnect4, captureProgProcSend}
	for _, tc := range []struct{ err, want string }{
		{"program proc_send: attach Tracing/TraceRawTp: raw_tp x not supported", captureProgProcSend},
		{"program proc_connect4: load program: permission denied: R5 !read_ok", captureProgProcConnect4},
		{"program proc_recv: load program: invalid argument", ""}, // not one of names
		{"map sk_owner: using replacement map sk_owner: incompatible", ""},
		{"program proc_send", ""},
	} {
		if got := refusedHook(errors.New(tc.err), names); got != tc.want {
			t.Errorf("refusedHook(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
