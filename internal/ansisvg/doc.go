// Package ansisvg renders terminal text with SGR colour escapes (what
// `tmux capture-pane -e -p` prints) as an SVG picture: one monospace cell
// per character, 16, 256 and 24-bit colours for text and background, bold,
// faint, italic, underline and reverse. The README's screenshot of the live
// view is made with it (scripts/screenshot.sh, `make screenshot`).
//
// It owns the parser (Parse: bytes to a grid of styled cells; other escape
// sequences and control characters are dropped) and the renderer (Render:
// the grid to SVG, every character XML-escaped). It is pure: no I/O beyond
// the io.Writer it is given, no goroutines. It imports the standard library
// only and no package of this module; only its command and tests use it.
package ansisvg
