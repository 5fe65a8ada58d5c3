package filter

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/rlimit"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// __sk_buff field offsets (linux/bpf.h).
const (
	skbLen     = 0
	skbMark    = 8
	skbData    = 76
	skbDataEnd = 80
)

// loadFilterProg wraps the translated filter in a SchedCLS program that
// calls it with data, data_end and skb->len and returns its verdict, and
// loads it into the kernel (through the verifier).
func loadFilterProg(t *testing.T, p Program) (*ebpf.Program, asm.Instructions) {
	t.Helper()
	sub, err := ToEBPF(p, "bpftop_filter")
	if err != nil {
		t.Fatalf("ToEBPF: %v", err)
	}
	insns := asm.Instructions{
		asm.LoadMem(asm.R4, asm.R1, skbLen, asm.Word),
		asm.LoadMem(asm.R5, asm.R1, skbMark, asm.Word),
		asm.LoadMem(asm.R2, asm.R1, skbData, asm.Word),
		asm.LoadMem(asm.R3, asm.R1, skbDataEnd, asm.Word),
		asm.Mov.Reg(asm.R1, asm.R2),
		asm.Mov.Reg(asm.R2, asm.R3),
		asm.Mov.Reg(asm.R3, asm.R4),
		asm.Mov.Reg(asm.R4, asm.R5), // the VLAN metadata, from skb->mark in tests
		asm.Call.Label("bpftop_filter"),
		asm.Return(),
	}
	insns = append(insns, sub...)
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "filter_test", Type: ebpf.SchedCLS, License: "GPL", Instructions: insns,
	})
	if err != nil {
		if errors.Is(err, os.ErrPermission) && os.Getenv("CI") != "true" {
			t.Skipf("no permission to load BPF programs: %v", err)
		}
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			t.Fatalf("verifier refused the filter:\n%+v\nclassic:\n%s\neBPF:\n%v", ve, p, sub)
		}
		t.Fatalf("load program: %v", err)
	}
	t.Cleanup(func() { prog.Close() })
	return prog, sub
}

func requireBPF(t *testing.T) {
	t.Helper()
	if err := rlimit.RemoveMemlock(); err != nil && os.Getenv("CI") != "true" {
		t.Skipf("remove memlock limit: %v", err)
	}
	testutil.RequireRoot(t)
}

// checkKernelVerdicts runs the loaded program on every frame (at least an
// Ethernet header long) and compares with the user-space matcher.
func checkKernelVerdicts(t *testing.T, name string, p Program, frames []frame) {
	t.Helper()
	prog, _ := loadFilterProg(t, p)
	bad := 0
	for i, f := range frames {
		if len(f.data) < 14 {
			continue
		}
		ret, err := prog.Run(&ebpf.RunOptions{Data: f.data})
		if errors.Is(err, syscall.EINVAL) && uint32(len(f.data)) < f.wireLen {
			// BPF_PROG_TEST_RUN wants a whole IPv4 or IPv6 header after an
			// IP ethertype: it refuses some truncated frames.
			continue
		}
		if err != nil {
			t.Fatalf("%s: run on frame %d: %v", name, i, err)
		}
		// The kernel sees the captured bytes as the whole packet.
		want := p.Match(f.data, uint32(len(f.data)))
		if got := ret != 0; got != want {
			bad++
			if bad <= 3 {
				t.Errorf("%s: frame %d (%s, %d bytes): kernel %v (ret %d), Match %v\n% x", name, i, f.desc, len(f.data), got, ret, want, f.data)
			}
		}
	}
	if bad > 3 {
		t.Errorf("%s: %d frames differ in all", name, bad)
	}
}

