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
	if opts.Renderer == nil {
		// termenv picks the profile from out: no colour unless out is a terminal with
		// colours, none under NO_COLOR, some under CLICOLOR_FORCE.
		opts.Renderer = lipgloss.NewRenderer(out)
	}
	p := tea.NewProgram(New(ctx, opts), tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out), tea.WithAltScreen())
	final, err := p.Run()
	if m, ok := final.(Model); ok {
		m.closeConversation()
	}
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil
	}
	return err
}
