package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// generated are the committed files written from the flag table.
var generated = map[string]func(*bytes.Buffer){
	"docs/bpftop-cap.1":           func(b *bytes.Buffer) { writeMan(b) },
	"completions/bpftop-cap.bash": func(b *bytes.Buffer) { writeCompletion(b, "bash") },
	"completions/_bpftop-cap":     func(b *bytes.Buffer) { writeCompletion(b, "zsh") },
}

// TestGeneratedFilesUpToDate: the committed man page and completions are
// what the flag table writes now (make man rewrites them).
func TestGeneratedFilesUpToDate(t *testing.T) {
	for path, write := range generated {
		var b bytes.Buffer
		write(&b)
		if got := mustRead(t, path); !bytes.Equal(got, b.Bytes()) {
			t.Errorf("%s is not what the flag table writes: run make man", path)
		}
	}
}

// TestManPage: the man page renders without a warning and shows every
// flag of -h, each name of it.
func TestManPage(t *testing.T) {
	testutil.RequireTool(t, "groff")
	// ASCII without overstriking: plain text, \- as -.
	cmd := exec.Command("groff", "-man", "-Tascii", "-ww", "-rLL=200n", "-P-cbu")
	cmd.Stdin = bytes.NewReader(mustRead(t, "docs/bpftop-cap.1"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("groff: %v\n%s", err, stderr.String())
	}
	text := string(out)
	for _, d := range table() {
		if d.group == "" {
			continue
		}
		for _, n := range d.names() {
			if !strings.Contains(text, dashed(n)) {
				t.Errorf("the man page does not show %s", dashed(n))
			}
		}
	}
}

// TestBashCompletion: the bash completion completes flag names, the
// values of flags with a set of values, and files after -w.
func TestBashCompletion(t *testing.T) {
	bash := testutil.RequireTool(t, "bash")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "capture.pcap"), nil, 0o600)
	script, _ := filepath.Abs("completions/bpftop-cap.bash")
	for _, tc := range []struct {
		words []string
		want  string
	}{
		{[]string{"--snap"}, "--snapshot-length"},
		{[]string{"--time-stamp-p"}, "--time-stamp-precision"},
		{[]string{"-Q", "in"}, "in inout"},
		{[]string{"--format", ""}, "pcap pcapng"},
		{[]string{"-w", "capt"}, "capture.pcap"},
		{[]string{"-i", "l"}, "lo"},
	} {
		words := append([]string{"bpftop-cap"}, tc.words...)
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+w+"'")
		}
		prog := "source " + script + "; COMP_WORDS=(" + strings.Join(quoted, " ") + "); COMP_CWORD=" +
			strconv.Itoa(len(words)-1) + "; _bpftop_cap; echo \"${COMPREPLY[*]}\""
		cmd := exec.Command(bash, "--norc", "-c", prog)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != tc.want {
			t.Errorf("%q completes to %q (%v), want %q", tc.words, strings.TrimSpace(string(out)), err, tc.want)
		}
	}
}

// TestMakeInstall: make install puts the binary, the man page and both
// completions under DESTDIR and PREFIX, and the installed binary runs.
func TestMakeInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	testutil.RequireTool(t, "make")
	tmp := t.TempDir()
	dest := filepath.Join(tmp, "stage")
	cmd := exec.Command("make", "install", "DESTDIR="+dest, "PREFIX=/opt/bc", "BINARY="+filepath.Join(tmp, "bpftop-cap"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	for path, mode := range map[string]os.FileMode{
		"/opt/bc/bin/bpftop-cap":                               0o755,
		"/opt/bc/share/man/man1/bpftop-cap.1":                  0o644,
		"/opt/bc/share/bash-completion/completions/bpftop-cap": 0o644,
		"/opt/bc/share/zsh/site-functions/_bpftop-cap":         0o644,
	} {
		st, err := os.Stat(filepath.Join(dest, path))
		if err != nil {
			t.Errorf("not installed: %v", err)
			continue
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", path, st.Mode().Perm(), mode)
		}
	}
	if !bytes.Equal(mustRead(t, filepath.Join(dest, "/opt/bc/share/man/man1/bpftop-cap.1")), mustRead(t, "docs/bpftop-cap.1")) {
		t.Error("the installed man page is not docs/bpftop-cap.1")
	}
	out, err := exec.Command(filepath.Join(dest, "/opt/bc/bin/bpftop-cap"), "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "bpftop-cap ") {
		t.Errorf("installed binary --version: %q, %v", out, err)
	}
}

// zshDriver types a command line and a TAB into an interactive zsh (in a
// zpty) with the completion loaded, and waits until what it prints holds
// the pattern; the test's context ends a zsh that never does.
const zshDriver = `zmodload zsh/zpty
zpty z 'zsh -f -i'
zpty -w z "PS1='>' ; fpath=($1 \$fpath); autoload -U compinit; compinit -u -D; bpftop-cap() {}"
zpty -w z "$2"$'\t'
zpty -r z out "*$3*" && print -r -- found
zpty -d z
`

// TestZshCompletion: the zsh completion parses, and completes a long flag
// and the values of -Q in a real zsh.
func TestZshCompletion(t *testing.T) {
	zsh := testutil.RequireTool(t, "zsh")
	if out, err := exec.Command(zsh, "-n", "completions/_bpftop-cap").CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v\n%s", err, out)
	}
	dir, _ := filepath.Abs("completions")
	for _, tc := range []struct{ line, want string }{
		{"bpftop-cap --snap", "snapshot-length"},
		{"bpftop-cap --time-stamp-precision=", "micro"},
		{"bpftop-cap -Q ", "inout"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, zsh, "-f", "-c", zshDriver, "zsh", dir, tc.line, tc.want).CombinedOutput()
		cancel()
		if err != nil || !strings.HasSuffix(string(out), "found\n") {
			t.Errorf("%q<TAB> does not offer %q: %v\n%q", tc.line, tc.want, err, out)
		}
	}
}
