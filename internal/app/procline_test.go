package app

import (
	"strings"
	"testing"
)

// TestProcLine: the process goes at the end of the first line, and a name
// carrying terminal escapes (comm is the process's own choice) reaches the
// line made printable.
func TestProcLine(t *testing.T) {
	name := func(pid uint32) string {
		switch pid {
		case 1:
			return "curl[4123]"
		case 2:
			return "x\x1b]2;PWN\x07\x1b[2J[17284]"
		}
		return ""
	}
	for _, tc := range []struct {
		line string
		pid  uint32
		want string
	}{
		{"IP a > b: UDP, length 1\n", 1, "IP a > b: UDP, length 1, process curl[4123]\n"},
		{"IP a > b: UDP, length 1\n\t0x0000:  4500\n", 1, "IP a > b: UDP, length 1, process curl[4123]\n\t0x0000:  4500\n"},
		{"IP a > b: UDP, length 1\n", 0, "IP a > b: UDP, length 1\n"},
		{"IP a > b: UDP, length 1\n", 3, "IP a > b: UDP, length 1\n"},
		{"IP a > b: UDP, length 1\n", 2, "IP a > b: UDP, length 1, process x.]2;PWN..[2J[17284]\n"},
	} {
		got := string(procLine([]byte(tc.line), tc.pid, name))
		if got != tc.want {
			t.Errorf("pid %d: %q, want %q", tc.pid, got, tc.want)
		}
		if strings.ContainsAny(got, "\x1b\x07") {
			t.Errorf("pid %d: escape bytes reach the line: %q", tc.pid, got)
		}
	}
}
