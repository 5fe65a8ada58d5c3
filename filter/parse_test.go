package filter

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

func TestSyntaxErrors(t *testing.T) {
	for _, tc := range []struct {
		expr  string
		token string // offending token, "" for end of expression
		col   int
		msg   string // part of the message
	}{
		{"tcp and prot 5", "prot", 9, `unknown word "prot": did you mean "port" or "proto"?`},
		{"tcp prot 8080", "prot", 5, `unknown word "prot": did you mean "port"?`},
		{"udp and hots 10.0.0.1", "hots", 9, `did you mean "host"?`},
		{"ip host 1.2.3.4 ad tcp", "ad", 17, `did you mean "and"?`},
		{"TCP", "TCP", 1, `did you mean "tcp"?`},
		{"example.com", "example.com", 1, "expected a primitive"},
		{"10.0.0.1", "10.0.0.1", 1, `expected "host" or "net" before an address`},
		{"tcp and fe80::1", "fe80::1", 9, `expected "host" or "net" before an address`},
		{"0:1:2:3:4:5", "0:1:2:3:4:5", 1, `expected "ether host" before a MAC address`},
		{"host", "", 5, `expected an address after "host"`},
		{"tcp dst", "", 8, `expected an address after "dst"`},
		{"tcp port", "", 9, `expected a port number after "port"`},
		{"udp port 53 or portrange", "", 25, `expected a port range such as 1024-65535 after "portrange"`},
		{"ip proto", "", 9, `expected a protocol number or name after "proto"`},
		{"port 70000", "70000", 6, "illegal port number 70000 > 65535"},
		{"host foo.example.com", "foo.example.com", 6, "not resolved"},
		{"host 1.2.3.4 and", "", 17, "expected a primitive"},
		{"(tcp", "", 5, `expected ")"`},
		{"tcp)", ")", 4, `expected "and", "or"`},
		{"ip[0] & 1", "", 10, "comparison operator"},
		{"ip[0:3] = 1", "3", 6, "data size must be 1, 2 or 4"},
		{"ip[0] / 0 = 1", "/", 7, "division by zero"},
		{"ip[0] % 0 = 1", "%", 7, "modulus by zero"},
		{"ip[0] << 32 = 1", "<<", 7, "shift by more than 31 bits"},
		{"net 10.1.2.3/8", "10.1.2.3", 5, "non-network bits"},
		{"host 1.2.3.4/24", "1.2.3.4", 6, "networks only"},
		{"vlan 5000", "5000", 6, "greater than maximum 4095"},
		{"tcp host 1.2.3.4", "1.2.3.4", 10, `"tcp" modifier applied to host`},
		{"host 00:11:22:33:44:55", "00:11:22:33:44:55", 6, "non-ether"},
		{"ether host 1.2.3.4", "1.2.3.4", 12, "illegal link layer address"},
		{"ip port 80", "80", 9, "illegal qualifier"},
		{"ip proto 300", "300", 10, "greater than maximum 255"},
		{"ether", "ether", 1, "needs a qualifier"},
		{"tcp and 80", "80", 9, "expected a primitive"},
		{"udp port 53 ; ls", ";", 13, "unexpected character"},
		{"gateway 1.2.3.4", "1.2.3.4", 9, "requires a name"},
		{"gateway router", "gateway", 1, "needs host name resolution"},
		{"host 001122334455", "001122334455", 6, "ethernet address used in non-ether expression"},
		{"ip6 host 1.2.3.4", "1.2.3.4", 10, "IPv6"},
		{"len", "", 4, "comparison operator"},
		{"tcp[13] = ", "", 11, "expected a number"},
		{"host 1.2.3.4 or or", "or", 17, "expected a primitive"},
	} {
		_, err := Compile(tc.expr, 0)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Compile(%q) = %v, want a *SyntaxError", tc.expr, err)
			continue
		}
		if se.Token != tc.token || se.Pos+1 != tc.col || !strings.Contains(se.Msg, tc.msg) {
			t.Errorf("Compile(%q):\n got %q (token %q, column %d)\nwant token %q, column %d, message containing %q",
				tc.expr, se.Error(), se.Token, se.Pos+1, tc.token, tc.col, tc.msg)
		}
		if msg := se.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "filter: syntax error at ") {
			t.Errorf("Compile(%q): error %q is not one line starting with \"filter: syntax error at \"", tc.expr, msg)
		}
	}
}