// TestToEBPFInKernel loads the translation of our programs and of libpcap's
// optimized programs through the verifier and runs them on the corpus.
func TestToEBPFInKernel(t *testing.T) {
	requireBPF(t)
	frames := testFrames(t)
	exprs := append([]string{""}, equivalenceExprs...)
	for _, expr := range exprs {
		p, err := compileVerdicts(expr, LinkEthernet)
		if err != nil {
			t.Fatalf("Compile(%q): %v", expr, err)
		}
		checkKernelVerdicts(t, "ours "+expr, p, frames)
	}
	if _, err := exec.LookPath("tcpdump"); err != nil && os.Getenv("CI") != "true" {
		return // no libpcap programs to translate
	}
	for _, expr := range equivalenceExprs {
		p, err := libpcapProgram(t, expr)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		checkKernelVerdicts(t, "libpcap "+expr, p, frames)
	}
}

// TestToEBPFHandWritten covers instructions the compiler does not emit:
// division and shifts by X, ret a, txa, ldx len, M[] through X, and loads
// at offsets the verifier cannot track.
func TestToEBPFHandWritten(t *testing.T) {
	requireBPF(t)
	frames := testFrames(t)
	progs := map[string]Program{
		"div by x (zero rejects)": {
			{Op: ClassLD | SizeB | ModeABS, K: 14}, {Op: ClassMISC | MiscTAX},
			{Op: ClassLD | SizeB | ModeABS, K: 15}, {Op: ClassLDX | SizeB | ModeMSH, K: 15},
			{Op: ClassLD | ModeIMM, K: 1000}, {Op: ClassALU | AluDIV | SrcX},
			{Op: ClassALU | AluMOD | SrcK, K: 7}, {Op: ClassRET | RetA},
		},
		"mod by x": {
			{Op: ClassLDX | SizeB | ModeMSH, K: 14}, {Op: ClassLD | SizeW | ModeLEN},
			{Op: ClassALU | AluMOD | SrcX}, {Op: ClassJMP | JmpJGE | SrcK, K: 3, Jt: 0, Jf: 1},
			{Op: ClassRET | RetK, K: 1}, {Op: ClassRET | RetK, K: 0},
		},
		"ret a via txa, ldx len, stx": {
			{Op: ClassLDX | SizeW | ModeLEN}, {Op: ClassSTX, K: 3}, {Op: ClassLDX | ModeIMM, K: 0},
			{Op: ClassLD | ModeMEM, K: 3}, {Op: ClassALU | AluSUB | SrcK, K: 60}, {Op: ClassMISC | MiscTAX},
			{Op: ClassLDX | ModeMEM, K: 3}, {Op: ClassMISC | MiscTXA}, {Op: ClassALU | AluAND | SrcK, K: 1}, {Op: ClassRET | RetA},
		},
		"indexed word load and jump on x": {
			{Op: ClassLDX | SizeB | ModeMSH, K: 14}, {Op: ClassLD | SizeW | ModeIND, K: 14},
			{Op: ClassLDX | ModeIMM, K: 0x80000000}, {Op: ClassJMP | JmpJGT | SrcX, Jt: 0, Jf: 1},
			{Op: ClassRET | RetK, K: 7}, {Op: ClassRET | RetX},
		},
		"far load rejects": {
			{Op: ClassLD | SizeB | ModeABS, K: 70000}, {Op: ClassRET | RetK, K: 1},
		},
		"neg and big constants": {
			{Op: ClassLD | SizeH | ModeABS, K: 12}, {Op: ClassALU | AluNEG},
			{Op: ClassJMP | JmpJGE | SrcK, K: 0xffff7800, Jt: 1, Jf: 0}, {Op: ClassRET | RetK, K: 0},
			{Op: ClassRET | RetK, K: 0xffffffff},
		},
		"shift by x, and by x >= 32": {
			{Op: ClassLDX | SizeB | ModeMSH, K: 14}, {Op: ClassLD | SizeW | ModeABS, K: 0},
			{Op: ClassALU | AluLSH | SrcX}, {Op: ClassLDX | ModeIMM, K: 40}, {Op: ClassALU | AluRSH | SrcX},
			{Op: ClassJMP | JmpJEQ | SrcK, K: 0, Jt: 0, Jf: 1}, {Op: ClassRET | RetK, K: 1}, {Op: ClassRET | RetK, K: 0},
		},
	}
	for name, p := range progs {
		if err := p.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkKernelVerdicts(t, name, p, frames)
	}
}
