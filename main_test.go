package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/packet"
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
		{"no interface", []string{"-w", "x.pcap"}, 2, "no interface given"},
		{"bad direction", []string{"-i", "lo", "-Q", "sideways", "-w", "x"}, 2, `invalid direction "sideways"`},
		{"bad snaplen", []string{"-i", "lo", "-s", "0", "-w", "x"}, 2, "invalid snapshot length 0"},
		{"huge snaplen", []string{"-i", "lo", "-s", "300000", "-w", "x"}, 2, "invalid snapshot length 300000"},
		{"xdp egress", []string{"-i", "lo", "--xdp", "-Q", "out", "-w", "x"}, 2, "XDP sees ingress only"},
		{"bad tc attach", []string{"-i", "lo", "--tc-attach", "magic", "-w", "x"}, 2, `invalid --tc-attach "magic"`},
		{"unknown flag", []string{"-i", "lo", "--frobnicate"}, 2, "flag provided but not defined"},
		{"bad count", []string{"-i", "lo", "-c", "many"}, 2, `invalid value "many"`},
		{"unwritable output", []string{"-i", "lo", "-w", filepath.Join(dir, "missing", "x.pcap")}, 1, "no such file or directory"},
		{"existing output", []string{"-i", "lo", "-w", existing}, 1, "file exists (use --force to overwrite)"},
		{"bad filter", []string{"lo", "-w", "x", "tcp", "prot", "80"}, 2, `filter: syntax error at "prot" (column 5)`},
		{"unresolved host", []string{"lo", "-w", "x", "host", "example.com"}, 2, `not resolved`},
		{"bad ring size", []string{"lo", "--ring-size", "12 parsecs"}, 2, `invalid --ring-size`},
		{"tiny ring", []string{"lo", "--ring-size", "1KiB"}, 2, `invalid --ring-size`},
		{"bad perf buffer", []string{"lo", "--perf-buffer", "3MiB", "-w", "x"}, 2, `invalid --perf-buffer "3MiB"`},
		{"bad format", []string{"lo", "--format", "json", "-w", "x"}, 2, `invalid --format "json"`},
		{"bad max flows", []string{"lo", "--max-flows", "0"}, 2, `invalid --max-flows`},
		{"bad nice", []string{"lo", "--nice", "40", "-w", "x"}, 2, `invalid --nice 40: must be -20 to 19`},
		{"live view without a terminal", []string{"lo"}, 2, "live view needs a terminal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			msg := stderr.String()
			if !strings.Contains(msg, tc.want) {
				t.Errorf("stderr %q does not say %q", msg, tc.want)
			}
			// One line, unless the flag package also printed the usage.
			if tc.code != 2 || !strings.Contains(msg, "Usage:") {
				if strings.Count(msg, "\n") != 1 {
					t.Errorf("want exactly one line on stderr, got:\n%s", msg)
				}
			}
			if strings.Contains(msg, "goroutine") || strings.Contains(msg, "panic") {
				t.Errorf("stack trace on stderr:\n%s", msg)
			}
		})
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Error("an existing output file was overwritten without --force")
	}
}

func TestVersionAndHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--version"}, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "bpftop-cap ") {
		t.Errorf("--version: exit %d, %q", code, stdout.String())
	}
	stdout.Reset()
	if code := run([]string{"-h"}, &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), "Usage: bpftop-cap") {
		t.Errorf("-h: exit %d, %q", code, stderr.String())
	}
}

func TestSeveralInterfaces(t *testing.T) {
	for _, args := range [][]string{{"-i", "eth0", "-i", "lo", "-w", "x"}, {"-i", "eth0,lo", "-w", "x"}, {"eth0,lo", "-w", "x"}} {
		o, err := parseFlags(args, &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(o.ifaces, " ") != "eth0 lo" || o.iface != "eth0" {
			t.Errorf("%v: interfaces %v", args, o.ifaces)
		}
	}
	var stderr bytes.Buffer
	if code := run([]string{"-i", "lo", "-i", "lo", "-w", filepath.Join(t.TempDir(), "x")}, &bytes.Buffer{}, &stderr); code != 1 || !strings.Contains(stderr.String(), "given twice") {
		t.Errorf("same interface twice: exit %d, %q", code, stderr.String())
	}
}

func TestFlagsAfterInterface(t *testing.T) {
	o, err := parseFlags([]string{"eth9", "-w", "out.pcap", "-c", "5", "-Q", "in"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.iface != "eth9" || o.write != "out.pcap" || o.count != 5 || o.direction != "in" || len(o.filter) != 0 {
		t.Errorf("parsed %+v", o)
	}
	o, err = parseFlags([]string{"-i", "eth9", "--xdp", "udp"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.direction != "in" || strings.Join(o.filter, " ") != "udp" {
		t.Errorf("parsed %+v", o)
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			stderr.Reset()
			code := run(tc.args, &stdout, &stderr)
			if code == 0 || !strings.Contains(stderr.String(), tc.want) || strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("exit %d, stderr %q, want one line saying %q", code, stderr.String(), tc.want)
			}
		})
	}
}

func TestParseDefaultRoute(t *testing.T) {
	const table = `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
eth1	0000A8C0	00000000	0001	0	0	0	00FFFFFF	0	0	0
wlan0	00000000	0100A8C0	0003	0	0	600	00000000	0	0	0
eth0	00000000	0101A8C0	0003	0	0	100	00000000	0	0	0
down0	00000000	0101A8C0	0002	0	0	1	00000000	0	0	0
`
	if got := parseDefaultRoute(strings.NewReader(table)); got != "eth0" {
		t.Errorf("default route interface %q, want eth0 (lowest metric, up)", got)
	}
	if got := parseDefaultRoute(strings.NewReader("Iface\tDestination\n")); got != "" {
		t.Errorf("no default route: %q", got)
	}
}

// TestTrackSaves: the live view waits for a save in flight before exiting.
func TestTrackSaves(t *testing.T) {
	var wg sync.WaitGroup
	release, started := make(chan struct{}), make(chan struct{})
	save := trackSaves(&wg, func(string, []packet.Packet) (int, error) {
		close(started)
		<-release
		return 1, nil
	})
	go save("x", nil)
	<-started
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
		t.Fatal("Wait returned while the save was running")
	case <-time.After(50 * time.Millisecond): // still waiting, as it should
	}
	close(release)
	<-waited
}
