package pcapfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Output is a file a capture is written to: -w's destination or a file
// the live view saves. It remembers whether this run created the file, so
// that a capture that never started removes only what it made: never a
// path that was there before, never a device, a FIFO or a socket.
type Output struct {
	f       *os.File
	path    string      // the name the file was opened by
	created string      // the path this run created ("" if none): path, or a dangling symlink's target
	made    os.FileInfo // the file created there, to know it again
	closed  bool
	// existing: a regular file that was there; Truncate empties it once
	// the capture is up, so that a capture that fails to start leaves it
	// as it was (tcpdump opens its output only then).
	existing bool
}

// maxSymlinkHops bounds the dangling symlinks OpenOutput follows to create
// a file, as the kernel's own limit on a path's links.
const maxSymlinkHops = 40

// OpenOutput opens path for -w as tcpdump does: a new file is created with
// mode 0600; an existing regular file is overwritten (Truncate, before the
// first write) and keeps its mode and owner; a device node or a FIFO is
// opened as it is (a FIFO blocks until a
// reader opens it), its mode and owner untouched. A symlink is followed,
// and the same rules apply to its target; a dangling one has its target
// created.
func OpenOutput(path string) (*Output, error) {
	p := path
	for hops := 0; ; hops++ {
		// Exclusive creation first: if it succeeds the file is ours.
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			return created(f, path, p)
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, outputErr("create output", path, err)
		}
		// Something is there: open it as it is, without O_CREAT (which
		// could not change an existing file's mode anyway) and without
		// O_TRUNC (which only a regular file gets, below).
		f, err = os.OpenFile(p, os.O_WRONLY, 0)
		if err == nil {
			return openedExisting(f, path)
		}
		if !errors.Is(err, fs.ErrNotExist) || hops >= maxSymlinkHops {
			return nil, outputErr("open output", path, err)
		}
		// The name exists and what it leads to does not: a dangling
		// symlink (or a file removed in between). Create its target.
		target, lerr := os.Readlink(p)
		if lerr != nil {
			continue // gone in between: try again
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = target
	}
}

// openedExisting is the Output of something that was there: a regular
// file is truncated by Truncate; anything else is written as it is.
func openedExisting(f *os.File, path string) (*Output, error) {
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, outputErr("open output", path, err)
	}
	return &Output{f: f, path: path, existing: st.Mode().IsRegular()}, nil
}

// Truncate empties an existing regular file before the first write; it
// does nothing to a new file, a device or a FIFO, and nothing the second
// time.
func (o *Output) Truncate() error {
	if !o.existing {
		return nil
	}
	o.existing = false
	if err := o.f.Truncate(0); err != nil {
		return outputErr("truncate output", o.path, err)
	}
	return nil
}

// CreateOutput creates a new file at path with mode 0600 and fails if
// anything is there already (fs.ErrExist), a dangling symlink included:
// the live view's saves, which never overwrite.
func CreateOutput(path string) (*Output, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, outputErr("create output", path, err)
	}
	return created(f, path, path)
}

// created is the Output of a file this run created at p.
func created(f *os.File, path, p string) (*Output, error) {
	st, err := f.Stat()
	if err != nil {
		f.Close()
		os.Remove(p) // just made by O_EXCL: ours
		return nil, outputErr("create output", path, err)
	}
	return &Output{f: f, path: path, created: p, made: st}, nil
}

// outputErr is a one-line error saying what was done to path, keeping
// the system error for errors.Is.
func outputErr(what, path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s %s: %w", what, path, err)
}

// File is the open file, to write to.
func (o *Output) File() *os.File { return o.f }

// Path is the name the output was opened by.
func (o *Output) Path() string { return o.path }

// Created tells whether this run created the file.
func (o *Output) Created() bool { return o.created != "" }

// Close closes the file; later calls do nothing and return nil.
func (o *Output) Close() error {
	if o.closed {
		return nil
	}
	o.closed = true
	return o.f.Close()
}

// Discard closes the output and removes the file if this run created it
// and the name still leads to that file: for a capture that never started
// or a save that failed, whose file holds nothing worth keeping. A file
// that was there before (truncated or not), a device, a FIFO or a socket
// is left where it is. It may be called after Close, and more than once.
func (o *Output) Discard() error {
	err := o.Close()
	if o.made == nil {
		return err
	}
	if cur, lerr := os.Lstat(o.created); lerr != nil || !cur.Mode().IsRegular() || !os.SameFile(o.made, cur) {
		return err // replaced or removed since: not ours any more
	}
	o.made = nil
	if rerr := os.Remove(o.created); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		return errors.Join(err, outputErr("remove output", o.path, rerr))
	}
	return err
}
