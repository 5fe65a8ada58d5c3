// Package capture owns the user-space side of the capture path: reading the
// kernel's rings (per-CPU perf rings, or one BPF ring buffer with
// --ringbuf) in place, records validated and written straight to a
// PacketWriter (a file: RunDirect; the live view's engine: RunPasses), the
// monotonic-to-wall-clock conversion of the kernel's timestamps, the capture
// counters, the session that loads and attaches the programs of package bpf
// and closes them, and watching the captured interfaces (with -i any,
// following every interface of the namespace as it comes and goes).
//
// It imports bpf and packet. It must not import pcapfile (files reach it as
// a PacketWriter), decode, ui or internal/app.
package capture
