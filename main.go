// Command bpftop-cap is a live packet inspector built on eBPF: a tc (tcx or
// clsact) or XDP program copies packets into per-CPU perf rings with
// bpf_perf_event_output, and user space shows them, or writes pcap.
//
// This file is the command line: flags, then one validated app.Config,
// then app.Run. Everything else is in internal/app.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/bpftop-cap/bpftop-cap/internal/app"
)

// version is set with -ldflags "-X main.version=..." by make build.
var version = ""

func main() {
	if code, ok := app.DemoChild(); ok {
		os.Exit(code)
	}
	app.WatchDemoParent()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command: its exit status, with at most one line on
// stderr for an error.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, m, err := parse(args)
	switch {
	case errors.Is(err, errHelp):
		writeHelp(stdout)
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "bpftop-cap: %v (see -h)\n", err)
		return 2
	case m.version:
		fmt.Fprintln(stdout, "bpftop-cap", versionString())
		return 0
	case m.man:
		writeMan(stdout)
		return 0
	case m.completion != "":
		if err := writeCompletion(stdout, m.completion); err != nil {
			fmt.Fprintf(stderr, "bpftop-cap: %v\n", err)
			return 2
		}
		return 0
	}
	if err = cfg.Validate(); err == nil {
		err = app.Run(cfg, stdout, stderr)
	}
	var ue *app.UsageError
	var ee *app.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "bpftop-cap: "+app.Message(err))
		return 2
	case errors.As(err, &ee):
		if ee.Msg != "" {
			fmt.Fprintln(stderr, "bpftop-cap: "+ee.Msg)
		}
		return ee.Code
	}
	fmt.Fprintln(stderr, "bpftop-cap: "+app.Message(err))
	return 1
}

// parse reads the command line into a Config (parse.go says how).
func parse(args []string) (cfg *app.Config, m *mainFlags, err error) {
	cfg, m = &app.Config{Args: append([]string(nil), args...)}, &mainFlags{}
	fs := flag.NewFlagSet("bpftop-cap", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	names := map[string]string{}
	for _, f := range flags(cfg, m) {
		all := f.names()
		f.define(fs, all[0])
		for _, n := range all {
			names[n] = all[0]
		}
	}
	positional, err := parseArgs(fs, names, args)
	if err != nil {
		return nil, nil, err
	}
	cfg.Version = versionString()
	fs.Visit(func(f *flag.Flag) { cfg.NiceGiven = cfg.NiceGiven || f.Name == "nice" })
	// With -r every positional word belongs to the filter expression.
	if cfg.Read == "" && !cfg.Demo && len(cfg.Ifaces) == 0 && len(positional) > 0 {
		cfg.Ifaces, positional = splitList(positional[0]), positional[1:]
	}
	cfg.Filter = positional
	return cfg, m, nil
}

// splitList splits a comma list of interfaces.
func splitList(v string) []string {
	var out []string
	for _, name := range strings.Split(v, ",") {
		if name = strings.TrimSpace(name); name != "" {
			out = append(out, name)
		}
	}
	return out
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v := bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		if v != "" {
			return v
		}
	}
	return "devel"
}
