package ansisvg

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestGolden renders testdata/*.ans and compares with the .svg.golden
// beside each (go test -update rewrites them).
func TestGolden(t *testing.T) {
	ins, err := filepath.Glob(filepath.Join("testdata", "*.ans"))
	if err != nil || len(ins) == 0 {
		t.Fatalf("no testdata/*.ans: %v", err)
	}
	for _, in := range ins {
		t.Run(filepath.Base(in), func(t *testing.T) {
			b, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := Render(&out, Parse(b), Options{Title: "sample"}); err != nil {
				t.Fatal(err)
			}
			wellFormed(t, out.Bytes())
			golden := strings.TrimSuffix(in, ".ans") + ".svg.golden"
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("%s differs from %s (go test -update rewrites it):\n%s", in, golden, out.Bytes())
			}
		})
	}
}

// wellFormed fails unless b parses as XML to the end.
func wellFormed(t *testing.T, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, b)
		}
	}
}

func render(t *testing.T, in string, opt Options) string {
	t.Helper()
	var out bytes.Buffer
	if err := Render(&out, Parse([]byte(in)), opt); err != nil {
		t.Fatal(err)
	}
	wellFormed(t, out.Bytes())
	return out.String()
}

func TestRenderEscapes(t *testing.T) {
	svg := render(t, "<a href=\"x\">&'\x1b[1m]]></a>\n", Options{Title: "a < b & \"c\""})
	for _, want := range []string{
		`&lt;a href=&quot;x&quot;&gt;&amp;&apos;</text>`,
		`class="b">]]&gt;&lt;/a&gt;</text>`,
		`<title>a &lt; b &amp; &quot;c&quot;</title>`,
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("missing %s in\n%s", want, svg)
		}
	}
}

func TestRenderColours(t *testing.T) {
	opt := Options{Foreground: "#aaaaaa", Background: "#111111"}
	for _, tc := range []struct {
		name, in string
		want     []string
		not      []string
	}{
		{"default", "ab", []string{`fill="#aaaaaa" textLength="16.8"`}, []string{`<rect x=`}},
		{"16", "\x1b[31;44mab", []string{`fill="#cd3131"`, `<rect x="12" y="12" width="16.8" height="17.5" fill="#2472c8"/>`}, nil},
		{"256", "\x1b[38;5;208mab", []string{`fill="#ff8700"`}, nil},
		{"truecolor", "\x1b[38;2;1;2;3;48;2;4;5;6mab", []string{`fill="#010203"`, `fill="#040506"/>`}, nil},
		{"reverse default", "\x1b[7mab", []string{`fill="#aaaaaa"/>`, `fill="#111111" textLength`}, nil},
		{"reverse colours", "\x1b[7;31;42mab", []string{`fill="#cd3131"/>`, `fill="#0dbc79" textLength`}, nil},
		{"bold", "\x1b[1mab", []string{`class="b"`}, nil},
		{"bold italic underline faint", "\x1b[1;2;3;4mab", []string{`class="b i u f"`}, nil},
		{"blanks", "  ab  \x1b[4m  ", []string{`<text x="28.8" y="25.65" fill="#aaaaaa" textLength="16.8" lengthAdjust="spacingAndGlyphs">ab</text>`, `class="u">  </text>`}, nil},
		{"blank line", "\n\n", nil, []string{`<text`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svg := render(t, tc.in, opt)
			for _, w := range tc.want {
				if !strings.Contains(svg, w) {
					t.Errorf("missing %s in\n%s", w, svg)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(svg, n) {
					t.Errorf("unexpected %s in\n%s", n, svg)
				}
			}
		})
	}
}

func TestRenderSize(t *testing.T) {
	// 120×34 cells of 8.4×17.5 px, 12 px around.
	svg := render(t, "abc\n", Options{Cols: 120, Rows: 34})
	if !strings.Contains(svg, `width="1032" height="619" viewBox="0 0 1032 619"`) {
		t.Errorf("wrong size:\n%s", svg)
	}
	// Lines past Rows and cells past Cols are cut.
	svg = render(t, "abcdef\nxyz\n", Options{Cols: 3, Rows: 1})
	if !strings.Contains(svg, ">abc</text>") || strings.Contains(svg, "def") || strings.Contains(svg, "xyz") {
		t.Errorf("not cut to 3×1:\n%s", svg)
	}
}

func TestEscapeXMLControls(t *testing.T) {
	if got := escapeXML("a\x01b\uFFFEc"); got != "a\uFFFDb\uFFFDc" {
		t.Errorf("escapeXML = %q", got)
	}
}
