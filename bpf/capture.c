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
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "capture.h"

/* Load-time constants, set from Go through CollectionSpec.Variables. */
volatile const __u32 snaplen = 262144;
volatile const __u32 dir_mask = DIR_IN | DIR_OUT;
/* Set when a filter expression was spliced in place of pcap_filter's body. */
volatile const __u8 has_filter = 0;

/* How much of a non-linear skb to make directly readable for the filter:
 * as far as it may read (filter.Program.Reach), set at load. */
volatile const __u32 filter_pull_len = 512;

/* A perf sample's size lives in a u16 together with its headers: 8 bytes of
 * perf header, 4 of raw size, our 32 byte header, padded to 8. */
#define MAX_CAP_LEN 65400

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

/* A second per-CPU perf event array, for the records the first one refuses
 * (has_overflow). The first ring is small, so that the pages the kernel
 * copies a packet into are still in the CPU's cache from the last time
 * round: copying a 64 KiB GSO frame into a ring much bigger than the cache
 * cost the sender three times as much. This one is big, and takes a burst
 * the reader is too slow for. */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} overflow SEC(".maps");

volatile const __u8 has_overflow = 0;

/* The doorbell (has_bell). A reader that finds its rings empty and stops
 * looking at them sets bell_armed; the next record written clears it and
 * writes a 4 byte record to bell, a per-CPU perf event array whose rings
 * wake their reader at every record (the capture rings wake it only at
 * their watermark). An idle capture then needs no timer to see its first
 * packet. */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} bell SEC(".maps");

volatile const __u8 has_bell = 0;
volatile __u32 bell_armed = 0;

/* How emit writes a record: to the perf event array from a tc or XDP
 * program's context (OUT_PERF), to rb (OUT_RB_SKB, OUT_RB_XDP), or to the
 * perf event array from a tracing program, whose ctx is then the kernel's
 * struct sk_buff (OUT_SKB_BTF: bpf_skb_output). */
#define OUT_PERF 0
#define OUT_RB_SKB 1
#define OUT_RB_XDP 2
#define OUT_SKB_BTF 3

static __always_inline long perf_out(void *ctx, int out, void *map, __u64 flags, void *data, __u64 size)
{
	if (out == OUT_SKB_BTF)
		return bpf_skb_output(ctx, map, flags, data, size);
	return bpf_perf_event_output(ctx, map, flags, data, size);
}

static __always_inline void ring_bell(void *ctx, int out)
{
	if (has_bell && bell_armed) {
		bell_armed = 0;
		__u32 one = 1;
		/* Not rung (no ring for this CPU, nested or full): the next record
		 * tries again. */
		if (perf_out(ctx, out, &bell, BPF_F_CURRENT_CPU, &one, sizeof(one)))
			bell_armed = 1;
	}
}

/* The alternative to the perf event array (--ringbuf): one BPF ring buffer
 * for all CPUs (Linux 5.8+), written by the capture_*_rb programs. Load
 * loads one set or the other, so kernels without ring buffers still load
 * the perf programs. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} rb SEC(".maps");

/* Bytes pending in rb before a submit wakes the reader. */
volatile const __u64 rb_wakeup = 256 * 1024;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counters);
} counters SEC(".maps");

/* Set to count every packet a ring could not take into its flow, keyed as
 * the live view keys its flow table, so that its counts stay exact when a
 * ring overflows. The map is sized at load time (1 entry when not
 * counting). */
volatile const __u8 count_flows = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, struct flow_counts);
} flows SEC(".maps");

/* Keep the structs in the BTF so bpf2go emits Go types for them. */
const struct pcap_hdr *unused_pcap_hdr __attribute__((unused));
const struct flow_key *unused_flow_key __attribute__((unused));
const struct flow_counts *unused_flow_counts __attribute__((unused));

static __always_inline __u32 clamp_len(__u32 len)
{
	__u32 c = len;
	if (c > snaplen)
		c = snaplen;
	if (c > MAX_CAP_LEN)
		c = MAX_CAP_LEN;
	return c;
}

/* The pcap-filter expression. Its body is replaced at load time by the
 * eBPF translation of the compiled classic BPF (filter.ToEBPF, spliced by
 * load.go): R1 = data, R2 = data_end, R3 = wire length, R4 = the VLAN tag
 * in the skb's metadata (0 for none, else TPID << 16 | TCI; 0 on XDP),
 * and R0 = 0 drops the packet. This stand-in is only called when has_filter is set, that is
 * never before it is replaced. noinline keeps it a subprogram with this
 * signature; its result must not be known to the compiler, or the call
 * would be folded away. */
static __attribute__((noinline)) __u32 pcap_filter(void *data, void *data_end, __u32 len, __u32 vlan)
{
	if (data + 1 > data_end)
		return 0;
	return len | vlan;
}

static __always_inline struct counters *count_seen(void)
{
	__u32 zero = 0;
	struct counters *c = bpf_map_lookup_elem(&counters, &zero);
	if (c)
		c->seen++;
	return c;
}

/* A record in rb: reserve sizes must be constants, so the record is the
 * smallest of a few size classes that holds the header and cap_len bytes;
 * the reader takes the length from cap_len. The packet is copied once,
 * from the skb or xdp_buff into the reserved space (LOAD). The reader is
 * woken when this record makes the pending bytes cross rb_wakeup, as
 * perf's watermark does, not at every record above it. */
