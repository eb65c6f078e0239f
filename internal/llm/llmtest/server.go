package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Wire formats a [Server] can speak.
const (
	WireOpenAI    = "openai"
	WireAnthropic = "anthropic"
	WireGemini    = "gemini"
)

// ToolCall is a function call: one a scripted turn makes, or one found in a
// recorded request's history.
type ToolCall struct {
	// ID is the call id. In a script an empty ID gets a generated one for the
	// OpenAI ("call_N") and Anthropic ("toolu_N") wires; Gemini sends none, as
	// the real API often does.
	ID string
	// Name is the function name.
	Name string
	// Arguments is the JSON object of arguments, as text.
	Arguments string
	// Signature is Gemini's thoughtSignature (base64) attached to the call part.
	Signature string
}

// ToolResult is a tool's output as a client sent it back.
type ToolResult struct {
	// ToolCallID is the id of the call it answers (empty when the wire or the
	// client sent none).
	ToolCallID string
	// Name is the function name where the wire carries it (Gemini).
	Name string
	// Content is the output text; for Gemini the "output" (or "error") member
	// of the response object, or the whole object as JSON.
	Content string
	// IsError is set when the client flagged the result as an error.
	IsError bool
}

// Usage is the token count a scripted turn reports.
type Usage struct {
	InputTokens, OutputTokens int
}

// Turn is one scripted answer of the server.
type Turn struct {
	// Text is the assistant text, streamed in several chunks.
	Text string
	// Chunks, when set, are the exact stream chunks (Text is then ignored).
	Chunks []string
	// ToolCalls are the calls the turn makes, all in the same turn.
	ToolCalls []ToolCall
	// Usage is reported in the answer.
	Usage Usage
	// StopReason overrides the wire's finish reason (default: tool calls or
	// end of turn as the wire names them).
	StopReason string

	// Status, when not 0, answers with this HTTP error status instead.
	Status int
	// Message is the error message of a Status answer.
	Message string
	// RetryAfter is sent as retry-after-ms and retry-after headers.
	RetryAfter time.Duration

	// Hang makes the server never answer (until the client gives up or the
	// server closes).
	Hang bool
	// Gate, when not nil, is awaited after the first text chunk has been
	// flushed; the rest of the stream follows once it is closed. A test closes
	// it from its onText callback to prove deltas arrive before the turn ends;
	// a Gate never closed makes a stream that stalls midway.
	Gate <-chan struct{}
	// Truncate ends the stream right after the first text chunk, without the
	// wire's end-of-turn marker, as a dropped connection would.
	Truncate bool
}

// Message is one conversation entry of a recorded request, in neutral form:
// Role is "user", "assistant" or "tool" ("model" is reported as "assistant").
type Message struct {
	Role        string
	Content     string
	ToolCalls   []ToolCall
	ToolResults []ToolResult
}

// Tool is a function declaration of a recorded request.
type Tool struct {
	Name        string
	Description string
	// Parameters is the JSON Schema as sent (parameters, input_schema or
	// parametersJsonSchema).
	Parameters json.RawMessage
}

// Request is one recorded call of the model endpoint.
type Request struct {
	// Wire is the server's wire format.
	Wire string
	// Method, Path and Query of the HTTP request.
	Method string
	Path   string
	Query  url.Values
	// Header is the request's headers (credentials included: it is a test server).
	Header http.Header
	// Model is the model the request named (body or URL path).
	Model string
	// Stream reports a streaming request.
	Stream bool
	// System is the system prompt wherever the wire carries it (OpenAI
	// system/developer messages, Anthropic "system", Gemini systemInstruction).
	System string
	// Messages is the conversation, system messages excluded.
	Messages []Message
	// Tools are the declared functions.
	Tools []Tool
	// MaxTokens is the requested bound of the answer (max_tokens,
	// max_completion_tokens or generationConfig.maxOutputTokens).
	MaxTokens int
	// Body is the raw JSON body, for wire-specific assertions.
	Body json.RawMessage
}

