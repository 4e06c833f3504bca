package dashboard

import (
	"unicode/utf8"

	tea "github.com/charmbracelet/bubbletea"
)

// input is a one-line text box: what the person types to answer a blocker or message an
// agent. Typing, pasting, backspace, ctrl+u (clear), ctrl+w (delete a word); the caret
// stays at the end, which is all a one-line answer needs.
type input struct {
	prompt string
	text   []rune
}

// key applies a key to the text; it reports whether the key was one of the box's.
func (in *input) key(k tea.KeyMsg) bool {
	switch k.Type {
	case tea.KeyRunes, tea.KeySpace:
		for _, r := range k.Runes {
			if !isControl(r) {
				in.text = append(in.text, r)
			}
		}
	case tea.KeyBackspace:
		if len(in.text) > 0 {
			in.text = in.text[:len(in.text)-1]
		}
	case tea.KeyCtrlU:
		in.text = nil
	case tea.KeyCtrlW:
		i := len(in.text)
		for i > 0 && in.text[i-1] == ' ' {
			i--
		}
		for i > 0 && in.text[i-1] != ' ' {
			i--
		}
		in.text = in.text[:i]
	default:
		return false
	}
	return true
}

func (in *input) value() string { return string(in.text) }

// view is the box on one line of w cells: the prompt, then as much of the end of the text
// as fits, then the caret.
func (in *input) view(w int) string {
	text := string(in.text)
	room := w - width(in.prompt) - 1
	for room > 0 && width(text) > room {
		_, n := utf8.DecodeRuneInString(text)
		text = text[n:]
	}
	return fit(in.prompt+text+"█", w)
}