#define RB_CLASS(SZ, LOAD)                                                                 \
	if (cap <= (SZ)) {                                                                 \
		struct pcap_hdr *r = bpf_ringbuf_reserve(&rb, sizeof(struct pcap_hdr) + (SZ), 0); \
		if (!r)                                                                    \
			return -1;                                                         \
		*r = *hdr;                                                                 \
		__u64 n = cap;                                                             \
		/* Two checks clang cannot fold into one range test, which the             \
		 * verifier would not read as bounds on n. */                              \
		asm volatile("" : "+r"(n));                                                \
		if ((__s64)n < 1) { /* a signed test: bounds older verifiers keep */       \
			bpf_ringbuf_discard(r, BPF_RB_NO_WAKEUP);                          \
			return -1;                                                         \
		}                                                                          \
		asm volatile("" : "+r"(n));                                                \
		if (n > (SZ)) {                                                            \
			bpf_ringbuf_discard(r, BPF_RB_NO_WAKEUP);                          \
			return -1;                                                         \
		}                                                                          \
		if (LOAD(ctx, 0, (void *)(r + 1), n) < 0) {                                \
			bpf_ringbuf_discard(r, BPF_RB_NO_WAKEUP);                          \
			return -1;                                                         \
		}                                                                          \
		/* Pending bytes, this record included, read after the reserve:            \
		 * wake the reader when they cross a multiple of rb_wakeup. Read           \
		 * before it, CPUs reserving at once could all see the same value          \
		 * and step over the threshold together. */                                \
		__u64 avail = bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA);                   \
		__u64 before = avail > sizeof(*r) + (SZ) ? avail - sizeof(*r) - (SZ) : 0;  \
		bpf_ringbuf_submit(r, before / rb_wakeup != avail / rb_wakeup ?            \
					       BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);    \
		return 0;                                                                  \
	}

#define RB_OUTPUT(NAME, CTX, LOAD)                                                         \
	static __always_inline int NAME(CTX *ctx, struct pcap_hdr *hdr)                    \
	{                                                                                  \
		__u32 cap = hdr->cap_len;                                                  \
		RB_CLASS(96, LOAD)                                                         \
		RB_CLASS(224, LOAD)                                                        \
		RB_CLASS(480, LOAD)                                                        \
		RB_CLASS(992, LOAD)                                                        \
		RB_CLASS(1504, LOAD)                                                       \
		RB_CLASS(2016, LOAD)                                                       \
		RB_CLASS(4064, LOAD)                                                       \
		RB_CLASS(8160, LOAD)                                                       \
		RB_CLASS(16352, LOAD)                                                      \
		RB_CLASS(32736, LOAD)                                                      \
		RB_CLASS(MAX_CAP_LEN, LOAD)                                                \
		return -1;                                                                 \
	}

RB_OUTPUT(rb_output_skb, struct __sk_buff, bpf_skb_load_bytes)
RB_OUTPUT(rb_output_xdp, struct xdp_md, bpf_xdp_load_bytes) /* Linux 5.18+ */

/* XDP's stand-in for bpf_skb_load_bytes (bpf_xdp_load_bytes is Linux
 * 5.18+): len is a constant at every call. */
static __always_inline long xdp_load(struct xdp_md *ctx, __u32 off, void *to, const __u32 len)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (off > 1024)
		return -1;
	if (data + off + len > data_end)
		return -1;
	__builtin_memcpy(to, data + off, len);
	return 0;
}

/* The skb's linear part directly when it holds the bytes (headers
 * usually are), else the helper, which also reads paged data. */
static __always_inline long skb_load(struct __sk_buff *skb, __u32 off, void *to, const __u32 len)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	if (off <= 1024 && data + off + len <= data_end) {
		__builtin_memcpy(to, data + off, len);
		return 0;
	}
	return bpf_skb_load_bytes(skb, off, to, len);
}

#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88a8
#define ETH_IP 0x0800
#define ETH_IP6 0x86dd
#define PROTO_HAS_PORTS(p) ((p) == 6 || (p) == 17 || (p) == 132) /* TCP, UDP, SCTP */

/* FLOW_KEY(NAME, CTX, LOAD) defines NAME(ctx, key, cap): it fills the key
 * of the packet (all but ifindex) as decode's keyOf does on the packet's
 * first cap bytes (what the capture keeps of it), and returns 0 when the
 * source is the key's lo endpoint, 1 when it is hi, and -1 when it would
 * not key the packet as decode does: a header past cap, or one decode
 * refuses (an IPv4 header length under 20 or over the total length, an
 * IPv6 payload length of 0; an IPv4 total length of 0 is TSO's). Such a
 * packet is not counted: counted under another key, it could raise a flow
 * decode put it beside. LOAD copies packet bytes (skb_load or xdp_load).
 * Ethernet, two VLAN tags, IPv4, IPv6 and four extension headers; ports of
 * TCP, UDP and SCTP from the first 4 bytes of their header when the IP
 * packet and the capture hold them, else none (decode takes them so too
 * when the header does not decode). Tunnels are keyed by their
 * outer headers (decode keys them by the inner ones, so the two do not
 * meet there). */
#define FLOW_LOAD(LOAD, off, to, n)                                                        \
	if ((off) + (n) > cap || LOAD(ctx, off, to, n) < 0)                                \
		return -1;

