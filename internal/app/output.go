package app

import (
	"io"
	"os"

	"golang.org/x/term"

	"github.com/bpftop-cap/bpftop-cap/pcapfile"
)

// output is -w's destination: a file (pcapfile.Output: what was there is
// never removed or chmodded), or stdout for "-".
type output struct {
	w    io.Writer
	file *pcapfile.Output // nil for stdout
}

// openOutput opens -w's destination. An existing file is not emptied
// before start, so that a capture that fails to start leaves it as it was.
func openOutput(path string, stdout io.Writer) (*output, error) {
	if path == "-" {
		if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return nil, usageErr("refusing to write binary pcap to a terminal; redirect stdout or use -w FILE")
		}
		return &output{w: stdout}, nil
	}
	f, err := pcapfile.OpenOutput(path)
	if err != nil {
		return nil, err
	}
	return &output{w: f.File(), file: f}, nil
}

// start empties an existing file before the first write.
func (o *output) start() error {
	if o.file == nil {
		return nil
	}
	return o.file.Truncate()
}

// close closes the file; it may be called again.
func (o *output) close() error {
	if o.file == nil {
		return nil
	}
	return o.file.Close()
}

// discard closes the output and removes the file if this run made it:
// nothing was captured into it.
func (o *output) discard() {
	if o.file != nil {
		_ = o.file.Discard()
	}
}
