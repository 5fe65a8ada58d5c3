// Package ui is the live terminal view: a Bubble Tea program showing the
// flow table, the packets of the selected flow and a hex pane for the
// selected packet, over a decode.Engine that the capture side fills.
//
// It owns:
//   - Model (model.go), the root: layout, focus, drill-down, pause, the
//     display filter, sorting and saving the retention ring;
//   - one file per component: flows.go, packets.go, hex.go, statusbar.go,
//     help.go, stream.go (follow stream, f), stats.go (statistics, S);
//     keys.go holds the one KeyMap, styles.go the one Styles;
//   - msgs.go (tickMsg, refreshMsg, savedMsg) and cmds.go (tick,
//     refresh, saveRing).
//
// The UI never gets a message per packet: it redraws on a tick, reading
// views from the engine in a command, off the update loop, and renders only
// the visible rows; full detail is decoded for the selected packet alone.
// Every string that comes from packet bytes goes through decode.Printable or
// decode.PrintableASCII before it reaches the terminal.
//
// ui imports decode, packet and the Charm libraries only. It must not
// import capture, bpf, filter, pcapfile, cilium/ebpf, internal/app or main:
// whatever needs them (saving a file) is injected through Config.
package ui
