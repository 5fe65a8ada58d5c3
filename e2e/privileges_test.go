package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// TestWithoutPrivileges runs the binary as an unprivileged user with no
// capabilities: one line naming the capabilities needed, exit 1.
func TestWithoutPrivileges(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "setpriv")
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o1777); err != nil { // writable for the unprivileged user
		t.Fatal(err)
	}
	out := filepath.Join(dir, "x.pcap")
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=-all", "--bounding-set=-all", binary, "-i", "lo", "-w", out)
	msg, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1; output:\n%s", err, msg)
	}
	s := string(msg)
	for _, want := range []string{"missing privileges", "CAP_NET_ADMIN", "CAP_BPF", "CAP_PERFMON", "run as root"} {
		if !strings.Contains(s, want) {
			t.Errorf("message %q does not mention %q", s, want)
		}
	}
	if strings.Count(s, "\n") != 1 {
		t.Errorf("want one line, got:\n%s", s)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("an empty capture file was left behind")
	}
}
