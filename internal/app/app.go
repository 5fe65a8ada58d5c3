package app

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/bpftop-cap/bpftop-cap/bpf"
	"github.com/bpftop-cap/bpftop-cap/capture"
	"github.com/bpftop-cap/bpftop-cap/filter"
)

// Run does what cfg (validated) asks: capture to a file, the live view, read
// or convert a file, or the demo. A panic anywhere in it becomes an error
// (the stack goes to a crash file); the caller prints Message(err).
func Run(cfg *Config, stdout, stderr io.Writer) error {
	return noPanic(func() error { return dispatch(cfg, stdout, stderr) })()
}

func dispatch(cfg *Config, stdout, stderr io.Writer) error {
	if cfg.Extcap.query() {
		return extcapQuery(cfg, stdout) // Wireshark asks (extcap.go)
	}
	if len(cfg.Filter) > 0 && cfg.Read == "" { // -r compiles for the file's link type
		prog, err := filter.CompileArgs(cfg.Filter, cfg.Snaplen)
		if err != nil {
			return usageErr("%v", err)
		}
		cfg.prog = prog
	}
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return fmt.Errorf("create CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("start CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	switch {
	case len(cfg.Remotes) > 0:
		return runRemote(cfg, stdout, stderr)
	case cfg.ListIfaces:
		return listInterfaces(stdout)
	case cfg.ListLinkTypes:
		return listLinkTypes(cfg, stdout)
	case cfg.Demo:
		return runDemo(cfg, stderr)
	case cfg.Extcap.Capture:
		return extcapCapture(cfg, stdout)
	case cfg.Read != "" && cfg.Write == "" && textMode(cfg, stdout):
		return printFile(cfg, stdout, stderr)
	case cfg.Read != "" && cfg.Write == "":
		return viewFile(cfg, stdout, stderr)
	case cfg.Read != "":
		return convert(cfg, stdout, stderr)
	case cfg.Write == "" && textMode(cfg, stdout):
		return printLive(cfg, stdout, stderr)
	case cfg.Write == "":
		return live(cfg, stdout, stderr)
	}
	return record(cfg, stdout, stderr)
}

// Message is the line a user sees for err, with the remedy for the errors
// a user can act on.
func Message(err error) string {
	msg := err.Error()
	switch {
	case errors.Is(err, capture.ErrPrivileges), errors.Is(err, bpf.ErrPermission):
		msg += "; run as root or grant CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON"
	case errors.Is(err, bpf.ErrUnsupported):
		msg += "; this kernel lacks it (tcx needs Linux 6.6, clsact 4.5, XDP 4.8; try --tc-attach=clsact or drop --xdp)"
	}
	return strings.ReplaceAll(msg, "\n", " ")
}

// defaultRouteInterface names the interface carrying the IPv4 default route
// with the lowest metric, from /proc/net/route; "" if there is none.
func defaultRouteInterface() string {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return ""
	}
	defer f.Close()
	return parseDefaultRoute(f)
}

// parseDefaultRoute reads the /proc/net/route format: a header line, then
// Iface Destination Gateway Flags RefCnt Use Metric Mask ..., in hex.
func parseDefaultRoute(r io.Reader) string {
	const rtfUp = 0x1
	best, bestMetric := "", uint64(1<<63)
	sc := bufio.NewScanner(r)
	sc.Scan() // header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 || f[1] != "00000000" || f[7] != "00000000" {
			continue
		}
		flags, err1 := strconv.ParseUint(f[3], 16, 32)
		metric, err2 := strconv.ParseUint(f[6], 10, 64)
		if err1 != nil || err2 != nil || flags&rtfUp == 0 {
			continue
		}
		if metric < bestMetric {
			best, bestMetric = f[0], metric
		}
	}
	return best
}

// writeReadyFile creates path holding our PID, whole or not at all (it is
// written beside it and renamed): a script that sees the file can read
// the PID at once.
func writeReadyFile(path string) error {
	if err := writeFileWhole(path, []byte(fmt.Sprintln(os.Getpid()))); err != nil {
		return fmt.Errorf("write ready file: %w", err)
	}
	return nil
}

// writeFileWhole writes b to a file beside path, then renames it to path,
// so that a reader finds no file or all of it (mode 0600).
func writeFileWhole(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// listInterfaces is -D: the interfaces of this network namespace, one a
// line, as tcpdump -D lists them, with what bpftop-cap captures each as.
func listInterfaces(stdout io.Writer) error {
	ifis, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("list interfaces: %w", err)
	}
	for i := range ifis {
		fmt.Fprintln(stdout, capture.Describe(&ifis[i]))
	}
	fmt.Fprintln(stdout, capture.DescribeAny())
	return nil
}
