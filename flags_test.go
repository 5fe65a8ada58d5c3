package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
	"github.com/bpftop-cap/bpftop-cap/packet"
	"github.com/bpftop-cap/bpftop-cap/pcapfile"
)

// TestCombinedShortFlags: the command line is read as tcpdump's getopt
// reads it: one-letter flags combined, values attached or in the next
// word, long flags with = or a space, flags among the other words, --.
func TestCombinedShortFlags(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		ifaces string
		count  uint64
		snap   uint32
		filter string
		write  string
	}{
		{[]string{"-nni", "eth0"}, "eth0", 0, 262144, "", ""},
		{[]string{"-ni", "eth0", "-c10", "-s0"}, "eth0", 10, 262144, "", ""},
		{[]string{"-ieth0", "-c", "10", "-s", "96"}, "eth0", 10, 96, "", ""},
		{[]string{"-pnc5", "-weth0.pcap", "eth0"}, "eth0", 5, 262144, "", "eth0.pcap"},
		{[]string{"--interface=eth0", "--snapshot-length=128", "-w", "-"}, "eth0", 0, 128, "", "-"},
		{[]string{"--interface", "eth0", "--snapshot-length", "0"}, "eth0", 0, 262144, "", ""},
		{[]string{"eth0", "port", "53", "-c", "3", "and", "udp"}, "eth0", 3, 262144, "port 53 and udp", ""},
		{[]string{"-i", "eth0", "--", "-c", "5"}, "eth0", 0, 262144, "-c 5", ""},
		{[]string{"-KNSU", "--immediate-mode", "-nn", "-i", "eth0"}, "eth0", 0, 262144, "", ""},
		{[]string{"-r", "-", "-c1", "tcp"}, "", 1, 262144, "tcp", ""},
	} {
		cfg, _, err := parse(tc.args)
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if got := strings.Join(cfg.Ifaces, ","); got != tc.ifaces || cfg.Count != tc.count || cfg.Snaplen != tc.snap ||
			strings.Join(cfg.Filter, " ") != tc.filter || cfg.Write != tc.write {
			t.Errorf("%q: ifaces %q count %d snaplen %d filter %q write %q; want %q %d %d %q %q", tc.args,
				got, cfg.Count, cfg.Snaplen, strings.Join(cfg.Filter, " "), cfg.Write, tc.ifaces, tc.count, tc.snap, tc.filter, tc.write)
		}
	}
	cfg, _, err := parse([]string{"-KNSU", "-i", "lo"})
	if err != nil || !cfg.AbsoluteSeq || !cfg.PacketBuffered {
		t.Errorf("-KNSU: -S %v, -U %v (%v)", cfg.AbsoluteSeq, cfg.PacketBuffered, err)
	}
	cfg, _, err = parse([]string{"--micro", "-i", "lo"})
	if err != nil || cfg.Precision != "micro" {
		t.Errorf("--micro: precision %q (%v)", cfg.Precision, err)
	}
	cfg, _, err = parse([]string{"--time-stamp-precision=nano", "-B", "65536", "-Z", "nobody", "-y", "EN10MB", "-i", "lo"})
	if err != nil || cfg.Precision != "nano" || cfg.BufferKiB != 65536 || cfg.User != "nobody" || cfg.LinkType != "EN10MB" {
		t.Errorf("long and short values: %+v (%v)", cfg, err)
	}
}

