package app

import (
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPerCPUBuffer: -B's KiB for all CPUs become each CPU's share, up to
// a power of two, within what --perf-buffer takes.
func TestPerCPUBuffer(t *testing.T) {
	for _, tc := range []struct {
		total int64
		cpus  int
		want  int
	}{
		{64 << 20, 2, 32 << 20}, // tcpdump -B 65536 on two CPUs: the -w default
		{64 << 20, 3, 32 << 20}, // 21.3MiB each, up to 32
		{2 << 20, 1, 2 << 20},
		{1000 << 10, 3, 512 << 10},
		{10 << 10, 1, 64 << 10}, // the least
		{8 << 30, 2, 1 << 30},   // the most
	} {
		if got := perCPUBuffer(tc.total, tc.cpus); got != tc.want {
			t.Errorf("perCPUBuffer(%d, %d) = %d, want %d", tc.total, tc.cpus, got, tc.want)
		}
	}
	c := &Config{BufferKiB: 65536}
	if err := c.bufferSize(); err != nil || c.PerfBuffer == "" {
		t.Errorf("-B 65536: --perf-buffer %q (%v)", c.PerfBuffer, err)
	}
	if n, err := parseSize(c.PerfBuffer); err != nil || n&(n-1) != 0 {
		t.Errorf("-B 65536 gives --perf-buffer %q, not a power of two", c.PerfBuffer)
	}
}

// TestFilterFileWords: a -F file's expression, # comments to the end of
// their line, as tcpdump reads one.
func TestFilterFileWords(t *testing.T) {
	got, err := filterFileWords([]byte("# web\ntcp port 80 # plain\n\tor port 443\n#end"))
	if want := []string{"tcp", "port", "80", "or", "port", "443"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("words %q (%v), want %q", got, err, want)
	}
	if _, err := filterFileWords([]byte("tcp\x00")); err == nil {
		t.Error("a NUL byte is taken")
	}
}

// TestParseFileSize: -C in millions of bytes, or KiB, MiB, GiB.
func TestParseFileSize(t *testing.T) {
	for in, want := range map[string]int64{"1": 1e6, "250": 250e6, "4k": 4096, "4K": 4096, "2m": 2 << 20, "1g": 1 << 30} {
		if got, err := parseFileSize(in); err != nil || got != want {
			t.Errorf("-C %s: %d (%v), want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "-1", "1.5", "k", "1x", "1kk", "99999999999999999999"} {
		if _, err := parseFileSize(in); err == nil {
			t.Errorf("-C %s taken", in)
		}
	}
}

// TestRotationNames: the files are named as tcpdump names them: -C alone
// F, F1, F2; with -W the number in as many digits as the highest takes;
// -G through strftime, numbered only with -C.
func TestRotationNames(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.Local)
	for _, tc := range []struct {
		rot  rotation
		path string
		nums []int
		want []string
	}{
		{rotation{size: 1}, "o", []int{0, 1, 2, 10}, []string{"o", "o1", "o2", "o10"}},
		{rotation{size: 1, count: 3}, "o", []int{0, 1, 2}, []string{"o0", "o1", "o2"}},
		{rotation{size: 1, count: 10}, "o", []int{0, 9}, []string{"o0", "o9"}},
		{rotation{size: 1, count: 11}, "o", []int{0, 10}, []string{"o00", "o10"}},
		{rotation{size: 1, count: 1}, "o", []int{0}, []string{"o"}},
		{rotation{every: time.Minute}, "d-%Y%m%d-%H%M%S.pcap", []int{0}, []string{"d-20260304-050607.pcap"}},
		{rotation{every: time.Minute, count: 5}, "d-%H", []int{0}, []string{"d-05"}},
		{rotation{every: time.Minute, size: 1}, "d-%H.", []int{0, 2}, []string{"d-05.", "d-05.2"}},
	} {
		for i, n := range tc.nums {
			if got := tc.rot.fileName(tc.path, n, at); got != tc.want[i] {
				t.Errorf("%+v %q file %d: %q, want %q", tc.rot, tc.path, n, got, tc.want[i])
			}
		}
	}
}

// TestStrftime: the conversions a file name uses, as C's strftime.
func TestStrftime(t *testing.T) {
	at := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	for format, want := range map[string]string{
		"%Y-%m-%d %H:%M:%S":  "2026-01-02 15:04:05",
		"%F_%T":              "2026-01-02_15:04:05",
		"%y%j %I%p %a %b %e": "26002 03PM Fri Jan  2",
		"%s":                 "1767366245",
		"100%% %q %":         "100% %q %",
	} {
		if got := strftime(format, at); got != want {
			t.Errorf("strftime(%q) = %q, want %q", format, got, want)
		}
	}
	// GNU date formats with C's strftime.
	if _, err := exec.LookPath("date"); err != nil {
		return
	}
	for _, format := range []string{"%Y%m%d-%H%M%S", "%F %T %R %D", "%C %y %j %k %l %u %w", "%A %B %h %z %Z"} {
		out, err := exec.Command("date", "-u", "-d", "@"+strconv.FormatInt(at.Unix(), 10), "+"+format).Output()
		if got := strftime(format, at); err != nil || got != strings.TrimSuffix(string(out), "\n") {
			t.Errorf("strftime(%q) = %q, date says %q (%v)", format, got, out, err)
		}
	}
}
