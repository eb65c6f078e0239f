package a2a_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/a2a"
	"github.com/kubently/kubently/internal/agent"
)

func decodeEvent(t *testing.T, data string) agent.Event {
	t.Helper()
	var ev agent.Event
	if err := json.Unmarshal([]byte(data), &ev); err != nil {
		t.Fatalf("not an event: %s", data)
	}
	if ev.Timestamp.IsZero() {
		t.Fatalf("event without timestamp: %s", data)
	}
	return ev
}

// The reference transport streams tool calls and content as they are
// produced (the agent waits for the test to see part 1 before it writes part
// 2), sends keepalives while the agent thinks and ends with done.
func TestSessionStreamsIncrementally(t *testing.T) {
	e := newEnv(t)
	release := e.inv.gate("s1")
	s := e.open("POST", a2a.PathSessions, aliceKey,
		map[string]any{"query": "gate:s1 why is checkout crashlooping?", "cluster_id": "prod", "thread_id": "thread-123"},
		api.HeaderCorrelationID, "corr-42", a2a.HeaderServiceIdentity, "triage-agent", a2a.HeaderRequestTimeout, "30")
	if got := s.res.Header.Get(api.HeaderCorrelationID); got != "corr-42" {
		t.Errorf("X-Correlation-ID echoed as %q", got)
	}
	if cc := s.res.Header.Get("Cache-Control"); !strings.Contains(cc, "no-cache") {
		t.Errorf("Cache-Control = %q", cc)
	}

	call := decodeEvent(t, mustNext(t, s))
	if call.Type != agent.EventToolCall || call.Tool != "execute_kubectl" || call.Parameters["command"] != "get pods -A" || call.Parameters["cluster_id"] != "prod" {
		t.Fatalf("first event: %+v", call)
	}
	if res := decodeEvent(t, mustNext(t, s)); res.Type != agent.EventToolResult || res.Status != "ok" {
		t.Fatalf("second event: %+v", res)
	}
	if c := decodeEvent(t, mustNext(t, s)); c.Type != agent.EventContent || c.Content != "part 1 " {
		t.Fatalf("third event: %+v", c)
	}
	// The agent is now blocked until the gate opens: the stream stays open
	// with keepalive comments.
	if c := s.nextComment(); c != "keepalive" {
		t.Fatalf("comment %q", c)
	}
	release()
	if c := decodeEvent(t, mustNext(t, s)); c.Type != agent.EventContent || c.Content != "part 2" {
		t.Fatalf("after the gate: %+v", c)
	}
	done := decodeEvent(t, mustNext(t, s))
	if done.Type != agent.EventDone || done.ThreadID != "thread-123" {
		t.Fatalf("final event: %+v", done)
	}
	if more := s.rest(); len(more) != 0 {
		t.Fatalf("events after done: %v", more)
	}

	r := e.inv.next(t)
	want := agent.Request{Query: "gate:s1 why is checkout crashlooping?", ClusterID: "prod", ThreadID: "thread-123",
		CorrelationID: "corr-42", ServiceIdentity: "triage-agent", Source: "a2a"}
	got := r.req
	if got.Principal == nil || got.Principal.ID != "alice" {
		t.Fatalf("principal %+v", got.Principal)
	}
	got.Principal = nil
	if got != want {
		t.Fatalf("request\n got %+v\nwant %+v", got, want)
	}
}

func mustNext(t *testing.T, s *stream) string {
	t.Helper()
	d, ok := s.next()
	if !ok {
		t.Fatal("stream ended early")
	}
	return d
}

func TestSessionDefaultScriptAndError(t *testing.T) {
	e := newEnv(t)
	var content strings.Builder
	evs := e.open("POST", a2a.PathSessions, aliceKey, map[string]any{"query": "list crashlooping pods"}).rest()
	if len(evs) < 3 {
		t.Fatalf("events: %v", evs)
	}
	for i, d := range evs {
		ev := decodeEvent(t, d)
		switch {
		case i == 0 && ev.Type != agent.EventToolCall:
			t.Fatalf("first event %+v", ev)
		case i == len(evs)-1 && ev.Type != agent.EventDone:
			t.Fatalf("last event %+v", ev)
		case ev.Type == agent.EventContent:
			content.WriteString(ev.Content)
		}
	}
	if content.String() != "Two pods are in CrashLoopBackOff." {
		t.Fatalf("content %q", content.String())
	}

	evs = e.open("POST", a2a.PathSessions, aliceKey, map[string]any{"query": "fail please"}).rest()
	last := decodeEvent(t, evs[len(evs)-1])
	if last.Type != agent.EventError || last.Message != "kubectl: connection refused" {
		t.Fatalf("failure ends with %+v", last)
	}
	for _, d := range evs[:len(evs)-1] {
		if ev := decodeEvent(t, d); ev.Type == agent.EventDone || ev.Type == agent.EventError {
			t.Fatalf("terminal event before the end: %v", evs)
		}
	}
}