#define FLOW_KEY(NAME, CTX, LOAD)                                                          \
	static __attribute__((noinline)) int NAME(CTX *ctx, struct flow_key *k, __u32 cap) \
	{                                                                                  \
		__u8 eth[14];                                                              \
		FLOW_LOAD(LOAD, 0, eth, 14)                                                \
		__u32 off = 14;                                                            \
		__u16 et = ((__u16)eth[12] << 8) | eth[13];                                \
		if (et < 0x0600) /* an 802.3 length: decode says LLC, 0 */                 \
			et = 0;                                                            \
		_Pragma("unroll") for (int i = 0; i < 2; i++)                              \
		{                                                                          \
			if (et != ETH_VLAN && et != ETH_QINQ)                              \
				break;                                                     \
			__u8 tag[4];                                                       \
			FLOW_LOAD(LOAD, off, tag, 4)                                       \
			et = ((__u16)tag[2] << 8) | tag[3];                                \
			if (et < 0x0600)                                                   \
				et = 0;                                                    \
			off += 4;                                                          \
		}                                                                          \
		__u8 src[16] = {}, dst[16] = {};                                           \
		__u16 sp = 0, dp = 0;                                                      \
		__u8 proto = 0;                                                            \
		int ports = 0;                                                             \
		__u32 end = 0; /* where the IP packet ends, by its length field */         \
		if (et == ETH_IP) {                                                        \
			__u8 ip[20];                                                       \
			FLOW_LOAD(LOAD, off, ip, 20)                                       \
			__u32 ihl = (ip[0] & 0xf) * 4;                                     \
			__u32 tot = ((__u32)ip[2] << 8) | ip[3];                           \
			if (tot == 0) /* TSO: the frame's length (decode does so) */       \
				tot = cap - off;                                           \
			if (ihl < 20 || tot < ihl || off + ihl > cap)                      \
				return -1;                                                 \
			proto = ip[9];                                                     \
			src[10] = src[11] = dst[10] = dst[11] = 0xff;                      \
			__builtin_memcpy(src + 12, ip + 12, 4);                            \
			__builtin_memcpy(dst + 12, ip + 16, 4);                            \
			ports = PROTO_HAS_PORTS(proto) && (((ip[6] & 0x1f) << 8) | ip[7]) == 0; \
			end = off + tot;                                                   \
			off += ihl;                                                        \
		} else if (et == ETH_IP6) {                                                \
			__u8 ip[40];                                                       \
			FLOW_LOAD(LOAD, off, ip, 40)                                       \
			__u32 plen = ((__u32)ip[4] << 8) | ip[5];                          \
			if (plen == 0)                                                     \
				return -1;                                                 \
			proto = ip[6];                                                     \
			__builtin_memcpy(src, ip + 8, 16);                                 \
			__builtin_memcpy(dst, ip + 24, 16);                                \
			off += 40;                                                         \
			end = off + plen;                                                  \
			ports = 1;                                                         \
			_Pragma("unroll") for (int i = 0; i < 4; i++)                      \
			{                                                                  \
				__u8 x[4];                                                 \
				if (proto != 0 && proto != 43 && proto != 60 && proto != 44) \
					break;                                             \
				/* cut (capture, IP length): decode stops here too */      \
				if (off + 4 > cap || off + 4 > end)                        \
					break;                                             \
				if (LOAD(ctx, off, x, 4) < 0)                              \
					return -1;                                         \
				__u32 xlen = proto == 44 ? 8 : ((__u32)x[1] + 1) * 8;      \
				if (off + xlen > cap || off + xlen > end)                  \
					break;                                             \
				/* fragment: offset in 8-byte units, above 3 flag bits */  \
				if (proto == 44 && (((__u16)x[2] << 8) | x[3]) >> 3)       \
					ports = 0;                                         \
				off += xlen;                                               \
				proto = x[0];                                              \
			}                                                                  \
			ports = ports && PROTO_HAS_PORTS(proto);                           \
		} else {                                                                   \
			/* Not IP: the EtherType and the MAC addresses. */                 \
			__builtin_memcpy(src, eth + 6, 6);                                 \
			__builtin_memcpy(dst, eth, 6);                                     \
		}                                                                          \
		if (ports && off + 4 <= end && off + 4 <= cap) {                           \
			__u8 pp[4];                                                        \
			FLOW_LOAD(LOAD, off, pp, 4)                                        \
			sp = ((__u16)pp[0] << 8) | pp[1];                                  \
			dp = ((__u16)pp[2] << 8) | pp[3];                                  \
		}                                                                          \
		k->ethertype = et;                                                         \
		k->proto = proto;                                                          \
		k->pad = 0;                                                                \
		int c = 0;                                                                 \
		_Pragma("unroll") for (int i = 0; i < 16; i++)                             \
		{                                                                          \
			if (c == 0 && src[i] != dst[i])                                    \
				c = src[i] < dst[i] ? -1 : 1;                              \
		}                                                                          \
		if (c < 0 || (c == 0 && sp <= dp)) {                                       \
			__builtin_memcpy(k->lo, src, 16);                                  \
			__builtin_memcpy(k->hi, dst, 16);                                  \
			k->lo_port = sp;                                                   \
			k->hi_port = dp;                                                   \
			return 0;                                                          \
		}                                                                          \
		__builtin_memcpy(k->lo, dst, 16);                                          \
		__builtin_memcpy(k->hi, src, 16);                                          \
		k->lo_port = dp;                                                           \
		k->hi_port = sp;                                                           \
		return 1;                                                                  \
	}

FLOW_KEY(flow_key_skb, struct __sk_buff, skb_load)
FLOW_KEY(flow_key_xdp, struct xdp_md, xdp_load)

