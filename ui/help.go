package ui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
)

// helpView renders the help screen: every key, then how the view works,
// in w×h cells, from line *off of the text (clamped to what there is; the
// title stays). A screen too short for it all says so in its title.
func helpView(st *Styles, keys KeyMap, w, h int, off *int) string {
	var lines []string
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
		"  w writes the ring (--ring-size) to bpftop-cap-IFACE-DATE-TIME.pcapng",
		"  (or .pcap) in the current directory (mode 0600, never overwriting).",
	} {
		lines = append(lines, st.HelpDesc.Render(fit(s, w)))
	}
	body := max(h-1, 0)
	*off = min(max(*off, 0), max(len(lines)-body, 0))
	heading := "Help · press ? or esc to close"
	if len(lines) > body {
		heading += fmt.Sprintf(" · lines %d-%d of %d, j/k scroll", *off+1, min(*off+body, len(lines)), len(lines))
	}
	lines = lines[*off:]
	for len(lines) < body {
		lines = append(lines, fit("", w))
	}
	return title(st, heading, true, w) + "\n" + strings.Join(lines[:body], "\n")
}
