package ui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/bpftop-cap/bpftop-cap/decode"
)

// statusBar renders the top line: source, hook, capture filter, counters,
// ring fill (live) or the file's facts, PAUSED, FOLLOW and the process
// whose flows the flow table lists (drill).
func statusBar(st *Styles, cfg *Config, s decode.Stats, paused, follow bool, drill string, w int) string {
	var parts []string
	add := func(style func(...string) string, format string, a ...any) {
		parts = append(parts, style(" "+fmt.Sprintf(format, a...)+" "))
	}
	if cfg.Stopped != nil {
		if why := cfg.Stopped(); why != "" {
			add(st.Warn.Render, "STOPPED: %s", safe(why))
		}
	}
	if paused {
		add(st.Paused.Render, "PAUSED")
	}
	if follow {
		add(st.Paused.Render, "FOLLOW")
	}
	if drill != "" {
		add(st.Paused.Render, "FLOWS OF %s", drill)
	}
	src := safe(cfg.Source)
	if cfg.Hook != "" {
		src += " " + safe(cfg.Hook)
	}
	add(st.StatusBar.Render, "%s", src)
	if cfg.Filter != "" {
		add(st.StatusBar.Render, "filter: %s", safe(cfg.Filter))
	}
	add(st.StatusBar.Render, "%s pkts", count(s.Packets))
	if cfg.Live {
		add(st.StatusBar.Render, "%s pps", si(s.PPS, ""))
		add(st.StatusBar.Render, "%s", bits(s.BPS))
	}
	warn := func(v uint64) func(...string) string {
		if v > 0 {
			return st.Warn.Render
		}
		return st.StatusBar.Render
	}
	switch {
	case cfg.Status != nil:
		add(st.StatusBar.Render, "%s", safe(cfg.Status()))
	case cfg.Live:
		add(warn(s.Lost), "lost %s", count(s.Lost))
		add(warn(s.Dropped), "dropped %s", count(s.Dropped))
		if cfg.ProcFiltered != nil {
			// Not a loss: what the process filters asked to drop.
			add(st.StatusBar.Render, "%s of other processes", count(cfg.ProcFiltered()))
		}
		add(st.StatusBar.Render, "ring %.0f%%", s.RingFill)
	case cfg.Facts != "":
		add(st.StatusBar.Render, "%s", safe(cfg.Facts))
	}
	if (!cfg.Live || cfg.Status != nil) && s.Lost+s.Dropped > 0 {
		// A file's or stream's counters are the writing capture's (pcapng
		// statistics blocks), not ours.
		add(st.Warn.Render, "capture dropped %s", count(s.Lost+s.Dropped))
	}
	add(st.StatusBar.Render, "%d flows", s.Flows)
	line := strings.Join(parts, st.StatusBar.Render("│"))
	if visibleWidth(line) > w {
		line = ansi.Truncate(line, w, "…")
	}
	if pad := w - visibleWidth(line); pad > 0 {
		line += st.StatusBar.Render(strings.Repeat(" ", pad))
	}
	return line
}

// footer renders the bottom line: the filter being typed, a message, or
// the short help.
func footer(st *Styles, m *Model, w int) string {
	switch {
	case m.editing:
		return promptLines(st, m, w)
	case m.msg != "" && m.msgErr:
		return st.Error.Render(fit(m.msg, w))
	case m.msg != "":
		return st.Message.Render(fit(m.msg, w))
	}
	var parts []string
	for _, b := range m.keys.ShortHelp() {
		if !b.Enabled() {
			continue
		}
		h := b.Help()
		k := h.Key
		if i := strings.IndexByte(k, '/'); i > 0 {
			k = k[:i] // "q/ctrl+c" -> "q"
		}
		parts = append(parts, k+" "+firstWord(h.Desc))
	}
	return st.Dim.Render(fit(strings.Join(parts, " · "), w))
}

func firstWord(s string) string {
	if i := strings.IndexAny(s, " :;,"); i > 0 {
		return s[:i]
	}
	return s
}

// graphLine renders the line under the status bar: sparklines of the
// packets and bits per second of the whole capture over the last
// HistorySeconds, each with its peak.
func graphLine(st *Styles, s decode.Stats, w int) string {
	gw := decode.HistorySeconds
	if w < 110 { // two graphs of 30 and their peaks need about 110 cells
		gw = decode.HistorySeconds / 2
	}
	peak := func(h decode.History) float64 {
		var p uint32
		for _, v := range h {
			p = max(p, v)
		}
		return float64(p)
	}
	line := " pkts/s " + st.Graph.Render(sparkline(s.PacketsHistory, gw)) + " peak " + si(peak(s.PacketsHistory), "") +
		st.Dim.Render("  │  ") + "bits/s " + st.Graph.Render(sparkline(s.BytesHistory, gw)) + " peak " + bits(8*peak(s.BytesHistory))
	if span := st.Dim.Render(fmt.Sprintf("  │  last %ds", decode.HistorySeconds)); visibleWidth(line+span) <= w {
		line += span
	}
	if visibleWidth(line) > w {
		line = ansi.Truncate(line, w, "…")
	}
	if pad := w - visibleWidth(line); pad > 0 {
		line += strings.Repeat(" ", pad)
	}
	return line
}