static __always_inline void count_flow(struct flow_key *k, int side, __u32 len)
{
	struct flow_counts *v = bpf_map_lookup_elem(&flows, k);
	if (!v) {
		struct flow_counts zero = {};
		bpf_map_update_elem(&flows, k, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&flows, k);
		if (!v)
			return;
	}
	if (side == 0) {
		__sync_fetch_and_add(&v->pkts[0], 1);
		__sync_fetch_and_add(&v->bytes[0], len);
	} else {
		__sync_fetch_and_add(&v->pkts[1], 1);
		__sync_fetch_and_add(&v->bytes[1], len);
	}
}

/* Process attribution (with_proc): which process's socket sent the packet
 * (egress) or will receive it (ingress). The owner lives in the socket
 * itself (sk_owner), so it goes away with the socket, is found for every
 * socket whatever its network namespace, and is copied to the connections a
 * listener accepts (BPF_F_CLONE). It is written in process context by the
 * cgroup socket hooks and the send and receive tracepoints below, and by
 * user space at start for the sockets already open (load.go). */
volatile const __u8 with_proc = 0;

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct owner);
} sk_owner SEC(".maps");

/* The owners by tgid, for user space: the name and cgroup of a process
 * that may have exited by the time its packets are read. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct owner);
} procs SEC(".maps");

const struct owner *unused_owner __attribute__((unused));

/* MPTCP (with_mptcp: the kernel has bpf_skc_to_mptcp_sock, 5.12+): the
 * descriptor of an MPTCP socket, through which hooks and the seeding
 * record its owner, holds the MPTCP socket; the TCP sockets the stack
 * looks up and sends from are its subflows, sockets of the kernel's own.
 * Go (1.24+) listens with MPTCP by default where the kernel has it. */
volatile const __u8 with_mptcp = 0;

/* owner_of returns the owner recorded for a full socket sk, or for the
 * MPTCP socket it is a subflow of, or NULL. An owner found there is
 * copied to the subflow, so that the connections a listening subflow
 * accepts (plain TCP when the client does not speak MPTCP) inherit it
 * (BPF_F_CLONE) from the SYN the lookup is made for. */
static __always_inline struct owner *owner_of(struct bpf_sock *sk)
{
	struct owner *o = bpf_sk_storage_get(&sk_owner, sk, 0, 0);
	if (o || !with_mptcp)
		return o;
	struct mptcp_sock *msk = bpf_skc_to_mptcp_sock(sk);
	if (!msk)
		return 0;
	o = bpf_sk_storage_get(&sk_owner, msk, 0, 0);
	if (!o)
		return 0;
	struct owner *sub = bpf_sk_storage_get(&sk_owner, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (sub)
		*sub = *o;
	return o;
}

/* Process filters (--pid, --comm, --cgroup; proc_filter's PF_* bits, all
 * of them must match): a packet whose socket's owner is not the one asked
 * for, or that has none, is counted in proc_filtered and not sent. The
 * cgroup is the owner's (where it was when it last took the socket), one
 * of want_cgroups: the cgroup asked for and those below it at the start. */
#define PF_PID 1
#define PF_COMM 2
#define PF_CGROUP 4
volatile const __u8 proc_filter = 0;
volatile const __u32 want_tgid = 0;
volatile const char want_comm[16] = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1); /* set at load */
	__type(key, __u64);     /* a cgroup v2 directory's inode */
	__type(value, __u8);
} want_cgroups SEC(".maps");

/* What the record says of the packet's process: its owner's tgid (0 for
 * none), and whether it passes the process filters. */
struct who {
	__u32 tgid;
	__u32 match;
};

/* owner_matches checks the owner's tgid and name against the filters. */
static __always_inline int owner_matches(struct owner *o)
{
	if ((proc_filter & PF_PID) && o->tgid != want_tgid)
		return 0;
	if (proc_filter & PF_COMM) {
#pragma unroll
		for (int i = 0; i < 16; i++) {
			if (o->comm[i] != want_comm[i])
				return 0;
			if (o->comm[i] == 0)
				break;
		}
	}
	if ((proc_filter & PF_CGROUP) && !bpf_map_lookup_elem(&want_cgroups, &o->cgroup_id))
		return 0;
	return 1;
}

/* who_of fills w for the full socket sk. */
static __always_inline void who_of(struct bpf_sock *sk, struct who *w)
{
	struct owner *o = owner_of(sk);
	if (!o)
		return;
	w->tgid = o->tgid;
	if (proc_filter)
		w->match = owner_matches(o);
}

/* Egress: the socket the packet was sent from, on the skb. A SYN-ACK's is
 * the connection request: its listener's owner. A time-wait socket has no
 * owner any more; a forwarded packet has no socket (the stack dropped its
 * sender's reference when it was received). */
static __always_inline void egress_owner(struct __sk_buff *skb, struct who *w)
{
	struct bpf_sock *sk = skb->sk;
	if (!sk)
		return;
	struct bpf_sock *full = bpf_sk_fullsock(sk);
	if (!full) {
		full = bpf_get_listener_sock(sk);
		if (!full)
			return;
	}
	who_of(full, w);
}

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17

/* Set where the kernel has bpf_fib_lookup for tc (probed at load): without
 * it a socket bound to a wildcard address names none of its packets. */
volatile const __u8 with_fib = 0;

#define AF_INET_ 2
#define AF_INET6_ 10

#define PACKET_OTHERHOST_ 3

/* local_dest says whether the stack will deliver a packet to tuple t
 * entering at skb's interface to this host rather than forward it: an
 * IPv4 broadcast or multicast destination (the stack takes those before
 * its route lookup, which would send them down a default route); the
 * route the kernel's own lookup gives it from that interface is not a
 * unicast one (local, broadcast); or the interface does not forward and
 * the frame was addressed to it (one for another MAC is switched past
 * the host: a bridge's port, a macvlan's lower device). Not the frame's
 * MAC address otherwise: on a bridge's port a frame for the host carries
 * the bridge's. Netfilter comes later: DNAT, REDIRECT and TPROXY are not
 * seen. */