func TestSessionValidation(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name    string
		body    any
		headers []string
		field   string
		code    string
	}{
		{"no query", map[string]any{"cluster_id": "prod"}, nil, "query", "missing_required_field"},
		{"empty query", map[string]any{"query": "  "}, nil, "query", "missing_required_field"},
		{"null query", `{"query": null}`, nil, "query", "missing_required_field"},
		{"unknown field", map[string]any{"query": "x", "cluster": "prod"}, nil, "cluster", "unknown_field"},
		{"wrong type", `{"query": 42}`, nil, "query", "invalid_type"},
		{"bad cluster", map[string]any{"query": "x", "cluster_id": "Prod_1"}, nil, "cluster_id", "invalid_value"},
		{"bad thread", map[string]any{"query": "x", "thread_id": "a b"}, nil, "thread_id", "invalid_value"},
		{"timeout zero", map[string]any{"query": "x"}, []string{a2a.HeaderRequestTimeout, "0"}, a2a.HeaderRequestTimeout, "invalid_value"},
		{"timeout too big", map[string]any{"query": "x"}, []string{a2a.HeaderRequestTimeout, "601"}, a2a.HeaderRequestTimeout, "invalid_value"},
		{"timeout not a number", map[string]any{"query": "x"}, []string{a2a.HeaderRequestTimeout, "30s"}, a2a.HeaderRequestTimeout, "invalid_value"},
		{"timeout fractional", map[string]any{"query": "x"}, []string{a2a.HeaderRequestTimeout, "1.5"}, a2a.HeaderRequestTimeout, "invalid_value"},
		{"bad service identity", map[string]any{"query": "x"}, []string{a2a.HeaderServiceIdentity, "bad identity!"}, a2a.HeaderServiceIdentity, "invalid_value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do("POST", a2a.PathSessions, aliceKey, c.body, c.headers...)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			er := r.apiError(t)
			if er.Code != api.CodeInvalidRequest || er.Details["field"] != c.field || er.Details["code"] != c.code {
				t.Fatalf("error %+v", er)
			}
			if er.Message == "" {
				t.Fatal("empty message")
			}
		})
	}
	r := e.do("POST", a2a.PathSessions, aliceKey, "not json")
	if r.status != http.StatusBadRequest || r.apiError(t).Details["code"] != "malformed_json" {
		t.Fatalf("malformed body: %d %s", r.status, r.body)
	}
	select {
	case run := <-e.inv.newRun:
		t.Fatalf("a refused request started an investigation: %+v", run.req)
	default:
	}
}

// X-Request-Timeout bounds the investigation: a stuck agent is cancelled and
// the stream ends with an error naming the limit.
func TestSessionRequestTimeout(t *testing.T) {
	e := newEnv(t)
	s := e.open("POST", a2a.PathSessions, aliceKey, map[string]any{"query": "hang forever"}, a2a.HeaderRequestTimeout, "1")
	evs := s.rest()
	run := e.inv.next(t)
	run.waitCanceled(t)
	last := decodeEvent(t, evs[len(evs)-1])
	if last.Type != agent.EventError || !strings.Contains(last.Message, "time limit of 1s") {
		t.Fatalf("last event %+v", last)
	}
}

// A client that goes away cancels its investigation.
func TestSessionClientDisconnectCancels(t *testing.T) {
	e := newEnv(t)
	s := e.open("POST", a2a.PathSessions, aliceKey, map[string]any{"query": "hang until the client leaves"})
	if ev := decodeEvent(t, mustNext(t, s)); ev.Type != agent.EventToolCall {
		t.Fatalf("first event %+v", ev)
	}
	run := e.inv.next(t)
	s.close()
	run.waitCanceled(t)
}
