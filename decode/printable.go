package decode

import (
	"unicode"
	"unicode/utf8"
)

// replacement stands in for every byte or rune that is not safe to print.
const replacement = '.'

// PrintableASCII returns b if it is a printable ASCII character (space
// through '~') and '.' otherwise. The hex pane uses it for its ASCII column.
func PrintableASCII(b byte) byte {
	if b >= 0x20 && b < 0x7f {
		return b
	}
	return replacement
}

// Printable returns b as a string that is safe to write to a terminal:
// valid UTF-8 made only of printable runes (unicode.IsPrint). Control
// bytes, escape sequences, format characters (bidi overrides, zero-width
// joiners) and invalid UTF-8 are each replaced with '.'.
func Printable(b []byte) string {
	clean := true
	for _, c := range b {
		if c < 0x20 || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return string(b)
	}
	return string(appendPrintable(make([]byte, 0, len(b)), b))
}

// printableString is Printable for a string.
func printableString(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return string(appendPrintable(make([]byte, 0, len(s)), []byte(s)))
		}
	}
	return s
}

// appendPrintable appends the printable form of b to dst.
func appendPrintable(dst, b []byte) []byte {
	for len(b) > 0 {
		c := b[0]
		if c >= 0x20 && c < 0x7f {
			dst = append(dst, c)
			b = b[1:]
			continue
		}
		r, size := utf8.DecodeRune(b)
		b = b[size:]
		if r == utf8.RuneError && size <= 1 || !unicode.IsPrint(r) {
			dst = append(dst, replacement)
			continue
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}
