//go:build ignore

// SPDX-License-Identifier: (MIT OR GPL-2.0)
/* bpftop-cap's kernel side: copy each packet, behind a bpf_pcap_hdr, into a
 * per-CPU perf event array with the existing bpf_perf_event_output helper.
 * The upper 32 bits of its flags argument make the kernel append cap_len
 * bytes of the packet (skb or xdp_buff) after the header. Everything else
 * (wall-clock time, pcap records) happens in user space. */

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "capture.h"

/* Load-time constants, set from Go through CollectionSpec.Variables. */
volatile const __u32 snaplen = 262144;
volatile const __u32 dir_mask = DIR_IN | DIR_OUT;

/* A perf sample's size lives in a u16 together with its headers: 8 bytes of
 * perf header, 4 of raw size, our 32 byte header, padded to 8. */
#define MAX_CAP_LEN 65400

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
} counters SEC(".maps");

/* Keep the struct in the BTF so bpf2go emits a Go type for it. */
const struct pcap_hdr *unused_pcap_hdr __attribute__((unused));

static __always_inline __u32 clamp_len(__u32 len)
{
	__u32 c = len;
	if (c > snaplen)
		c = snaplen;
	if (c > MAX_CAP_LEN)
		c = MAX_CAP_LEN;
	return c;
}

static __always_inline void emit(void *ctx, __u32 ifindex, __u32 len, __u8 dir, __u8 hook)
{
	__u32 zero = 0;
	struct counters *c = bpf_map_lookup_elem(&counters, &zero);
	if (!c)
		return;
	c->seen++;
	if (!(dir_mask & dir)) {
		c->filtered++;
		return;
	}

	struct pcap_hdr hdr = {
		.magic = PCAP_HDR_MAGIC,
		.protocol = 1, /* LINKTYPE_ETHERNET */
		.flags = (__u64)ifindex | ((__u64)dir << 32) | ((__u64)hook << 40),
		.ktime_ns = bpf_ktime_get_ns(),
		.tot_len = len,
		.cap_len = clamp_len(len),
	};
	__u64 flags = BPF_F_CURRENT_CPU | ((__u64)hdr.cap_len << 32);
	if (bpf_perf_event_output(ctx, &events, flags, &hdr, sizeof(hdr)) == 0)
		c->sent++;
	else
		c->failed++;
}

static __always_inline int tc_capture(struct __sk_buff *skb, __u8 dir)
{
	emit(skb, skb->ifindex, skb->len, dir, HOOK_TC);
	return TC_ACT_UNSPEC; /* let the next program or the stack decide */
}

SEC("tc")
int capture_tc_ingress(struct __sk_buff *skb)
{
	return tc_capture(skb, DIR_IN);
}

SEC("tc")
int capture_tc_egress(struct __sk_buff *skb)
{
	return tc_capture(skb, DIR_OUT);
}

SEC("xdp")
int capture_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	emit(ctx, ctx->ingress_ifindex, (__u32)(data_end - data), DIR_IN, HOOK_XDP);
	return XDP_PASS;
}

char __license[] SEC("license") = "Dual MIT/GPL";
