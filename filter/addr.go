package filter

import (
	"net/netip"
	"strconv"
	"strings"
)

// parseMAC parses an Ethernet address written as 6 groups of 1-2 hex digits
// separated by ':' or '-' (0:1:2:3:4:5, 00-01-02-03-04-05), as 3 groups of 4
// hex digits separated by '.' (0001.0203.0405).
func parseMAC(w string) ([6]byte, bool) {
	var mac [6]byte
	hexByte := func(s string) (byte, bool) {
		if len(s) < 1 || len(s) > 2 {
			return 0, false
		}
		v, err := strconv.ParseUint(s, 16, 8)
		return byte(v), err == nil
	}
	for _, sep := range []string{":", "-"} {
		parts := strings.Split(w, sep)
		if len(parts) != 6 {
			continue
		}
		for i, p := range parts {
			b, ok := hexByte(p)
			if !ok {
				return mac, false
			}
			mac[i] = b
		}
		return mac, true
	}
	if len(w) == 12 && !strings.ContainsAny(w, ".:-") { // xxxxxxxxxxxx, as libpcap takes it too
		for i := range 6 {
			b, ok := hexByte(w[2*i : 2*i+2])
			if !ok {
				return mac, false
			}
			mac[i] = b
		}
		return mac, true
	}
	parts := strings.Split(w, ".")
	if len(parts) != 3 {
		return mac, false
	}
	for i, p := range parts {
		if len(p) != 4 {
			return mac, false
		}
		hi, ok1 := hexByte(p[:2])
		lo, ok2 := hexByte(p[2:])
		if !ok1 || !ok2 {
			return mac, false
		}
		mac[2*i], mac[2*i+1] = hi, lo
	}
	return mac, true
}

func isMAC(w string) bool {
	_, ok := parseMAC(w)
	return ok && strings.Contains(w, ":")
}

func isIPv6(w string) bool {
	a, err := netip.ParseAddr(w)
	return err == nil && a.Is6() && a.Zone() == ""
}

// parseNum parses a number as libpcap does: 0x... is hex, a leading 0 is
// octal, otherwise decimal; it must fit in 32 bits.
func parseNum(w string) (uint32, bool) {
	if w == "" || w[0] < '0' || w[0] > '9' {
		return 0, false
	}
	v, err := strconv.ParseUint(w, 0, 32)
	if err != nil {
		return 0, false
	}
	return uint32(v), true
}

// parseIPv4Net parses a possibly partial dotted IPv4 network as libpcap's
// __pcap_atonet does: "10" is 10.0.0.0 with an implied /8, "10.1" is
// 10.1.0.0/16, "10.1.2" /24 and "10.1.2.3" /32. Each part is decimal 0-255.
func parseIPv4Net(w string) (addr uint32, bits int, ok bool) {
	parts := strings.Split(w, ".")
	if len(parts) > 4 {
		return 0, 0, false
	}
	for _, p := range parts {
		if p == "" || len(p) > 3 {
			return 0, 0, false
		}
		v, err := strconv.ParseUint(p, 10, 8)
		if err != nil {
			return 0, 0, false
		}
		addr = addr<<8 | uint32(v)
	}
	addr <<= 8 * uint(4-len(parts))
	return addr, 8 * len(parts), true
}

// parseIPv4 parses a full dotted-quad IPv4 address.
func parseIPv4(w string) (uint32, bool) {
	a, err := netip.ParseAddr(w)
	if err != nil || !a.Is4() {
		return 0, false
	}
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), true
}

