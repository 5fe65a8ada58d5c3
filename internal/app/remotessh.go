package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// The ssh side of --remote: the host specs, the ssh command line, the
// scripts run on the remote host (POSIX sh, through the remote user's
// login shell as ssh runs any command) and what their output means.

// remoteHost is one --remote.
type remoteHost struct {
	spec  string // as given: [user@]host[:port]
	dest  string // ssh's destination: [user@]host
	port  string // "": ssh's own (its config, or 22)
	label string // the host in interface names and messages
}

// parseRemote reads [user@]host[:port]; an IPv6 address with a port goes
// in brackets ([fe80::1]:2222), as ssh's and URLs' do.
func parseRemote(spec string) (remoteHost, error) {
	h := remoteHost{spec: spec}
	user, rest := "", spec
	if i := strings.LastIndexByte(spec, '@'); i >= 0 {
		user, rest = spec[:i], spec[i+1:]
		if user == "" {
			return h, fmt.Errorf("invalid --remote %q: no user before @", spec)
		}
	}
	host := rest
	switch {
	case strings.HasPrefix(rest, "["):
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return h, fmt.Errorf("invalid --remote %q: no ] after [", spec)
		}
		host = rest[1:end]
		if tail := rest[end+1:]; tail != "" {
			if !strings.HasPrefix(tail, ":") {
				return h, fmt.Errorf("invalid --remote %q: want [ADDRESS]:PORT", spec)
			}
			h.port = tail[1:]
		}
	case strings.Count(rest, ":") == 1:
		host, h.port, _ = strings.Cut(rest, ":")
	}
	if host == "" {
		return h, fmt.Errorf("invalid --remote %q: no host", spec)
	}
	// Neither may pass for one of ssh's options.
	if strings.HasPrefix(host, "-") || strings.HasPrefix(user, "-") {
		return h, fmt.Errorf("invalid --remote %q: a host does not start with -", spec)
	}
	if strings.ContainsAny(spec, " \t\n'\"\\") {
		return h, fmt.Errorf("invalid --remote %q: a host has no spaces or quotes", spec)
	}
	if h.port != "" {
		if n, err := strconv.ParseUint(h.port, 10, 16); err != nil || n == 0 {
			return h, fmt.Errorf("invalid --remote %q: port must be 1 to 65535", spec)
		}
	}
	h.dest, h.label = host, host
	if user != "" {
		h.dest = user + "@" + host
	}
	if strings.Contains(host, ":") {
		h.label = "[" + host + "]"
	}
	return h, nil
}

// parseRemotes reads every --remote. Hosts given twice (two ports, or two
// users, of one address) are labelled as given, so that their interfaces
// stay apart.
func parseRemotes(specs []string) ([]remoteHost, error) {
	hosts := make([]remoteHost, len(specs))
	seen := map[string]int{}
	for i, s := range specs {
		h, err := parseRemote(s)
		if err != nil {
			return nil, err
		}
		hosts[i] = h
		seen[h.label]++
	}
	for i := range hosts {
		if seen[hosts[i].label] > 1 {
			hosts[i].label = hosts[i].spec
		}
	}
	return hosts, nil
}

