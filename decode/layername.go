package decode

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// layerNames are the names the packet detail gives gopacket's layer types,
// as Wireshark's protocol tree would; gopacket's own are Go identifiers.
var layerNames = map[gopacket.LayerType]string{
	gopacket.LayerTypePayload:                    "Data",
	gopacket.LayerTypeFragment:                   "Fragment data",
	gopacket.LayerTypeZero:                       "Unknown",
	layers.LayerTypeEthernet:                     "Ethernet II",
	layers.LayerTypeDot1Q:                        "802.1Q VLAN",
	layers.LayerTypeARP:                          "ARP",
	layers.LayerTypeIPv4:                         "IPv4",
	layers.LayerTypeIPv6:                         "IPv6",
	layers.LayerTypeIPv6HopByHop:                 "IPv6 Hop-by-Hop Options",
	layers.LayerTypeIPv6Routing:                  "IPv6 Routing Header",
	layers.LayerTypeIPv6Fragment:                 "IPv6 Fragment Header",
	layers.LayerTypeIPv6Destination:              "IPv6 Destination Options",
	layers.LayerTypeTCP:                          "TCP",
	layers.LayerTypeUDP:                          "UDP",
	layers.LayerTypeUDPLite:                      "UDP-Lite",
	layers.LayerTypeICMPv4:                       "ICMP",
	layers.LayerTypeICMPv6:                       "ICMPv6",
	layers.LayerTypeICMPv6Echo:                   "ICMPv6 Echo",
	layers.LayerTypeICMPv6RouterSolicitation:     "ICMPv6 Router Solicitation",
	layers.LayerTypeICMPv6RouterAdvertisement:    "ICMPv6 Router Advertisement",
	layers.LayerTypeICMPv6NeighborSolicitation:   "ICMPv6 Neighbor Solicitation",
	layers.LayerTypeICMPv6NeighborAdvertisement:  "ICMPv6 Neighbor Advertisement",
	layers.LayerTypeICMPv6Redirect:               "ICMPv6 Redirect",
	layers.LayerTypeMLDv1MulticastListenerReport: "MLDv1 Listener Report",
	layers.LayerTypeMLDv1MulticastListenerDone:   "MLDv1 Listener Done",
	layers.LayerTypeMLDv1MulticastListenerQuery:  "MLDv1 Listener Query",
	layers.LayerTypeMLDv2MulticastListenerReport: "MLDv2 Listener Report",
	layers.LayerTypeMLDv2MulticastListenerQuery:  "MLDv2 Listener Query",
	layers.LayerTypeIGMP:                         "IGMP",
	layers.LayerTypeGRE:                          "GRE",
	layers.LayerTypeEtherIP:                      "EtherIP",
	layers.LayerTypeMPLS:                         "MPLS",
	layers.LayerTypeLLC:                          "802.2 LLC",
	layers.LayerTypeSNAP:                         "802.2 SNAP",
	layers.LayerTypeSTP:                          "Spanning Tree (STP)",
	layers.LayerTypeCiscoDiscovery:               "Cisco Discovery (CDP)",
	layers.LayerTypeCiscoDiscoveryInfo:           "CDP information",
	layers.LayerTypeLinkLayerDiscovery:           "Link Layer Discovery (LLDP)",
	layers.LayerTypeLinkLayerDiscoveryInfo:       "LLDP information",
	layers.LayerTypeNortelDiscovery:              "Nortel Discovery (NDP)",
	layers.LayerTypeEthernetCTP:                  "Ethernet loopback (CTP)",
	layers.LayerTypeEthernetCTPForwardData:       "CTP forward data",
	layers.LayerTypeEthernetCTPReply:             "CTP reply",
	layers.LayerTypePPP:                          "PPP",
	layers.LayerTypePPPoE:                        "PPPoE",
	layers.LayerTypeEAP:                          "EAP",
	layers.LayerTypeEAPOL:                        "EAPOL (802.1X)",
	layers.LayerTypeEAPOLKey:                     "EAPOL key",
	layers.LayerTypeIPSecAH:                      "IPsec AH",
	layers.LayerTypeIPSecESP:                     "IPsec ESP",
	layers.LayerTypeSCTP:                         "SCTP",
	layers.LayerTypeSCTPData:                     "SCTP DATA chunk",
	layers.LayerTypeSCTPInit:                     "SCTP INIT chunk",
	layers.LayerTypeSCTPInitAck:                  "SCTP INIT ACK chunk",
	layers.LayerTypeSCTPSack:                     "SCTP SACK chunk",
	layers.LayerTypeSCTPHeartbeat:                "SCTP HEARTBEAT chunk",
	layers.LayerTypeSCTPHeartbeatAck:             "SCTP HEARTBEAT ACK chunk",
	layers.LayerTypeSCTPAbort:                    "SCTP ABORT chunk",
	layers.LayerTypeSCTPShutdown:                 "SCTP SHUTDOWN chunk",
	layers.LayerTypeSCTPShutdownAck:              "SCTP SHUTDOWN ACK chunk",
	layers.LayerTypeSCTPShutdownComplete:         "SCTP SHUTDOWN COMPLETE chunk",
	layers.LayerTypeSCTPCookieEcho:               "SCTP COOKIE ECHO chunk",
	layers.LayerTypeSCTPCookieAck:                "SCTP COOKIE ACK chunk",
	layers.LayerTypeSCTPError:                    "SCTP ERROR chunk",
	layers.LayerTypeSCTPEmptyLayer:               "SCTP padding",
	layers.LayerTypeSCTPUnknownChunkType:         "SCTP chunk of unknown type",
	layers.LayerTypeVXLAN:                        "VXLAN",
	layers.LayerTypeGeneve:                       "Geneve",
	layers.LayerTypeERSPANII:                     "ERSPAN type II",
	layers.LayerTypeVRRP:                         "VRRPv2",
	layers.LayerTypeBFD:                          "BFD",
	layers.LayerTypeDNS:                          "DNS",
	layers.LayerTypeDHCPv4:                       "DHCP",
	layers.LayerTypeDHCPv6:                       "DHCPv6",
	layers.LayerTypeNTP:                          "NTP",
	layers.LayerTypeSFlow:                        "sFlow",
	layers.LayerTypeRADIUS:                       "RADIUS",
	layers.LayerTypeTLS:                          "TLS",
	layers.LayerTypeSIP:                          "SIP",
	layers.LayerTypeGTPv1U:                       "GTPv1-U",
	layers.LayerTypeGTPv2:                        "GTPv2",
	layers.LayerTypeModbusTCP:                    "Modbus/TCP",
	layers.LayerTypeRMCP:                         "RMCP",
	layers.LayerTypeASF:                          "ASF",
	layers.LayerTypeASFPresencePong:              "ASF presence pong",
	layers.LayerTypeLoopback:                     "Loopback",
	layers.LayerTypeLinuxSLL:                     "Linux cooked capture v1",
	layers.LayerTypeLinuxSLL2:                    "Linux cooked capture v2",
	layers.LayerTypeRadioTap:                     "Radiotap header",
	layers.LayerTypeDot11:                        "IEEE 802.11",
}

