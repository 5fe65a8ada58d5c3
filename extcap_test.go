package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// runExtcap runs the command as Wireshark runs an extcap: it wants exit 0
// and nothing on stderr, which Wireshark would show as an error.
func runExtcap(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != 0 || stderr.Len() != 0 {
		t.Fatalf("%q: exit %d, stderr %q", args, code, stderr.String())
	}
	return stdout.String()
}

// TestExtcapInterfaces: --extcap-interfaces, as Wireshark 4.0 asks (with
// --extcap-version=4.0), lists bpftop-cap, then one interface per network
// interface of the namespace under the bpftop-cap: prefix, then any.
func TestExtcapInterfaces(t *testing.T) {
	for _, args := range [][]string{
		{"--extcap-interfaces", "--extcap-version=4.0"},
		{"--extcap-version", "4.0", "--extcap-interfaces"},
		{"--extcap-interfaces"},
	} {
		lines := strings.Split(strings.TrimSuffix(runExtcap(t, args...), "\n"), "\n")
		if !regexp.MustCompile(`^extcap \{version=[^{}]+\}$`).MatchString(lines[0]) {
			t.Errorf("%q: first line %q", args, lines[0])
		}
		ifis, err := net.Interfaces()
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, ifi := range ifis {
			want = append(want, "interface {value=bpftop-cap:"+ifi.Name+"}{display=bpftop-cap eBPF: "+ifi.Name+"}")
		}
		want = append(want, "interface {value=bpftop-cap:any}{display=bpftop-cap eBPF: any interface}")
		if got := lines[1:]; strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%q: interfaces\n%s\nwant\n%s", args, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestExtcapDLTs: each interface's link type, as it is written to the
// FIFO: Ethernet for lo (as bpftop-cap writes it), LINUX_SLL2 for any.
func TestExtcapDLTs(t *testing.T) {
	for _, tc := range []struct{ iface, want string }{
		{"bpftop-cap:lo", "dlt {number=1}{name=EN10MB}{display=Ethernet}\n"},
		{"bpftop-cap:any", "dlt {number=276}{name=LINUX_SLL2}{display=Linux cooked v2}\n"},
	} {
		// Wireshark's order, and the other one.
		for _, args := range [][]string{{"--extcap-dlts", "--extcap-interface", tc.iface}, {"--extcap-interface=" + tc.iface, "--extcap-dlts"}} {
			if got := runExtcap(t, args...); got != tc.want {
				t.Errorf("%q: %q, want %q", args, got, tc.want)
			}
		}
	}
}

// TestExtcapConfig: the settings the capture dialog offers, and each
// value of each, given back as Wireshark gives it (CALL VALUE) on a
// --capture command line, parses into the configuration it names.
func TestExtcapConfig(t *testing.T) {
	argRE := regexp.MustCompile(`^arg \{number=(\d+)\}\{call=(--[a-z-]+)\}\{display=[^{}]+\}\{type=(selector|unsigned)\}`)
	valueRE := regexp.MustCompile(`^value \{arg=(\d+)\}\{value=([a-z]+)\}\{display=[^{}]+\}(\{default=true\})?$`)
	for _, tc := range []struct {
		iface string
		calls []string
	}{
		{"bpftop-cap:lo", []string{"--extcap-hook", "--direction", "--snapshot-length"}},
		{"bpftop-cap:any", []string{"--direction", "--snapshot-length"}}, // any captures at tc
	} {
		out := runExtcap(t, "--extcap-config", "--extcap-interface", tc.iface)
		calls := map[string]string{}
		var got []string
		for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			if m := argRE.FindStringSubmatch(l); m != nil {
				calls[m[1]] = m[2]
				got = append(got, m[2])
				if m[3] == "unsigned" {
					// The range's ends, as Wireshark would pass them.
					for _, v := range []string{"1", "262144"} {
						checkExtcapSetting(t, tc.iface, m[2], v)
					}
				}
				continue
			}
			m := valueRE.FindStringSubmatch(l)
			if m == nil || calls[m[1]] == "" {
				t.Fatalf("%s: line %q is neither an arg nor a value of one", tc.iface, l)
			}
			checkExtcapSetting(t, tc.iface, calls[m[1]], m[2])
		}
		if strings.Join(got, " ") != strings.Join(tc.calls, " ") {
			t.Errorf("%s offers %q, want %q", tc.iface, got, tc.calls)
		}
	}
}

// checkExtcapSetting parses a --capture command line with the setting
// and checks that it lands where its name says.
func checkExtcapSetting(t *testing.T, iface, call, value string) {
	t.Helper()
	args := []string{"--capture", "--extcap-interface", iface, "--fifo", "/nonexistent/fifo", call, value}
	cfg, _, err := parse(args)
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	var got string
	switch call {
	case "--extcap-hook":
		got = cfg.Extcap.Hook
	case "--direction":
		got = cfg.Direction
	case "--snapshot-length":
		got = strconv.FormatUint(uint64(cfg.Snaplen), 10)
	}
	if got != value {
		t.Errorf("%q: %s is %q, want %q", args, call, got, value)
	}
}

// TestExtcapCaptureArgs: --capture as Wireshark starts it (its order, the
// filter, the control pipes, the settings) parses into the extcap flags,
// among which no word is taken for an interface or a filter expression.
func TestExtcapCaptureArgs(t *testing.T) {
	args := []string{"--capture", "--extcap-interface", "bpftop-cap:eth0", "--extcap-capture-filter", "udp port 53",
		"--fifo", "/tmp/wireshark_extcap_x", "--extcap-control-out", "/tmp/out", "--extcap-control-in", "/tmp/in",
		"--extcap-hook", "xdp", "--direction", "in", "--snapshot-length", "128"}
	cfg, _, err := parse(args)
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.Extcap
	if !e.Capture || e.Interface != "bpftop-cap:eth0" || e.Filter != "udp port 53" || !e.FilterGiven || e.Fifo != "/tmp/wireshark_extcap_x" ||
		e.ControlOut != "/tmp/out" || e.ControlIn != "/tmp/in" || e.Hook != "xdp" || cfg.Direction != "in" || cfg.Snaplen != 128 {
		t.Errorf("%q: %+v, direction %q, snaplen %d", args, e, cfg.Direction, cfg.Snaplen)
	}
	if len(cfg.Ifaces) != 0 || len(cfg.Filter) != 0 {
		t.Errorf("%q: interfaces %q, filter %q: want none before the FIFO is open", args, cfg.Ifaces, cfg.Filter)
	}
	// The tcpdump-style command line knows nothing of them.
	cfg, _, err = parse([]string{"-nni", "eth0", "-c5", "udp", "port", "53"})
	if err != nil || cfg.Extcap.On() || strings.Join(cfg.Filter, " ") != "udp port 53" {
		t.Errorf("-nni eth0 -c5 udp port 53: extcap %v, filter %q (%v)", cfg.Extcap.On(), cfg.Filter, err)
	}
}

// TestExtcapCaptureFilterCheck: --extcap-capture-filter without --capture
// checks the filter as Wireshark's capture dialog asks: nothing on stdout
// when it compiles, its error in one line when not, and exit 0 both ways
// (Wireshark reads the output only then).
func TestExtcapCaptureFilterCheck(t *testing.T) {
	for _, tc := range []struct {
		iface, expr string
		bad         string // in the error; "" for a good filter
	}{
		{"bpftop-cap:lo", "udp port 53 and host 10.0.0.1", ""},
		{"bpftop-cap:lo", "", ""},
		{"bpftop-cap:any", "tcp[tcpflags] & tcp-syn != 0", ""},
		{"bpftop-cap:lo", "udp and", "syntax error"},
		{"bpftop-cap:lo", "port 99999", "port"},
		{"bpftop-cap:any", "ip proto nosuch", "nosuch"},
	} {
		args := []string{"--extcap-capture-filter", tc.expr, "--extcap-interface", tc.iface}
		out := runExtcap(t, args...)
		switch {
		case tc.bad == "" && out != "":
			t.Errorf("%q: %q, want nothing", args, out)
		case tc.bad != "" && (!strings.Contains(out, tc.bad) || strings.Count(out, "\n") != 1):
			t.Errorf("%q: %q, want one line about %q", args, out, tc.bad)
		}
	}
}

// TestExtcapErrors: a question or capture Wireshark could not have meant
// is one line on stderr and exit 2.
func TestExtcapErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--extcap-dlts", "--extcap-interface", "lo"}, `--extcap-interface "lo" is not one of bpftop-cap's`},
		{[]string{"--extcap-config"}, "need --extcap-interface"},
		{[]string{"--capture", "--extcap-interface", "bpftop-cap:lo"}, "--capture needs --fifo"},
		{[]string{"--capture", "--fifo", "/nonexistent/fifo"}, "--extcap-interface not given"},
		{[]string{"--capture", "--extcap-interface", "bpftop-cap:lo", "--fifo", "/nonexistent/fifo", "-w", "x.pcap"}, "--capture takes its interface, output and filter"},
		{[]string{"--extcap-dlts", "--extcap-interface", "bpftop-cap:nosuch0"}, `no such interface: "nosuch0"`},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		if code == 0 || strings.Count(stderr.String(), "\n") != 1 || !strings.Contains(stderr.String(), tc.want) || stdout.Len() != 0 {
			t.Errorf("%q: exit %d, stderr %q, stdout %q; want one line with %q", tc.args, code, stderr.String(), stdout.String(), tc.want)
		}
	}
}