static __always_inline int local_dest(struct __sk_buff *skb, struct bpf_sock_tuple *t, __u8 proto, int v6)
{
	if (!with_fib)
		return 0;
	if (!v6) {
		__u32 d = bpf_ntohl(t->ipv4.daddr);
		if (d == 0xffffffff || d >> 28 == 0xe)
			return 1;
	}
	struct bpf_fib_lookup p = {
		.l4_protocol = proto,
		.tot_len = skb->len,
		.ifindex = skb->ifindex, /* at ingress, the device it entered */
	};
	if (v6) {
		p.family = AF_INET6_;
		p.sport = t->ipv6.sport;
		p.dport = t->ipv6.dport;
		__builtin_memcpy(p.ipv6_src, t->ipv6.saddr, 16);
		__builtin_memcpy(p.ipv6_dst, t->ipv6.daddr, 16);
	} else {
		p.family = AF_INET_;
		p.sport = t->ipv4.sport;
		p.dport = t->ipv4.dport;
		p.ipv4_src = t->ipv4.saddr;
		p.ipv4_dst = t->ipv4.daddr;
	}
	long r = bpf_fib_lookup(skb, &p, sizeof(p), 0);
	return r == BPF_FIB_LKUP_RET_NOT_FWDED ||
	       (r == BPF_FIB_LKUP_RET_FWD_DISABLED && skb->pkt_type != PACKET_OTHERHOST_);
}

/* delivered says whether the socket sk the lookup found for t is the one
 * the packet goes to. A connected socket (established TCP, connected UDP)
 * matched all four of the packet's addresses and ports. A bound or
 * listening one matched the port only, before routing: a packet forwarded
 * to any address on that port finds a socket bound to 0.0.0.0 or :: too.
 * Bound to the destination address itself, it had that address local
 * when it bound; bound to a wildcard, the destination must be local. */
static __always_inline int delivered(struct __sk_buff *skb, struct bpf_sock *sk, struct bpf_sock_tuple *t, __u8 proto, int v6)
{
	if (sk->dst_port != 0)
		return 1;
	if (v6) {
		if (sk->src_ip6[0] == t->ipv6.daddr[0] && sk->src_ip6[1] == t->ipv6.daddr[1] &&
		    sk->src_ip6[2] == t->ipv6.daddr[2] && sk->src_ip6[3] == t->ipv6.daddr[3])
			return 1;
	} else if (sk->src_ip4 == t->ipv4.daddr)
		return 1;
	return local_dest(skb, t, proto, v6);
}

/* Ingress: the socket the stack will deliver the packet to, found as the
 * stack finds it (bpf_sk_lookup_*: established, then listening or bound,
 * in the interface's network namespace), so a listener's owner gets its
 * first SYN and a bound UDP socket's its first datagram; a packet no
 * local socket takes (forwarded) has none, even where a socket bound to
 * a wildcard address has its port (delivered). IPv4 and IPv6 without
 * extension headers, TCP and UDP, the first fragment only. */
