package a2a_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/a2aproject/a2a-go/v2/a2a"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/a2a"
	"github.com/kubently/kubently/internal/agent"
	"github.com/kubently/kubently/internal/auth"
	"github.com/kubently/kubently/internal/httpapi"
	"github.com/kubently/kubently/internal/ratelimit"
	"github.com/kubently/kubently/internal/store"
	"github.com/kubently/kubently/internal/store/boltstore"
	"github.com/kubently/kubently/internal/store/redisstore"
	"github.com/kubently/kubently/internal/telemetry"
	"github.com/kubently/kubently/internal/testkit"
)

// Keys of the test principals.
const (
	aliceKey = "alice-key-0123456789abcdef"
	bobKey   = "bob-key-0123456789abcdefgh"
)

// wait bounds every wait in these tests; hitting it means a hang, i.e. a bug.
const wait = 20 * time.Second

// scripted is a real Investigator driven by a script chosen by the query:
//
//	gate:<name> ...  tool_call, tool_result, content "part 1 ", then waits for
//	                 the gate <name> (or ctx), content "part 2", done
//	hang ...         tool_call, then waits for ctx to end, error
//	fail ...         tool_call, error "kubectl: connection refused"
//	anything else    tool_call, content chunks with short delays, done
//
// It records every request and whether its context was cancelled.
type scripted struct {
	mu     sync.Mutex
	gates  map[string]chan struct{}
	newRun chan *run
}

// run is one recorded investigation.
type run struct {
	req      agent.Request
	canceled chan struct{} // closed when the investigation saw its ctx end
}

func newScripted() *scripted {
	return &scripted{gates: map[string]chan struct{}{}, newRun: make(chan *run, 64)}
}

