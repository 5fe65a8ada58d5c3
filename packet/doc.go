// Package packet holds the types every stage of the capture shares: a
// captured Packet, its direction (Dir) and hook (Hook), the pcap link types,
// and the flow key the kernel program and the flow table agree on.
//
// It is the leaf of the import graph: it imports only the standard library
// and no package of this project, and it holds no converters and no logic
// beyond small accessors.
package packet
