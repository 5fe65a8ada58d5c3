package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	tea "github.com/charmbracelet/bubbletea"
	"golang.org/x/term"
)

// viewFPS is the live view's frame rate: Bubble Tea's renderer wakes that
// often even when nothing changed, and key presses show within a frame.
// Its default of 60 cost an idle view more CPU than 30 for nothing a user
// sees (docs/performance.md).
const viewFPS = 30

// terminal returns stdout if it is a terminal: the live view needs one.
func terminal(stdout io.Writer) (*os.File, error) {
	if f, ok := stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return f, nil
	}
	return nil, usageErr("the live view needs a terminal on stdout; use -w FILE to capture to a pcap file")
}

// runView runs the Bubble Tea program until the user quits or ctx ends.
// Bubble Tea restores the terminal on every way out, panics in Update,
// View and commands included.
func runView(ctx context.Context, model tea.Model, tty *os.File) error {
	sm := &safeModel{inner: model}
	p := tea.NewProgram(sm,
		tea.WithAltScreen(),
		tea.WithMouseCellMotion(),
		tea.WithContext(ctx),
		tea.WithOutput(tty),
		// Signals are ours (signal.NotifyContext cancels ctx): Bubble Tea's
		// own handler would race it and can block its shutdown forever.
		tea.WithoutSignalHandler(),
		tea.WithFPS(viewFPS),
	)
	_, err := p.Run()
	if sm.err != nil {
		return sm.err
	}
	return err
}

// safeModel turns a panic in the model's Update or View into an error
// (with the stack saved to a crash file, not printed) and a clean quit, so
// the terminal is restored and the user sees one line.
type safeModel struct {
	inner tea.Model
	err   error
}

func (m *safeModel) Init() tea.Cmd { return m.inner.Init() }

func (m *safeModel) Update(msg tea.Msg) (_ tea.Model, cmd tea.Cmd) {
	if m.err != nil {
		return m, tea.Quit
	}
	defer func() {
		if r := recover(); r != nil {
			m.err, cmd = recovered(r), tea.Quit
		}
	}()
	m.inner, cmd = m.inner.Update(msg)
	return m, cmd
}

func (m *safeModel) View() (v string) {
	if m.err != nil {
		return ""
	}
	defer func() {
		if r := recover(); r != nil {
			m.err, v = recovered(r), ""
		}
	}()
	return m.inner.View()
}

// viewFailed turns how the view ended into the error to report: nil for a
// quit or a signal, the cause when a capture goroutine cancelled ctx.
func viewFailed(ctx context.Context, runErr error) error {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	var pe *panicError
	switch {
	case errors.As(runErr, &pe):
		return runErr
	case errors.Is(runErr, tea.ErrProgramPanic):
		return fmt.Errorf("live view: %w", runErr)
	case runErr != nil && !errors.Is(runErr, tea.ErrProgramKilled):
		return fmt.Errorf("live view: %w", runErr)
	}
	return nil
}
