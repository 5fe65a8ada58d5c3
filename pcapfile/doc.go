// Package pcapfile owns capture files: reading pcap and pcapng the way
// libpcap does (-r, and the corpus tests; OpenFollow follows a file as it
// is written, Writers tells who writes it), writing them (PcapWriter,
// PcapngWriter with interface, direction and statistics blocks;
// CookedWriter, LINUX_SLL2 as tcpdump -i any writes it), creating
// output files, and the raw-write path that keeps a slow disk from
// stalling the capture's reader.
//
// It imports packet and gopacket's pcapgo only. It must not import bpf,
// capture, decode, ui or internal/app: the capture hands it packets through
// the small PacketWriter interface its writers satisfy.
package pcapfile