// TestMakeInstallExtcap: make install-extcap installs and links the binary
// into the extcap folder tshark -G folders names (under DESTDIR here), the
// installed binary answers Wireshark there, and make uninstall-extcap
// removes the link and nothing else.
func TestMakeInstallExtcap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	testutil.RequireTool(t, "make")
	testutil.RequireTool(t, "tshark")
	out, err := exec.Command("tshark", "-G", "folders").Output()
	if err != nil {
		t.Fatalf("tshark -G folders: %v", err)
	}
	m := regexp.MustCompile(`(?m)^(?:Personal |Global )?Extcap path:\s*(\S.*)$`).FindAllSubmatch(out, -1)
	if m == nil {
		t.Fatalf("tshark -G folders names no extcap folder:\n%s", out)
	}
	extcapDir := strings.TrimSpace(string(m[0][1])) // the personal one comes first where there is one
	tmp := t.TempDir()
	dest := filepath.Join(tmp, "stage")
	vars := []string{"DESTDIR=" + dest, "PREFIX=/opt/bc", "BINARY=" + filepath.Join(tmp, "bpftop-cap")}
	if out, err := exec.Command("make", append([]string{"install-extcap"}, vars...)...).CombinedOutput(); err != nil {
		t.Fatalf("make install-extcap: %v\n%s", err, out)
	}
	link := filepath.Join(dest, extcapDir, "bpftop-cap")
	if target, err := os.Readlink(link); err != nil || target != "/opt/bc/bin/bpftop-cap" {
		t.Fatalf("%s: link to %q (%v), want /opt/bc/bin/bpftop-cap", link, target, err)
	}
	// The link leads out of the staging tree: run the staged binary by
	// the link's name, as Wireshark would run the link.
	alias := filepath.Join(tmp, "extcap", "bpftop-cap")
	if err := os.MkdirAll(filepath.Dir(alias), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dest, "/opt/bc/bin/bpftop-cap"), alias); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(alias, "--extcap-interfaces", "--extcap-version=4.0").Output(); err != nil || !strings.Contains(string(out), "interface {value=bpftop-cap:lo}") {
		t.Errorf("%s --extcap-interfaces: %v\n%s", alias, err, out)
	}
	if out, err := exec.Command("make", append([]string{"uninstall-extcap"}, vars...)...).CombinedOutput(); err != nil {
		t.Fatalf("make uninstall-extcap: %v\n%s", err, out)
	}
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Errorf("%s after make uninstall-extcap: %v", link, err)
	}
	if _, err := os.Stat(filepath.Join(dest, "/opt/bc/bin/bpftop-cap")); err != nil {
		t.Errorf("make uninstall-extcap took the binary: %v", err)
	}
}
