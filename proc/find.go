package proc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// FindCgroup finds the cgroup v2 that arg names in the hierarchy mounted
// at root: a path relative to root (with or without a leading "/", as
// /proc/PID/cgroup writes it), an absolute path into a cgroup2 mount
// (/sys/fs/cgroup/system.slice/nginx.service), or a container's id or the
// start of one (its short id), searched for in the runtimes' cgroup
// names. It returns the cgroup's directory and the inodes (the kernel's
// cgroup ids) of it and of every cgroup below it.
func FindCgroup(root, arg string) (dir string, ids []uint64, err error) {
	if arg == "" {
		return "", nil, errors.New("no cgroup given")
	}
	cands := []string{filepath.Join(root, arg)}
	if filepath.IsAbs(arg) {
		cands = append(cands, arg)
	}
	for _, c := range cands {
		if isCgroup2Dir(c) {
			ids, err := cgroupIDs(c)
			return c, ids, err
		}
	}
	if !isHexPrefix(arg) {
		return "", nil, fmt.Errorf("no cgroup %q under %s", arg, root)
	}
	dir, err = findContainer(root, arg)
	if err != nil {
		return "", nil, err
	}
	ids, err = cgroupIDs(dir)
	return dir, ids, err
}

// isCgroup2Dir reports whether path is a directory of a cgroup v2
// hierarchy.
func isCgroup2Dir(path string) bool {
	var st unix.Statfs_t
	if unix.Statfs(path, &st) != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		return false
	}
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// isHexPrefix reports whether s may be (the start of) a container id:
// lowercase hex digits, at least 4 of them, at most 64.
func isHexPrefix(s string) bool {
	if len(s) < 4 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// findContainer finds the cgroup of the one container whose id starts
// with prefix: the outermost directory naming it (its own sub-cgroups
// name it too).
func findContainer(root, prefix string) (string, error) {
	found := map[string]string{} // id -> its outermost directory
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil // unreadable: skipped
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return nil
		}
		c, ok := ContainerOf("/" + filepath.ToSlash(rel))
		if !ok || !strings.HasPrefix(c.ID, prefix) {
			return nil
		}
		if _, seen := found[c.ID]; !seen {
			found[c.ID] = path
		}
		return filepath.SkipDir // below it: the same container
	})
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no cgroup or container %q under %s", prefix, root)
	case 1:
		for _, dir := range found {
			return dir, nil
		}
	}
	var ids []string
	for id := range found {
		ids = append(ids, id[:12])
	}
	return "", fmt.Errorf("%q is the start of several containers' ids (%s): give more of it", prefix, strings.Join(ids, ", "))
}

// cgroupIDs lists the inodes of dir and of the directories below it.
func cgroupIDs(dir string) ([]uint64, error) {
	var ids []uint64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir {
				return err
			}
			return nil // gone meanwhile, or unreadable: skipped
		}
		if !d.IsDir() {
			return nil
		}
		var st unix.Stat_t
		if unix.Stat(path, &st) == nil {
			ids = append(ids, st.Ino)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read cgroup %s: %w", dir, err)
	}
	return ids, nil
}
