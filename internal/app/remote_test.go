package app

import (
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

func TestParseRemote(t *testing.T) {
	for _, tc := range []struct {
		spec, dest, port, label, err string
	}{
		{spec: "host", dest: "host", label: "host"},
		{spec: "root@10.0.0.2", dest: "root@10.0.0.2", label: "10.0.0.2"},
		{spec: "me@box:2222", dest: "me@box", port: "2222", label: "box"},
		{spec: "fe80::1", dest: "fe80::1", label: "[fe80::1]"},
		{spec: "u@[2001:db8::1]:22", dest: "u@2001:db8::1", port: "22", label: "[2001:db8::1]"},
		{spec: "[::1]", dest: "::1", label: "[::1]"},
		{spec: "-oProxyCommand=x", err: "does not start with -"},
		{spec: "-l@host", err: "does not start with -"},
		{spec: "host:0", err: "port"},
		{spec: "host:99999", err: "port"},
		{spec: "host:ssh", err: "port"},
		{spec: "@host", err: "no user"},
		{spec: "user@", err: "no host"},
		{spec: "[::1", err: "no ]"},
		{spec: "[::1]x", err: "[ADDRESS]:PORT"},
		{spec: "a b", err: "spaces"},
		{spec: "a'b", err: "quotes"},
	} {
		h, err := parseRemote(tc.spec)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseRemote(%q) = %+v, %v; want an error with %q", tc.spec, h, err, tc.err)
			}
		case err != nil:
			t.Errorf("parseRemote(%q): %v", tc.spec, err)
		case h.dest != tc.dest || h.port != tc.port || h.label != tc.label:
			t.Errorf("parseRemote(%q) = dest %q port %q label %q; want %q %q %q", tc.spec, h.dest, h.port, h.label, tc.dest, tc.port, tc.label)
		}
	}
	hosts, err := parseRemotes([]string{"a@box:22", "b@box:23", "other"})
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{hosts[0].label, hosts[1].label, hosts[2].label}; !slices.Equal(got, []string{"a@box:22", "b@box:23", "other"}) {
		t.Errorf("labels of one host twice = %q", got)
	}
}

