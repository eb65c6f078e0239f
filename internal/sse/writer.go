package sse

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// WriteTimeout bounds each event's write, so a stalled peer cannot hold a
// handler forever even though servers set no global WriteTimeout for streams.
const WriteTimeout = 30 * time.Second

// Writer writes Server-Sent Events and flushes each one. It is safe for
// concurrent use; after the first failed write (the peer is gone) every
// further write fails at once.
type Writer struct {
	mu     sync.Mutex
	w      http.ResponseWriter
	rc     *http.ResponseController
	failed bool
}

// NewWriter sends the stream's headers (200, text/event-stream, no caching or
// proxy buffering) and returns the writer.
func NewWriter(w http.ResponseWriter) *Writer {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-store")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &Writer{w: w, rc: http.NewResponseController(w)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rc.Flush() != nil {
		s.failed = true
	}
	return s
}

// errClosed reports a write after the peer went away.
type errClosed struct{}

func (errClosed) Error() string { return "sse: the stream is closed" }

func (s *Writer) write(frame string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed {
		return errClosed{}
	}
	_ = s.rc.SetWriteDeadline(time.Now().Add(WriteTimeout))
	if _, err := s.w.Write([]byte(frame)); err != nil {
		s.failed = true
		return err
	}
	if err := s.rc.Flush(); err != nil {
		s.failed = true
		return err
	}
	return nil
}

// Send writes one event whose data is v as JSON; event "" omits the event
// field (clients see a "message").
func (s *Writer) Send(event string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var f strings.Builder
	if event != "" {
		f.WriteString("event: " + event + "\n")
	}
	f.WriteString("data: ")
	f.Write(b)
	f.WriteString("\n\n")
	return s.write(f.String())
}

// Comment writes a comment line, which clients ignore: a keepalive.
func (s *Writer) Comment(text string) error { return s.write(": " + text + "\n\n") }
