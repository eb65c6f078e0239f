package a2a

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/kubently/kubently/internal/agent"
	"github.com/kubently/kubently/internal/auth"
	"github.com/kubently/kubently/internal/httpapi"
	"github.com/kubently/kubently/internal/problem"
	"github.com/kubently/kubently/internal/sse"
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
	if err := httpapi.DecodeBody(r, &body, s.d.MaxBodyBytes); err != nil {
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

	out := sse.NewWriter(w)
	tick := time.NewTicker(s.d.Keepalive)
	defer tick.Stop()
	var grace <-chan time.Time
	done := ctx.Done()
	terminal := false
	fail := func(msg string) {
		_ = out.Send("", agent.Event{Type: agent.EventError, Message: msg, Timestamp: time.Now().UTC()})
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
			if out.Send("", ev) != nil {
				cancel(errClientGone)
			}
		case <-tick.C:
			if out.Comment("keepalive") != nil {
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