// TestSplitCommand compares the splitting with a real shell's.
func TestSplitCommand(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		testutil.SkipOrFail(t, "no sh")
	}
	for _, s := range []string{
		`ssh`,
		`ssh -p 2222 -i ~/k`,
		`  ssh   -o 'ProxyCommand=ssh -W %h:%p jump'  `,
		`ssh -o "ProxyCommand=ssh -W \"%h:%p\" jump" x`,
		`ssh -o "a\\b\$c\x"`,
		`ssh a\ b c\'d`,
		`ssh ''`,
		`ssh "" x`,
		`a'b'"c"d`,
		"ssh\t-v \t-v ~ a~ '~/x' ~/y",
		`ssh 'it'\''s'`,
	} {
		got, err := splitCommand(s)
		if err != nil {
			t.Errorf("splitCommand(%q): %v", s, err)
			continue
		}
		// The words as the shell splits them: the command line after set --.
		out, err := exec.Command(sh, "-c", "set -- "+s+"\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done").Output()
		if err != nil {
			t.Fatalf("sh: %v", err)
		}
		want := strings.Split(string(out), "\x00")
		want = want[:len(want)-1]
		if !slices.Equal(got, want) {
			t.Errorf("splitCommand(%q) = %q; sh: %q", s, got, want)
		}
	}
	for _, s := range []string{`ssh 'x`, `ssh "x`, `ssh x\`} {
		if got, err := splitCommand(s); err == nil {
			t.Errorf("splitCommand(%q) = %q, want an error", s, got)
		}
	}
}

// TestRemoteScripts runs the scripts' quoting and syntax through sh: the
// capture's words come back as they went, and every script parses.
func TestRemoteScripts(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		testutil.SkipOrFail(t, "no sh")
	}
	words := []string{"-i", "eth0", "--", "host", "10.0.0.1", "and", "not", "port", "22", "it's", `"q"`, "$HOME", "`id`", "a\nb", ""}
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = shQuote(w)
	}
	out, err := exec.Command(sh, "-c", "for a in "+strings.Join(q, " ")+"; do printf '%s\\0' \"$a\"; done").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(string(out), "\x00"); !slices.Equal(got[:len(got)-1], words) {
		t.Errorf("quoted words came back as %q", got)
	}
	for name, script := range map[string]string{
		"probe":  probeScript(true),
		"upload": uploadScript(12345),
		"run":    runScript([]string{"/usr/bin/sudo", "-n", "--", "/tmp/x y/bpftop-cap", "-i", "it's"}, "/tmp/bpftop-cap.abc"),
		"run2":   runScript([]string{"bpftop-cap"}, ""),
		"list":   listScript([]string{"/tmp/x y/bpftop-cap", "-D"}, "/tmp/bpftop-cap.abc"),
	} {
		if out, err := exec.Command(sh, "-n", "-c", script).CombinedOutput(); err != nil {
			t.Errorf("%s script: sh -n: %v: %s\n%s", name, err, out, script)
		}
	}
}

// TestProbe runs the probe here, as the remote shell would, and reads it.
func TestProbe(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		testutil.SkipOrFail(t, "no sh")
	}
	out, err := exec.Command(sh, "-c", "echo a login script talks; "+probeScript(true)).Output()
	if err != nil {
		t.Fatal(err)
	}
	p, err := parseProbe(string(out))
	if err != nil {
		t.Fatalf("parseProbe: %v\n%s", err, out)
	}
	if runtime.GOOS == "linux" && (p.system != "Linux" || goArch(p.machine) != runtime.GOARCH || checkCopy(p) != nil) {
		t.Errorf("probe here = %+v, check: %v", p, checkCopy(p))
	}
	id, _ := exec.Command("id", "-u").Output()
	if p.root != (strings.TrimSpace(string(id)) == "0") {
		t.Errorf("probe root = %v, id -u says %s", p.root, id)
	}
	if want, _ := exec.LookPath("sudo"); p.sudo != want {
		t.Errorf("probe sudo = %q, want %q", p.sudo, want)
	}
	if got, want := parseDefaultRoute(strings.NewReader(p.routes)), defaultRouteInterface(); got != want {
		t.Errorf("default route from the probe = %q, from /proc/net/route %q", got, want)
	}
	if _, err := parseProbe("no marker\n"); err == nil {
		t.Error("parseProbe without a marker: no error")
	}
	if err := checkCopy(probe{system: "Linux", machine: "sparc64"}); err == nil || !strings.Contains(err.Error(), "sparc64") {
		t.Errorf("checkCopy(sparc64) = %v", err)
	}
}

func TestRemoteArgs(t *testing.T) {
	cfg := &Config{Ifaces: []string{"eth0", "eth1"}, Count: 10, Snaplen: 96, Direction: "in", XDP: true,
		TCAttach: "auto", EgressAt: "tc", BufferKiB: 4096, PerfBuffer: "1MiB", Filter: []string{"udp", "port", "53"}}
	got := strings.Join(remoteArgs(cfg, "ignored"), " ")
	want := "-i eth0 -i eth1 -c 10 -s 96 -Q in --egress-at tc --perf-buffer 1MiB --xdp -B 4096 -w - --format pcapng -U -- udp port 53"
	if got != want {
		t.Errorf("remoteArgs = %q\nwant          %q", got, want)
	}
	if got := strings.Join(remoteArgs(&Config{Snaplen: 262144}, "ens3"), " "); got != "-i ens3 -s 262144 -w - --format pcapng -U" {
		t.Errorf("remoteArgs with the remote default = %q", got)
	}
	pf := &Config{Snaplen: 96, Pid: 42, Comm: "nginx", Cgroup: "/system.slice/x"}
	if got := strings.Join(remoteArgs(pf, "eth0"), " "); got != "-i eth0 -s 96 --comm nginx --cgroup /system.slice/x --pid 42 -w - --format pcapng -U" {
		t.Errorf("remoteArgs with process filters = %q", got)
	}
}

func TestRemoteError(t *testing.T) {
	for _, tc := range []struct {
		code  int
		lines []string
		want  string
	}{
		{255, []string{"ssh: connect to host 10.0.0.2 port 2222: Connection refused"}, "h: ssh: connect to host 10.0.0.2 port 2222: Connection refused"},
		{255, []string{"Warning: Permanently added", "root@h: Permission denied (publickey).", ""}, "h: root@h: Permission denied (publickey)."},
		{255, nil, "h: ssh failed"},
		{2, []string{"bpftop-cap: no such interface: \"eth9\" (see -h)"}, `h: no such interface: "eth9"`},
		{1, []string{"sudo: a password is required"}, "h: sudo: a password is required: bpftop-cap runs there with sudo -n; allow it without a password, or connect as root"},
		{1, []string{"bpftop-cap: capturing on x", "bpftop-cap: attach: operation not supported; this kernel lacks it"}, "h: attach: operation not supported; this kernel lacks it"},
		{3, []string{"odd"}, "h: exit status 3: odd"},
	} {
		if got := remoteError("h", tc.code, tc.lines).Error(); got != tc.want {
			t.Errorf("remoteError(%d, %q) = %q\nwant %q", tc.code, tc.lines, got, tc.want)
		}
	}
}

func TestLineTail(t *testing.T) {
	var seen []string
	lt := newLineTail(func(l string) { seen = append(seen, l) })
	lt.Write([]byte("one\r\ntw"))
	lt.Write([]byte("o\n\x1b[2Jthree"))
	lt.Write([]byte(strings.Repeat("x", 5000) + "\n"))
	for i := 0; i < 20; i++ {
		lt.Write([]byte("more\n"))
	}
	if !slices.Equal(seen[:2], []string{"one", "two"}) || len(seen[2]) != maxLineSize {
		t.Errorf("lines = %q…", seen[:2])
	}
	last := lt.last()
	if len(last) != tailLines || strings.ContainsRune(strings.Join(last, ""), 0x1b) {
		t.Errorf("last = %d lines %q", len(last), last)
	}
	if got := printable("a\x1b[31mb\x07\u009bc"); got != "a?[31mb??c" {
		t.Errorf("printable = %q", got)
	}
}

// TestRemoteProbeEscaped: what the remote host answered is escaped in
// every line that names it (a hostile host's bytes reach no terminal).
func TestRemoteProbeEscaped(t *testing.T) {
	const evil = "x\x1b]0;owned\x07\x1b[2J\u009b"
	for name, err := range map[string]error{
		"machine": checkCopy(probe{system: "Linux", machine: evil}),
		"system":  checkCopy(probe{system: evil, machine: "x86_64"}),
		"user":    checkUser(probe{user: evil}),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if msg := err.Error(); strings.ContainsAny(msg, "\x1b\x07\u009b") || !strings.Contains(msg, "x?]0;owned??[2J?") {
			t.Errorf("%s: %q", name, msg)
		}
	}
	if err := checkUser(probe{user: "me", sudo: "/usr/bin/sudo"}); err != nil {
		t.Errorf("checkUser with sudo: %v", err)
	}
}

// TestRemoteSSHPort: a port in --ssh and one in --remote: ssh would keep
// the first, so the command line is refused; either alone is fine.
func TestRemoteSSHPort(t *testing.T) {
	for _, tc := range []struct {
		ssh, remote string
		bad         bool
	}{
		{"ssh -p 2222", "h:2223", true},
		{"ssh -p2222", "h:2222", true},
		{"ssh -vp 2222 -i k", "u@h:22", true},
		{"/usr/bin/ssh -o Port=2222", "h:1", true},
		{"ssh -oport=2222", "h:1", true},
		{"ssh -o 'Port 2222'", "h:1", true},
		{"ssh -p 2222", "h", false},
		{"ssh -i p -o ProxyJump=j", "h:2222", false},
		{"ssh -F cfg", "h:2222", false},
		{"sshpass -p secret ssh", "h:2222", false}, // sshpass's -p: a password
	} {
		c := &Config{SSH: tc.ssh, Remotes: []string{"other", tc.remote}}
		err := c.validateRemote()
		got := err != nil && strings.Contains(err.Error(), "port")
		if got != tc.bad {
			t.Errorf("--ssh %q --remote %s: %v", tc.ssh, tc.remote, err)
		} else if tc.bad {
			t.Log(err)
		}
	}
}
