package proc

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
	"golang.org/x/sys/unix"
)

func TestFindContainer(t *testing.T) {
	root := t.TempDir()
	a := strings.Repeat("ab", 32)
	b := "abc" + strings.Repeat("0", 61)
	for _, d := range []string{
		"system.slice/docker-" + a + ".scope/inner",
		"kubepods/burstable/pod1/" + b,
		"user.slice/user-0.slice",
	} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ prefix, want, err string }{
		{a[:12], "system.slice/docker-" + a + ".scope", ""},
		{a, "system.slice/docker-" + a + ".scope", ""},
		{"abc0", "kubepods/burstable/pod1/" + b, ""},
		{"abab", "system.slice/docker-" + a + ".scope", ""},
		{"fff0", "", "no cgroup or container"},
	} {
		dir, err := findContainer(root, tc.prefix)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %q, %v; want an error with %q", tc.prefix, dir, err, tc.err)
			}
			continue
		}
		if err != nil || dir != filepath.Join(root, tc.want) {
			t.Errorf("%s: %q, %v; want %q", tc.prefix, dir, err, tc.want)
		}
	}
	// "ab" starts both ids (FindCgroup asks for 4 digits at least).
	if _, err := findContainer(root, "ab"); err == nil || !strings.Contains(err.Error(), "several") {
		t.Errorf("ambiguous prefix: %v", err)
	}
	if isHexPrefix("ab") || !isHexPrefix("abcd") || isHexPrefix("ABCD") || isHexPrefix("/abcd") {
		t.Error("isHexPrefix")
	}
}

// TestFindCgroup finds this process's cgroup v2 as a path relative to the
// hierarchy's root, with or without its leading "/", and as an absolute
// path; the ids are the inodes of it and the directories below.
func TestFindCgroup(t *testing.T) {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var root string
	for _, l := range strings.Split(string(mi), "\n") {
		pre, post, ok := strings.Cut(l, " - ")
		if f := strings.Fields(pre); ok && strings.HasPrefix(post, "cgroup2 ") && len(f) >= 5 && f[3] == "/" {
			root = f[4]
			break
		}
	}
	if root == "" {
		testutil.SkipOrFail(t, "no cgroup v2 hierarchy mounted")
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	self := cgroupOfProc(b)
	want := filepath.Join(root, self)
	var st unix.Stat_t
	if err := unix.Stat(want, &st); err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{self, strings.TrimPrefix(self, "/"), want} {
		if arg == "" {
			continue
		}
		dir, ids, err := FindCgroup(root, arg)
		if err != nil || filepath.Clean(dir) != filepath.Clean(want) || !slices.Contains(ids, st.Ino) {
			t.Errorf("%q: %q %v %v; want %q with inode %d", arg, dir, ids, err, want, st.Ino)
		}
	}
	if _, _, err := FindCgroup(root, "no/such/cgroup"); err == nil {
		t.Error("a cgroup that is not there: no error")
	}
	if _, _, err := FindCgroup(root, os.TempDir()); err == nil {
		t.Error("a directory outside cgroup2: no error")
	}
}
