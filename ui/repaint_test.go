package ui

import (
	"fmt"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

// TestRepaintOnStatus: the whole screen is painted again when the
// source's status changes (not when it first shows, nor while it stays),
// and once more when the later repaint comes.
func TestRepaintOnStatus(t *testing.T) {
	status := "live: waiting for the stream"
	e := newEnv(t, 100, 30, Config{Source: "stdin", Status: func() string { return status }})
	if cmd := e.m.repaintOnStatus(); cmd != nil {
		t.Fatal("a repaint for the first status")
	}
	if cmd := e.m.repaintOnStatus(); cmd != nil {
		t.Fatal("a repaint while the status stays")
	}
	status = "stream ended after 5 packets"
	if cmd := e.m.repaintOnStatus(); cmd == nil {
		t.Fatal("no repaint when the stream ended")
	}
	if cmd := e.m.repaintOnStatus(); cmd != nil {
		t.Fatal("a second repaint for the same change")
	}
	_, cmd := e.m.Update(repaintMsg{})
	if cmd == nil {
		t.Fatal("the later repaint does nothing")
	}
	if got, want := fmt.Sprintf("%T", cmd()), fmt.Sprintf("%T", tea.ClearScreen()); got != want {
		t.Errorf("the later repaint sends %s, want %s", got, want)
	}
	noStatus := newEnv(t, 100, 30, Config{})
	if cmd := noStatus.m.repaintOnStatus(); cmd != nil {
		t.Error("a repaint for a source without a status")
	}
}
