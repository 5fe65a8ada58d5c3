// Package app is bpftop-cap's application: one Config, and the lifecycle
// of a capture written once (runCapture in lifecycle.go: check, prepare,
// open and attach, start, wait, detach, drain, summary), with each mode a
// small file that plugs into it: record.go (-w), live.go (the live view),
// extcap.go (Wireshark's extcap: its questions, and -w to its FIFO);
// and the modes without a capture: read.go (-r, view or convert) and
// demo.go. Around them: signals, priority, the interface watch, the stats
// and ready files, crash files for panics.
//
// It imports every stage (bpf, capture, pcapfile, decode, filter, ui,
// packet). Nothing but main imports it; it must not import main.
package app