// TestUnknownFlags: a flag that is not in the table is one line on stderr
// naming it, exit 2, nothing on stdout.
func TestUnknownFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-Y"}, "bpftop-cap: unknown flag -Y (see -h)\n"},
		{[]string{"-nY", "-i", "lo"}, "bpftop-cap: unknown flag -Y (see -h)\n"},
		{[]string{"-i", "lo", "--frobnicate=3"}, "bpftop-cap: unknown flag --frobnicate (see -h)\n"},
		{[]string{"-i", "lo", "--perf-reader", "mmap"}, "bpftop-cap: unknown flag --perf-reader (see -h)\n"},
		{[]string{"-xdp", "-i", "lo"}, "bpftop-cap: unknown flag -d in -xdp: long flags take two dashes (--xdp) (see -h)\n"},
		{[]string{"-i"}, "bpftop-cap: flag -i needs a value (see -h)\n"},
		{[]string{"-i", "lo", "--snapshot-length"}, "bpftop-cap: flag --snapshot-length needs a value (see -h)\n"},
		{[]string{"-c", "many"}, "bpftop-cap: invalid value \"many\" for -c: not a number (see -h)\n"},
		{[]string{"-c99999999999999999999999"}, "bpftop-cap: invalid value \"99999999999999999999999\" for -c: out of range (see -h)\n"},
		{[]string{"--xdp=maybe"}, "bpftop-cap: invalid value \"maybe\" for --xdp: takes no value, or =true or =false (see -h)\n"},
		{[]string{"--micro=1"}, "bpftop-cap: invalid value \"1\" for --micro: takes no value (see -h)\n"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		if code != 2 || stderr.String() != tc.want || stdout.Len() != 0 {
			t.Errorf("%q: exit %d, stderr %q, stdout %q; want exit 2 and %q", tc.args, code, stderr.String(), stdout.String(), tc.want)
		}
	}
}

// TestHelpListsTheTable: -h and --help print every flag of the table
// (bar the developers') on stdout, exit 0; -h among other flags too.
func TestHelpListsTheTable(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-nh"}, {"-i", "lo", "-h", "-Y"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 0 || stderr.Len() != 0 {
			t.Fatalf("%q: exit %d, stderr %q", args, code, stderr.String())
		}
		for _, d := range table() {
			if d.group == "" {
				continue
			}
			if !strings.Contains(stdout.String(), d.synopsis()) {
				t.Errorf("%q does not show %s", args, d.synopsis())
			}
		}
	}
}

// corpusFile is a capture of tcpdump's tests, or the test is skipped.
func corpusFile(t *testing.T, name string) string {
	t.Helper()
	return filepath.Join(testutil.Corpus(t), name)
}

// tcpdumpAs runs tcpdump with args; as root with -Z root, which Debian's
// tcpdump needs to write into a test's directory (it becomes the tcpdump
// user by default).
func tcpdumpAs(t *testing.T, args ...string) {
	t.Helper()
	if os.Geteuid() == 0 {
		args = append([]string{"-Z", "root"}, args...)
	}
	if out, err := exec.Command("tcpdump", args...).CombinedOutput(); err != nil {
		t.Fatalf("tcpdump %q: %v\n%s", args, err, out)
	}
}

// ours runs bpftop-cap's run with args and fails the test on an error.
func ours(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("%q: exit %d: %s", args, code, stderr.String())
	}
	return stderr.String()
}

// sameFile fails the test unless the two files are byte for byte equal.
func sameFile(t *testing.T, what, ours, theirs string) {
	t.Helper()
	a, b := mustRead(t, ours), mustRead(t, theirs)
	if !bytes.Equal(a, b) {
		t.Errorf("%s: our %s (%d bytes, %d packets) is not tcpdump's %s (%d bytes, %d packets)",
			what, filepath.Base(ours), len(a), pcapCount(t, a), filepath.Base(theirs), len(b), pcapCount(t, b))
	}
}

