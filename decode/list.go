package decode

// maxRange bounds PacketRange: more rows than any screen shows.
const maxRange = 512

// PacketRange returns the views of the retained packets numbered first to
// last (inclusive, at most maxRange of them from first), oldest first,
// and the ring's oldest and newest sequence numbers at the time (0, 0
// when empty): the live view's list of all packets asks for the rows it
// shows. Packets that left the ring are missing from the result. The
// views of the last range are kept, so a list that scrolls or grows
// decodes only its new rows.
func (e *Engine) PacketRange(first, last uint64) (views []PacketView, ringFirst, ringLast uint64) {
	return e.packetRange(first, last, 0)
}

// PacketTail is PacketRange of the newest n retained packets, the range
// taken under the same lock as the packets: a list that follows the
// newest packet always gets it.
func (e *Engine) PacketTail(n int) (views []PacketView, ringFirst, ringLast uint64) {
	return e.packetRange(0, 0, max(n, 1))
}

func (e *Engine) packetRange(first, last uint64, tail int) (views []PacketView, ringFirst, ringLast uint64) {
	e.viewMu.Lock()
	defer e.viewMu.Unlock()
	if e.rangeCache == nil {
		e.rangeCache = map[uint64]PacketView{}
	}
	if e.view == nil {
		e.view = NewDecoder() // e.view is viewMu's
	}
	if last >= first+maxRange {
		last = first + maxRange - 1
	}
	want := tail
	if tail == 0 {
		want = int(min(last-first+1, maxRange))
	}
	// Allocated unlocked, for the reason Snapshot gives.
	items := make([]viewItem, 0, min(want, maxRange))
	e.mu.Lock()
	if e.ring.count() > 0 {
		ringFirst, ringLast = e.ring.first, e.ring.next-1
	}
	if tail > 0 {
		last = ringLast
		first = last - min(uint64(tail-1), last)
	}
	first, last = max(first, ringFirst), min(last, ringLast)
	decoded := 0
	for seq := first; seq <= last && ringLast > 0; seq++ {
		if _, ok := e.rangeCache[seq]; ok {
			continue
		}
		if decoded == flowPacketsChunk {
			e.yieldLocked() // the ring may move: get checks each seq
			decoded = 0
		}
		var ok bool
		if items, ok = e.decodeLocked(items, seq); ok {
			decoded++
		}
	}
	e.mu.Unlock()
	viewsInto(e.rangeCache, items)
	for seq := first; seq <= last && ringLast > 0; seq++ {
		if v, ok := e.rangeCache[seq]; ok {
			views = append(views, v)
		}
	}
	// Keep only this range's views.
	for seq := range e.rangeCache {
		if seq < first || seq > last {
			delete(e.rangeCache, seq)
		}
	}
	return views, ringFirst, ringLast
}

// decodeLocked appends retained packet seq to items, decoded with e.view;
// ok is false when it has left the ring. e.mu and e.viewMu are held.
func (e *Engine) decodeLocked(items []viewItem, seq uint64) (_ []viewItem, ok bool) {
	rec, data, ok := e.ring.get(seq)
	if !ok {
		return items, false
	}
	items = append(items, viewItem{seq: seq, rec: *rec})
	e.view.DecodeLink(rec.linkType(), data, int(rec.origLen), &items[len(items)-1].sum)
	return items, true
}

// viewsInto puts the views of the decoded items into cache by sequence
// number, their lines built in one reused buffer.
func viewsInto(cache map[uint64]PacketView, items []viewItem) {
	var line []byte
	for i := range items {
		cache[items[i].seq], line = items[i].view(line)
	}
}
