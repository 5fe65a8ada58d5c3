package bpf

// The generated capture_bpfel.go and capture_bpfel.o are committed, so a build
// needs Go alone. `make generate` reruns this with clang (Debian's clang and
// libbpf-dev, linux-libc-dev for the uapi headers).
//go:generate go tool bpf2go -tags linux -target bpfel -type pcap_hdr -type flow_key -type flow_counts -type owner -cflags "-O2 -g -Wall -Werror" capture capture.c -- -I/usr/include/x86_64-linux-gnu
