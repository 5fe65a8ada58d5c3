// Package capture owns the user-space side of the capture path: the perf
// event array reader goroutine (records validated, copied out of the reused
// perf buffers into pooled batches), the monotonic-to-wall-clock conversion
// of the kernel's timestamps, the capture counters, and writing pcap files.
//
// It imports bpf (records, counters) and cilium/ebpf's perf reader. It must
// not import decode, ui or main.
package capture
