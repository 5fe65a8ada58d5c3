package ui

import (
	"fmt"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

// TestFilterPromptGolden: the prompt while typing a valid expression, one
// with an error (its column and a caret under it), and a ~ text search.
func TestFilterPromptGolden(t *testing.T) {
	for _, tc := range []struct {
		name, text string
	}{
		{"pcap", "tcp port 80"},
		{"error", "tcp prot 8080"},
		{"text", "~example.com"},
	} {
		for _, size := range []struct{ w, h int }{{80, 24}, {120, 40}} {
			name := fmt.Sprintf("filterprompt-%s-%dx%d", tc.name, size.w, size.h)
			t.Run(name, func(t *testing.T) {
				e := newEnv(t, size.w, size.h, Config{})
				e.fill()
				e.tick()
				e.press("/")
				e.typeText(tc.text)
				e.tick()
				got := e.m.View()
				checkScreen(t, got, size.w, size.h)
				golden(t, name, got)
			})
		}
	}
}

// TestFilterPromptChecks: the mark follows the text as it is typed; an
// expression that does not compile leaves the last valid one in effect,
// with its column under a caret; enter keeps that one and says so.
func TestFilterPromptChecks(t *testing.T) {
	e := newEnv(t, 120, 40, Config{})
	e.fill()
	e.tick()
	e.press("/")
	e.typeText("tcp")
	if e.m.filter != "tcp" || len(e.m.flows.rows) != 1 || !strings.Contains(footerOf(e.m), "pcap ✓") {
		t.Fatalf("tcp: filter %q, %d rows, footer %q", e.m.filter, len(e.m.flows.rows), footerOf(e.m))
	}
	e.typeText(" prot 8080")
	if e.m.filter != "tcp" || len(e.m.flows.rows) != 1 {
		t.Errorf("tcp prot 8080: filter in effect %q, %d rows; want tcp's", e.m.filter, len(e.m.flows.rows))
	}
	lines := strings.Split(e.m.View(), "\n")
	if len(lines) != 40 {
		t.Fatalf("%d lines, want 40", len(lines))
	}
	prompt, caret := lines[38], lines[39]
	if !strings.HasPrefix(prompt, "filter flows: tcp prot 8080█  ✗ col 5: unknown word \"prot\": did you mean \"port\"?") {
		t.Errorf("prompt line %q", prompt)
	}
	if want := strings.Repeat(" ", len(promptPrefix)+4) + "^ unknown word"; !strings.HasPrefix(caret, want) {
		t.Errorf("caret line %q, want the caret under \"prot\" (%q)", caret, want)
	}
	e.press("enter")
	if e.m.editing || e.m.filter != "tcp" || !e.m.msgErr || !strings.Contains(e.m.msg, "col 5") {
		t.Errorf("enter on an error: editing %v, filter %q, message %q", e.m.editing, e.m.filter, e.m.msg)
	}
	// Reopened, the prompt starts from the filter in effect; ~ is text.
	e.press("/")
	if e.m.input != "tcp" {
		t.Errorf("reopened prompt %q, want the filter in effect", e.m.input)
	}
	e.settle(func() tea.Cmd { _, c := e.m.Update(tea.KeyMsg{Type: tea.KeyCtrlU}); return c }())
	e.typeText("~EXAMPLE")
	if e.m.filter != "~EXAMPLE" || !strings.Contains(footerOf(e.m), "█  text") {
		t.Errorf("~EXAMPLE: filter %q, footer %q", e.m.filter, footerOf(e.m))
	}
	if len(e.m.flows.rows) != 1 || e.m.flows.rows[0].A != "10.0.0.1:5000" { // the DNS query for example.com
		t.Errorf("~EXAMPLE: %v", flowOrder(e.m))
	}
	e.press("esc")
	if e.m.editing || e.m.filter != "" || e.m.input != "" || len(e.m.flows.rows) != 4 {
		t.Errorf("esc: editing %v, filter %q, prompt %q, %d rows", e.m.editing, e.m.filter, e.m.input, len(e.m.flows.rows))
	}
}
