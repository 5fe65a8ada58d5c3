package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// TestBadInput: every mistake gets one clear line on stderr and a non-zero
// exit, before anything is loaded or attached.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "exists.pcap")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown interface", []string{"-i", "nosuchif0", "-w", filepath.Join(dir, "a.pcap")}, 1, `no such interface: "nosuchif0"`},
		{"no interface", []string{"-w", filepath.Join(dir, "x.pcap")}, 2, "no interface given"},
		{"bad direction", []string{"-i", "lo", "-Q", "sideways", "-w", filepath.Join(dir, "x")}, 2, `invalid direction "sideways"`},
		{"bad snaplen", []string{"-i", "lo", "-s", "x", "-w", filepath.Join(dir, "x")}, 2, `invalid value "x" for -s: not a number`},
		{"huge snaplen", []string{"-i", "lo", "-s", "300000", "-w", filepath.Join(dir, "x")}, 2, "invalid snapshot length 300000"},
		{"xdp egress", []string{"-i", "lo", "--xdp", "-Q", "out", "-w", filepath.Join(dir, "x")}, 2, "XDP sees ingress only"},
		{"bad tc attach", []string{"-i", "lo", "--tc-attach", "magic", "-w", filepath.Join(dir, "x")}, 2, `invalid --tc-attach "magic"`},
		{"unknown flag", []string{"-i", "lo", "--frobnicate"}, 2, "unknown flag --frobnicate"},
		{"bad count", []string{"-i", "lo", "-c", "many"}, 2, `invalid value "many"`},
		{"unwritable output", []string{"-i", "lo", "-w", filepath.Join(dir, "missing", "x.pcap")}, 1, "no such file or directory"},
		{"existing output, unknown interface", []string{"-i", "nosuchif0", "-w", existing}, 1, `no such interface: "nosuchif0"`},
		{"bad filter", []string{"lo", "-w", filepath.Join(dir, "x"), "tcp", "prot", "80"}, 2, `filter: syntax error at "prot" (column 5)`},
		{"unresolved host", []string{"lo", "-w", filepath.Join(dir, "x"), "host", "example.com"}, 2, `not resolved`},
		{"bad ring size", []string{"lo", "--ring-size", "12 parsecs"}, 2, `invalid --ring-size`},
		{"tiny ring", []string{"lo", "--ring-size", "1KiB"}, 2, `invalid --ring-size`},
		{"bad perf buffer", []string{"lo", "--perf-buffer", "3MiB", "-w", filepath.Join(dir, "x")}, 2, `invalid --perf-buffer "3MiB"`},
		{"removed flag", []string{"lo", "--perf-reader", "mmap", "-w", filepath.Join(dir, "x")}, 2, "unknown flag --perf-reader (see -h)"},
		{"bad format", []string{"lo", "--format", "json", "-w", filepath.Join(dir, "x")}, 2, `invalid --format "json"`},
		{"bad max flows", []string{"lo", "--max-flows", "0"}, 2, `invalid --max-flows`},
		{"bad nice", []string{"lo", "--nice", "40", "-w", filepath.Join(dir, "x")}, 2, `invalid --nice 40: must be -20 to 19`},
		// Without a terminal the packets are printed as text: not with the
		// pcap stream on stdout.
		{"print with -w -", []string{"lo", "--print", "-w", "-"}, 2, "--print and -w - both write to stdout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "unwritable output" {
				testutil.RequireRoot(t) // reaches past the privilege check
			}
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			msg := stderr.String()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("stderr %q does not say %q", msg, tc.want)
			}
			if strings.Count(msg, "\n") != 1 {
				t.Errorf("want exactly one line on stderr, got:\n%s", msg)
			}
			if strings.Contains(msg, "goroutine") || strings.Contains(msg, "panic") {
				t.Errorf("stack trace on stderr:\n%s", msg)
			}
		})
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Error("a run that failed before capturing changed an existing output file")
	}
	// Bad input leaves no file behind.
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("files left in the output directory: %v", names)
	}
}

func TestVersionAndHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--version"}, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "bpftop-cap ") {
		t.Errorf("--version: exit %d, %q", code, stdout.String())
	}
	for _, h := range []string{"-h", "--help"} {
		stdout.Reset()
		stderr.Reset()
		code := run([]string{h}, &stdout, &stderr)
		help := stdout.String()
		if code != 0 || !strings.HasPrefix(help, "Usage: bpftop-cap") || stderr.Len() != 0 {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", h, code, help, stderr.String())
		}
		for _, want := range []string{"Capture:", "Output:", "Live view:", "Tuning:", "Examples:", "-w FILE", "--xdp"} {
			if !strings.Contains(help, want) {
				t.Errorf("%s does not show %q", h, want)
			}
		}
		// The developers' flags work but are not offered.
		for _, hidden := range []string{"cpuprofile", "stats-file", "perf-reader"} {
			if strings.Contains(help, hidden) {
				t.Errorf("%s shows the developer flag %s", h, hidden)
			}
		}
	}
}

func TestSeveralInterfaces(t *testing.T) {
	for _, args := range [][]string{{"-i", "eth0", "-i", "lo", "-w", "x"}, {"-i", "eth0,lo", "-w", "x"}, {"eth0,lo", "-w", "x"}} {
		cfg, _, err := parse(args)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(cfg.Ifaces, " ") != "eth0 lo" {
			t.Errorf("%v: interfaces %v", args, cfg.Ifaces)
		}
	}
	var stderr bytes.Buffer
	if code := run([]string{"-i", "lo", "-i", "lo", "-w", filepath.Join(t.TempDir(), "x")}, &bytes.Buffer{}, &stderr); code != 1 || !strings.Contains(stderr.String(), "given twice") {
		t.Errorf("same interface twice: exit %d, %q", code, stderr.String())
	}
}

func TestFlagsAfterInterface(t *testing.T) {
	cfg, _, err := parse([]string{"eth9", "-w", "out.pcap", "-c", "5", "-Q", "in"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Ifaces, ",") != "eth9" || cfg.Write != "out.pcap" || cfg.Count != 5 || cfg.Direction != "in" || len(cfg.Filter) != 0 {
		t.Errorf("parsed %+v", cfg)
	}
	cfg, _, err = parse([]string{"-i", "eth9", "--xdp", "udp"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil || cfg.Direction != "in" || strings.Join(cfg.Filter, " ") != "udp" {
		t.Errorf("parsed %+v (%v)", cfg, err)
	}
}

func TestReadConvert(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	garbage := filepath.Join(dir, "garbage.pcap")
	os.WriteFile(garbage, []byte("this is not a capture file at all"), 0o600)
	empty := filepath.Join(dir, "empty.pcap")
	os.WriteFile(empty, nil, 0o600)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing", []string{"-r", filepath.Join(dir, "nope.pcap"), "-w", filepath.Join(dir, "o1")}, "no such file"},
		{"garbage", []string{"-r", garbage, "-w", filepath.Join(dir, "o2")}, "not a pcap or pcapng file"},
		{"empty", []string{"-r", empty, "-w", filepath.Join(dir, "o3")}, "empty"},
		{"with interface", []string{"-r", garbage, "-i", "lo", "-w", "x"}, "-r and -i do not go together"},
		{"onto itself", []string{"-r", garbage, "-w", garbage}, "is the file -r reads"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stderr.Reset()
			code := run(tc.args, &stdout, &stderr)
			if code == 0 || !strings.Contains(stderr.String(), tc.want) || strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("exit %d, stderr %q, want one line saying %q", code, stderr.String(), tc.want)
			}
		})
	}
	if b, _ := os.ReadFile(garbage); string(b) != "this is not a capture file at all" {
		t.Errorf("-r F -w F changed F: %q", b)
	}
}

// TestPrintWhileConverting: -r F -w OUT --print writes the file and prints
// each packet written, as tcpdump --print does: the same lines.
func TestPrintWhileConverting(t *testing.T) {
	testutil.RequireTool(t, "tcpdump")
	in := filepath.Join(testutil.Corpus(t), "tcp-handshake-nano.pcap")
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-r", in, "-w", filepath.Join(dir, "ours.pcap"), "--print", "-c", "2"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	want, err := exec.Command("tcpdump", "-n", "-r", in, "-w", filepath.Join(dir, "theirs.pcap"), "--print", "-c", "2").Output()
	if err != nil {
		t.Fatal(err)
	}
	if stdout.String() != string(want) || strings.Count(stdout.String(), "\n") != 2 {
		t.Errorf("printed:\n%s\ntcpdump --print:\n%s", stdout.String(), want)
	}
}
