package testutil

import (
	"io/fs"
	"os"
	"syscall"
	"testing"
)

// Node is what writing to a path must leave as it was: type, permissions,
// owner and device number.
type Node struct {
	Mode     fs.FileMode
	UID, GID uint32
	Rdev     uint64
}

// NodeOf is path's Node (the path itself, not what a symlink leads to).
func NodeOf(t testing.TB, path string) Node {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	return Node{st.Mode(), sys.Uid, sys.Gid, sys.Rdev}
}
