#!/usr/bin/env bash
# The README's screenshot (docs/screenshot.svg), from a real `--demo` run:
# build, run `./bpftop-cap --demo` in a detached tmux session of a fixed
# size on a private tmux server, let the demo traffic flow, select a TLS
# flow and its ClientHello, capture the pane with its colours, quit with q,
# and render the text as SVG with internal/ansisvg. Needs root (the demo
# makes network namespaces and attaches BPF programs) and tmux.
#
#   scripts/screenshot.sh [OUT.svg]      (make screenshot)
#
# COLS, ROWS (default 120x34) and WAIT (seconds of traffic before the
# picture, default 6) change what it takes.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-docs/screenshot.svg}
cols=${COLS:-120}
rows=${ROWS:-34}
wait=${WAIT:-6}
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}

if [[ $(id -u) != 0 ]]; then
	echo "screenshot: --demo needs root (network namespaces, BPF): sudo make screenshot" >&2
	exit 1
fi
command -v tmux >/dev/null || { echo "screenshot: needs tmux (apt-get install tmux)" >&2; exit 1; }

make --no-print-directory build GO="$GO"

sock=bpftop-cap-screenshot-$$ # a private tmux server: nothing else is touched
sess=shot
work=$(mktemp -d)
t() { tmux -L "$sock" -f /dev/null "$@"; }
cleanup() {
	# q first, so the demo removes its namespaces; the server goes after.
	if t has-session -t "$sess" 2>/dev/null; then
		t send-keys -t "$sess" q 2>/dev/null || true
		for _ in $(seq 50); do t has-session -t "$sess" 2>/dev/null || break; sleep 0.1; done
	fi
	t kill-server 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# Plain text of the pane, for finding things in it.
screen() { t capture-pane -p -t "$sess"; }
# The first line matching $1: the selected row of the flow table or of the
# packet list starts with '>' (the flow table's first).
selected() { screen | grep -m1 "$1" || true; }

# The live view's colours follow the terminal: tmux's default TERM gives
# 16 colours (NO_COLOR would take them away). The sleep keeps the pane,
# and what a failed start said, for a while.
t new-session -d -s "$sess" -x "$cols" -y "$rows" -c "$PWD" \
	"env -u NO_COLOR ./bpftop-cap --demo; sleep 5"
for _ in $(seq 100); do
	screen | grep -q ' pkts ' && break
	sleep 0.1
done
if ! screen | grep -q ' pkts '; then
	echo "screenshot: the live view did not start; the pane shows:" >&2
	screen >&2
	exit 1
fi
sleep "$wait"

# Down the flow table to the first TLS flow (port 443: the INFO column,
# the SNI, is cut short beside PROCESS, and DNS flows' name names too), open
# it, and go to its first TLS packet from the client, the ClientHello (the
# SNI is past the 120th column): the panes below then show it. Without a
# TLS flow the picture is of the top flow.
for _ in $(seq 40); do
	selected '^> ' | grep -q ':443 ' && break
	t send-keys -t "$sess" j
	sleep 0.15
done
if selected '^> ' | grep -q ':443 '; then
	t send-keys -t "$sess" Enter # one key a read: Enter and g together were taken as one
	sleep 0.3
	t send-keys -t "$sess" g
	sleep 0.3
	for _ in $(seq 20); do
		selected '^> \(in\|out\) ' | grep -q '^> in .* TLS ' && break
		t send-keys -t "$sess" j
		sleep 0.15
	done
fi
sleep 1.2 # a redraw or two: the rates settle

t capture-pane -e -N -p -t "$sess" >"$work/screen.ans" # -N: trailing blanks too (the status bar)
t send-keys -t "$sess" q
for _ in $(seq 100); do
	screen | grep -q ' packets captured, ' && break
	sleep 0.1
done

mkdir -p "$(dirname "$out")"
"$GO" run ./internal/ansisvg/cmd/ansisvg -cols "$cols" -rows "$rows" \
	-title "bpftop-cap --demo: the live view (flows, packets of the selected flow, decoded layers and hex)" \
	-o "$out" "$work/screen.ans"
echo "screenshot: wrote $out ($(wc -c <"$out") bytes)"
