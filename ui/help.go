package ui

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
)

// helpView renders the help screen: every key, then how the view works,
// in w×h cells.
func helpView(st *Styles, keys KeyMap, w, h int) string {
	var lines []string
	lines = append(lines, title(st, "Help · press ? or esc to close", true, w))
	var all []key.Binding
	for _, g := range keys.FullHelp() {
		for _, b := range g {
			if b.Enabled() {
				all = append(all, b)
			}
		}
	}
	keyW := 0
	for _, b := range all {
		keyW = max(keyW, visibleWidth(b.Help().Key))
	}
	for _, b := range all {
		hk := b.Help()
		lines = append(lines, "  "+st.HelpKey.Render(fit(hk.Key, keyW))+"  "+st.HelpDesc.Render(fit(hk.Desc, w-keyW-4)))
	}
	lines = append(lines, fit("", w))
	for _, s := range []string{
		"  Mouse: the wheel scrolls the pane under it, a click selects.",
		"  Space freezes the display; capture continues into the ring.",
		"  w writes the ring (--ring-size) to bpftop-cap-IFACE-DATE-TIME.pcap",
		"  in the current directory (mode 0600, never overwriting).",
	} {
		lines = append(lines, st.HelpDesc.Render(fit(s, w)))
	}
	for len(lines) < h {
		lines = append(lines, fit("", w))
	}
	return strings.Join(lines[:h], "\n")
}