// ToolResults returns every tool result of the request, in order.
func (r Request) ToolResults() []ToolResult {
	var out []ToolResult
	for _, m := range r.Messages {
		out = append(out, m.ToolResults...)
	}
	return out
}

// Server is a scripted fake of one provider's API.
type Server struct {
	t       testing.TB
	wire    string
	srv     *httptest.Server
	closing chan struct{}
	once    sync.Once

	mu       sync.Mutex
	script   []Turn
	next     int
	requests []Request
}

// NewServer starts a fake speaking wire (WireOpenAI, WireAnthropic or
// WireGemini) that answers model requests with the turns of script, in order.
// A request beyond the script gets a 500 answer and fails the test. The server
// is closed when the test ends.
func NewServer(t testing.TB, wire string, script []Turn) *Server {
	t.Helper()
	switch wire {
	case WireOpenAI, WireAnthropic, WireGemini:
	default:
		t.Fatalf("llmtest: unknown wire %q", wire)
	}
	s := &Server{t: t, wire: wire, script: append([]Turn(nil), script...), closing: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(s.Close)
	return s
}

// URL is the base URL to give the SDK: ends in /v1 for OpenAI (the SDK adds
// /chat/completions), the server root for Anthropic and Gemini.
func (s *Server) URL() string {
	if s.wire == WireOpenAI {
		return s.srv.URL + "/v1"
	}
	return s.srv.URL
}

// Requests returns a copy of the requests recorded so far, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Remaining is the number of scripted turns not yet consumed.
func (s *Server) Remaining() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.script) - s.next
}

// Close releases hanging handlers and stops the server. It is safe to call
// more than once.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.closing)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// take records req and returns the next turn of the script.
func (s *Server) take(req Request) (Turn, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, req)
	if s.next >= len(s.script) {
		return Turn{}, false
	}
	t := s.script[s.next]
	s.next++
	return t, true
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var h wireHandler
	switch s.wire {
	case WireOpenAI:
		h = openaiWire{}
	case WireAnthropic:
		h = anthropicWire{}
	case WireGemini:
		h = geminiWire{}
	}
	model, stream, ok := h.route(r)
	if !ok || r.Method != http.MethodPost {
		writeJSON(w, http.StatusNotFound, h.errorBody(http.StatusNotFound, "llmtest: no such endpoint "+r.Method+" "+r.URL.Path))
		return
	}
	req := Request{
		Wire: s.wire, Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
		Header: r.Header.Clone(), Model: model, Stream: stream, Body: json.RawMessage(body),
	}
	if err := h.parse(body, &req); err != nil {
		s.t.Errorf("llmtest %s: cannot parse request body: %v\n%s", s.wire, err, body)
		writeJSON(w, http.StatusBadRequest, h.errorBody(http.StatusBadRequest, "llmtest: bad request body: "+err.Error()))
		return
	}
	turn, ok := s.take(req)
	if !ok {
		s.t.Errorf("llmtest %s: request %d beyond the script", s.wire, len(s.Requests()))
		writeJSON(w, http.StatusInternalServerError, h.errorBody(http.StatusInternalServerError, "llmtest: script exhausted"))
		return
	}
	switch {
	case turn.Hang:
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
	case turn.Status != 0:
		if turn.RetryAfter > 0 {
			w.Header().Set("retry-after-ms", strconv.FormatInt(turn.RetryAfter.Milliseconds(), 10))
			w.Header().Set("retry-after", strconv.Itoa(int(math.Ceil(turn.RetryAfter.Seconds()))))
		}
		msg := turn.Message
		if msg == "" {
			msg = fmt.Sprintf("llmtest: scripted %d %s", turn.Status, http.StatusText(turn.Status))
		}
		writeJSON(w, turn.Status, h.errorBody(turn.Status, msg))
	case req.Stream:
		sw := newSSE(w, r, s.closing, h.streamContentType())
		h.stream(sw, req, turn)
	default:
		writeJSON(w, http.StatusOK, h.complete(req, turn))
	}
}

