package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// demoLeftovers lists demo namespaces still present.
func demoLeftovers(t *testing.T) []string {
	t.Helper()
	m, _ := filepath.Glob("/run/netns/bpftop-demo-*")
	return m
}

// TestDemoHeadless runs `--demo -w FILE -c N` and checks with tshark that
// every kind of demo traffic is in the file, and that the demo's
// namespaces (and with them its veth pair) are gone afterwards.
func TestDemoHeadless(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireTool(t, "tshark")
	if left := demoLeftovers(t); len(left) > 0 {
		t.Fatalf("demo namespaces present before the test: %v", left)
	}
	out := filepath.Join(t.TempDir(), "demo.pcapng")
	cmd := exec.Command(binary, "--demo", "-w", out, "-c", "1500")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // see testutil.Cmd
	msg, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("--demo: %v\n%s", err, msg)
	}
	if !strings.Contains(string(msg), "1500 packets captured") {
		t.Errorf("summary:\n%s", msg)
	}
	fields := []string{"dns.flags.response", "dns.qry.name", "dns.a", "http.request.method", "http.response.code",
		"tls.handshake.extensions_server_name", "icmp.type", "udp.dstport", "tcp.dstport", "tcp.len"}
	args := []string{"-r", out, "-T", "fields", "-E", "separator=|"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	got, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	found := map[string]bool{}
	for _, line := range strings.Split(string(got), "\n") {
		v := strings.Split(line, "|")
		if len(v) != len(fields) {
			continue
		}
		f := map[string]string{}
		for i, name := range fields {
			f[name] = v[i]
		}
		switch {
		case f["dns.qry.name"] != "" && (f["dns.flags.response"] == "0" || f["dns.flags.response"] == "False"):
			found["DNS queries"] = true
		case f["dns.a"] != "":
			found["DNS answers"] = true
		case f["http.request.method"] == "GET":
			found["HTTP requests"] = true
		case f["http.response.code"] == "200":
			found["HTTP responses"] = true
		case strings.HasSuffix(f["tls.handshake.extensions_server_name"], "example.test"):
			found["TLS ClientHello with SNI"] = true
		case f["icmp.type"] == "8":
			found["ICMP echo requests"] = true
		case f["icmp.type"] == "0":
			found["ICMP echo replies"] = true
		case f["udp.dstport"] == "9999":
			found["UDP burst"] = true
		}
		if n, _ := strconv.Atoi(f["tcp.len"]); f["tcp.dstport"] == "5001" && n > 1000 {
			found["TCP bulk"] = true
		}
	}
	for _, what := range []string{"DNS queries", "DNS answers", "HTTP requests", "HTTP responses", "TLS ClientHello with SNI",
		"ICMP echo requests", "ICMP echo replies", "UDP burst", "TCP bulk"} {
		if !found[what] {
			t.Errorf("no %s in the demo capture", what)
		}
	}
	if left := demoLeftovers(t); len(left) > 0 {
		t.Errorf("demo namespaces left behind: %v", left)
	}
}

// TestDemoInterrupted stops a demo with SIGINT: exit 0, file readable,
// nothing left behind.
func TestDemoInterrupted(t *testing.T) {
	testutil.RequireRoot(t)
	out := filepath.Join(t.TempDir(), "demo.pcap")
	cmd := exec.Command(binary, "--demo", "-w", out)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // see testutil.Cmd
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		st, err := os.Stat(out)
		return strings.Contains(stderr.String(), "capturing on") && err == nil && st.Size() > 10000
	}, "demo did not start capturing:\n%s", &stderr)
	_ = cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr.String())
	}
	if n := tcpdumpCount(t, out); n == 0 {
		t.Error("empty capture")
	}
	if left := demoLeftovers(t); len(left) > 0 {
		t.Errorf("demo namespaces left behind: %v", left)
	}
}
