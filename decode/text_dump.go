package decode

import "strconv"

// The hex and ASCII dumps after a text line (-x, -xx, -X, -XX, -A, -AA),
// in tcpdump's layout (print-ascii.c): 16 bytes a line, in groups of two,
// each line "\n\t0x0000:  4500 0054 ..." and with -X the bytes again as
// ASCII, everything outside '!' to '~' shown as '.'.

// appendDump appends the dump the options ask for of data, whose
// link-layer header is hdrLen bytes.
func (t *TextPrinter) appendDump(b, data []byte, hdrLen int) []byte {
	o := t.opt
	var level int
	switch {
	case o.HexASCII > 0:
		level = o.HexASCII
	case o.Hex > 0:
		level = o.Hex
	case o.ASCII > 0:
		level = o.ASCII
	default:
		return b
	}
	if level < 2 {
		if len(data) <= hdrLen {
			return b
		}
		data = data[hdrLen:]
	}
	switch {
	case o.HexASCII > 0:
		return AppendHexASCII(b, data)
	case o.Hex > 0:
		return AppendHex(b, data)
	}
	return AppendASCII(b, data)
}

func isGraph(c byte) bool { return c > ' ' && c < 0x7f }

func appendOffset(b []byte, off int) []byte {
	b = append(b, "\n\t0x"...)
	h := strconv.AppendUint(make([]byte, 0, 8), uint64(off), 16)
	for i := len(h); i < 4; i++ {
		b = append(b, '0')
	}
	b = append(b, h...)
	return append(b, ": "...)
}

// AppendHex appends data as tcpdump -x prints it.
func AppendHex(b, data []byte) []byte {
	for i := 0; i < len(data); i += 2 {
		if i%16 == 0 {
			b = appendOffset(b, i)
		}
		b = append(b, ' ', hexDigits[data[i]>>4], hexDigits[data[i]&0xf])
		if i+1 < len(data) {
			b = append(b, hexDigits[data[i+1]>>4], hexDigits[data[i+1]&0xf])
		}
	}
	return b
}

// AppendHexASCII appends data as tcpdump -X prints it.
func AppendHexASCII(b, data []byte) []byte {
	for off := 0; off < len(data); off += 16 {
		line := data[off:min(off+16, len(data))]
		b = appendOffset(b, off)
		n := len(b)
		for i := 0; i < len(line); i += 2 {
			b = append(b, ' ', hexDigits[line[i]>>4], hexDigits[line[i]&0xf])
			if i+1 < len(line) {
				b = append(b, hexDigits[line[i+1]>>4], hexDigits[line[i+1]&0xf])
			}
		}
		for len(b)-n < 40 {
			b = append(b, ' ')
		}
		b = append(b, "  "...)
		for _, c := range line {
			if !isGraph(c) {
				c = '.'
			}
			b = append(b, c)
		}
	}
	return b
}

// AppendASCII appends data as tcpdump -A prints it: a new line, then the
// bytes, with tabs, spaces and line feeds kept, a carriage return dropped
// before a line feed, and every other byte outside '!' to '~' as '.'.
func AppendASCII(b, data []byte) []byte {
	b = append(b, '\n')
	for i, c := range data {
		switch {
		case c == '\r':
			// tcpdump: dropped at the end of a line, a '.' in the middle.
			if left := len(data) - i - 1; left > 1 && data[i+1] != '\n' {
				b = append(b, '.')
			}
		case isGraph(c) || c == '\t' || c == ' ' || c == '\n':
			b = append(b, c)
		default:
			b = append(b, '.')
		}
	}
	return b
}
