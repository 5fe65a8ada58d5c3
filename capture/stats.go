package capture

import "sync/atomic"

// Stats are the user-space capture counters, safe for concurrent use.
type Stats struct {
	Received   atomic.Uint64 // packets read from the perf ring and handed on
	Bytes      atomic.Uint64 // their captured bytes
	Lost       atomic.Uint64 // samples perf reported lost (ring full)
	BadRecords atomic.Uint64 // records that failed validation
	// Dropped is packets dropped in user space: none now (the reader waits
	// for a slow consumer and the kernel's rings take the backlog), kept
	// for the counters the summary, the stats JSON and pcapng show.
	Dropped atomic.Uint64
	// Late counts packets RunDirect wrote after one stamped later: their
	// CPU wrote them too long after stamping them (perfSlack, directSlack),
	// or a ring buffer pass had to write them early (bpfRing.merge).
	Late atomic.Uint64
}