// TestReadWriteFlagsAsTcpdump: -r FILE -w OUT with -c, -F, --micro and the
// flags accepted without effect writes the very file tcpdump writes with
// the same flags.
func TestReadWriteFlagsAsTcpdump(t *testing.T) {
	testutil.RequireTool(t, "tcpdump")
	in := corpusFile(t, "dns_tcp.pcap")
	tmp := t.TempDir()
	out := func(name string) string { return filepath.Join(tmp, name) }

	// -c: the first N packets the filter keeps.
	ours(t, "-r", in, "-w", out("c.ours"), "-c", "5", "tcp")
	tcpdumpAs(t, "-r", in, "--time-stamp-precision=nano", "-w", out("c.theirs"), "-c", "5", "tcp")
	sameFile(t, "-c 5 tcp", out("c.ours"), out("c.theirs"))
	if n := pcapCount(t, mustRead(t, out("c.ours"))); n != 5 {
		t.Errorf("-c 5 wrote %d packets", n)
	}
	ours(t, "-r", in, "-w", out("c2.ours"), "-c2")
	tcpdumpAs(t, "-r", in, "--time-stamp-precision=nano", "-w", out("c2.theirs"), "-c2")
	sameFile(t, "-c2", out("c2.ours"), out("c2.theirs"))

	// -F: the expression from a file, comments and lines as tcpdump reads them.
	ff := out("filter")
	if err := os.WriteFile(ff, []byte("# DNS answers only\ntcp src port 53 # the server\n  and greater 100\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ours(t, "-r", in, "-F", ff, "-w", out("f.ours"))
	tcpdumpAs(t, "-r", in, "-F", ff, "--time-stamp-precision=nano", "-w", out("f.theirs"))
	sameFile(t, "-F", out("f.ours"), out("f.theirs"))
	all := pcapCount(t, mustRead(t, in))
	if n := pcapCount(t, mustRead(t, out("f.ours"))); n == 0 || n == all {
		t.Errorf("-F kept %d of %d packets: the filter did nothing", n, all)
	}

	// --time-stamp-precision=micro (tcpdump's default): the classic format.
	for _, flag := range []string{"--time-stamp-precision=micro", "--micro"} {
		ours(t, "-r", in, flag, "-w", out("micro.ours"))
		tcpdumpAs(t, "-r", in, "-w", out("micro.theirs"))
		sameFile(t, flag, out("micro.ours"), out("micro.theirs"))
		if b := mustRead(t, out("micro.ours")); !bytes.HasPrefix(b, []byte{0xd4, 0xc3, 0xb2, 0xa1}) {
			t.Errorf("%s: magic % x, want a1b2c3d4 (little-endian)", flag, b[:4])
		}
	}

	// Accepted for habit's sake, the file the same.
	ours(t, "-r", in, "-w", out("plain"))
	for _, args := range [][]string{{"-n"}, {"-nn"}, {"-K"}, {"-N"}, {"-S"}, {"-U"}, {"--immediate-mode"}, {"-s0"}, {"-KNnU"}, {"--dont-verify-checksums"}} {
		os.Remove(out("accepted"))
		ours(t, append([]string{"-r", in, "-w", out("accepted")}, args...)...)
		if !bytes.Equal(mustRead(t, out("plain")), mustRead(t, out("accepted"))) {
			t.Errorf("%q changed the file", args)
		}
	}
}

// TestFilterFileErrors: -F with an expression on the command line too, or
// a file that is not there, is one line.
func TestFilterFileErrors(t *testing.T) {
	tmp := t.TempDir()
	ff := filepath.Join(tmp, "f")
	os.WriteFile(ff, []byte("udp\n"), 0o600)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-r", "x.pcap", "-F", ff, "tcp"}, 2, `-F ` + ff + ` gives the filter expression: drop "tcp" after the flags`},
		{[]string{"-r", "x.pcap", "-F", filepath.Join(tmp, "none")}, 1, "read filter file: open " + filepath.Join(tmp, "none") + ": no such file or directory"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.want) || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%q: exit %d, %q; want exit %d and one line saying %q", tc.args, code, stderr.String(), tc.code, tc.want)
		}
	}
}

