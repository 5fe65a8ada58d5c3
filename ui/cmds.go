package ui

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/bpftop-cap/bpftop-cap/decode"
)

// tick schedules the next redraw of tick chain gen.
func tick(every time.Duration, gen uint64) tea.Cmd {
	return tea.Tick(every, func(t time.Time) tea.Msg { return tickMsg{at: t, gen: gen} })
}

// waitChange waits for the engine's next change.
func waitChange(changed <-chan struct{}) tea.Cmd {
	return func() tea.Msg {
		<-changed
		return changedMsg{}
	}
}

// refresh fetches the views req asks for; it runs as a command, so the
// engine's lock is never taken on the update loop.
func refresh(eng *decode.Engine, req refreshReq) tea.Cmd {
	return func() tea.Msg { return fetch(eng, req) }
}

// fetch reads the views of the engine for one redraw.
func fetch(eng *decode.Engine, req refreshReq) refreshMsg {
	msg := refreshMsg{req: req, stats: eng.Stats(req.now)}
	msg.flowID, msg.hasFlow = req.flowID, req.hasFlow
	if req.flows {
		msg.flows = eng.FlowsOf(req.pids, req.sort, req.filter, req.now)
		// The packets shown are those of the row the table will select.
		msg.hasFlow = false
		i := selectRow(msg.flows, req.flowID, req.hasFlow, req.cursor)
		if req.follow && len(msg.flows) > 0 {
			i = 0 // following, the table selects the top row (flowTable.setRows)
		}
		if i >= 0 {
			msg.flowID, msg.hasFlow = msg.flows[i].ID, true
		}
		if req.histRows > 0 {
			req.histIDs = histWindow(msg.flows, i, req.histRows)
			msg.req.histIDs = req.histIDs
		}
	}
	if len(req.histIDs) > 0 {
		msg.hist = eng.Histories(req.histIDs, req.histNow)
	}
	switch {
	case req.all && req.allFollow:
		msg.allViews, msg.allFirst, msg.allLast = eng.PacketTail(req.allRows + 1)
	case req.all:
		msg.allViews, msg.allFirst, msg.allLast = eng.PacketRange(req.allTop, req.allTop+uint64(req.allRows))
	}
	if req.packets && msg.hasFlow {
		msg.packets = eng.FlowPackets(msg.flowID, req.maxPkts)
	}
	return msg
}

// histWindow returns the IDs of the rows a table of rows, selecting row
// sel, can show in h lines: those within h of the selection, and the top
// h (where following puts the selection).
func histWindow(rows []decode.FlowView, sel, h int) []uint64 {
	var ids []uint64
	add := func(from, to int) {
		for i := max(from, 0); i < min(to, len(rows)); i++ {
			ids = append(ids, rows[i].ID)
		}
	}
	add(0, min(h, sel-h))
	add(sel-h, sel+h)
	return ids
}

// errEmptyRing is reported for w with nothing retained.
var errEmptyRing = errors.New("nothing to save: no packets retained yet")

// saveRing snapshots the retention ring and saves it under a new name in
// dir, off the update loop.
func saveRing(eng *decode.Engine, save SaveFunc, dir, base, ext string) tea.Cmd {
	return func() tea.Msg {
		frames, missed := eng.Snapshot()
		if len(frames) == 0 {
			return savedMsg{err: errEmptyRing}
		}
		path, err := freeName(dir, base, ext)
		if err != nil {
			return savedMsg{err: err}
		}
		n, err := save(path, frames)
		if err != nil {
			return savedMsg{path: path, err: err}
		}
		return savedMsg{path: path, n: n, missed: missed}
	}
}

// freeName returns dir/base+ext, or dir/base-N+ext for the first N that
// does not exist yet. The save function still refuses to overwrite: this
// only avoids the error when two saves fall in the same second.
func freeName(dir, base, ext string) (string, error) {
	for i := 1; i <= 100; i++ {
		name := base + ext
		if i > 1 {
			name = fmt.Sprintf("%s-%d%s", base, i, ext)
		}
		path := filepath.Join(dir, name)
		if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
			return path, nil
		} else if err != nil {
			return path, nil // let the save report it
		}
	}
	return "", fmt.Errorf("save: %s%s and 99 numbered variants exist", base, ext)
}

// msgLife is how long the result of a save stays in the footer before the
// key hints come back.
const msgLife = 5 * time.Second

// fade clears message gen after msgLife.
func fade(gen uint64) tea.Cmd {
	return tea.Tick(msgLife, func(time.Time) tea.Msg { return fadeMsg{gen: gen} })
}

// saveError says why a save failed, the reason first (the footer may cut
// the line), then the directory, each once.
func saveError(path string, err error) string {
	if path == "" {
		return "save: " + err.Error()
	}
	reason := err
	for u := errors.Unwrap(reason); u != nil; u = errors.Unwrap(reason) {
		reason = u
	}
	return fmt.Sprintf("save: %v, in %s", reason, filepath.Dir(path))
}
