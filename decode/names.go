package decode

import "strconv"

// etherTypeName returns a short name for an EtherType, or its hex value.
func etherTypeName(t uint16) string {
	switch t {
	case 0x0000:
		return "LLC"
	case 0x0800:
		return "IPv4"
	case 0x0806:
		return "ARP"
	case 0x86dd:
		return "IPv6"
	case 0x8100:
		return "802.1Q"
	case 0x88a8:
		return "802.1ad"
	case 0x8035:
		return "RARP"
	case 0x88cc:
		return "LLDP"
	case 0x8847:
		return "MPLS"
	case 0x8848:
		return "MPLS-mcast"
	case 0x8863:
		return "PPPoE-disc"
	case 0x8864:
		return "PPPoE"
	case 0x888e:
		return "EAPOL"
	case 0x8809:
		return "Slow"
	case 0x88f7:
		return "PTP"
	case 0x8892:
		return "PROFINET"
	case 0x88e5:
		return "MACsec"
	case 0x8902:
		return "CFM"
	case 0x9000:
		return "Loopback"
	case 0x0842:
		return "WoL"
	case 0x22f0:
		return "AVTP"
	case 0x893a:
		return "IEEE1905"
	case 0x88b5, 0x88b6:
		return "Experimental"
	case 0x88be:
		return "ERSPAN"
	case 0x22eb:
		return "ERSPAN-III"
	case 0x6558:
		return "Ethernet bridging"
	case 0x880b:
		return "PPP"
	case 0x883e:
		return "WCCP"
	case 0x2001:
		return "NHRP" // Cisco's number for NHRP in GRE
	case 0x8909:
		return "Cisco MetaData"
	}
	return "0x" + string(appendHex16(nil, t))
}

// ipProtoName returns a short name for an IP protocol number.
func ipProtoName(p uint8) string {
	switch p {
	case ProtoICMP:
		return "ICMP"
	case 2:
		return "IGMP"
	case 4:
		return "IPIP"
	case ProtoTCP:
		return "TCP"
	case ProtoUDP:
		return "UDP"
	case 41:
		return "IPv6"
	case ProtoGRE:
		return "GRE"
	case 50:
		return "ESP"
	case 51:
		return "AH"
	case ProtoICMPv6:
		return "ICMPv6"
	case 59:
		return "NoNext"
	case 88:
		return "EIGRP"
	case 89:
		return "OSPF"
	case 103:
		return "PIM"
	case 112:
		return "VRRP"
	case 115:
		return "L2TP"
	case ProtoSCTP:
		return "SCTP"
	case 136:
		return "UDPLite"
	}
	return "IP/" + strconv.Itoa(int(p))
}

// icmp4Name names an ICMPv4 type and code in tcpdump's words, or returns "".
func icmp4Name(t, c uint8) string {
	switch t {
	case 0:
		return "echo reply"
	case 3:
		switch c {
		case 0:
			return "net unreachable"
		case 1:
			return "host unreachable"
		case 2:
			return "protocol unreachable"
		case 3:
			return "port unreachable"
		case 4:
			return "need to frag"
		case 9, 10, 13:
			return "admin prohibited"
		}
		return "unreachable"
	case 4:
		return "source quench"
	case 5:
		return "redirect"
	case 8:
		return "echo request"
	case 9:
		return "router advertisement"
	case 10:
		return "router solicitation"
	case 11:
		if c == 1 {
			return "fragment reassembly time exceeded"
		}
		return "time exceeded in-transit"
	case 12:
		return "parameter problem"
	case 13:
		return "time stamp request"
	case 14:
		return "time stamp reply"
	}
	return ""
}

// icmp6Name names an ICMPv6 type and code, or returns "".
func icmp6Name(t, c uint8) string {
	switch t {
	case 1:
		switch c {
		case 0:
			return "unreachable route"
		case 1:
			return "unreachable prohibited"
		case 3:
			return "unreachable address"
		case 4:
			return "unreachable port"
		}
		return "destination unreachable"
	case 2:
		return "packet too big"
	case 3:
		return "time exceeded in-transit"
	case 4:
		return "parameter problem"
	case 128:
		return "echo request"
	case 129:
		return "echo reply"
	case 130:
		return "multicast listener query"
	case 131:
		return "multicast listener report"
	case 132:
		return "multicast listener done"
	case 133:
		return "router solicitation"
	case 134:
		return "router advertisement"
	case 135:
		return "neighbor solicitation, who has"
	case 136:
		return "neighbor advertisement, tgt is"
	case 137:
		return "redirect"
	case 143:
		return "multicast listener report v2"
	}
	return ""
}

// dnsTypeName names a DNS RR type.
func dnsTypeName(t uint16) string {
	switch t {
	case 1:
		return "A"
	case 2:
		return "NS"
	case 5:
		return "CNAME"
	case 6:
		return "SOA"
	case 12:
		return "PTR"
	case 13:
		return "HINFO"
	case 15:
		return "MX"
	case 16:
		return "TXT"
	case 28:
		return "AAAA"
	case 33:
		return "SRV"
	case 35:
		return "NAPTR"
	case 41:
		return "OPT"
	case 43:
		return "DS"
	case 46:
		return "RRSIG"
	case 47:
		return "NSEC"
	case 48:
		return "DNSKEY"
	case 64:
		return "SVCB"
	case 65:
		return "HTTPS"
	case 252:
		return "AXFR"
	case 255:
		return "ANY"
	case 257:
		return "CAA"
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// dnsRcodeName names a DNS response code.
func dnsRcodeName(r uint8) string {
	switch r {
	case 0:
		return "NoError"
	case 1:
		return "FormErr"
	case 2:
		return "ServFail"
	case 3:
		return "NXDomain"
	case 4:
		return "NotImp"
	case 5:
		return "Refused"
	}
	return "rcode" + strconv.Itoa(int(r))
}

// tlsName names a TLS record (and handshake message).
func tlsName(record, hs uint8) string {
	switch record {
	case 20:
		return "ChangeCipherSpec"
	case 21:
		return "Alert"
	case 22:
		switch hs {
		case 1:
			return "ClientHello"
		case 2:
			return "ServerHello"
		case 4:
			return "NewSessionTicket"
		case 11:
			return "Certificate"
		case 12:
			return "ServerKeyExchange"
		case 14:
			return "ServerHelloDone"
		case 16:
			return "ClientKeyExchange"
		}
		return "Handshake"
	case 23:
		return "Application Data"
	}
	return "record " + strconv.Itoa(int(record))
}

// ospfTypeName names an OSPF packet type.
func ospfTypeName(t uint8) string {
	switch t {
	case 1:
		return "Hello"
	case 2:
		return "Database Description"
	case 3:
		return "Link State Request"
	case 4:
		return "Link State Update"
	case 5:
		return "Link State Ack"
	}
	return "type " + strconv.Itoa(int(t))
}
