package dashboard

import (
	"context"
	"errors"
	"io"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

// Run shows the dashboard full-screen on out, reading keys from in, until the person quits
// (nil) or ctx ends (nil too: a SIGTERM is a way to close it).
func Run(ctx context.Context, opts Options, in io.Reader, out io.Writer) error {
	// Ends the polls still in flight when the person quits.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if opts.Renderer == nil {
		// termenv picks the profile from out: no colour unless out is a terminal with
		// colours, none under NO_COLOR, some under CLICOLOR_FORCE.
		opts.Renderer = lipgloss.NewRenderer(out)
	}
	// 20 frames a second rather than bubbletea's 60: a frame is at most 50ms behind a key,
	// and the renderer's ticker wakes the process a third as often.
	p := tea.NewProgram(New(ctx, opts), tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out),
		tea.WithAltScreen(), tea.WithFPS(20))
	final, err := p.Run()
	if m, ok := final.(Model); ok {
		m.closeConversation()
	}
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil
	}
	return err
}
