package app

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/bpftop-cap/bpftop-cap/pcapfile"
)

// growing says why the view follows -r's regular file as it grows rather
// than loading it: --follow, or a process has it open for writing now
// (tcpdump -w, bpftop-cap -w). "" loads it as a whole.
func growing(cfg *Config) string {
	if cfg.Read == "-" {
		return ""
	}
	st, err := os.Stat(cfg.Read)
	if err != nil || !st.Mode().IsRegular() {
		return ""
	}
	if cfg.Follow {
		return "--follow"
	}
	ws := pcapfile.Writers(st)
	if len(ws) == 0 {
		return ""
	}
	var who []string
	for _, w := range ws {
		who = append(who, fmt.Sprintf("%s (%d)", w.Comm, w.PID))
	}
	return "written by " + strings.Join(who, ", ")
}

// openRead opens -r's file for the text and -w modes: followed with
// --follow (these modes follow only when asked, as tcpdump -r reads a
// file as it is).
func openRead(cfg *Config) (*pcapfile.File, error) {
	if cfg.input != nil { // --remote: the hosts' merged stream
		return pcapfile.OpenStream(cfg.input, cfg.Read)
	}
	if cfg.Follow {
		return pcapfile.OpenFollow(cfg.Read, true)
	}
	return pcapfile.OpenFile(cfg.Read)
}

// openReadFiltered is openRead for the text and -w modes with the rest
// they share: the capture filter compiled for the file, Ctrl-C ending a
// followed file, a closed pipe a write error rather than death. done
// undoes it and closes the file.
func openReadFiltered(cfg *Config) (in *pcapfile.File, done func(), err error) {
	if in, err = openRead(cfg); err != nil {
		return nil, nil, err
	}
	unstop := stopOnSignal(in)
	done = func() { unstop(); in.Close() }
	if err := fileFilter(cfg, in); err != nil {
		done()
		return nil, nil, err
	}
	signal.Ignore(syscall.SIGPIPE)
	return in, done, nil
}

// openView opens -r for the view, which also follows a file a process is
// writing (--follow: any file).
func openView(cfg *Config) (*pcapfile.File, error) {
	if cfg.input != nil {
		return pcapfile.OpenStream(cfg.input, cfg.Read)
	}
	return pcapfile.OpenFollow(cfg.Read, cfg.Follow)
}

// stopOnSignal makes Ctrl-C, SIGTERM and SIGHUP end the reading of a
// followed file as its end would, the output flushed and the summary
// printed, as they end a capture. The returned func undoes it.
func stopOnSignal(in *pcapfile.File) func() {
	if !in.Following() {
		return func() {}
	}
	sig := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		select {
		case <-sig:
			in.Stop()
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sig)
		close(done)
	}
}

// stopAtCount ends the reading of a stream at -c's count, as tcpdump -r
// -c ends: the file is closed (a pipe's writer learns it at its next
// write), and the view stays on what came.
func stopAtCount(cfg *Config, f *pcapfile.File, clock *streamClock, setStatus func(string)) {
	clock.end()
	f.Close()
	if cfg.Read == "-" {
		os.Stdin.Close()
	}
	setStatus(fmt.Sprintf("stopped after %d packets (-c)", cfg.Count))
}