static __always_inline void ingress_owner(struct __sk_buff *skb, struct who *w)
{
	struct bpf_sock_tuple t = {};
	__u32 size;
	__u8 proto;
	__u8 ports[4];
	if (skb->protocol == bpf_htons(ETH_IP)) {
		__u8 ip[20];
		if (bpf_skb_load_bytes_relative(skb, 0, ip, sizeof(ip), BPF_HDR_START_NET))
			return;
		proto = ip[9];
		if ((proto != IPPROTO_TCP_ && proto != IPPROTO_UDP_) || (((ip[6] & 0x1f) << 8) | ip[7]) != 0)
			return;
		__u32 ihl = (ip[0] & 0xf) * 4;
		if (ihl < 20 || bpf_skb_load_bytes_relative(skb, ihl, ports, 4, BPF_HDR_START_NET))
			return;
		__builtin_memcpy(&t.ipv4.saddr, ip + 12, 4);
		__builtin_memcpy(&t.ipv4.daddr, ip + 16, 4);
		__builtin_memcpy(&t.ipv4.sport, ports, 2);
		__builtin_memcpy(&t.ipv4.dport, ports + 2, 2);
		size = sizeof(t.ipv4);
	} else if (skb->protocol == bpf_htons(ETH_IP6)) {
		__u8 ip[40];
		if (bpf_skb_load_bytes_relative(skb, 0, ip, sizeof(ip), BPF_HDR_START_NET))
			return;
		proto = ip[6];
		if (proto != IPPROTO_TCP_ && proto != IPPROTO_UDP_)
			return;
		if (bpf_skb_load_bytes_relative(skb, 40, ports, 4, BPF_HDR_START_NET))
			return;
		__builtin_memcpy(t.ipv6.saddr, ip + 8, 16);
		__builtin_memcpy(t.ipv6.daddr, ip + 24, 16);
		__builtin_memcpy(&t.ipv6.sport, ports, 2);
		__builtin_memcpy(&t.ipv6.dport, ports + 2, 2);
		size = sizeof(t.ipv6);
	} else
		return;
	struct bpf_sock *sk;
	if (proto == IPPROTO_TCP_)
		sk = bpf_sk_lookup_tcp(skb, &t, size, BPF_F_CURRENT_NETNS, 0);
	else
		sk = bpf_sk_lookup_udp(skb, &t, size, BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return;
	if (delivered(skb, sk, &t, proto, size == sizeof(t.ipv6)))
		who_of(sk, w);
	bpf_sk_release(sk);
}

/* emit writes the record; it returns 0, or the error of a record the ring
 * could not take. */
static __always_inline long emit(void *ctx, struct counters *c, __u32 ifindex, __u32 len, __u8 dir, __u8 hook, int out, __u32 vlan, __u32 tgid)
{
	__u32 cpu = bpf_get_smp_processor_id() + 1;
	struct pcap_hdr hdr = {
		.magic = PCAP_HDR_MAGIC,
		.protocol = 1 | (vlan & 0xffff0000), /* LINKTYPE_ETHERNET; a tag's TPID above */
		.flags = (__u64)ifindex | ((__u64)dir << 32) | ((__u64)hook << 40) | ((__u64)(vlan & 0xffff) << 48),
		.ktime_ns = bpf_ktime_get_ns(),
		.tot_len = len,
		.cap_len = clamp_len(len),
		.task = (tgid & TASK_PID_MASK) | (cpu < (1u << (32 - TASK_PID_BITS)) ? cpu << TASK_PID_BITS : 0),
	};
	long err;
	if (out == OUT_RB_SKB)
		err = rb_output_skb(ctx, &hdr);
	else if (out == OUT_RB_XDP)
		err = rb_output_xdp(ctx, &hdr);
	else {
		__u64 flags = BPF_F_CURRENT_CPU | ((__u64)hdr.cap_len << 32);
		err = perf_out(ctx, out, &events, flags, &hdr, sizeof(hdr));
		if (err && has_overflow) {
			err = perf_out(ctx, out, &overflow, flags, &hdr, sizeof(hdr));
			if (err == 0)
				c->overflowed++;
		}
	}
	if (err == 0) {
		c->sent++;
		ring_bell(ctx, out);
	} else
		c->failed++;
	return err;
}

/* The VLAN tag the kernel moved out of the frame into the skb (always on
 * receive): 0 for none, else TPID << 16 | TCI. User space puts it back, as
 * libpcap does from the packet socket's auxiliary data, and the filter reads
 * it as libpcap's live code reads the ancillary data. */
static __always_inline __u32 skb_vlan(struct __sk_buff *skb)
{
	if (!skb->vlan_present)
		return 0;
	return ((__u32)bpf_ntohs((__u16)skb->vlan_proto) << 16) | (skb->vlan_tci & 0xffff);
}

/* use_rb: how the record is written (OUT_PERF, OUT_RB_SKB, OUT_RB_XDP). */
static __always_inline int tc_capture(struct __sk_buff *skb, __u8 dir, int use_rb)
{
	struct counters *c = count_seen();
	if (!c)
		return TC_ACT_UNSPEC;
	if (!(dir_mask & dir)) {
		c->filtered++;
		return TC_ACT_UNSPEC;
	}
	if (has_filter) {
		/* The filter reads the linear part only: make the headers linear. */
		__u32 want = skb->len < filter_pull_len ? skb->len : filter_pull_len;
		if ((void *)(long)skb->data + want > (void *)(long)skb->data_end)
			bpf_skb_pull_data(skb, want);
		void *data = (void *)(long)skb->data;
		void *data_end = (void *)(long)skb->data_end;
		if (!pcap_filter(data, data_end, skb->len, skb_vlan(skb))) {
			c->filtered++;
			return TC_ACT_UNSPEC;
		}
	}
	/* A packet the ring could not take is counted in its flow: user space
	 * adds these to what it decoded, so a full ring costs the flow table
	 * nothing, and a packet that made it costs no lookup. */
	struct who w = {};
	if (with_proc) {
		if (dir == DIR_OUT)
			egress_owner(skb, &w);
		else
			ingress_owner(skb, &w);
		if (proc_filter && !w.match) {
			c->proc_filtered++;
			return TC_ACT_UNSPEC;
		}
	}
	if (emit(skb, c, skb->ifindex, skb->len, dir, HOOK_TC, use_rb, skb_vlan(skb), w.tgid) && count_flows) {
		struct flow_key k;
		int side = flow_key_skb(skb, &k, clamp_len(skb->len));
		if (side >= 0) {
			k.ifindex = skb->ifindex;
			count_flow(&k, side, skb->len);
		}
	}
	return TC_ACT_UNSPEC; /* let the next program or the stack decide */
}

SEC("tc")
int capture_tc_ingress(struct __sk_buff *skb)
{
	return tc_capture(skb, DIR_IN, 0);
}

SEC("tc")
int capture_tc_egress(struct __sk_buff *skb)
{
	return tc_capture(skb, DIR_OUT, 0);
}

static __always_inline int xdp_capture(struct xdp_md *ctx, int use_rb)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 len = (__u32)(data_end - data);
	struct counters *c = count_seen();
	if (!c)
		return XDP_PASS;
	if (!(dir_mask & DIR_IN)) {
		c->filtered++;
		return XDP_PASS;
	}
	if (has_filter && !pcap_filter(data, data_end, len, 0)) {
		c->filtered++;
		return XDP_PASS;
	}
	if (emit(ctx, c, ctx->ingress_ifindex, len, DIR_IN, HOOK_XDP, use_rb, 0, 0) && count_flows) {
		struct flow_key k;
		int side = flow_key_xdp(ctx, &k, clamp_len(len));
		if (side >= 0) {
			k.ifindex = ctx->ingress_ifindex;
			count_flow(&k, side, len);
		}
	}
	return XDP_PASS;
}

