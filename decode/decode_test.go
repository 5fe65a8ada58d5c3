package decode

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestDecodeSummaries(t *testing.T) {
	d := NewDecoder()
	var out bytes.Buffer
	for _, tf := range testFrames(t) {
		var s Summary
		origLen := tf.origLen
		if origLen == 0 {
			origLen = len(tf.data)
		}
		d.Decode(tf.data, origLen, &s)
		const checked = FlagSnap | FlagTruncated | FlagMalformed | FlagUnsupported | FlagFragment | FlagPanic
		if got := s.Flags & checked; got != tf.want {
			t.Errorf("%s: flags %b, want %b (%s)", tf.name, got, tf.want, s.Info())
		}
		if got := s.Proto(); got != tf.proto {
			t.Errorf("%s: proto %q, want %q", tf.name, got, tf.proto)
		}
		line := s.Line(testTS)
		assertPrintable(t, tf.name, line)
		fmt.Fprintf(&out, "%-22s %s\n", tf.name, line)
	}
	golden(t, "summaries.golden", out.Bytes())
}

// assertPrintable fails if s holds anything but printable runes.
func assertPrintable(t *testing.T, name, s string) {
	t.Helper()
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 || r == 0x202e || r == 0xfffd {
			t.Errorf("%s: unprintable %U in %q", name, r, s)
			return
		}
	}
}

func TestDecodeFields(t *testing.T) {
	frames := map[string][]byte{}
	for _, tf := range testFrames(t) {
		frames[tf.name] = tf.data
	}
	d := NewDecoder()
	decode := func(name string) *Summary {
		var s Summary
		d.Decode(frames[name], len(frames[name]), &s)
		return &s
	}
	if s := decode("vxlan-tcp"); s.Tunnel != TunnelVXLAN || s.VNI != 42 || s.SrcPort != 40006 ||
		s.OuterSrc.String() != "192.0.2.1" || s.SrcAddr.String() != "10.0.0.1" {
		t.Errorf("vxlan: %+v", s)
	}
	if s := decode("gre-ipv4-udp"); s.Tunnel != TunnelGRE || s.VNI != 7 || s.DstPort != 2000 || s.OuterDst.String() != "192.0.2.2" {
		t.Errorf("gre: %+v", s)
	}
	if s := decode("qinq-udp"); s.NVLAN != 2 || s.VLAN != [2]uint16{10, 20} || s.DstPort != 2000 {
		t.Errorf("qinq: %+v", s)
	}
	if s := decode("dns-response"); s.App != AppDNS || !s.DNSResp || s.DNSQType != 1 || s.DNSAnswers != 2 ||
		s.DNSAnswer.String() != "93.184.216.34" || s.Text() != "example.com." {
		t.Errorf("dns: %+v %q", s, s.Text())
	}
	if s := decode("tls-client-hello"); s.App != AppTLS || s.TLSHS != 1 || s.Text() != "example.com" {
		t.Errorf("tls: %+v", s)
	}
	if s := decode("http-get"); s.App != AppHTTP || s.Text() != "GET /index.html HTTP/1.1" {
		t.Errorf("http: %q", s.Text())
	}
	if s := decode("arp-request"); s.Net != NetARP || s.ARPOp != 1 || s.DstAddr.String() != "10.0.0.2" {
		t.Errorf("arp: %+v", s)
	}
	if s := decode("ipv6-dstopts-udp"); s.IPProto != ProtoUDP || s.DstPort != 2000 {
		t.Errorf("ipv6 dstopts: %+v", s)
	}
	if s := decode("ipv6-hbh-icmpv6"); s.IPProto != ProtoICMPv6 || s.ICMPType != 143 {
		t.Errorf("ipv6 hbh: %+v", s)
	}
	if s := decode("ipv4-frag-next"); s.FragOff != 1480 || s.SrcPort != 0 {
		t.Errorf("frag: %+v", s)
	}
}

// TestDecodeTruncatedEverywhere cuts every table frame at every offset,
// both as a snaplen cut (origLen kept) and as a short frame.
func TestDecodeTruncatedEverywhere(t *testing.T) {
	d := NewDecoder()
	for _, tf := range testFrames(t) {
		for n := 0; n < len(tf.data); n++ {
			for _, origLen := range []int{len(tf.data), n} {
				var s Summary
				d.Decode(tf.data[:n], origLen, &s)
				if s.Flags&FlagPanic != 0 {
					t.Fatalf("%s cut at %d: decoder panicked: %v", tf.name, n, s.Err)
				}
				if origLen > n && s.Flags&FlagSnap == 0 {
					t.Fatalf("%s cut at %d: snap not flagged", tf.name, n)
				}
				assertPrintable(t, tf.name, s.Line(testTS))
				_ = Detail(tf.data[:n], origLen)
			}
		}
	}
}

func TestDecodeHostileStrings(t *testing.T) {
	d := NewDecoder()
	for _, tf := range testFrames(t) {
		if !strings.HasPrefix(tf.name, "hostile") {
			continue
		}
		var s Summary
		d.Decode(tf.data, len(tf.data), &s)
		if s.textLen == 0 {
			t.Fatalf("%s: no text decoded", tf.name)
		}
		for _, str := range []string{s.Line(testTS), s.Info(), s.Text()} {
			if strings.ContainsAny(str, "\x1b\x07\u202e") || strings.ContainsRune(str, 0xfffd) {
				t.Errorf("%s: control bytes leaked: %q", tf.name, str)
			}
			assertPrintable(t, tf.name, str)
		}
		for _, l := range Detail(tf.data, len(tf.data)) {
			for _, f := range l.Fields {
				assertPrintable(t, tf.name+" detail", f.Key+f.Value)
			}
		}
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"example.com":             "example.com",
		"\x1b[2J\x1b]0;pwn\x07":   ".[2J.]0;pwn.",
		"caf\xc3\xa9":             "café",
		"bad\xff\xfeutf8":         "bad..utf8",
		"rtl\u202eoverride\u200b": "rtl.override.",
		"tab\tnl\n\x7f\u0085":     "tab.nl...",
	} {
		if got := Printable([]byte(in)); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
	for b := 0; b < 256; b++ {
		c := PrintableASCII(byte(b))
		if c < 0x20 || c > 0x7e {
			t.Fatalf("PrintableASCII(%#x) = %#x", b, c)
		}
	}
}

func TestDetail(t *testing.T) {
	for _, tf := range testFrames(t) {
		ls := Detail(tf.data, len(tf.data))
		if len(ls) < 2 && tf.want&FlagMalformed == 0 {
			t.Errorf("%s: %d layers", tf.name, len(ls))
		}
		for _, l := range ls {
			if l.Offset < 0 || l.Length < 0 || l.Offset+l.Length > len(tf.data) {
				t.Errorf("%s: layer %s range %d+%d outside %d bytes", tf.name, l.Name, l.Offset, l.Length, len(tf.data))
			}
		}
	}
	var names []string
	for _, tf := range testFrames(t) {
		if tf.name == "vxlan-tcp" {
			for _, l := range Detail(tf.data, len(tf.data)) {
				names = append(names, fmt.Sprintf("%s@%d+%d", l.Name, l.Offset, l.Length))
			}
		}
	}
	want := "Frame@0+110 Ethernet II@0+14 IPv4@14+20 UDP@34+8 VXLAN@42+8 Ethernet II@50+14 IPv4@64+20 TCP@84+20"
	if got := strings.Join(names, " "); !strings.HasPrefix(got, want) {
		t.Errorf("vxlan detail:\n got %s\nwant %s", got, want)
	}
}
