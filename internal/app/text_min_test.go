package app

// The agreement TestTextCorpus asks of the text mode with tcpdump on the
// TCP, UDP, ICMP, DNS and ARP packets of the corpus. What is left over is
// known: packets of link types the decoder does not read (ARCNET, IPoIB,
// Broadcom switch tags, PKTAP, frame relay: printed as "DLT N, length
// N"), MACsec, and time stamps a file stores out of range (tcpdump prints
// a microsecond field of 1000000 as it is; the reader carries it over).
// In Ethernet captures what remains is a dozen TCP segments whose payload
// tcpdump decodes after the length (LDP, PPTP) or whose options it finds
// malformed.
const (
	minAgreement         = 0.96
	minEthernetAgreement = 0.995
)
