package agentproc

import (
	"bytes"
	"errors"
	"io"
	"os"
)

// TranscriptReader reads the readable conversation of a preset agent's log as the log
// grows: a Read past what it has rendered looks at the log again (only when its size
// changed), renders it, and returns what the new render adds. It returns io.EOF when
// nothing new is there yet, so a follower polls it.
type TranscriptReader struct {
	preset, path string
	size         int64  // the log's size at the last render
	shown        []byte // the last render, all of it returned or in out
	out          []byte // what Read has still to return
}

// NewTranscriptReader follows the log at path of an agent of preset.
func NewTranscriptReader(preset, path string) *TranscriptReader {
	return &TranscriptReader{preset: preset, path: path, size: -1}
}

func (r *TranscriptReader) Read(p []byte) (int, error) {
	if len(r.out) == 0 {
		if err := r.refresh(); err != nil {
			return 0, err
		}
		if len(r.out) == 0 {
			return 0, io.EOF
		}
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// Close implements io.Closer; the log is opened only while it is read.
func (r *TranscriptReader) Close() error { return nil }

func (r *TranscriptReader) refresh() error {
	fi, err := os.Stat(r.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // not launched yet
	}
	if err != nil || fi.Size() == r.size {
		return err
	}
	f, err := os.Open(r.path)
	if err != nil {
		return err
	}
	defer f.Close()
	tr, err := ParseTranscript(r.preset, f)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := tr.Render(&b, RenderOptions{Live: true}); err != nil {
		return err
	}
	r.size = fi.Size()
	next := b.Bytes()
	if bytes.HasPrefix(next, r.shown) {
		r.out = next[len(r.shown):]
	} else {
		// The live render only grows; should a line already shown change anyway, show
		// the render again from that line.
		same := 0
		for same < len(r.shown) && same < len(next) && next[same] == r.shown[same] {
			same++
		}
		start := bytes.LastIndexByte(next[:same], '\n') + 1
		r.out = append([]byte("\n"), next[start:]...)
	}
	r.shown = next
	return nil
}