SEC("xdp")
int capture_xdp(struct xdp_md *ctx)
{
	return xdp_capture(ctx, 0);
}

/* The same programs writing to rb. */
SEC("tc")
int capture_tc_ingress_rb(struct __sk_buff *skb)
{
	return tc_capture(skb, DIR_IN, 1);
}

SEC("tc")
int capture_tc_egress_rb(struct __sk_buff *skb)
{
	return tc_capture(skb, DIR_OUT, 1);
}

SEC("xdp")
int capture_xdp_rb(struct xdp_md *ctx)
{
	return xdp_capture(ctx, 2);
}

/* Egress at transmit (--egress-at xmit): the net_dev_start_xmit tracepoint
 * fires in xmit_one, after the root qdisc let the packet go and right
 * after the packet taps (tcpdump's AF_PACKET socket) saw it, before the
 * driver. A packet the qdisc dropped never gets here, and the stamp is
 * taken after its wait. The tracepoint fires for every interface of every
 * network namespace: the program records only the interfaces in
 * xmit_ifaces (their index, set by user space at attach) of the capture's
 * namespace (xmit_netns). */

/* The kernel's types, as far as read here: CO-RE relocates each field to
 * where the running kernel has it (its BTF), so no vmlinux.h is needed. */
struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));

struct net_device {
	int ifindex;
	struct {
		struct net *net;
	} nd_net; /* possible_net_t */
} __attribute__((preserve_access_index));

struct sock;

struct sk_buff {
	struct sock *sk;       /* the sending socket, if any */
	unsigned int len;      /* at xmit: the frame from its link-layer header */
	unsigned int data_len; /* of len, the bytes in pages (not linear) */
	__u16 vlan_proto;      /* a VLAN tag kept out of the frame (big endian) */
	__u16 vlan_tci;
	unsigned char *data;
} __attribute__((preserve_access_index));

/* Kernels before 6.2 say whether vlan_tci holds a tag in this bit. */
struct sk_buff___vlan_present {
	__u8 vlan_present : 1;
} __attribute__((preserve_access_index));

volatile const __u32 xmit_netns = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} xmit_ifaces SEC(".maps");

/* The filter reads packets through direct pointers, which a tracing
 * program does not have: it runs on a copy of the packet's first bytes
 * (as far as the filter may read, filter_pull_len) in this per-CPU buffer
 * (entry: the CPU; value size set at load to at least filter_pull_len). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(value_size, 8);
} xmit_scratch SEC(".maps");

/* A dynptr over the skb reads its paged data too (Linux 6.12+ allows it
 * in tp_btf programs); xmit_dynptr is cleared at load where the kernel
 * refuses it, and the filter then reads the linear part only. */
extern int bpf_dynptr_from_skb(struct __sk_buff *s, __u64 flags, struct bpf_dynptr *ptr__uninit) __ksym __weak;
volatile const __u8 xmit_dynptr = 1;

/* Bytes of the skb's linear part (where the headers are) for the flow
 * key: a tracing program reads kernel memory, not the paged data. */
static __always_inline long xmit_load(struct sk_buff *skb, __u32 off, void *to, const __u32 len)
{
	__u32 head = skb->len - skb->data_len;
	if (off > 1024 || off + len > head)
		return -1;
	return bpf_probe_read_kernel(to, len, skb->data + off);
}

FLOW_KEY(flow_key_xmit, struct sk_buff, xmit_load)


/* Egress at transmit: the sending socket is on the skb, as at tc (a
 * SYN-ACK's request socket is not followed to its listener here: its
 * pointer to it is a union member the verifier reads as a number). An
 * MPTCP subflow has its MPTCP socket's owner once tc has copied it there
 * (owner_of): here the path to that socket is not one the verifier
 * trusts. */
static __always_inline void xmit_owner(struct sk_buff *skb, struct who *w)
{
	struct sock *sk = skb->sk;
	if (!sk)
		return;
	struct owner *o = bpf_sk_storage_get(&sk_owner, sk, 0, 0); /* NULL unless a full socket */
	if (!o)
		return;
	w->tgid = o->tgid;
	if (proc_filter)
		w->match = owner_matches(o);
}

