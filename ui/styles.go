package ui

import (
	"strings"

	"github.com/charmbracelet/lipgloss"
)

// Styles is every style the live view uses. Colours go through lipgloss, so
// they follow the terminal's profile and NO_COLOR; nothing relies on colour
// alone (the cursor row has a '>' and the focused pane a '▶').
type Styles struct {
	StatusBar    lipgloss.Style
	Paused       lipgloss.Style
	Warn         lipgloss.Style
	Title        lipgloss.Style
	TitleFocused lipgloss.Style
	Header       lipgloss.Style
	Row          lipgloss.Style
	Selected     lipgloss.Style // cursor row of the focused pane
	SelectedDim  lipgloss.Style // cursor row of another pane
	Dim          lipgloss.Style
	Layer        lipgloss.Style
	Offset       lipgloss.Style
	Field        lipgloss.Style // the selected field's bytes in the hex dump (also bracketed)
	Message      lipgloss.Style
	Error        lipgloss.Style
	HelpKey      lipgloss.Style
	HelpDesc     lipgloss.Style
	Graph        lipgloss.Style // the sparklines
	// The palette of the lists: protocol classes and directions. Basic
	// ANSI colours, which terminals adapt to dark and light themes.
	Web, Names, Control, In, Out lipgloss.Style
	// Follow stream: the client's bytes and the server's (each line also
	// starts with → or ←), and the marks of missing bytes.
	StreamClient lipgloss.Style
	StreamServer lipgloss.Style
	StreamGap    lipgloss.Style
}

// DefaultStyles returns the styles of the live view.
func DefaultStyles() Styles {
	return Styles{
		StatusBar:    lipgloss.NewStyle().Reverse(true),
		Paused:       lipgloss.NewStyle().Reverse(true).Bold(true).Foreground(lipgloss.Color("3")),
		Warn:         lipgloss.NewStyle().Reverse(true).Bold(true).Foreground(lipgloss.Color("1")),
		Title:        lipgloss.NewStyle().Foreground(lipgloss.Color("8")),
		TitleFocused: lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("6")),
		Header:       lipgloss.NewStyle().Bold(true),
		Row:          lipgloss.NewStyle(),
		Selected:     lipgloss.NewStyle().Reverse(true),
		SelectedDim:  lipgloss.NewStyle().Underline(true),
		Dim:          lipgloss.NewStyle().Foreground(lipgloss.Color("8")),
		Layer:        lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("4")),
		Offset:       lipgloss.NewStyle().Foreground(lipgloss.Color("8")),
		Field:        lipgloss.NewStyle().Reverse(true).Foreground(lipgloss.Color("3")),
		Message:      lipgloss.NewStyle().Foreground(lipgloss.Color("2")),
		Error:        lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("1")),
		HelpKey:      lipgloss.NewStyle().Bold(true),
		HelpDesc:     lipgloss.NewStyle().Foreground(lipgloss.Color("8")),
		Graph:        lipgloss.NewStyle().Foreground(lipgloss.Color("6")),
		Web:          lipgloss.NewStyle().Foreground(lipgloss.Color("4")),
		Names:        lipgloss.NewStyle().Foreground(lipgloss.Color("5")),
		Control:      lipgloss.NewStyle().Foreground(lipgloss.Color("3")),
		In:           lipgloss.NewStyle().Foreground(lipgloss.Color("2")),
		Out:          lipgloss.NewStyle().Foreground(lipgloss.Color("6")),
		StreamClient: lipgloss.NewStyle().Foreground(lipgloss.Color("1")),
		StreamServer: lipgloss.NewStyle().Foreground(lipgloss.Color("4")),
		StreamGap:    lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("3")),
	}
}

// proto colours a protocol name by its class: web (HTTP, TLS, QUIC),
// names (DNS, mDNS, LLMNR), control (ICMP, ARP, neighbour discovery);
// the rest plain. Colour only adds to the name, which says it all.
func (st *Styles) proto(name string) string {
	switch name {
	case "HTTP", "TLS", "QUIC", "HTTPS", "HTTP2":
		return st.Web.Render(name)
	case "DNS", "mDNS", "MDNS", "LLMNR", "NBNS":
		return st.Names.Render(name)
	case "ICMP", "ICMPv6", "ARP", "IGMP", "NDP":
		return st.Control.Render(name)
	}
	return name
}

// dir colours a direction name: in and out.
func (st *Styles) dir(name string) string {
	switch name {
	case "in":
		return st.In.Render(name)
	case "out":
		return st.Out.Render(name)
	}
	return name
}

// paint fits s in w cells and colours its text with style, unless plain
// (the cursor row, whose reverse video an inner colour would cut short).
func paint(s string, w int, style func(string) string, plain bool) string {
	f := fit(s, w)
	if plain {
		return f
	}
	t := strings.TrimRight(f, " ")
	return style(t) + f[len(t):]
}
