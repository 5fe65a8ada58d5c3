package ui

import (
	"time"

	"github.com/bpftop-cap/bpftop-cap/decode"
)

// tickMsg asks for a redraw from fresh views of the engine. gen is the
// tick chain it belongs to: a chain replaced by a faster one is dropped.
type tickMsg struct {
	at  time.Time
	gen uint64
}

// changedMsg says the engine changed (decode.Engine.Changed) while the
// view was idle.
type changedMsg struct{}

// refreshReq is what one refresh fetches from the engine.
type refreshReq struct {
	now      time.Time
	sort     decode.SortKey
	filter   string
	flows    bool   // fetch the flow table (false while paused)
	flowID   uint64 // the selected flow, if hasFlow
	hasFlow  bool
	cursor   int  // the selected row, used when flowID has gone
	follow   bool // F: the top flow and the newest packet are selected
	packets  bool
	maxPkts  int
	selected uint64   // packet selected in the packet list, for the hex pane
	histIDs  []uint64 // the flows on screen, whose sparklines to fetch
	histRows int      // with flows: fetch those of the rows this many lines can show instead
	// The list of all packets (a): its rows on screen, from allTop, or
	// the newest when following.
	all       bool
	allTop    uint64
	allRows   int
	allFollow bool
	histNow   time.Time // the moment they end (the pause's while paused)
	// The flow table's processes (the processes view's drill), nil for
	// all, and the count of their changes (Model.scopeGen).
	pids     []uint32
	scopeGen uint64
}

// refreshMsg carries views of the engine, fetched off the update loop.
type refreshMsg struct {
	req     refreshReq
	stats   decode.Stats
	flows   []decode.FlowView // nil unless req.flows
	flowID  uint64            // the flow packets belong to
	hasFlow bool
	packets []decode.PacketView
	hist    map[uint64]decode.History // of req.histIDs
	// The list of all packets: the rows fetched and the ring's range.
	allViews          []decode.PacketView
	allFirst, allLast uint64
}

// savedMsg reports the end of a save.
type savedMsg struct {
	path   string
	n      int
	missed int // left the ring while it was copied (decode.Engine.Snapshot)
	err    error
}

// fadeMsg clears the status message numbered gen, if it is still shown.
type fadeMsg struct{ gen uint64 }