// ipProtoNames are the IP protocol names accepted after "proto": the names
// and aliases of netbase's /etc/protocols, where libpcap's getprotobyname
// finds them on Debian (so icmp6 is not one: ipv6-icmp is).
var ipProtoNames = map[string]uint32{
	"ip": 0, "IP": 0, "hopopt": 0, "HOPOPT": 0, "icmp": 1, "ICMP": 1, "igmp": 2, "IGMP": 2, "ggp": 3, "GGP": 3,
	"ipencap": 4, "IP-ENCAP": 4, "st": 5, "ST": 5, "tcp": 6, "TCP": 6, "egp": 8, "EGP": 8, "igp": 9, "IGP": 9,
	"pup": 12, "PUP": 12, "udp": 17, "UDP": 17, "hmp": 20, "HMP": 20, "xns-idp": 22, "XNS-IDP": 22, "rdp": 27,
	"RDP": 27, "iso-tp4": 29, "ISO-TP4": 29, "dccp": 33, "DCCP": 33, "xtp": 36, "XTP": 36, "ddp": 37, "DDP": 37,
	"idpr-cmtp": 38, "IDPR-CMTP": 38, "ipv6": 41, "IPv6": 41, "ipv6-route": 43, "IPv6-Route": 43,
	"ipv6-frag": 44, "IPv6-Frag": 44, "idrp": 45, "IDRP": 45, "rsvp": 46, "RSVP": 46, "gre": 47, "GRE": 47,
	"esp": 50, "IPSEC-ESP": 50, "ah": 51, "IPSEC-AH": 51, "skip": 57, "SKIP": 57, "ipv6-icmp": 58,
	"IPv6-ICMP": 58, "ipv6-nonxt": 59, "IPv6-NoNxt": 59, "ipv6-opts": 60, "IPv6-Opts": 60, "rspf": 73,
	"RSPF": 73, "CPHB": 73, "vmtp": 81, "VMTP": 81, "eigrp": 88, "EIGRP": 88, "ospf": 89, "OSPFIGP": 89,
	"ax.25": 93, "AX.25": 93, "ipip": 94, "IPIP": 94, "etherip": 97, "ETHERIP": 97, "encap": 98, "ENCAP": 98,
	"pim": 103, "PIM": 103, "ipcomp": 108, "IPCOMP": 108, "vrrp": 112, "VRRP": 112, "l2tp": 115, "L2TP": 115,
	"isis": 124, "ISIS": 124, "sctp": 132, "SCTP": 132, "fc": 133, "FC": 133, "mobility-header": 135,
	"Mobility-Header": 135, "udplite": 136, "UDPLite": 136, "mpls-in-ip": 137, "MPLS-in-IP": 137, "manet": 138,
	"hip": 139, "HIP": 139, "shim6": 140, "Shim6": 140, "wesp": 141, "WESP": 141, "rohc": 142, "ROHC": 142,
	"ethernet": 143, "Ethernet": 143,
}

// etherProtoNames are the names accepted after "ether proto".
var etherProtoNames = map[string]uint32{
	"ip": 0x0800, "ip6": 0x86dd, "arp": 0x0806, "rarp": 0x8035, "vlan": 0x8100,
	"802.1q": 0x8100, "802.1ad": 0x88a8, "mpls": 0x8847, "pppoed": 0x8863, "pppoes": 0x8864,
	"lldp": 0x88cc, "decnet": 0x6003, "lat": 0x6004, "sca": 0x6007, "moprc": 0x6002,
	"mopdl": 0x6001, "loopback": 0x9000, "atalk": 0x809b, "aarp": 0x80f3,
	"iso": 0xfe, "stp": 0x42, "ipx": 0xe0, "netbeui": 0xf0, // LLC SAPs, as libpcap's pcap_nametollc
}

// service is a port name: its number and the transport protocols
// /etc/services gives it as libpcap finds them (pcap_nametoport:
// protoTCP, protoUDP, or anyProtocol when both, which then means TCP, UDP
// and SCTP).
type service struct {
	port  uint32
	proto int
}

// serviceNames are the port names accepted by port and portrange (the
// /etc/services entries people type), with the protocols libpcap 1.10 on
// Linux (glibc, Debian's /etc/services) restricts them to, so that no
// lookup is needed.
var serviceNames = map[string]service{
	"ftp-data": {20, protoTCP}, "ftp": {21, protoTCP}, "ssh": {22, protoTCP}, "telnet": {23, protoTCP},
	"smtp": {25, protoTCP}, "domain": {53, anyProtocol}, "bootps": {67, protoUDP}, "bootpc": {68, protoUDP},
	"tftp": {69, protoUDP}, "http": {80, protoTCP}, "www": {80, protoTCP}, "kerberos": {88, anyProtocol},
	"pop3": {110, protoTCP}, "sunrpc": {111, anyProtocol}, "ntp": {123, protoUDP}, "netbios-ns": {137, protoUDP},
	"netbios-dgm": {138, protoUDP}, "netbios-ssn": {139, protoTCP}, "imap": {143, protoTCP},
	"snmp": {161, anyProtocol}, "snmp-trap": {162, anyProtocol}, "bgp": {179, protoTCP}, "ldap": {389, anyProtocol},
	"https": {443, anyProtocol}, "microsoft-ds": {445, protoTCP}, "syslog": {514, anyProtocol},
	"submission": {587, protoTCP}, "ldaps": {636, anyProtocol}, "imaps": {993, protoTCP}, "pop3s": {995, protoTCP},
	"openvpn": {1194, anyProtocol}, "mysql": {3306, protoTCP}, "postgresql": {5432, protoTCP}, "mdns": {5353, protoUDP},
	"http-alt": {8080, protoTCP},
}
