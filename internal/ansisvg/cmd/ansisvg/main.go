// Command ansisvg renders terminal text with colour escapes, read from
// standard input (or a file), as SVG on standard output:
//
//	tmux capture-pane -e -p -t NAME | go run ./internal/ansisvg/cmd/ansisvg -cols 120 -rows 34 > shot.svg
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/bpftop-cap/bpftop-cap/internal/ansisvg"
)

func main() {
	var opt ansisvg.Options
	flag.IntVar(&opt.Cols, "cols", 0, "columns of the grid (0: the longest line)")
	flag.IntVar(&opt.Rows, "rows", 0, "rows of the grid (0: the number of lines)")
	flag.Float64Var(&opt.FontSize, "font-size", 14, "font size in pixels")
	flag.StringVar(&opt.Title, "title", "", "the picture's title (for screen readers)")
	out := flag.String("o", "-", "output `file` (- for standard output)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: ansisvg [-cols N] [-rows N] [-title T] [-o FILE] [INPUT]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(flag.Arg(0), *out, opt); err != nil {
		fmt.Fprintln(os.Stderr, "ansisvg:", err)
		os.Exit(1)
	}
}

func run(in, out string, opt ansisvg.Options) error {
	r := io.Reader(os.Stdin)
	if in != "" && in != "-" {
		f, err := os.Open(in)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	w := io.Writer(os.Stdout)
	if out != "-" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
		if err := ansisvg.Render(w, ansisvg.Parse(b), opt); err != nil {
			return fmt.Errorf("write %s: %w", out, err)
		}
		return f.Close()
	}
	return ansisvg.Render(w, ansisvg.Parse(b), opt)
}
