package kube

import (
	"fmt"
	"sync"
	"unicode/utf8"
)

// DefaultMaxOutputBytes is the output cap used when Options.MaxOutputBytes is
// zero or negative.
const DefaultMaxOutputBytes = 1 << 20

// truncationNote is appended to a stream that was cut at limit bytes, so that a
// reader (human or model) knows the text is incomplete and why.
func truncationNote(limit int) string {
	return fmt.Sprintf("\n[output truncated by kubently: limit %d bytes]\n", limit)
}

// capWriter is an io.Writer that keeps the first limit bytes written to it and
// silently discards (but counts) the rest. It never returns an error, so a
// command that produces too much output still runs to completion and reports
// its real exit code. It is safe for concurrent use: exec and logs write
// stdout and stderr from several goroutines, and Run may read a snapshot while
// a cancelled command is still winding down.
type capWriter struct {
	mu    sync.Mutex
	limit int
	buf   []byte
	total int64
}

func newCapWriter(limit int) *capWriter {
	return &capWriter{limit: limit}
}

// Write implements io.Writer.
func (w *capWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.total += int64(len(p))
	if room := w.limit - len(w.buf); room > 0 {
		if len(p) < room {
			room = len(p)
		}
		w.buf = append(w.buf, p[:room]...)
	}
	return len(p), nil
}

// WriteString appends s; it makes capWriter an io.StringWriter.
func (w *capWriter) WriteString(s string) (int, error) {
	return w.Write([]byte(s))
}

// String returns what was kept, cut back to a UTF-8 boundary and followed by
// the truncation note when more than limit bytes were written, and whether
// that happened.
func (w *capWriter) String() (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.total <= int64(w.limit) {
		return string(w.buf), false
	}
	kept := w.buf
	// Do not end on half a multi-byte character: drop a trailing partial rune.
	for i := len(kept) - 1; i >= 0 && i >= len(kept)-utf8.UTFMax; i-- {
		if utf8.RuneStart(kept[i]) {
			if !utf8.FullRune(kept[i:]) {
				kept = kept[:i]
			}
			break
		}
	}
	return string(kept) + truncationNote(w.limit), true
}