// gate registers a gate and returns the function that opens it.
func (s *scripted) gate(name string) func() {
	ch := make(chan struct{})
	s.mu.Lock()
	s.gates[name] = ch
	s.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

// next returns the next investigation that starts.
func (s *scripted) next(t *testing.T) *run {
	t.Helper()
	select {
	case r := <-s.newRun:
		return r
	case <-time.After(wait):
		t.Fatal("no investigation started")
		return nil
	}
}

func (r *run) waitCanceled(t *testing.T) {
	t.Helper()
	select {
	case <-r.canceled:
	case <-time.After(wait):
		t.Fatalf("the investigation of %q was not cancelled", r.req.Query)
	}
}

func (s *scripted) Investigate(ctx context.Context, req agent.Request, emit func(agent.Event)) (string, error) {
	r := &run{req: req, canceled: make(chan struct{})}
	s.newRun <- r
	send := func(ev agent.Event) {
		ev.Timestamp = time.Now().UTC()
		emit(ev)
	}
	stopped := func() (string, error) {
		close(r.canceled)
		send(agent.Event{Type: agent.EventError, Message: "the investigation was cancelled"})
		return "", ctx.Err()
	}
	sleep := func(d time.Duration) bool {
		select {
		case <-time.After(d):
			return true
		case <-ctx.Done():
			return false
		}
	}
	threadID := req.ThreadID
	if threadID == "" {
		threadID = "thr_scripted"
	}
	send(agent.Event{Type: agent.EventToolCall, Tool: "execute_kubectl", CallID: "call_1",
		Parameters: map[string]any{"command": "get pods -A", "cluster_id": req.ClusterID, "flags": []string{"-o", "wide"}}})
	q := req.Query
	switch {
	case strings.HasPrefix(q, "gate:"):
		name := strings.Fields(strings.TrimPrefix(q, "gate:"))[0]
		s.mu.Lock()
		g := s.gates[name]
		s.mu.Unlock()
		send(agent.Event{Type: agent.EventToolResult, Tool: "execute_kubectl", CallID: "call_1", Status: "ok", Summary: "NAME READY STATUS (+2 lines)"})
		send(agent.Event{Type: agent.EventContent, Content: "part 1 "})
		select {
		case <-g:
		case <-ctx.Done():
			return stopped()
		}
		send(agent.Event{Type: agent.EventContent, Content: "part 2"})
		send(agent.Event{Type: agent.EventDone, ThreadID: threadID})
		return "part 1 part 2", nil
	case strings.HasPrefix(q, "hang"):
		<-ctx.Done()
		return stopped()
	case strings.HasPrefix(q, "fail"):
		send(agent.Event{Type: agent.EventError, Message: "kubectl: connection refused"})
		return "", errors.New("kubectl: connection refused")
	default:
		for _, c := range []string{"Two pods ", "are in ", "CrashLoopBackOff."} {
			if !sleep(10 * time.Millisecond) {
				return stopped()
			}
			send(agent.Event{Type: agent.EventContent, Content: c})
		}
		send(agent.Event{Type: agent.EventDone, ThreadID: threadID})
		return "Two pods are in CrashLoopBackOff.", nil
	}
}

// env is one API server with the A2A routes mounted, on a real store, reached
// over real HTTP.
type env struct {
	t     *testing.T
	srv   *httptest.Server
	st    store.Store
	inv   *scripted
	url   string
	close func()
}

type envOptions struct {
	dataDir   string
	redisURL  string
	prefix    string
	inv       *scripted
	keepalive time.Duration
}

func newEnv(t *testing.T) *env {
	return startEnv(t, envOptions{})
}

func startEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	if o.dataDir == "" {
		o.dataDir = t.TempDir()
	}
	if o.inv == nil {
		o.inv = newScripted()
	}
	if o.keepalive == 0 {
		o.keepalive = 50 * time.Millisecond
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var st store.Store
	var err error
	if o.redisURL != "" {
		st, err = redisstore.Open(redisstore.Options{URL: o.redisURL, KeyPrefix: o.prefix}, log)
	} else {
		st, err = boltstore.Open(o.dataDir, time.Minute, log)
	}
	if err != nil {
		t.Fatal(err)
	}
	keys, err := auth.ParseKeys([]string{"alice:" + aliceKey, "bob:" + bobKey})
	if err != nil {
		t.Fatal(err)
	}
	// The real HTTP stack: httpapi's middleware, authentication, rate limits
	// and error mapping, with the A2A routes mounted like in production.
	deps := httpapi.Deps{
		Store: st, Keys: keys, Log: log, Version: "test", MaxBodyBytes: 1 << 20, Metrics: telemetry.NewMetrics(),
		Limiter: ratelimit.New(st, ratelimit.Limits{ratelimit.Standard: 1000, ratelimit.Execute: 1000, ratelimit.Session: 1000}),
		Mounts: a2a.Routes(a2a.Deps{
			Investigator: o.inv, Store: st, Log: log, Version: "1.2.3-test",
			BearerAuth: true, Keepalive: o.keepalive,
		}),
	}
	srv := httptest.NewServer(httpapi.New(deps))
	e := &env{t: t, srv: srv, st: st, inv: o.inv, url: srv.URL}
	var once sync.Once
	e.close = func() {
		once.Do(func() {
			srv.CloseClientConnections()
			srv.Close()
			_ = st.Close()
		})
	}
	t.Cleanup(e.close)
	return e
}

// request builds a request with the given API key ("" for none) and headers.
func (e *env) request(ctx context.Context, method, path, key string, body any, headers ...string) *http.Request {
	e.t.Helper()
	return testkit.NewRequest(e.t, ctx, method, e.url+path, key, body, headers...)
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request and reads the whole response.
func (e *env) do(method, path, key string, body any, headers ...string) resp {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	res, err := http.DefaultClient.Do(e.request(ctx, method, path, key, body, headers...))
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func (r resp) apiError(t *testing.T) api.Error {
	t.Helper()
	var e api.Error
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("not an error body (%d): %s", r.status, r.body)
	}
	return e
}

// frame is one Server-Sent Event: a comment or the data of an event.
type frame struct {
	comment string
	data    string
}

// stream is an open event stream.
type stream struct {
	t      *testing.T
	res    *http.Response
	frames chan frame
	cancel context.CancelFunc
}

// open sends a request and returns its event stream; it fails unless the
// response is a 200 text/event-stream.
func (e *env) open(method, path, key string, body any, headers ...string) *stream {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	res, err := http.DefaultClient.Do(e.request(ctx, method, path, key, body, headers...))
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		cancel()
		e.t.Fatalf("want a 200 event stream, got %d %s: %s", res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	s := &stream{t: e.t, res: res, frames: make(chan frame, 256), cancel: cancel}
	go func() {
		defer close(s.frames)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 8<<20)
		var data []string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if data != nil {
					s.frames <- frame{data: strings.Join(data, "\n")}
					data = nil
				}
			case strings.HasPrefix(line, ":"):
				s.frames <- frame{comment: strings.TrimSpace(strings.TrimPrefix(line, ":"))}
			case strings.HasPrefix(line, "data:"):
				data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
			}
		}
	}()
	e.t.Cleanup(s.close)
	return s
}

