// Package proc names the processes that own captured packets, in user
// space: a pid to its name, cgroup v2 path and container (docker,
// containerd, CRI-O, podman) or systemd unit, cached (Table); and, at the
// start of a capture, the TCP and UDP sockets already open, found with
// sock_diag (INET_DIAG) in every network namespace and matched to their
// processes through /proc/PID/fd (Sockets), so that the kernel can be told
// their owners.
//
// It imports the standard library, golang.org/x/sys/unix and internal/nsutil
// (a thread for each namespace walked, never the main one) only; the
// kernel's side (the owner map) comes in as functions. It must not import
// bpf, capture, decode, ui or internal/app.
package proc
