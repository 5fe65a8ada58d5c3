package decode

import "bytes"

// Application hints are parsed by hand from the first transport payload
// bytes: bounds-checked, allocation-free, best effort. They never fail a
// decode; anything unexpected just leaves App unset.

// parseUDPApp looks for DNS on UDP.
func parseUDPApp(p []byte, s *Summary) {
	if isDNSPort(s.SrcPort) || isDNSPort(s.DstPort) {
		parseDNS(p, s)
	}
}

func isDNSPort(p uint16) bool { return p == 53 || p == 5353 || p == 5355 }

// parseTCPApp looks for DNS (with its 2-byte length prefix), a TLS record
// or an HTTP/1.x first line.
func parseTCPApp(p []byte, s *Summary) {
	if len(p) == 0 {
		return
	}
	if s.SrcPort == 53 || s.DstPort == 53 {
		if len(p) > 2 {
			parseDNS(p[2:], s)
		}
		return
	}
	if parseTLS(p, s) {
		return
	}
	parseHTTP(p, s)
}

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

// parseDNS reads the header, the first question and the first A/AAAA
// answer of a DNS message.
func parseDNS(p []byte, s *Summary) {
	if len(p) < 12 {
		return
	}
	flags := be16(p[2:])
	if flags>>11&0xf > 5 { // opcode: not DNS-looking
		return
	}
	s.App = AppDNS
	s.DNSID = be16(p)
	s.DNSResp = flags&0x8000 != 0
	s.DNSRcode = uint8(flags & 0xf)
	qd, an := be16(p[4:]), be16(p[6:])
	s.DNSAnswers = an
	off := 12
	if qd == 0 {
		return
	}
	off, ok := dnsName(p, off, s)
	if !ok || off+4 > len(p) {
		return
	}
	s.DNSQType = be16(p[off:])
	off += 4
	for i := 1; i < int(qd); i++ { // skip any further questions
		if off, ok = dnsName(p, off, nil); !ok || off+4 > len(p) {
			return
		}
		off += 4
	}
	for i := 0; i < int(an) && i < 16; i++ {
		if off, ok = dnsName(p, off, nil); !ok || off+10 > len(p) {
			return
		}
		typ, rdlen := be16(p[off:]), int(be16(p[off+8:]))
		off += 10
		if off+rdlen > len(p) {
			return
		}
		if typ == 1 && rdlen == 4 || typ == 28 && rdlen == 16 {
			s.DNSAnswer = addrFrom(p[off : off+rdlen])
			return
		}
		off += rdlen
	}
}

// dnsName reads the (possibly compressed) domain name at off. If s is not
// nil the name is written to its text as "label.label.". It returns the
// offset just past the name as it appears at off.
func dnsName(p []byte, off int, s *Summary) (int, bool) {
	end := -1 // offset after the name at its original position
	jumps := 0
	wrote := false
	for {
		if off >= len(p) {
			return 0, false
		}
		l := int(p[off])
		switch {
		case l == 0:
			if end < 0 {
				end = off + 1
			}
			if s != nil && !wrote {
				s.addText([]byte{'.'})
			}
			return end, true
		case l&0xc0 == 0xc0:
			if off+2 > len(p) {
				return 0, false
			}
			if end < 0 {
				end = off + 2
			}
			jumps++
			if jumps > 16 {
				return 0, false
			}
			off = int(be16(p[off:]) & 0x3fff)
		case l&0xc0 != 0:
			return 0, false // extended label types are obsolete
		default:
			if off+1+l > len(p) {
				return 0, false
			}
			if s != nil {
				s.addText(p[off+1 : off+1+l])
				s.addText([]byte{'.'})
				wrote = true
			}
			off += 1 + l
		}
	}
}

// parseTLS recognises a TLS record header and, in a ClientHello, the
// server name. It reports whether p looked like TLS.
func parseTLS(p []byte, s *Summary) bool {
	if len(p) < 5 || p[0] < 20 || p[0] > 23 || p[1] != 3 || p[2] > 4 {
		return false
	}
	s.App = AppTLS
	s.TLSRecord = p[0]
	s.TLSVers = be16(p[1:])
	if p[0] != 22 || len(p) < 6 {
		return true
	}
	s.TLSHS = p[5]
	if p[5] != 1 {
		return true
	}
	// ClientHello: handshake header (4), version (2), random (32),
	// session id, cipher suites, compression methods, extensions.
	c := cursor{b: p, off: 9 + 2 + 32, ok: true}
	c.skip8()
	c.skip16()
	c.skip8()
	extEnd := c.off + 2 + int(c.u16())
	for c.ok && c.off+4 <= min(extEnd, len(p)) {
		typ, l := c.u16(), int(c.u16())
		if typ != 0 { // server_name
			c.off += l
			continue
		}
		c.u16() // server name list length
		if c.u8() != 0 {
			break // not a host_name
		}
		n := int(c.u16())
		if c.ok && c.off < len(p) {
			s.setText(p[c.off:min(c.off+n, len(p))])
		}
		break
	}
	return true
}

// cursor reads big-endian fields from b, clearing ok once it runs out.
type cursor struct {
	b   []byte
	off int
	ok  bool
}

func (c *cursor) u8() uint8 {
	if c.off < 0 || c.off+1 > len(c.b) {
		c.ok = false
		return 0
	}
	c.off++
	return c.b[c.off-1]
}

func (c *cursor) u16() uint16 {
	if c.off < 0 || c.off+2 > len(c.b) {
		c.ok = false
		return 0
	}
	c.off += 2
	return be16(c.b[c.off-2:])
}

func (c *cursor) skip8()  { c.off += int(c.u8()) }
func (c *cursor) skip16() { c.off += int(c.u16()) }

var httpMethods = [...]string{
	"GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE ", "PRI ",
}

// parseHTTP recognises an HTTP/1.x request or status line.
func parseHTTP(p []byte, s *Summary) {
	ok := bytes.HasPrefix(p, []byte("HTTP/1."))
	for i := 0; !ok && i < len(httpMethods); i++ {
		ok = bytes.HasPrefix(p, []byte(httpMethods[i]))
	}
	if !ok {
		return
	}
	s.App = AppHTTP
	p = p[:min(len(p), textCap+1)] // a longer line is cut anyway
	if i := bytes.IndexAny(p, "\r\n"); i >= 0 {
		p = p[:i]
	}
	s.setText(p)
}