// TestRotateAsTcpdump: -r FILE -w OUT -C 1 (-W N) splits a capture of a few
// MB into the files tcpdump splits it into, byte for byte, by the same
// names; each file is a whole capture (capinfos reads it).
func TestRotateAsTcpdump(t *testing.T) {
	testutil.RequireTool(t, "tcpdump")
	testutil.RequireTool(t, "capinfos")
	tmp := t.TempDir()
	in := filepath.Join(tmp, "big.pcap")
	writeBigCapture(t, in, 3000)
	for _, tc := range []struct {
		name  string
		flags []string
		files []string
	}{
		{"C", []string{"-C", "1"}, []string{"o", "o1", "o2", "o3"}},
		{"CW", []string{"-C", "1", "-W", "3"}, []string{"o0", "o1", "o2"}},
		{"CW12", []string{"-C", "1", "-W", "12"}, []string{"o00", "o01", "o02", "o03"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ourDir, theirDir := filepath.Join(tmp, tc.name, "ours"), filepath.Join(tmp, tc.name, "theirs")
			for _, d := range []string{ourDir, theirDir} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			ours(t, append([]string{"-r", in, "-w", filepath.Join(ourDir, "o")}, tc.flags...)...)
			tcpdumpAs(t, append([]string{"-r", in, "--time-stamp-precision=nano", "-w", filepath.Join(theirDir, "o")}, tc.flags...)...)
			got, want := dirNames(t, ourDir), dirNames(t, theirDir)
			if !slices.Equal(got, want) || !slices.Equal(got, tc.files) {
				t.Fatalf("files %q, tcpdump's %q, want %q", got, want, tc.files)
			}
			for _, name := range got {
				sameFile(t, name, filepath.Join(ourDir, name), filepath.Join(theirDir, name))
				capinfosCount(t, filepath.Join(ourDir, name))
				if m := testutil.NodeOf(t, filepath.Join(ourDir, name)).Mode; m != 0o600 {
					t.Errorf("%s: mode %v, want 0600", name, m)
				}
			}
		})
	}
}

// TestRotateUnits: -C with k takes KiB (as tcpdump 4.99.4 does): each file
// is whole, the packets all there, in order, none larger than the limit
// by more than a packet.
func TestRotateUnits(t *testing.T) {
	testutil.RequireTool(t, "capinfos")
	tmp := t.TempDir()
	in := filepath.Join(tmp, "big.pcap")
	writeBigCapture(t, in, 300)
	ours(t, "-r", in, "-w", filepath.Join(tmp, "k"), "-C", "64k")
	names := dirNames(t, tmp)
	total := 0
	for _, name := range names {
		if !strings.HasPrefix(name, "k") {
			continue
		}
		p := filepath.Join(tmp, name)
		n := capinfosCount(t, p)
		total += n
		st, _ := os.Stat(p)
		if st.Size() > 64<<10+1100 {
			t.Errorf("%s: %d bytes, past 64KiB by more than a packet", name, st.Size())
		}
	}
	if want := pcapCount(t, mustRead(t, in)); total != want || len(names) < 4 {
		t.Errorf("%d packets in %d files %q; want all %d, in 4 files or more", total, len(names)-1, names, want)
	}
}

// TestRotateByTimeName: -G names the file by strftime.
func TestRotateByTimeName(t *testing.T) {
	tmp := t.TempDir()
	in := corpusFile(t, "dns_tcp.pcap")
	ours(t, "-r", in, "-w", filepath.Join(tmp, "dump-%Y.pcap"), "-G", "3600")
	names := dirNames(t, tmp)
	if len(names) != 1 || !strings.HasPrefix(names[0], "dump-2") || len(names[0]) != len("dump-2026.pcap") {
		t.Errorf("files %q, want one dump-<year>.pcap", names)
	}
}

