package ui

import (
	"strings"

	"github.com/bpftop-cap/bpftop-cap/decode"
)

// sparkLevels are the bars of a sparkline, lowest first: a blank for
// nothing, and the lowest bar for any activity at all, so a quiet flow's
// single packet still shows.
var sparkLevels = []rune(" ▁▂▃▄▅▆▇█")

// sparkline draws h (oldest first) in w cells, each cell the sum of
// len(h)/w consecutive seconds (rounded up; the oldest seconds go when
// they do not fill a whole cell), scaled to the largest cell. nil draws
// blanks.
func sparkline(h decode.History, w int) string {
	if w <= 0 {
		return ""
	}
	if len(h) == 0 {
		return strings.Repeat(" ", w)
	}
	per := (len(h) + w - 1) / w
	cells := make([]uint64, 0, w)
	for end := len(h); end-per >= 0 && len(cells) < w; end -= per {
		var sum uint64
		for _, v := range h[end-per : end] {
			sum += uint64(v)
		}
		cells = append(cells, sum)
	}
	var top uint64
	for _, c := range cells {
		top = max(top, c)
	}
	var b strings.Builder
	for i := w - 1; i >= 0; i-- { // cells were collected newest first
		switch {
		case i >= len(cells) || cells[i] == 0:
			b.WriteRune(sparkLevels[0])
		default:
			lv := 1 + int(cells[i]*uint64(len(sparkLevels)-2)/top) // 1..8
			b.WriteRune(sparkLevels[lv])
		}
	}
	return b.String()
}