// layerName is the detail's name for layer l, prev the layer before it
// (nil for the first). Where gopacket's type does not say enough, the
// layer before does: an 802.1ad outer tag decodes as Dot1Q, a frame of an
// EtherType gopacket does not know as a decode failure.
func layerName(l, prev gopacket.Layer) string {
	switch l := l.(type) {
	case *layers.Ethernet:
		if l.Length != 0 {
			return "IEEE 802.3 Ethernet"
		}
	case *layers.Dot1Q:
		if t, ok := etherTypeOf(prev); ok && t == layers.EthernetTypeQinQ {
			return "802.1ad (QinQ) tag"
		}
	case *layers.OSPFv2:
		return "OSPFv2"
	case *layers.OSPFv3:
		return "OSPFv3"
	case *gopacket.DecodeFailure:
		if t, ok := etherTypeOf(prev); ok && strings.HasPrefix(l.Error().Error(), "Unable to decode EthernetType") {
			if name := etherTypeName(uint16(t)); !strings.HasPrefix(name, "0x") {
				return fmt.Sprintf("%s (EtherType 0x%04x)", name, uint16(t))
			}
			return fmt.Sprintf("Unknown EtherType 0x%04x", uint16(t))
		}
		return "Undecoded (" + undecodedName(prev) + ")"
	case *layers.LLC:
		if g, ok := prev.(*layers.GRE); ok && g.Protocol == 0 {
			// Protocol 0 is no EtherType: a keepalive (RFC 2890 does not
			// define it; Cisco sends an inner GRE header in IP).
			return "GRE keepalive"
		}
	}
	if name, ok := layerNames[l.LayerType()]; ok {
		return name
	}
	return spaceWords(l.LayerType().String())
}

// undecodedName says what the bytes gopacket could not decode follow.
func undecodedName(prev gopacket.Layer) string {
	if prev == nil {
		return "frame"
	}
	return "after " + layerName(prev, nil)
}

// etherTypeOf returns the EtherType a layer announces for the next.
func etherTypeOf(l gopacket.Layer) (layers.EthernetType, bool) {
	switch l := l.(type) {
	case *layers.Ethernet:
		return l.EthernetType, l.Length == 0
	case *layers.Dot1Q:
		return l.Type, true
	case *layers.GRE:
		return l.Protocol, true
	}
	return 0, false
}

// spaceWords turns a Go identifier gopacket uses as a name into words
// ("CiscoDiscoveryInfo" → "Cisco Discovery Info"), for the layer types the
// table has not named: a new gopacket's, say.
func spaceWords(s string) string {
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		if i > 0 && unicode.IsUpper(c) && (unicode.IsLower(r[i-1]) || unicode.IsDigit(r[i-1])) {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return printableString(b.String())
}