// splitCommand splits --ssh's command line into words as a shell would for
// simple quoting: blanks separate words; '…' keeps everything; "…" keeps
// everything but \" \\ \$ \`; a backslash outside quotes keeps the next
// character. A ~ or ~/ starting a word is the home directory; no other
// expansions.
func splitCommand(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !inWord && c == '~' && (i+1 == len(s) || strings.IndexByte(" \t\n/", s[i+1]) >= 0) {
			if home, err := os.UserHomeDir(); err == nil {
				w.WriteString(home)
				inWord = true
				continue
			}
		}
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words, inWord = append(words, w.String()), false
				w.Reset()
			}
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated '")
			}
			w.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				w.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New(`unterminated "`)
			}
			inWord = true
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errors.New(`a \ at the end`)
			}
			i++
			if s[i] != '\n' { // a line continuation joins
				w.WriteByte(s[i])
			}
			inWord = true
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// sshPortOption is the port an ssh command line gives (-p PORT, -pPORT,
// -o Port=PORT), or "": ssh keeps the first port it is given, so a port
// of --remote after it would be ignored. Only ssh's own command line is
// read: a wrapper's options (sshpass -p) mean something else.
func sshPortOption(argv []string) string {
	if len(argv) == 0 || filepath.Base(argv[0]) != "ssh" {
		return ""
	}
	const withArg = "bceiloBDEFIJLOPQRSWw" + "mp" // ssh's getopt string's options with an argument
	for i := 1; i < len(argv); i++ {
		w := argv[i]
		if w == "--" {
			break
		}
		if len(w) < 2 || w[0] != '-' {
			continue
		}
		for j := 1; j < len(w); j++ {
			c := w[j]
			if !strings.ContainsRune(withArg, rune(c)) {
				continue
			}
			arg := w[j+1:]
			if arg == "" && i+1 < len(argv) {
				i++
				arg = argv[i]
			}
			switch c {
			case 'p':
				return arg
			case 'o':
				k, v, _ := strings.Cut(strings.TrimSpace(arg), "=")
				if kk, vv, ok := strings.Cut(k, " "); ok && v == "" {
					k, v = kk, vv
				}
				if strings.EqualFold(strings.TrimSpace(k), "port") {
					return strings.TrimSpace(v)
				}
			}
			break
		}
	}
	return ""
}

// shQuote quotes s for a POSIX shell, always (the empty word too).
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sshArgv is the command line that runs script on h: the ssh command, no
// terminal (the stream is binary), the port, then the destination.
func sshArgv(ssh []string, h remoteHost, script string) []string {
	argv := append(append([]string(nil), ssh...), "-T")
	if h.port != "" {
		argv = append(argv, "-p", h.port)
	}
	return append(argv, "--", h.dest, script)
}

// Markers the scripts print before their answers: what a login script
// printed on stdout before them is passed over.
const (
	probeMarker  = "bpftop-cap-remote-probe"
	uploadMarker = "bpftop-cap-remote-upload"
	streamMarker = "bpftop-cap-remote-stream"
)

// probeScript asks the host, in one round trip, what the capture needs:
// the system and architecture (for a copy of this binary), whether the
// user is root, where bpftop-cap and sudo are, and with routes its
// default routes (the interface, when -i is not given), as
// /proc/net/route has them.
func probeScript(routes bool) string {
	s := `echo; echo ` + probeMarker + `; uname -s; uname -m; id -u; id -un
command -v bpftop-cap || echo; command -v sudo || echo`
	if routes {
		s += "\necho Iface; grep '^[^\t]*\t00000000\t' /proc/net/route 2>/dev/null"
	}
	return s + "\nexit 0"
}

// probe is what probeScript found.
type probe struct {
	system, machine string
	root            bool
	user            string
	binary          string // bpftop-cap's path there; "" if not installed
	sudo            string // sudo's path there; ""
	routes          string // /proc/net/route
}

func parseProbe(out string) (probe, error) {
	var p probe
	_, rest, ok := strings.Cut(out, "\n"+probeMarker+"\n")
	if !ok {
		return p, errors.New("the probe's answer has no marker (does the login shell run sh -c?)")
	}
	lines := strings.SplitN(rest, "\n", 7)
	if len(lines) < 6 {
		return p, errors.New("the probe's answer is short")
	}
	p.system, p.machine, p.user = lines[0], lines[1], lines[3]
	p.root = lines[2] == "0"
	if strings.HasPrefix(lines[4], "/") {
		p.binary = lines[4]
	}
	if strings.HasPrefix(lines[5], "/") {
		p.sudo = lines[5]
	}
	if len(lines) == 7 {
		p.routes = lines[6]
	}
	return p, nil
}

