/* SPDX-License-Identifier: (MIT OR GPL-2.0) */
/* Structures shared between the BPF programs and Go (bpf/record.go mirrors them
 * by hand; bpf2go generates the counters type). Fixed-width types, explicit
 * padding, no implicit holes. */
#ifndef BPFTOP_CAPTURE_H
#define BPFTOP_CAPTURE_H

#include <linux/types.h>

/* The bpf_pcap_hdr layout from the 2019 bpf_pcap() proposal. The kernel
 * appends cap_len packet bytes after it (upper 32 bits of the flags argument
 * of bpf_perf_event_output). */
#define PCAP_HDR_MAGIC 0xb7fca7

struct pcap_hdr {
	__u32 magic;    /* PCAP_HDR_MAGIC */
	__u32 protocol; /* pcap LINKTYPE (1 = Ethernet) in bits 0-15; bits 16-31: the
	                 * TPID of a VLAN tag the kernel took out of the frame, 0 if none */
	__u64 flags;    /* 48-bit id: bits 0-31 ifindex, 32-39 direction, 40-47 hook;
	                 * bits 48-63: that tag's TCI */
	__u64 ktime_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 tot_len;  /* length on the wire */
	__u32 cap_len;  /* bytes that follow this header */
	__u32 task;     /* bits 0-21: the tgid of the process whose socket sent or
	                 * receives the packet, 0 if none is known (pids are below
	                 * 2^22); bits 22-31: the CPU + 1, 0 if not recorded */
} __attribute__((packed, aligned(4)));

#define TASK_PID_BITS 22
#define TASK_PID_MASK ((1u << TASK_PID_BITS) - 1)

#define DIR_IN 1
#define DIR_OUT 2

#define HOOK_TC 1
#define HOOK_XDP 2
#define HOOK_XMIT 3 /* the net_dev_start_xmit tracepoint: egress after the qdisc */

/* Per-CPU counters; index 0 of the counters map. */
struct counters {
	__u64 seen;       /* packets the program ran on */
	__u64 sent;       /* records the ring (or the overflow ring) accepted */
	__u64 failed;     /* records refused (rings full): lost in the kernel */
	__u64 filtered;   /* packets not sent because of direction or filter */
	__u64 overflowed; /* records of sent that went to the overflow ring */
	__u64 proc_filtered; /* packets not sent because of --pid, --comm or --cgroup */
};

/* A flow, as the live view's flow table keys it (decode's flowKey): the
 * two endpoints in canonical order, lo before hi (bytes compared, then the
 * ports), so both directions count in one entry. IP addresses are 16 bytes
 * (IPv4 mapped, ::ffff:a.b.c.d); frames that are not IP are keyed by their
 * MAC addresses in the first 6 bytes. Ports in host order, 0 when the
 * packet has none (not TCP, UDP or SCTP, or a fragment after the first). */
struct flow_key {
	__u32 ifindex;
	__u16 ethertype; /* after any VLAN tags */
	__u8 proto;      /* IP protocol (after IPv6 extension headers); 0 if not IP */
	__u8 pad;
	__u8 lo[16];
	__u8 hi[16];
	__u16 lo_port;
	__u16 hi_port;
};

/* What the kernel counted of one flow: [0] sent by lo, [1] sent by hi. */
struct flow_counts {
	__u64 pkts[2];
	__u64 bytes[2]; /* wire lengths */
};

/* Who owns a socket (process attribution): kept in the socket itself
 * (sk_owner, socket local storage) and, by tgid, in the procs map for user
 * space. Written in the owner's process context by the cgroup socket hooks
 * and the send and receive tracepoints, and by user space at start for the
 * sockets older than the capture. */
struct owner {
	__u32 tgid;
	__u32 pid;       /* the thread */
	__u64 cgroup_id; /* its cgroup v2 (the directory's inode number) */
	char comm[16];   /* the process's name (its thread group leader's comm) */
};

#endif
