package ui

import "github.com/charmbracelet/bubbles/key"

// KeyMap is every key the live view answers to.
type KeyMap struct {
	Up, Down         key.Binding
	PageUp, PageDown key.Binding
	Top, Bottom      key.Binding
	Enter, Back      key.Binding
	NextPane         key.Binding
	PrevPane         key.Binding
	Sort             key.Binding
	Filter           key.Binding
	Follow           key.Binding
	All              key.Binding
	Stream           key.Binding // follow stream of the selected flow
	StreamHex        key.Binding // in follow stream: hex or text (in Stream's help)
	Stats            key.Binding // statistics: conversations, endpoints, protocols
	Procs            key.Binding // the processes view (process attribution only)
	Detail           key.Binding // help only: what the movement keys do in the packet detail
	Pause            key.Binding
	Save             key.Binding
	Help             key.Binding
	Quit             key.Binding
}

// DefaultKeyMap returns the keys described in the README.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "move up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "move down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+f"), key.WithHelp("pgdn", "page down")),
		Top:      key.NewBinding(key.WithKeys("g", "home"), key.WithHelp("g", "first row")),
		Bottom:   key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G", "last row")),
		Enter:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open: flow → packets → packet")),
		Back:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back; clear the filter")),
		NextPane: key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "pane: next")),
		PrevPane: key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "pane: previous")),
		Sort:     key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort: bytes, packets, rate, last seen")),
		Filter:   key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter: pcap (tcp port 443, host 10.0.0.1 and udp), ~text (~CLOSED)")),
		Follow:   key.NewBinding(key.WithKeys("F"), key.WithHelp("F", "follow the top flow and newest packet (tail -f)")),
		All:      key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "all packets list ⇄ flow table")),
		Pause:    key.NewBinding(key.WithKeys(" "), key.WithHelp("space", "pause the display")),
		Save:     key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "save the ring to a file (pcapng or pcap)")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q/ctrl+c", "quit")),

		Stream:    key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "follow stream: the flow's payload (x hex/text, esc closes)")),
		StreamHex: key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "in follow stream: hex dump or text")),
		Stats:     key.NewBinding(key.WithKeys("S"), key.WithHelp("S", "statistics: conversations, endpoints, protocols (tab/1-3, s sort)")),
		Procs:     key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "processes: traffic per process and container (enter: its flows, esc back)")),
		// The packet detail answers to Up, Down, Top and Bottom with its field
		// cursor and to PageUp, PageDown, home and end with the hex dump.
		Detail: key.NewBinding(key.WithKeys("home", "end"), key.WithHelp("in packet", "j/k g/G: fields, their bytes marked; pgup/pgdn home/end: hex")),
	}
}

// ShortHelp is the footer line.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Help, k.Quit, k.Enter, k.Back, k.NextPane, k.All, k.Procs, k.Save, k.Pause, k.Filter, k.Sort}
}

// FullHelp is the help screen, in groups.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.Enter, k.Back, k.NextPane, k.PrevPane, k.Detail},
		{k.All, k.Stream, k.Stats, k.Procs},
		{k.Sort, k.Filter, k.Follow, k.Pause, k.Save, k.Help, k.Quit},
	}
}