SEC("tp_btf/net_dev_start_xmit")
int BPF_PROG(capture_xmit, struct sk_buff *skb, struct net_device *dev)
{
	__u32 ifindex = dev->ifindex;
	if (!bpf_map_lookup_elem(&xmit_ifaces, &ifindex))
		return 0;
	if (dev->nd_net.net->ns.inum != xmit_netns)
		return 0;
	struct counters *c = count_seen();
	if (!c)
		return 0;
	__u32 len = skb->len;
	/* A VLAN tag in the skb's metadata: for the record, and for the
	 * filter as on tc. */
	__u32 vlan = 0;
	__u16 tci = skb->vlan_tci;
	__u16 proto = skb->vlan_proto;
	int present = proto != 0 || tci != 0; /* 6.2+: skb_vlan_tag_present */
	if (bpf_core_field_exists(struct sk_buff___vlan_present, vlan_present))
		present = BPF_CORE_READ_BITFIELD((struct sk_buff___vlan_present *)skb, vlan_present);
	if (present)
		vlan = ((__u32)bpf_ntohs(proto) << 16) | tci;
	if (has_filter) {
		__u32 cpu = bpf_get_smp_processor_id();
		__u8 *buf = bpf_map_lookup_elem(&xmit_scratch, &cpu);
		if (!buf)
			return 0;
		/* As far as the filter may read: from the pages too with a
		 * dynptr, else as far as the linear part goes, where the filter
		 * then sees the packet end. */
		__u32 head = len - skb->data_len;
		__u64 n = len;
		asm volatile("" : "+r"(n)); /* keep the bound visible to the verifier */
		if (n > filter_pull_len)
			n = filter_pull_len;
		long err = -1;
		if (n > head && xmit_dynptr) {
			struct bpf_dynptr ptr;
			if (bpf_dynptr_from_skb((struct __sk_buff *)skb, 0, &ptr) == 0)
				err = bpf_dynptr_read(buf, n, &ptr, 0, 0);
		}
		if (err) {
			if (n > head)
				n = head;
			err = bpf_probe_read_kernel(buf, n, skb->data);
		}
		if (err)
			n = 0;
		if (!pcap_filter(buf, buf + n, len, vlan)) {
			c->filtered++;
			return 0;
		}
	}
	struct who w = {};
	if (with_proc) {
		xmit_owner(skb, &w);
		if (proc_filter && !w.match) {
			c->proc_filtered++;
			return 0;
		}
	}
	if (emit(skb, c, ifindex, len, DIR_OUT, HOOK_XMIT, OUT_SKB_BTF, vlan, w.tgid) && count_flows) {
		struct flow_key k;
		int side = flow_key_xmit(skb, &k, clamp_len(len));
		if (side >= 0) {
			k.ifindex = ifindex;
			count_flow(&k, side, len);
		}
	}
	return 0;
}


/* The owners' hooks (with_proc): each runs in the process that creates,
 * binds, connects or uses a socket, and writes it down as the socket's
 * owner when it is not already. The cgroup ones are attached at the root
 * of the cgroup v2 hierarchy, which runs them for every process whatever
 * its cgroup or network namespace; the tracepoints (Linux 6.3+) catch a
 * socket used by another process than the one that made it (a forked
 * worker, a socket passed over a UNIX socket, an accepted connection). */

struct task_struct {
	struct task_struct *group_leader;
	char comm[16];
} __attribute__((preserve_access_index));

struct sock_common {
	unsigned short skc_family;
} __attribute__((preserve_access_index));

struct socket {
	struct file *file;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	struct socket *sk_socket;
} __attribute__((preserve_access_index));

static __always_inline void own(void *sk)
{
	__u64 pt = bpf_get_current_pid_tgid();
	__u32 tgid = pt >> 32;
	if (tgid == 0)
		return; /* not a process */
	struct owner *o = bpf_sk_storage_get(&sk_owner, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!o)
		return;
	__u64 cgroup = bpf_get_current_cgroup_id();
	if (o->tgid == tgid && o->cgroup_id == cgroup)
		return; /* a process moved to another cgroup is written again */
	struct owner v = {.tgid = tgid, .pid = (__u32)pt, .cgroup_id = cgroup};
	/* The process's name is its leader's: another thread may have named
	 * itself (a JVM's, a browser's). */
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);
	if (!leader || bpf_probe_read_kernel_str(v.comm, sizeof(v.comm), &leader->comm) < 0)
		bpf_get_current_comm(v.comm, sizeof(v.comm));
	*o = v;
	bpf_map_update_elem(&procs, &tgid, &v, BPF_ANY);
}

SEC("cgroup/sock_create")
int proc_sock_create(struct bpf_sock *sk)
{
	own(sk);
	return 1;
}

SEC("cgroup/post_bind4")
int proc_post_bind4(struct bpf_sock *sk)
{
	own(sk);
	return 1;
}

SEC("cgroup/post_bind6")
int proc_post_bind6(struct bpf_sock *sk)
{
	own(sk);
	return 1;
}

#define SOCK_ADDR_HOOK(NAME, SECNAME)                   \
	SEC(SECNAME)                                    \
	int NAME(struct bpf_sock_addr *ctx)             \
	{                                               \
		struct bpf_sock *sk = ctx->sk;          \
		if (sk)                                 \
			own(sk);                        \
		return 1;                               \
	}

SOCK_ADDR_HOOK(proc_connect4, "cgroup/connect4")
SOCK_ADDR_HOOK(proc_connect6, "cgroup/connect6")
SOCK_ADDR_HOOK(proc_sendmsg4, "cgroup/sendmsg4")
SOCK_ADDR_HOOK(proc_sendmsg6, "cgroup/sendmsg6")
SOCK_ADDR_HOOK(proc_recvmsg4, "cgroup/recvmsg4")
SOCK_ADDR_HOOK(proc_recvmsg6, "cgroup/recvmsg6")

/* own_inet takes an IPv4 or IPv6 socket for the current process from the
 * tracepoints, which fire whatever the call's result: a call that failed
 * (a worker woken for a datagram another took: EAGAIN) moved nothing, and
 * a socket with no file is the kernel's own (kernel_sendmsg from a
 * kworker, NFS, SMB), used by whatever task runs it: neither is taken. */
static __always_inline void own_inet(struct sock *sk, int ret)
{
	if (!sk || ret < 0)
		return;
	unsigned short family = sk->__sk_common.skc_family;
	if (family != AF_INET_ && family != AF_INET6_)
		return;
	struct socket *sock = sk->sk_socket;
	if (!sock || !sock->file)
		return;
	own(sk);
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(proc_send, struct sock *sk, int ret, int flags)
{
	own_inet(sk, ret);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(proc_recv, struct sock *sk, int ret, int flags)
{
	own_inet(sk, ret);
	return 0;
}

char __license[] SEC("license") = "Dual MIT/GPL";