// goArch is the GOARCH that runs on a machine uname -m names; "" for
// machines this list does not know.
func goArch(machine string) string {
	switch machine {
	case "x86_64", "amd64":
		return "amd64"
	case "aarch64", "arm64", "aarch64_be":
		return "arm64"
	case "i386", "i486", "i586", "i686":
		return "386"
	case "riscv64", "ppc64le", "ppc64", "s390x", "mips64", "mips64le", "mips", "mipsle":
		return machine
	case "loongarch64":
		return "loong64"
	}
	if strings.HasPrefix(machine, "armv") {
		return "arm"
	}
	return ""
}

// checkCopy says why this binary cannot run on the probed host, or nil.
func checkCopy(p probe) error {
	if p.system != "Linux" {
		return fmt.Errorf("bpftop-cap is not installed there and the system is %q, not Linux", printable(p.system))
	}
	if a := goArch(p.machine); a != runtime.GOARCH {
		return fmt.Errorf("bpftop-cap is not installed there and this one is for %s, not %s (uname -m): install bpftop-cap there", runtime.GOARCH, printable(p.machine))
	}
	return nil
}

// checkUser says why the probed user cannot capture there, or nil.
func checkUser(p probe) error {
	if !p.root && p.sudo == "" {
		return fmt.Errorf("%s is not root there and there is no sudo: connect as root", printable(p.user))
	}
	return nil
}

// uploadScript makes a private directory and writes the binary (size
// bytes from stdin) there, removing it unless all came; it prints the
// directory.
func uploadScript(size int64) string {
	return `umask 077; echo; echo ` + uploadMarker + `
d=$(mktemp -d "${TMPDIR:-/tmp}/bpftop-cap.XXXXXXXXXX") || exit 1
trap 'rm -rf "$d"' EXIT
cat >"$d/bpftop-cap" || exit 1
n=$(wc -c <"$d/bpftop-cap")
[ "$n" -eq ` + strconv.FormatInt(size, 10) + ` ] || { echo "copied $n bytes of ` + strconv.FormatInt(size, 10) + `" >&2; exit 1; }
chmod 700 "$d/bpftop-cap" || exit 1
trap - EXIT; echo "$d"`
}

// parseUpload is the directory uploadScript printed.
func parseUpload(out string) (string, error) {
	_, rest, ok := strings.Cut(out, "\n"+uploadMarker+"\n")
	dir := strings.TrimSpace(rest)
	if !ok || !strings.HasPrefix(dir, "/") || strings.ContainsAny(dir, "\n'") {
		return "", errors.New("the copy did not say where it went")
	}
	return dir, nil
}

// runScript runs the capture (argv, each word quoted) under a watch: the
// capture writes to stdout, which ssh carries; when ssh's stdin ends (we
// closed it, or the connection went and sshd closed it) or the shell gets
// a hangup, the capture gets SIGTERM (sudo passes it on); when the
// capture ends, the watch goes and dir, a copied binary's, is removed.
// The exit status is the capture's.
func runScript(argv []string, dir string) string {
	q, b := scriptStart(argv, dir)
	// A background job's stdin is /dev/null: the watch reads a copy (3).
	b.WriteString(`exec 3<&0 </dev/null
printf '\n` + streamMarker + `\n'
` + strings.Join(q, " ") + ` 3<&- &
p=$!
trap 'kill -TERM $p 2>/dev/null' HUP INT TERM
(while read -r _; do :; done <&3; kill -TERM $p) >/dev/null 2>&1 &
w=$!
exec 3<&-
s=0; wait $p || s=$?
while kill -0 $p 2>/dev/null; do s=0; wait $p || s=$?; done
kill $w 2>/dev/null
exit $s`)
	return b.String()
}

// scriptStart quotes argv for the remote shell and begins a script that
// removes dir (a copied binary's; "": none) when it exits.
func scriptStart(argv []string, dir string) ([]string, *strings.Builder) {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shQuote(a)
	}
	b := &strings.Builder{}
	if dir != "" {
		fmt.Fprintf(b, "d=%s; trap 'rm -rf \"$d\"' EXIT\n", shQuote(dir))
	}
	return q, b
}

