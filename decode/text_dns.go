package decode

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// appendDNS prints a DNS message as tcpdump does without -v: the id and
// flags, the question of a query, the counts and answers of a response,
// and the message's length in parentheses.
func appendDNS(b []byte, m []byte, length int, verbose bool) []byte {
	if len(m) < 12 {
		return append(b, "[|domain]"...)
	}
	id := binary.BigEndian.Uint16(m[0:2])
	f1, f2 := m[2], m[3]
	qd, an := binary.BigEndian.Uint16(m[4:6]), binary.BigEndian.Uint16(m[6:8])
	ns, ar := binary.BigEndian.Uint16(m[8:10]), binary.BigEndian.Uint16(m[10:12])
	b = strconv.AppendUint(b, uint64(id), 10)
	op := f1 >> 3 & 0xf
	b = append(b, dnsOps[op]...)
	off := 12
	ok := true
	if f1&0x80 != 0 { // a response
		b = append(b, dnsRcodes(f2&0xf)...)
		if f1&0x04 != 0 {
			b = append(b, '*')
		}
		if f2&0x80 == 0 {
			b = append(b, '-')
		}
		if f1&0x02 != 0 {
			b = append(b, '|')
		}
		if f2&0x20 != 0 {
			b = append(b, '$')
		}
		if qd != 1 {
			b = appendCount(b, qd, "q")
		}
		for i := 0; i < int(qd) && ok; i++ { // skip the questions
			off, ok = skipName(m, off)
			off += 4
			ok = ok && off <= len(m)
		}
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(an), 10)
		b = append(b, '/')
		b = strconv.AppendUint(b, uint64(ns), 10)
		b = append(b, '/')
		b = strconv.AppendUint(b, uint64(ar), 10)
		for i := 0; i < int(an) && ok; i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b, off, ok = appendRR(b, m, off, verbose)
		}
	} else {
		if f1&0x01 != 0 {
			b = append(b, '+')
		}
		if f2&0x10 != 0 {
			b = append(b, '%')
		}
		if qd != 1 {
			b = appendCount(b, qd, "q")
		}
		if an != 0 {
			b = appendCount(b, an, "a")
		}
		if ns != 0 {
			b = appendCount(b, ns, "n")
		}
		if ar != 0 {
			b = appendCount(b, ar, "au")
		}
		if qd > 0 {
			b = append(b, ' ')
			end, nameOK := skipName(m, off)
			ok = nameOK && end+4 <= len(m)
		}
		if qd > 0 && ok {
			end, _ := skipName(m, off)
			b = append(b, dnsTypeName(binary.BigEndian.Uint16(m[end:]))...)
			if cl := binary.BigEndian.Uint16(m[end+2:]) &^ 0x8000; cl != 1 {
				b = append(b, " CLASS"...)
				b = strconv.AppendUint(b, uint64(cl), 10)
			}
			b = append(b, "? "...)
			b, _, ok = appendName(b, m, off)
		}
	}
	if !ok {
		return append(b, " [|domain]"...)
	}
	b = append(b, " ("...)
	b = strconv.AppendInt(b, int64(length), 10)
	return append(b, ')')
}

var dnsOps = [16]string{"", " inv_q", " stat", " op3", " notify", " update", " op6", " op7",
	" op8", " updateA", " updateD", " updateDA", " updateM", " updateMA", " zoneInit", " zoneRef"}

func dnsRcodes(r uint8) string {
	names := [...]string{"", " FormErr", " ServFail", " NXDomain", " NotImp", " Refused", " YXDomain",
		" YXRRSet", " NXRRSet", " NotAuth", " NotZone", " Resp11", " Resp12", " Resp13", " Resp14", " NoChange"}
	return names[r&0xf]
}

func appendCount(b []byte, n uint16, what string) []byte {
	b = append(b, " ["...)
	b = strconv.AppendUint(b, uint64(n), 10)
	b = append(b, what...)
	return append(b, ']')
}

// appendRR prints one answer: its type and, for the common ones, its data.
func appendRR(b, m []byte, off int, verbose bool) ([]byte, int, bool) {
	if verbose { // -v names the owner of each answer
		b = append(b, ' ')
		var ok bool
		if b, _, ok = appendName(b, m, off); !ok {
			return b, off, false
		}
	}
	off, ok := skipName(m, off)
	if !ok || off+10 > len(m) {
		return b, off, false
	}
	typ := binary.BigEndian.Uint16(m[off:])
	rdlen := int(binary.BigEndian.Uint16(m[off+8:]))
	rd := off + 10
	next := rd + rdlen
	if next > len(m) {
		return b, off, false
	}
	b = append(b, ' ')
	b = append(b, dnsTypeName(typ)...)
	switch {
	case typ == 1 && rdlen == 4:
		b = append(b, ' ')
		b = netip.AddrFrom4([4]byte(m[rd:next])).AppendTo(b)
	case typ == 28 && rdlen == 16:
		b = append(b, ' ')
		b = netip.AddrFrom16([16]byte(m[rd:next])).AppendTo(b)
	case typ == 2 || typ == 5 || typ == 12:
		b = append(b, ' ')
		b, _, ok = appendName(b, m, rd)
	case typ == 15 && rdlen > 2:
		b = append(b, ' ')
		b, _, ok = appendName(b, m, rd+2)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(m[rd:])), 10)
	}
	return b, next, ok
}

// skipName returns the offset after the name at off.
func skipName(m []byte, off int) (int, bool) {
	for off < len(m) {
		l := int(m[off])
		switch {
		case l == 0:
			return off + 1, true
		case l&0xc0 == 0xc0:
			return off + 2, off+2 <= len(m)
		case l&0xc0 != 0:
			return off, false
		}
		off += 1 + l
	}
	return off, false
}

// appendName prints the name at off ("example.com."), following
// compression pointers a bounded number of times; it returns the offset
// after the name where it starts.
func appendName(b, m []byte, off int) ([]byte, int, bool) {
	end := -1
	printed := false
	for hops := 0; hops < 64; hops++ {
		if off >= len(m) {
			return b, end, false
		}
		l := int(m[off])
		switch {
		case l == 0:
			if end < 0 {
				end = off + 1
			}
			if !printed {
				b = append(b, '.')
			}
			return b, end, true
		case l&0xc0 == 0xc0:
			if off+2 > len(m) {
				return b, end, false
			}
			if end < 0 {
				end = off + 2
			}
			off = int(binary.BigEndian.Uint16(m[off:]) & 0x3fff)
			continue
		case l&0xc0 != 0:
			return b, end, false
		}
		if off+1+l > len(m) {
			return b, end, false
		}
		for _, c := range m[off+1 : off+1+l] {
			b = append(b, PrintableASCII(c))
		}
		b = append(b, '.')
		printed = true
		off += 1 + l
	}
	return b, end, false
}
