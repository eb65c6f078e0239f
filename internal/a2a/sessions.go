package a2a

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/agent"
	"github.com/kubently/kubently/internal/auth"
	"github.com/kubently/kubently/internal/httpapi"
	"github.com/kubently/kubently/internal/problem"
)

// errClientGone cancels an investigation whose client disconnected.
var errClientGone = errors.New("the client disconnected")

// afterCancelGrace is how long a stream waits for the investigation to end
// after its context ended before it writes the terminal error itself.
const afterCancelGrace = 10 * time.Second

// serveSession is POST /a2a/sessions: validate, then stream the
// investigation's events as Server-Sent Events, ending with exactly one done
// or error event.
func (s *service) serveSession(w http.ResponseWriter, r *http.Request) error {
	p := auth.FromContext(r.Context())
	if p == nil {
		return errNoPrincipal
	}
	timeout, perr := parseTimeout(r.Header.Get(HeaderRequestTimeout), s.d.DefaultTimeout)
	if perr != nil {
		return perr
	}
	identity, perr := parseServiceIdentity(r.Header.Get(HeaderServiceIdentity))
	if perr != nil {
		return perr
	}
	var body SessionRequest
	if err := decodeJSON(r, &body, s.d.MaxBodyBytes); err != nil {
		return err
	}
	body.Query = strings.TrimSpace(body.Query)
	if body.Query == "" {
		return problem.Missing("query")
	}
	if body.ClusterID != "" && !clusterRE.MatchString(body.ClusterID) {
		return problem.Invalid("cluster_id", "invalid_value", "cluster_id must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)")
	}
	if body.ThreadID != "" && !safeID.MatchString(body.ThreadID) {
		return problem.Invalid("thread_id", "invalid_value", "thread_id must be 1-128 characters of letters, digits and ._:/+=@-")
	}
	req := agent.Request{
		Principal:       p,
		Query:           body.Query,
		ClusterID:       body.ClusterID,
		ThreadID:        body.ThreadID,
		CorrelationID:   httpapi.CorrelationID(r.Context()),
		ServiceIdentity: identity,
		Source:          "a2a",
	}
	s.stream(w, r, req, timeout)
	return nil
}

// decodeJSON reads a JSON object into v strictly: JSON content type, size
// limit, no unknown fields, right types.
func decodeJSON(r *http.Request, v any, maxBytes int64) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return problem.Invalid("", "unsupported_media_type", "Content-Type must be application/json, got %q", ct)
		}
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBytes+1))
	if err != nil {
		return problem.Invalid("", "unreadable_body", "Could not read the request body: %v", err)
	}
	if int64(len(raw)) > maxBytes {
		return problem.New(api.CodeTooLarge, "Request body exceeds the limit of %d bytes", maxBytes).WithDetails(map[string]any{"limit_bytes": maxBytes})
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return problem.Invalid("", "missing_body", "A JSON request body is required")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return problem.Invalid("", "malformed_json", "The request body must be a JSON object: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return problem.Invalid(te.Field, "invalid_type", "Field %s must be of type %s, got JSON %s", te.Field, te.Type.Kind(), te.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return problem.Invalid(name, "unknown_field", "Unknown field: %s", name)
		default:
			return problem.Invalid("", "malformed_json", "Invalid request body: %v", err)
		}
	}
	return nil
}

// sseStream writes Server-Sent Events, flushing each, with a deadline per
// write. After the first failed write (the client is gone) it writes nothing.
type sseStream struct {
	mu     sync.Mutex
	w      http.ResponseWriter
	rc     *http.ResponseController
	failed bool
}

func newSSEStream(w http.ResponseWriter) *sseStream {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-store")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	s := &sseStream{w: w, rc: http.NewResponseController(w)}
	s.mu.Lock()
	s.flush()
	s.mu.Unlock()
	return s
}

// flush sends buffered bytes (mu held).
func (s *sseStream) flush() {
	if err := s.rc.Flush(); err != nil {
		s.failed = true
	}
}

func (s *sseStream) writeRaw(b []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed {
		return false
	}
	_ = s.rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := s.w.Write(b); err != nil {
		s.failed = true
		return false
	}
	s.flush()
	return !s.failed
}

// event writes one data: line with v as JSON.
func (s *sseStream) event(v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	return s.writeRaw([]byte("data: " + string(b) + "\n\n"))
}

// keepalive writes an SSE comment, which clients ignore.
func (s *sseStream) keepalive() bool { return s.writeRaw([]byte(": keepalive\n\n")) }

// stream runs the investigation and relays its events as they come.
func (s *service) stream(w http.ResponseWriter, r *http.Request, req agent.Request, timeout time.Duration) {
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	ctx, stop := context.WithTimeoutCause(ctx, timeout, errTimedOut)
	defer stop()

	events := make(chan agent.Event, 16)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		defer close(events)
		defer func() {
			if v := recover(); v != nil {
				s.d.Log.Error("panic in investigation", "panic", fmt.Sprint(v), "principal", req.Principal.ID, "stack", string(debug.Stack()))
				events <- agent.Event{Type: agent.EventError, Message: "the investigation failed unexpectedly", Timestamp: time.Now().UTC()}
			}
		}()
		_, _ = s.d.Investigator.Investigate(ctx, req, func(ev agent.Event) { events <- ev })
	}()

	out := newSSEStream(w)
	tick := time.NewTicker(s.d.Keepalive)
	defer tick.Stop()
	var grace <-chan time.Time
	done := ctx.Done()
	terminal := false
	fail := func(msg string) {
		out.event(agent.Event{Type: agent.EventError, Message: msg, Timestamp: time.Now().UTC()})
		terminal = true
	}
	for !terminal {
		select {
		case ev, ok := <-events:
			if !ok {
				fail("the investigation ended without a result")
				continue
			}
			switch ev.Type {
			case agent.EventDone:
				terminal = true
			case agent.EventError:
				terminal = true
				if errors.Is(context.Cause(ctx), errTimedOut) {
					ev.Message = describeTimeout(timeout)
				}
			}
			if ev.Timestamp.IsZero() {
				ev.Timestamp = time.Now().UTC()
			}
			if !out.event(ev) {
				cancel(errClientGone)
			}
		case <-tick.C:
			if !out.keepalive() {
				cancel(errClientGone)
			}
		case <-done:
			done = nil
			grace = time.After(afterCancelGrace)
		case <-grace:
			// The investigator ignored its context: end the stream anyway.
			msg := "the investigation was cancelled"
			if errors.Is(context.Cause(ctx), errTimedOut) {
				msg = describeTimeout(timeout)
			}
			fail(msg)
		}
	}
	// Keep draining so an investigator still emitting never blocks.
	go func() {
		for range events {
		}
	}()
	select {
	case <-finished:
	case <-time.After(afterCancelGrace):
		s.d.Log.Warn("investigation still running after its stream ended", "principal", req.Principal.ID)
	}
}
