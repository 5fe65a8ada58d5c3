package ui

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/bpftop-cap/bpftop-cap/decode"
)

// promptPrefix starts the filter prompt's line; the caret under an error
// counts from its end.
const promptPrefix = "filter flows: "

// openPrompt starts typing the display filter, from the one in effect.
func (m *Model) openPrompt() {
	m.editing = true
	m.setInput(m.filter)
}

// setInput sets the prompt's text and checks it as the user types: text
// after "~", an expression that compiles or nothing becomes the filter in
// effect; an expression that does not compile leaves the one in effect
// as it is and the footer shows why.
func (m *Model) setInput(s string) {
	m.input = s
	m.inputCheck = decode.CheckFilter(s)
	switch m.inputCheck.Kind {
	case decode.FilterInvalid:
	case decode.FilterNone:
		m.filter = ""
	case decode.FilterPcap:
		m.filter = strings.TrimSpace(s) // "tcp " while typing "tcp port"
	default:
		m.filter = s
	}
}

// editKey handles keys while the display filter is typed: enter keeps the
// filter in effect, esc clears it.
func (m *Model) editKey(k tea.KeyMsg) tea.Cmd {
	before := m.filter
	switch k.Type {
	case tea.KeyCtrlC:
		return tea.Quit
	case tea.KeyEnter:
		m.editing = false
		if c := m.inputCheck; c.Kind == decode.FilterInvalid {
			m.setMsg(true, "filter not changed: %s", invalidMark(c))
		}
	case tea.KeyEsc:
		m.editing = false
		m.setInput("")
	case tea.KeyBackspace, tea.KeyDelete:
		if m.input != "" {
			_, n := utf8.DecodeLastRuneInString(m.input)
			m.setInput(m.input[:len(m.input)-n])
		}
	case tea.KeyCtrlU:
		m.setInput("")
	case tea.KeySpace:
		m.appendFilter([]rune{' '})
	case tea.KeyRunes:
		m.appendFilter(k.Runes)
	}
	if m.filter != before {
		return m.requestRefresh()
	}
	return nil
}

func (m *Model) appendFilter(rs []rune) {
	s := m.input
	for _, r := range rs {
		if unicode.IsPrint(r) && len(s) < maxFilterLen {
			s += string(r)
		}
	}
	m.setInput(s)
}

// invalidMark is the prompt's mark for an expression that does not compile.
func invalidMark(c decode.FilterCheck) string {
	if c.Pos < 0 {
		return "✗ " + c.Msg
	}
	return fmt.Sprintf("✗ col %d: %s", c.Pos+1, c.Msg)
}

// promptLines renders the filter prompt: the text, a cursor and a mark
// ("pcap ✓", "text", or the compiler's error and its column), and under an
// error a second line with a caret at the column and the message.
func promptLines(st *Styles, m *Model, w int) string {
	c := m.inputCheck
	line := promptPrefix + safe(m.input) + "█  "
	switch c.Kind {
	case decode.FilterPcap:
		line += st.Message.Render("pcap ✓")
	case decode.FilterText:
		line += st.Message.Render("text")
	case decode.FilterInvalid:
		line += st.Error.Render(invalidMark(c))
	default:
		line += st.Dim.Render("pcap expression, or ~text")
	}
	line = fit(line+st.Dim.Render("  (enter keep, esc clear)"), w)
	if c.Kind != decode.FilterInvalid || c.Pos < 0 {
		return line
	}
	col := visibleWidth(promptPrefix) + visibleWidth(safe(m.input[:min(c.Pos, len(m.input))]))
	// The message again after the caret: on a narrow screen the prompt
	// line cuts it.
	return line + "\n" + fit(strings.Repeat(" ", min(col, max(w-1, 0)))+st.Error.Render("^ "+c.Msg), w)
}

// View renders the screen. A prompt with an error has a caret line under
// it: the row above the footer gives way for it.
func (m *Model) View() string {
	s := m.view()
	if !m.editing || m.height <= 0 {
		return s
	}
	lines := strings.Split(s, "\n")
	if extra := len(lines) - m.height; extra > 0 && len(lines) > 2+extra {
		lines = append(lines[:len(lines)-2-extra], lines[len(lines)-2:]...)
	}
	return strings.Join(lines, "\n")
}