// wireHandler is one provider's wire format.
type wireHandler interface {
	// route accepts the model endpoint and says which model and whether it streams.
	route(r *http.Request) (model string, stream bool, ok bool)
	// parse fills req from the body.
	parse(body []byte, req *Request) error
	errorBody(status int, msg string) any
	complete(req Request, t Turn) any
	streamContentType() string
	stream(sw *sse, req Request, t Turn)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// sse writes server-sent events, flushing each one.
type sse struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	r       *http.Request
	closing <-chan struct{}
	failed  bool
}

func newSSE(w http.ResponseWriter, r *http.Request, closing <-chan struct{}, contentType string) *sse {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	s := &sse{w: w, rc: http.NewResponseController(w), r: r, closing: closing}
	_ = s.rc.Flush()
	return s
}

// send writes one event (an empty name writes a data-only event).
func (s *sse) send(name string, data any) {
	if s.failed {
		return
	}
	var payload []byte
	switch d := data.(type) {
	case string:
		payload = []byte(d)
	default:
		var err error
		if payload, err = json.Marshal(d); err != nil {
			panic(err)
		}
	}
	var b strings.Builder
	if name != "" {
		b.WriteString("event: " + name + "\n")
	}
	b.WriteString("data: ")
	b.Write(payload)
	b.WriteString("\n\n")
	if _, err := io.WriteString(s.w, b.String()); err != nil {
		s.failed = true
		return
	}
	if err := s.rc.Flush(); err != nil {
		s.failed = true
	}
}

// wait blocks on the turn's gate (if any) and reports whether the stream
// should go on; a truncated turn stops here.
func (s *sse) wait(t Turn) bool {
	if t.Truncate {
		s.failed = true
		return false
	}
	gate := t.Gate
	if gate == nil || s.failed {
		return !s.failed
	}
	select {
	case <-gate:
		return true
	case <-s.r.Context().Done():
	case <-s.closing:
	}
	s.failed = true
	return false
}

// chunksOf returns the stream chunks of a turn: Chunks, or Text cut into up to
// three pieces on rune boundaries.
func chunksOf(t Turn) []string {
	if len(t.Chunks) > 0 {
		return t.Chunks
	}
	if t.Text == "" {
		return nil
	}
	runes := []rune(t.Text)
	n := 3
	if len(runes) < n {
		n = len(runes)
	}
	size := (len(runes) + n - 1) / n
	var out []string
	for i := 0; i < len(runes); i += size {
		end := min(i+size, len(runes))
		out = append(out, string(runes[i:end]))
	}
	return out
}

// textOf is the whole text of a turn.
func textOf(t Turn) string {
	if len(t.Chunks) > 0 {
		return strings.Join(t.Chunks, "")
	}
	return t.Text
}

// splitArgs cuts a JSON argument string into two fragments, as real servers
// stream arguments piecewise.
func splitArgs(args string) []string {
	if args == "" {
		return []string{""}
	}
	mid := len(args) / 2
	for mid > 0 && !utf8.RuneStart(args[mid]) {
		mid--
	}
	if mid == 0 {
		return []string{args}
	}
	return []string{args[:mid], args[mid:]}
}

// argsOrEmpty returns the call's arguments, "{}" when none.
func argsOrEmpty(tc ToolCall) string {
	if strings.TrimSpace(tc.Arguments) == "" {
		return "{}"
	}
	return tc.Arguments
}

// textOfContent flattens a string-or-parts content value.
func textOfContent(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) == nil {
		var b strings.Builder
		for _, p := range parts {
			if p.Type == "" || p.Type == "text" {
				b.WriteString(p.Text)
			}
		}
		return b.String()
	}
	return string(raw)
}