func TestSyntaxErrorFormat(t *testing.T) {
	_, err := Compile("tcp and prot 5", 0)
	want := `filter: syntax error at "prot" (column 9): unknown word "prot": did you mean "port" or "proto"?`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	_, err = Compile("tcp and example.com", 0)
	want = `filter: syntax error at "example.com" (column 9): expected a primitive such as host, net, port, portrange, proto, ip, ip6, arp, tcp, udp, icmp, ether, vlan, less, greater, or "("`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// TestLibpcapRejectsToo checks that expressions we refuse are refused by
// libpcap as well, where libpcap supports the feature.
func TestLibpcapRejectsToo(t *testing.T) {
	bin := requireTcpdump(t)
	for _, expr := range []string{
		"tcp and prot 5", "tcp prot 8080", "udp and hots 10.0.0.1", "ip host 1.2.3.4 ad tcp", "TCP", "10.0.0.1",
		"tcp and fe80::1", "0:1:2:3:4:5", "tcp dst", "ip proto", "host", "tcp port", "port 70000", "(tcp", "tcp)", "ip[0] & 1", "ip[0:3] = 1",
		"ip[0] / 0 = 1", "net 10.1.2.3/8", "vlan 5000", "tcp host 1.2.3.4", "host 00:11:22:33:44:55",
		"ip port 80", "ether", "tcp and 80", "len", "host 1.2.3.4 or or",
		"gateway 1.2.3.4", "gateway foo", "ip proto \\icmp6", "ip[0] / (ip[1] * 0) = 0", "ip[0] % (0 & ip[1]) = 1",
		"ip[0] << (ip[1] * 0 + 40) = 0",
	} {
		if _, err := Compile(expr, 0); err == nil {
			t.Errorf("Compile(%q) succeeded", expr)
		}
		if out, err := exec.Command(bin, "-d", "-y", "EN10MB", "--", expr).CombinedOutput(); err == nil {
			t.Errorf("tcpdump accepts %q:\n%s", expr, out)
		}
	}
}

func TestCompileArgs(t *testing.T) {
	a, err := CompileArgs([]string{"tcp", "port", "80", "or", "udp", "port", "53"}, 96)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compile("tcp port 80 or udp port 53", 96)
	if err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("CompileArgs differs from Compile:\n%s\n%s", a, b)
	}
	if last := a[len(a)-2]; last.Op != ClassRET|RetK || last.K != 96 {
		t.Errorf("accept returns %v, want ret #96", last)
	}
	_, err = CompileArgs([]string{"tcp", "and", "prot", "5"}, 0)
	var se *SyntaxError
	if !errors.As(err, &se) || se.Pos != 8 {
		t.Errorf("CompileArgs error %v, want column 9", err)
	}
}

func TestEmptyAcceptsAll(t *testing.T) {
	for _, expr := range []string{"", "  ", "\t"} {
		p, err := Compile(expr, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.String(); got != "(000) ret      #262144\n" {
			t.Errorf("Compile(%q) = %q", expr, got)
		}
		if !p.Match(nil, 0) {
			t.Errorf("empty filter rejects")
		}
	}
}

// TestGolden compares our code with tcpdump -d text.
func TestGolden(t *testing.T) {
	bin := requireTcpdump(t)
	for _, expr := range []string{
		"ip", "arp", "ip6", "len > 5", "ip6 multicast", "ether proto 0x800", "ip[0:2]=1",
		"icmp6[icmp6type] = icmp6-echo", "ip[0] & 0xf0 = 0x40", "ip[0] << 2 = 4",
		"port 53", "host 1.2.3.4", "tcp[13] & 0x12 = 0x12 or ip[6:2] & 0x1fff = 0", "portrange 80",
	} {
		p, err := Compile(expr, 0)
		if err != nil {
			t.Fatal(err)
		}
		want, err := exec.Command(bin, "-d", "-y", "EN10MB", "--", expr).Output()
		if err != nil {
			t.Fatal(err)
		}
		if p.String() != string(want) {
			t.Errorf("%q:\n got:\n%s\nwant:\n%s", expr, p, want)
		}
	}
}

func TestLexAddresses(t *testing.T) {
	toks, err := lex("tcp[13:1] & 2 != 0 or ether host 0:1:2:3:4:5 or host ::1 or net fe80::/10 or portrange 1-1024")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tk := range toks[:len(toks)-1] {
		got = append(got, tk.text)
	}
	want := "tcp [ 13 : 1 ] & 2 != 0 or ether host 0:1:2:3:4:5 or host ::1 or net fe80:: / 10 or portrange 1-1024"
	if strings.Join(got, " ") != want {
		t.Errorf("tokens:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}

// TestSyntaxErrorPrompt: the errors the live view's filter prompt shows
// under the column: each names the byte offset of the offending token (the
// end of the expression when something is missing) and says what was wrong.
func TestSyntaxErrorPrompt(t *testing.T) {
	for _, tc := range []struct {
		expr string
		pos  int
		msg  string
	}{
		{"tcp prot 8080", 4, `unknown word "prot": did you mean "port"?`},
		{"port", 4, "expected a port number"},
		{"host", 4, "expected an address"},
		{"tcp and", 7, "expected a primitive"},
		{"(udp", 4, `expected ")"`},
		{"udp port 53 and (tcp", 20, `expected ")"`},
		{"~example.com", 0, "unexpected character"},
		{"198.18.0.1:9000", 0, `expected "host" or "net" before an address`},
	} {
		_, err := Compile(tc.expr, 0)
		var se *SyntaxError
		if !errors.As(fmt.Errorf("wrapped: %w", err), &se) {
			t.Errorf("Compile(%q) = %v, want a *SyntaxError", tc.expr, err)
			continue
		}
		if se.Pos != tc.pos || !strings.HasPrefix(se.Msg, tc.msg) || se.Expr != tc.expr {
			t.Errorf("Compile(%q): Pos %d, Msg %q, Expr %q; want Pos %d, Msg starting %q", tc.expr, se.Pos, se.Msg, se.Expr, tc.pos, tc.msg)
		}
	}
}