// listScript runs -D or -L (argv) with no watch: ssh's stdin is not
// held open for it, and a watch reading its end at once would end the
// listing before it printed. dir, a copied binary's, is removed after.
func listScript(argv []string, dir string) string {
	q, b := scriptStart(argv, dir)
	b.WriteString(`printf '\n` + streamMarker + `\n'
` + strings.Join(q, " ") + ` </dev/null
exit $?`)
	return b.String()
}

// remoteArgs is the capture's command line on the remote host: every
// capture flag as given here, writing pcapng to stdout a packet at a
// time, then the filter expression. iface is the interface when -i was
// not given (the remote default route's).
func remoteArgs(cfg *Config, iface string) []string {
	var a []string
	ifaces := cfg.Ifaces
	if len(ifaces) == 0 && iface != "" {
		ifaces = []string{iface}
	}
	if cfg.ListIfaces {
		return []string{"-D"}
	}
	for _, i := range ifaces {
		a = append(a, "-i", i)
	}
	if cfg.ListLinkTypes {
		return append(a, "-L")
	}
	if cfg.Count > 0 {
		a = append(a, "-c", strconv.FormatUint(cfg.Count, 10))
	}
	a = append(a, "-s", strconv.FormatUint(uint64(cfg.Snaplen), 10))
	str := func(flag, v string) {
		if v != "" && v != "auto" {
			a = append(a, flag, v)
		}
	}
	str("-Q", cfg.Direction)
	str("-y", cfg.LinkType)
	str("--tc-attach", cfg.TCAttach)
	str("--egress-at", cfg.EgressAt)
	str("--perf-buffer", cfg.PerfBuffer)
	str("--ringbuf", cfg.RingBuf)
	str("-Z", cfg.User)
	str("--comm", cfg.Comm)
	str("--cgroup", cfg.Cgroup)
	if cfg.Pid > 0 { // a process there
		a = append(a, "--pid", strconv.Itoa(cfg.Pid))
	}
	if cfg.NoPromisc {
		a = append(a, "-p")
	}
	if cfg.XDP {
		a = append(a, "--xdp")
	}
	if cfg.BufferKiB > 0 { // the remote host's CPUs share it
		a = append(a, "-B", strconv.Itoa(cfg.BufferKiB))
	}
	if cfg.NiceGiven {
		a = append(a, "--nice", strconv.Itoa(cfg.Nice))
	}
	a = append(a, "-w", "-", "--format", "pcapng", "-U")
	if len(cfg.Filter) > 0 {
		a = append(append(a, "--"), cfg.Filter...)
	}
	return a
}

// hostLine is a line of a remote stderr as shown here: named by the host,
// the remote bpftop-cap's own name and pointer to -h left out, sudo's
// with the remedy.
func hostLine(label, line string) string {
	if msg, ok := strings.CutPrefix(line, "bpftop-cap: "); ok {
		return label + ": " + strings.TrimSuffix(msg, " (see -h)")
	}
	if strings.HasPrefix(line, "sudo: ") {
		return label + ": " + line + ": bpftop-cap runs there with sudo -n; allow it without a password, or connect as root"
	}
	return label + ": " + line
}

// remoteError is the line for a host's failure: ssh's own (exit status
// 255: refused, unreachable, authentication), sudo's, or the remote
// bpftop-cap's, from the last lines of stderr.
func remoteError(label string, code int, lines []string) error {
	last := ""
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			last = l
			break
		}
	}
	for i := len(lines) - 1; i >= 0 && code != 255; i-- {
		if strings.HasPrefix(lines[i], "bpftop-cap: ") || strings.HasPrefix(lines[i], "sudo: ") {
			return errors.New(hostLine(label, lines[i]))
		}
	}
	switch {
	case code == 255 && last != "":
		return fmt.Errorf("%s: %s", label, last)
	case code == 255:
		return fmt.Errorf("%s: ssh failed", label)
	case last != "":
		return fmt.Errorf("%s: exit status %d: %s", label, code, last)
	}
	return fmt.Errorf("%s: exit status %d", label, code)
}
