package app

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/bpftop-cap/bpftop-cap/internal/testutil"
)

// packetStart matches the first line of a packet in tcpdump's output:
// its time stamp (more than six digits for a file's invalid microseconds),
// or what tcpdump prints instead of the time or of the packet.
var packetStart = regexp.MustCompile(`^(\d\d:\d\d:\d\d\.\d{6,} |\[Error converting time\]|\[Invalid header)`)

// tcpdumpText runs tcpdump -n -r path with args; its stdout.
func tcpdumpText(t *testing.T, path string, args ...string) string {
	t.Helper()
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		testutil.SkipOrFail(t, "tcpdump not installed: %v", err)
	}
	cmd := exec.Command(tcpdump, append([]string{"-n", "-r", path}, args...)...)
	var out bytes.Buffer
	cmd.Stdout = &out
	_ = cmd.Run() // a file tcpdump gives up on part way still printed its packets
	return out.String()
}

// ourText runs the text mode on path, as -r path does without a terminal.
func ourText(t *testing.T, cfg *Config) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := printFile(cfg, &out, io.Discard)
	return out.String(), err
}

// packets splits text output into packets: each starts with a line
// packetStart matches, and takes the lines after it (tcpdump prints some
// packets on several lines: -v, hex dumps of what it does not decode).
func packets(out string) []string {
	var pk []string
	for _, line := range strings.SplitAfter(out, "\n") {
		switch {
		case line == "":
		case packetStart.MatchString(line) || len(pk) == 0:
			pk = append(pk, line)
		default:
			pk[len(pk)-1] += line
		}
	}
	return pk
}

// keyFields are the fields of a tcpdump line that the text mode must get
// right: the time, the protocol word and the endpoints (everything up to
// the first ": "), and the length (the last "length N", or a DNS
// message's "(N)").
func keyFields(line string) (time, head, length string) {
	line, _, _ = strings.Cut(line, "\n")
	time, rest, _ := strings.Cut(line, " ")
	head, body, _ := strings.Cut(rest, ": ")
	if m := lengthRE.FindAllStringSubmatch(body, -1); len(m) > 0 {
		last := m[len(m)-1]
		length = last[1] + last[2]
	}
	return time, head, length
}

var lengthRE = regexp.MustCompile(`length:? (\d+)|\((\d+)\)$`)

// TestTextCorpus prints every capture of tcpdump's test corpus and
// compares with tcpdump -n -r: as many packets on each (tcpdump prints
// some on several lines: packets, not lines, are counted, each starting
// with its time), and on the IP and ARP packets the time, the protocol,
// the addresses and ports and the length equal.
func TestTextCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tcpdump on the whole corpus")
	}
	t.Setenv("TZ", "UTC")
	dir := testutil.Corpus(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("corpus: %v", err)
	}
	var compared, agreed, countOK int
	var disagree []string
	for _, f := range files {
		want := packets(tcpdumpText(t, f))
		out, err := ourText(t, &Config{Read: f, Snaplen: 262144})
		got := packets(out)
		if len(got) != len(want) {
			t.Errorf("%s: %d packets printed, tcpdump %d (%v)", filepath.Base(f), len(got), len(want), err)
			continue
		}
		countOK++
		for i := range want {
			if !strings.Contains(want[i], " IP ") && !strings.Contains(want[i], " IP6 ") && !strings.Contains(want[i], " ARP, ") {
				continue
			}
			compared++
			wt, wh, wl := keyFields(want[i])
			gt, gh, gl := keyFields(got[i])
			if wt == gt && wh == gh && wl == gl {
				agreed++
			} else if len(disagree) < 400 {
				disagree = append(disagree, filepath.Base(f)+"\n  tcpdump: "+strings.TrimSpace(want[i])+"\n  ours:    "+strings.TrimSpace(got[i]))
			}
		}
	}
	rate := float64(agreed) / float64(max(compared, 1))
	t.Logf("%d of %d files: as many packets as tcpdump; IP and ARP packets: %d of %d (%.2f%%) agree on time, protocol, endpoints and length",
		countOK, len(files), agreed, compared, 100*rate)
	if os.Getenv("TEXT_DISAGREE") != "" {
		for _, d := range disagree {
			t.Log(d)
		}
	}
	if rate < minAgreement {
		t.Errorf("agreement %.2f%% below %.0f%%; TEXT_DISAGREE=1 lists the packets", 100*rate, 100*minAgreement)
	}
}
