package app

import (
	"io"
	"os"

	"golang.org/x/term"

	"github.com/bpftop-cap/bpftop-cap/pcapfile"
)

// output is -w's destination: a file, or stdout for "-".
type output struct {
	w       io.Writer
	f       *os.File // nil for stdout
	path    string
	closed  bool
	created bool // this run made the file
}

// openOutput opens -w's destination.
func openOutput(path string, stdout io.Writer) (*output, error) {
	if path == "-" {
		if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return nil, usageErr("refusing to write binary pcap to a terminal; redirect stdout or use -w FILE")
		}
		return &output{w: stdout, path: path}, nil
	}
	f, err := pcapfile.CreateOutput(path, true)
	if err != nil {
		return nil, err
	}
	return &output{w: f, f: f, path: path, created: true}, nil
}

// close closes the file; it may be called again.
func (o *output) close() error {
	if o.f == nil || o.closed {
		return nil
	}
	o.closed = true
	return o.f.Close()
}

// discard closes the output and removes the file if this run made it
// (nothing was captured into it).
func (o *output) discard() {
	o.close()
	if o.f != nil && o.created {
		os.Remove(o.path)
	}
}
