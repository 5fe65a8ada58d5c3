package filter

import "testing"

// TestPortNamesMatchLibpcap: every port name we take is one tcpdump
// takes, with its number and the protocols it restricts the name to
// (`port http` is TCP only, `udp port http` refused); names tcpdump does
// not know are refused.
func TestPortNamesMatchLibpcap(t *testing.T) {
	requireTcpdump(t)
	var exprs []string
	for name := range serviceNames {
		for _, q := range []string{"", "tcp ", "udp ", "sctp "} {
			exprs = append(exprs, q+"port "+name)
		}
	}
	exprs = append(exprs, "port dns", "port rdp", "portrange http", "portrange ssh-http", "portrange ssh-domain",
		"udp portrange ssh-domain", "portrange ftp-data-http", "portrange 20-http", "tcp portrange tftp-domain",
		"udp portrange ssh-http", "portrange tftp-ntp", "tcp portrange tftp-ntp", "src port 80-90", "port 0x50")
	if testing.Short() {
		exprs = exprs[len(exprs)-30:]
	}
	for _, expr := range exprs {
		theirs, terr := libpcapProgram(t, expr)
		ours, err := Compile(expr, 0)
		switch {
		case (err == nil) != (terr == nil):
			t.Errorf("%q: ours %v, tcpdump %v", expr, err, terr)
		case err == nil && !equalPrograms(ours, theirs):
			t.Errorf("%q:\nours:\n%s\nlibpcap:\n%s", expr, ours, theirs)
		}
	}
}
