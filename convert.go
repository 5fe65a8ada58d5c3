package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/bpftop-cap/bpftop-cap/pcapfile"
)

// openOutput opens -w's destination: a new file (mode 0600) or stdout.
// The returned close function is safe to call twice; remove deletes a file
// that should not be left behind.
func openOutput(o *options, stdout io.Writer) (out io.Writer, closeFn func() error, remove func(), err error) {
	if o.write == "-" {
		if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return nil, nil, nil, usageErr("refusing to write binary pcap to a terminal; redirect stdout or use -w FILE")
		}
		return stdout, func() error { return nil }, func() {}, nil
	}
	f, err := pcapfile.CreateOutput(o.write, o.force)
	if err != nil {
		return nil, nil, nil, err
	}
	closed := false
	closeFn = func() error {
		if closed {
			return nil
		}
		closed = true
		return f.Close()
	}
	return f, closeFn, func() { closeFn(); os.Remove(o.write) }, nil
}

// convert copies a saved capture to a pcap file (-r FILE -w OUT).
func convert(o *options, stdout, stderr io.Writer) error {
	in, err := pcapfile.OpenFile(o.read)
	if err != nil {
		return err
	}
	defer in.Close()
	fmt.Fprintf(stderr, "bpftop-cap: reading from %s file %s, link-type %v, snapshot length %d\n", in.Format, o.read, in.LinkTypeName(), in.Snaplen)
	if len(o.prog) > 0 && in.LinkType&0x03ffffff != 1 {
		return fmt.Errorf("filter expressions apply to Ethernet captures; %s is %s", o.read, in.LinkTypeName())
	}
	signal.Ignore(syscall.SIGPIPE) // -w - | head: a write error, not death
	out, closeOut, removeOut, err := openOutput(o, stdout)
	if err != nil {
		return err
	}
	defer closeOut()
	pw, err := pcapfile.NewPcapWriter(out, in.Snaplen, in.LinkType)
	if err != nil {
		removeOut()
		return err
	}
	var keep func([]byte, uint32) bool
	if len(o.prog) > 0 {
		keep = o.prog.Match
	}
	n, copyErr := in.CopyTo(pw, keep)
	flushErr := pw.Flush()
	closeErr := closeOut()
	fmt.Fprintf(stderr, "%d packets written\n", n)
	switch {
	case copyErr != nil:
		return fmt.Errorf("read %s: %w", o.read, copyErr)
	case flushErr != nil:
		return flushErr
	case closeErr != nil:
		return fmt.Errorf("close %s: %w", o.write, closeErr)
	}
	return nil
}