func (s *stream) close() {
	s.cancel()
	s.res.Body.Close()
}

// next returns the next data event, skipping comments; ok is false at the
// end of the stream.
func (s *stream) next() (data string, ok bool) {
	s.t.Helper()
	for {
		select {
		case f, more := <-s.frames:
			if !more {
				return "", false
			}
			if f.comment != "" {
				continue
			}
			return f.data, true
		case <-time.After(wait):
			s.t.Fatal("no event within the wait limit")
		}
	}
}

// nextComment waits for the next SSE comment and fails if a data event
// comes first.
func (s *stream) nextComment() string {
	s.t.Helper()
	select {
	case f, more := <-s.frames:
		if !more {
			s.t.Fatal("stream ended while waiting for a keepalive")
		}
		if f.comment == "" {
			s.t.Fatalf("got event %s while the agent should be thinking", f.data)
		}
		return f.comment
	case <-time.After(wait):
		s.t.Fatal("no keepalive within the wait limit")
	}
	return ""
}

// rest returns the remaining data events until the stream ends.
func (s *stream) rest() []string {
	s.t.Helper()
	var out []string
	for {
		d, ok := s.next()
		if !ok {
			return out
		}
		out = append(out, d)
	}
}

// rpcFrame is a JSON-RPC response, streamed or not.
type rpcFrame struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      any             `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func parseRPC(t *testing.T, data []byte) rpcFrame {
	t.Helper()
	var f rpcFrame
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("not a JSON-RPC response: %s", data)
	}
	if f.JSONRPC != "2.0" {
		t.Fatalf("jsonrpc = %q in %s", f.JSONRPC, data)
	}
	return f
}

// v1Event decodes a 1.0 streamed result into its typed event.
func v1Event(t *testing.T, data string) sdk.Event {
	t.Helper()
	f := parseRPC(t, []byte(data))
	if f.Error != nil {
		t.Fatalf("stream error %d: %s", f.Error.Code, f.Error.Message)
	}
	var sr sdk.StreamResponse
	if err := json.Unmarshal(f.Result, &sr); err != nil {
		t.Fatalf("not a 1.0 StreamResponse: %s: %v", f.Result, err)
	}
	return sr.Event
}

// rpcCall sends one non-streaming JSON-RPC call and decodes its response.
func (e *env) rpcCall(key, version, method string, params any, headers ...string) rpcFrame {
	e.t.Helper()
	body := map[string]any{"jsonrpc": "2.0", "id": fmt.Sprintf("req-%d", time.Now().UnixNano()), "method": method, "params": params}
	if version != "" {
		headers = append(headers, a2a.HeaderA2AVersion, version)
	}
	r := e.do("POST", "/a2a", key, body, headers...)
	if r.status != http.StatusOK {
		e.t.Fatalf("%s: HTTP %d: %s", method, r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		e.t.Fatalf("%s: Content-Type %q", method, ct)
	}
	return parseRPC(e.t, r.body)
}

// message is a 1.0 user message with a text part.
func message(text string, meta map[string]any) map[string]any {
	m := map[string]any{"messageId": fmt.Sprintf("msg-%d", time.Now().UnixNano()), "role": "ROLE_USER", "parts": []any{map[string]any{"text": text}}}
	if meta != nil {
		m["metadata"] = meta
	}
	return m
}

// legacyMessage is a 0.3 user message with a text part.
func legacyMessage(text string) map[string]any {
	return map[string]any{"kind": "message", "messageId": fmt.Sprintf("msg-%d", time.Now().UnixNano()), "role": "user", "parts": []any{map[string]any{"kind": "text", "text": text}}}
}

func rpcBody(method string, params any) map[string]any {
	return map[string]any{"jsonrpc": "2.0", "id": 7, "method": method, "params": params}
}