// TestRotationErrors: -C, -W and -G need what they apply to.
func TestRotationErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-r", "x", "-C", "0", "-w", "o"}, `invalid file size "0" for -C`},
		{[]string{"-r", "x", "-C", "1x", "-w", "o"}, `invalid file size "1x" for -C`},
		{[]string{"-r", "x", "-W", "3", "-w", "o"}, "-W needs -C or -G"},
		{[]string{"-r", "x", "-C", "1"}, "-C and -G rotate -w's file: give -w FILE"},
		{[]string{"-r", "x", "-G", "5", "-w", "-"}, "-C and -G rotate -w's file: not stdout"},
		{[]string{"-r", "x", "-G", "-5", "-w", "o"}, "invalid rotation seconds -5 for -G"},
		{[]string{"-r", "x", "--time-stamp-precision=pico", "-w", "o"}, `invalid --time-stamp-precision "pico"`},
		{[]string{"-r", "x", "-y", "EN10MB", "-w", "o"}, "-y chooses the link type of a capture"},
		{[]string{"-i", "lo", "-B", "65536", "--perf-buffer", "8MiB", "-w", "o"}, "-B sets the size of the perf rings"},
		{[]string{"-i", "lo", "-y", "RAW", "-w", "o"}, "-y RAW: lo is captured as EN10MB (see -L)"},
		{[]string{"-i", "lo", "--micro", "--format", "pcapng", "-w", "o"}, "--time-stamp-precision=micro writes pcap's classic format"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%q: exit %d, %q; want exit 2 and one line saying %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// dirNames lists a directory's names, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// capinfosCount checks with capinfos that path is a whole capture and
// returns its packet count.
func capinfosCount(t *testing.T, path string) int {
	t.Helper()
	out, err := exec.Command("capinfos", "-M", "-c", "-r", path).CombinedOutput()
	if err != nil || strings.Contains(string(out), "appears to have been cut short") {
		t.Fatalf("capinfos %s: %v\n%s", path, err, out)
	}
	f := strings.Fields(string(out))
	n := 0
	if len(f) > 0 {
		for _, c := range f[len(f)-1] {
			n = n*10 + int(c-'0')
		}
	}
	return n
}

// writeBigCapture writes a nanosecond pcap of n UDP datagrams of a
// thousand bytes each, a millisecond apart.
func writeBigCapture(t *testing.T, path string, n int) {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapfile.NewPcapWriter(&buf, 262144, uint32(packet.LinkTypeEthernet))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{198, 18, 0, 1}, DstIP: net.IP{198, 18, 0, 2}, Id: uint16(i)}
		udp := &layers.UDP{SrcPort: 40000, DstPort: layers.UDPPort(9000 + i%100)}
		udp.SetNetworkLayerForChecksum(ip)
		sb := gopacket.NewSerializeBuffer()
		payload := bytes.Repeat([]byte{byte(i)}, 958)
		if err := gopacket.SerializeLayers(sb, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload(payload)); err != nil {
			t.Fatal(err)
		}
		p := packet.Packet{Data: sb.Bytes(), Nanos: 1_700_000_000_000_000_000 + int64(i)*1_000_123, OrigLen: uint32(len(sb.Bytes()))}
		if err := w.Write(&p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAbsoluteSeqAsTcpdump: -S prints TCP sequence numbers as they are,
// as tcpdump -S does, on the captures whose lines are tcpdump's.
func TestAbsoluteSeqAsTcpdump(t *testing.T) {
	testutil.RequireTool(t, "tcpdump")
	for _, name := range []string{"dns_tcp.pcap", "dns_tcp_8053.pcap", "print-flags.pcap", "zmtp1.pcap"} {
		in := corpusFile(t, name)
		text := func(args ...string) string {
			var stdout, stderr bytes.Buffer
			if code := run(append(args, "-r", in), &stdout, &stderr); code != 0 {
				t.Fatalf("%s %q: exit %d: %s", name, args, code, stderr.String())
			}
			return stdout.String()
		}
		theirs, err := exec.Command("tcpdump", "-nn", "-S", "-r", in).Output()
		if err != nil {
			t.Fatalf("tcpdump -S -r %s: %v", name, err)
		}
		abs := text("-nnS")
		if abs != string(theirs) {
			t.Errorf("%s: -S\n%s\ntcpdump -S:\n%s", name, abs, theirs)
		}
		if abs == text("-nn") {
			t.Errorf("%s: -S changed nothing", name)
		}
	}
}
