package ui

import (
	"time"

	tea "github.com/charmbracelet/bubbletea"
)

// repaintMsg asks for the whole screen to be painted again.
type repaintMsg struct{}

// repaintAfter is how long after the source's status changed the screen
// is painted again a second time.
const repaintAfter = time.Second

// repaintOnStatus paints the whole screen again when the source's status
// changes (a stream starting or ending), at once and a moment later. A
// stream's writer shares the terminal (`bpftop-cap -w - | bpftop-cap -r
// -`): its last words on stderr, printed as it ends, land on the view and
// scroll it, and the view's own redraws touch only the lines that changed.
func (m *Model) repaintOnStatus() tea.Cmd {
	if m.cfg.Status == nil {
		return nil
	}
	s := m.cfg.Status()
	if s == m.sourceStatus {
		return nil
	}
	first := m.sourceStatus == ""
	m.sourceStatus = s
	if first {
		return nil
	}
	return tea.Batch(tea.ClearScreen, tea.Tick(repaintAfter, func(time.Time) tea.Msg { return repaintMsg{} }))
}
