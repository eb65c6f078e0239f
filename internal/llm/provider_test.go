package llm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubently/kubently/internal/llm"
	"github.com/kubently/kubently/internal/llm/llmtest"
)

// testKey is long enough to be redacted and distinctive enough to be found.
const testKey = "sk-test-SECRET-0123456789abcdef"

// kind is one provider kind and the wire format its SDK speaks.
type kind struct {
	provider string
	wire     string
}

var kinds = []kind{
	{llm.ProviderOpenAI, llmtest.WireOpenAI},
	{llm.ProviderOpenAICompatible, llmtest.WireOpenAI},
	{llm.ProviderAnthropic, llmtest.WireAnthropic},
	{llm.ProviderGemini, llmtest.WireGemini},
}

func forEachKind(t *testing.T, f func(t *testing.T, k kind)) {
	for _, k := range kinds {
		t.Run(k.provider, func(t *testing.T) {
			t.Parallel()
			f(t, k)
		})
	}
}

func newProvider(t *testing.T, k kind, srv *llmtest.Server, edit func(*llm.Config)) llm.Provider {
	t.Helper()
	cfg := llm.Config{Provider: k.provider, APIKey: testKey, Model: "test-model", BaseURL: srv.URL(), Timeout: time.Minute}
	if edit != nil {
		edit(&cfg)
	}
	p, err := llm.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

var (
	podsSchema   = json.RawMessage(`{"type":"object","properties":{"namespace":{"type":"string","description":"namespace to list"}},"required":["namespace"]}`)
	eventsSchema = json.RawMessage(`{"type":"object","properties":{"namespace":{"type":"string"},"limit":{"type":"integer","minimum":1}},"required":["namespace"],"additionalProperties":false}`)
	tools        = []llm.Tool{
		{Name: "get_pods", Description: "List pods in a namespace", Parameters: podsSchema},
		{Name: "get_events", Description: "List recent events", Parameters: eventsSchema},
	}
)

// jsonEqual compares two JSON texts semantically.
func jsonEqual(t *testing.T, what string, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: invalid JSON %q: %v", what, got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: invalid wanted JSON %q: %v", what, want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("%s = %s, want %s", what, gb, wb)
	}
}

// TestToolCallingConversation runs two turns through each provider: the model
// streams text and asks for two tools in parallel, then answers with the tool
// results in hand.
func TestToolCallingConversation(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		gate := make(chan struct{})
		script := []llmtest.Turn{
			{
				Chunks: []string{"Let me ", "look at the ", "pods and events."},
				Gate:   gate,
				ToolCalls: []llmtest.ToolCall{
					{Name: "get_pods", Arguments: `{"namespace":"default"}`, Signature: "c2lnLTE="},
					{Name: "get_events", Arguments: `{"namespace":"default","limit":5}`},
				},
				Usage: llmtest.Usage{InputTokens: 120, OutputTokens: 30},
			},
			{Text: "The pod web-1 is crash-looping: its image tag does not exist.", Usage: llmtest.Usage{InputTokens: 260, OutputTokens: 18}},
		}
		srv := llmtest.NewServer(t, k.wire, script)
		p := newProvider(t, k, srv, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()

		req := llm.Request{
			System:    "You are a Kubernetes debugging assistant.",
			Messages:  []llm.Message{{Role: llm.RoleUser, Content: "Why is web-1 failing?"}},
			Tools:     tools,
			MaxTokens: 1234,
		}
		var (
			mu     sync.Mutex
			deltas []string
			once   sync.Once
		)
		onText := func(d string) {
			mu.Lock()
			deltas = append(deltas, d)
			mu.Unlock()
			// The server holds the rest of the turn until the first delta has
			// reached us: were the SDK buffering the turn, this would never run
			// and the turn would time out.
			once.Do(func() { close(gate) })
		}
		resp, err := p.Stream(ctx, req, onText)
		if err != nil {
			t.Fatalf("turn 1: %v", err)
		}
		mu.Lock()
		gotDeltas := append([]string(nil), deltas...)
		mu.Unlock()
		if len(gotDeltas) < 2 {
			t.Errorf("text arrived in %d deltas %q, want several", len(gotDeltas), gotDeltas)
		}
		if got := strings.Join(gotDeltas, ""); got != "Let me look at the pods and events." || resp.Content != got {
			t.Errorf("deltas %q, content %q", got, resp.Content)
		}
		if resp.StopReason != llm.StopToolUse {
			t.Errorf("StopReason = %q, want %q", resp.StopReason, llm.StopToolUse)
		}
		if resp.Usage != (llm.Usage{InputTokens: 120, OutputTokens: 30}) {
			t.Errorf("usage = %+v", resp.Usage)
		}
		if len(resp.ToolCalls) != 2 {
			t.Fatalf("tool calls = %+v, want 2", resp.ToolCalls)
		}
		want := []struct{ name, args string }{
			{"get_pods", `{"namespace":"default"}`},
			{"get_events", `{"namespace":"default","limit":5}`},
		}
		for i, tc := range resp.ToolCalls {
			if tc.Name != want[i].name || tc.ID == "" {
				t.Errorf("call %d = %+v", i, tc)
			}
			jsonEqual(t, "arguments of "+tc.Name, tc.Arguments, []byte(want[i].args))
		}
		if resp.ToolCalls[0].ID == resp.ToolCalls[1].ID {
			t.Errorf("parallel calls share id %q", resp.ToolCalls[0].ID)
		}

		// Turn 2: send the assistant turn and both results back.
		req.Messages = append(req.Messages,
			llm.Message{Role: llm.RoleAssistant, Content: resp.Content, ToolCalls: resp.ToolCalls},
			llm.Message{Role: llm.RoleTool, ToolCallID: resp.ToolCalls[0].ID, ToolName: "get_pods", Content: "web-1  0/1  ImagePullBackOff"},
			// No ToolName: adapters that need it (Gemini) recover it from the call.
			llm.Message{Role: llm.RoleTool, ToolCallID: resp.ToolCalls[1].ID, Content: "Failed to pull image web:v9: not found"},
		)
		var streamed strings.Builder
		resp2, err := p.Stream(ctx, req, func(d string) { streamed.WriteString(d) })
		if err != nil {
			t.Fatalf("turn 2: %v", err)
		}
		if resp2.Content != script[1].Text || streamed.String() != script[1].Text {
			t.Errorf("turn 2 content %q streamed %q", resp2.Content, streamed.String())
		}
		if len(resp2.ToolCalls) != 0 || resp2.StopReason != llm.StopEndTurn {
			t.Errorf("turn 2 calls %+v stop %q", resp2.ToolCalls, resp2.StopReason)
		}
		if total := resp.Usage.Add(resp2.Usage); total != (llm.Usage{InputTokens: 380, OutputTokens: 48}) {
			t.Errorf("total usage = %+v", total)
		}

		reqs := srv.Requests()
		if len(reqs) != 2 {
			t.Fatalf("server saw %d requests, want 2", len(reqs))
		}
		first := reqs[0]
		if !first.Stream || first.Model != "test-model" || first.MaxTokens != 1234 {
			t.Errorf("request 1: stream %v model %q max tokens %d", first.Stream, first.Model, first.MaxTokens)
		}
		if len(first.Tools) != 2 {
			t.Fatalf("request 1 declared tools %+v", first.Tools)
		}
		for i, tool := range first.Tools {
			if tool.Name != tools[i].Name || tool.Description != tools[i].Description {
				t.Errorf("tool %d = %+v", i, tool)
			}
			jsonEqual(t, "schema of "+tool.Name, tool.Parameters, tools[i].Parameters)
		}
		if len(first.Messages) != 1 || first.Messages[0].Role != "user" || first.Messages[0].Content != "Why is web-1 failing?" {
			t.Errorf("request 1 messages = %+v", first.Messages)
		}

		second := reqs[1]
		var assistant *llmtest.Message
		for i := range second.Messages {
			if second.Messages[i].Role == "assistant" {
				assistant = &second.Messages[i]
			}
		}
		if assistant == nil || len(assistant.ToolCalls) != 2 {
			t.Fatalf("request 2 lacks the assistant's calls: %+v", second.Messages)
		}
		if assistant.Content != resp.Content {
			t.Errorf("assistant text sent back %q", assistant.Content)
		}
		for i, tc := range assistant.ToolCalls {
			if tc.Name != want[i].name {
				t.Errorf("call %d sent back as %+v", i, tc)
			}
			jsonEqual(t, "arguments sent back", []byte(tc.Arguments), []byte(want[i].args))
		}
		results := second.ToolResults()
		if len(results) != 2 {
			t.Fatalf("request 2 tool results = %+v", results)
		}
		wantContent := []string{"web-1  0/1  ImagePullBackOff", "Failed to pull image web:v9: not found"}
		for i, r := range results {
			if r.Content != wantContent[i] {
				t.Errorf("result %d content %q", i, r.Content)
			}
		}
		// All results of a parallel call travel in one message after the calls.
		last := second.Messages[len(second.Messages)-1]
		switch k.wire {
		case llmtest.WireOpenAI:
			// One "tool" message per result, matched by id.
			for i, r := range results {
				if r.ToolCallID != resp.ToolCalls[i].ID {
					t.Errorf("result %d answers %q, want %q", i, r.ToolCallID, resp.ToolCalls[i].ID)
				}
			}
		case llmtest.WireAnthropic:
			if len(last.ToolResults) != 2 || last.Role != "tool" {
				t.Errorf("tool results not in one user turn: %+v", second.Messages)
			}
			for i, r := range results {
				if r.ToolCallID != resp.ToolCalls[i].ID || r.ToolCallID != "toolu_"+string(rune('1'+i)) {
					t.Errorf("result %d answers %q, want %q", i, r.ToolCallID, resp.ToolCalls[i].ID)
				}
			}
		case llmtest.WireGemini:
			if len(last.ToolResults) != 2 {
				t.Errorf("function responses not in one turn: %+v", second.Messages)
			}
			// The fake sent no ids (as Gemini often does): the made-up ids
			// stay local and results are matched by name.
			for i, r := range results {
				if r.Name != want[i].name || r.ToolCallID != "" {
					t.Errorf("function response %d = %+v", i, r)
				}
			}
			if assistant.ToolCalls[0].Signature != "c2lnLTE=" || assistant.ToolCalls[1].Signature != "" {
				t.Errorf("thought signatures sent back: %q, %q", assistant.ToolCalls[0].Signature, assistant.ToolCalls[1].Signature)
			}
		}
	})
}

// TestSystemPromptPlacement checks that the system prompt travels where each
// provider expects it and nowhere else.
func TestSystemPromptPlacement(t *testing.T) {
	const system = "You only read; never change the cluster."
	forEachKind(t, func(t *testing.T, k kind) {
		srv := llmtest.NewServer(t, k.wire, []llmtest.Turn{{Text: "ok"}})
		p := newProvider(t, k, srv, nil)
		_, err := p.Stream(context.Background(), llm.Request{
			System:   system,
			Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		reqs := srv.Requests()
		if len(reqs) != 1 {
			t.Fatalf("%d requests", len(reqs))
		}
		if reqs[0].System != system {
			t.Errorf("system prompt seen by server = %q", reqs[0].System)
		}
		for _, m := range reqs[0].Messages {
			if strings.Contains(m.Content, system) {
				t.Errorf("system prompt leaked into a %s message", m.Role)
			}
		}
		var body map[string]json.RawMessage
		if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
			t.Fatal(err)
		}
		switch k.wire {
		case llmtest.WireOpenAI:
			var msgs []struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			}
			if err := json.Unmarshal(body["messages"], &msgs); err != nil {
				t.Fatal(err)
			}
			if len(msgs) != 2 || msgs[0].Role != "system" || msgs[0].Content != system || msgs[1].Role != "user" {
				t.Errorf("messages = %+v, want the system message first", msgs)
			}
			if _, ok := body["system"]; ok {
				t.Error("unexpected top-level system field")
			}
		case llmtest.WireAnthropic:
			var sys []struct{ Type, Text string }
			if err := json.Unmarshal(body["system"], &sys); err != nil || len(sys) != 1 || sys[0].Text != system {
				t.Errorf("system = %s (%v)", body["system"], err)
			}
			if strings.Contains(string(body["messages"]), `"system"`) {
				t.Errorf("messages carry a system role: %s", body["messages"])
			}
		case llmtest.WireGemini:
			var si struct {
				Parts []struct{ Text string } `json:"parts"`
			}
			if err := json.Unmarshal(body["systemInstruction"], &si); err != nil || len(si.Parts) != 1 || si.Parts[0].Text != system {
				t.Errorf("systemInstruction = %s (%v)", body["systemInstruction"], err)
			}
			var contents []struct{ Role string }
			_ = json.Unmarshal(body["contents"], &contents)
			if len(contents) != 1 || contents[0].Role != "user" {
				t.Errorf("contents = %s", body["contents"])
			}
		}
	})
}

// TestRetryAfterRateLimit: a 429 with a retry hint is retried by the SDK and
// the turn succeeds.
func TestRetryAfterRateLimit(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		srv := llmtest.NewServer(t, k.wire, []llmtest.Turn{
			{Status: 429, Message: "slow down", RetryAfter: 20 * time.Millisecond},
			{Text: "recovered", Usage: llmtest.Usage{InputTokens: 3, OutputTokens: 1}},
		})
		p := newProvider(t, k, srv, func(c *llm.Config) { c.MaxRetries = 2 })
		resp, err := p.Stream(context.Background(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}, nil)
		if err != nil {
			t.Fatalf("Stream: %v", err)
		}
		if resp.Content != "recovered" || resp.Usage.InputTokens != 3 {
			t.Errorf("resp = %+v", resp)
		}
		if n := len(srv.Requests()); n != 2 {
			t.Errorf("server saw %d requests, want 2 (one retry)", n)
		}
	})
}

// TestServerErrorsExhaustRetries: 5xx answers are retried MaxRetries times,
// then reported as ErrUnavailable.
func TestServerErrorsExhaustRetries(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		srv := llmtest.NewServer(t, k.wire, []llmtest.Turn{
			{Status: 500, Message: "boom", RetryAfter: 10 * time.Millisecond},
			{Status: 500, Message: "boom again", RetryAfter: 10 * time.Millisecond},
			{Text: "not reached"},
		})
		p := newProvider(t, k, srv, func(c *llm.Config) { c.MaxRetries = 1 })
		_, err := p.Stream(context.Background(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}, nil)
		if !errors.Is(err, llm.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		var e *llm.Error
		if !errors.As(err, &e) || e.StatusCode != 500 || e.Provider != p.Name() {
			t.Errorf("err = %#v", e)
		}
		if n := len(srv.Requests()); n != 2 {
			t.Errorf("server saw %d requests, want 2 (MaxRetries=1)", n)
		}
	})
}

// TestAuthError: a 401 is reported as ErrAuth at once, without retries, and
// the API key never shows in the error even when the provider echoes it.
func TestAuthError(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		srv := llmtest.NewServer(t, k.wire, []llmtest.Turn{
			{Status: 401, Message: "invalid api key " + testKey},
			{Text: "not reached"},
		})
		p := newProvider(t, k, srv, func(c *llm.Config) { c.MaxRetries = 3 })
		_, err := p.Stream(context.Background(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}, nil)
		if !errors.Is(err, llm.ErrAuth) {
			t.Fatalf("err = %v, want ErrAuth", err)
		}
		if errors.Is(err, llm.ErrRateLimited) || errors.Is(err, llm.ErrUnavailable) {
			t.Errorf("err matches more than one kind: %v", err)
		}
		if strings.Contains(err.Error(), testKey) {
			t.Errorf("error text leaks the API key: %v", err)
		}
		if !strings.Contains(err.Error(), "invalid api key [REDACTED]") {
			t.Errorf("error text lost the provider's message: %v", err)
		}
		if n := len(srv.Requests()); n != 1 {
			t.Errorf("server saw %d requests, want 1 (no retry of 401)", n)
		}
	})
}

// TestHangingServer: a provider that never answers, or stalls mid-stream, is
// bounded by the caller's deadline and by Config.Timeout.
func TestHangingServer(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		req := llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}
		check := func(t *testing.T, err error, start time.Time) {
			t.Helper()
			if !errors.Is(err, llm.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want ErrTimeout and DeadlineExceeded", err)
			}
			// Generous: the server would otherwise hang until the test ends.
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("gave up after %v", d)
			}
		}

		t.Run("context deadline, no answer", func(t *testing.T) {
			srv := llmtest.NewServer(t, k.wire, []llmtest.Turn{{Hang: true}})
			p := newProvider(t, k, srv, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := p.Stream(ctx, req, nil)
			check(t, err, start)
			if n := len(srv.Requests()); n != 1 {
				t.Errorf("server saw %d requests, want 1", n)
			}
		})
		t.Run("config timeout, stalled stream", func(t *testing.T) {
			stall := make(chan struct{}) // never closed
			srv := llmtest.NewServer(t, k.wire, []llmtest.Turn{{Chunks: []string{"partial ", "never sent"}, Gate: stall}})
			p := newProvider(t, k, srv, func(c *llm.Config) { c.Timeout = 300 * time.Millisecond })
			var got strings.Builder
			start := time.Now()
			_, err := p.Stream(context.Background(), req, func(d string) { got.WriteString(d) })
			check(t, err, start)
			if got.String() != "partial " {
				t.Errorf("streamed %q before the stall, want %q", got.String(), "partial ")
			}
		})
	})
}

// TestCancel: a cancelled context ends the turn with context.Canceled, not a
// provider error.
func TestCancel(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.WireAnthropic, []llmtest.Turn{{Hang: true}})
	p := newProvider(t, kinds[2], srv, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for len(srv.Requests()) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	_, err := p.Stream(ctx, llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}, nil)
	if !errors.Is(err, context.Canceled) || errors.Is(err, llm.ErrTimeout) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// TestOpenAICompatibleWithoutKey: local servers need no key, and none is sent.
func TestOpenAICompatibleWithoutKey(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.WireOpenAI, []llmtest.Turn{{Text: "hello from a local model"}})
	p, err := llm.New(llm.Config{Provider: "openai-compatible", Model: "llama3.1:8b", BaseURL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.Stream(context.Background(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content != "hello from a local model" {
		t.Errorf("content %q", resp.Content)
	}
	r := srv.Requests()[0]
	if auth := r.Header.Get("Authorization"); auth != "" {
		t.Errorf("Authorization header %q sent without a key", auth)
	}
	if r.Model != "llama3.1:8b" {
		t.Errorf("model %q", r.Model)
	}
	// Compatible servers get max_tokens, OpenAI itself max_completion_tokens.
	if !strings.Contains(string(r.Body), `"max_tokens":4096`) || strings.Contains(string(r.Body), "max_completion_tokens") {
		t.Errorf("body %s", r.Body)
	}
}

// TestCredentialsSent: each SDK authenticates with the configured key.
func TestCredentialsSent(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		srv := llmtest.NewServer(t, k.wire, []llmtest.Turn{{Text: "ok"}})
		p := newProvider(t, k, srv, nil)
		if _, err := p.Stream(context.Background(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}, nil); err != nil {
			t.Fatal(err)
		}
		h := srv.Requests()[0].Header
		found := false
		for _, name := range []string{"Authorization", "X-Api-Key", "X-Goog-Api-Key"} {
			if strings.Contains(h.Get(name), testKey) {
				found = true
			}
		}
		if !found {
			t.Errorf("key not sent; headers %v", h)
		}
	})
}

// TestNew covers configuration errors and defaults.
func TestNew(t *testing.T) {
	bad := []struct {
		name string
		cfg  llm.Config
		want string
	}{
		{"empty provider", llm.Config{}, "LLM_PROVIDER"},
		{"unknown provider", llm.Config{Provider: "cohere", APIKey: testKey}, `unknown LLM provider "cohere"`},
		{"openai without key", llm.Config{Provider: "openai"}, "OPENAI_API_KEY"},
		{"anthropic without key", llm.Config{Provider: "anthropic"}, "ANTHROPIC_API_KEY"},
		{"gemini without key", llm.Config{Provider: "google"}, "GEMINI_API_KEY"},
		{"compatible without base URL", llm.Config{Provider: "openai-compatible", Model: "m"}, "LLM_BASE_URL"},
		{"compatible without model", llm.Config{Provider: "openai-compatible", BaseURL: "http://localhost:11434/v1"}, "LLM_MODEL"},
		{"base URL without scheme", llm.Config{Provider: "openai", APIKey: testKey, BaseURL: "localhost:8000"}, "http://"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := llm.New(tc.cfg)
			if !errors.Is(err, llm.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrConfig mentioning %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), testKey) {
				t.Errorf("error leaks the key: %v", err)
			}
		})
	}

	good := []struct {
		cfg         llm.Config
		name, model string
	}{
		{llm.Config{Provider: "OpenAI", APIKey: testKey}, "openai", llm.DefaultOpenAIModel},
		{llm.Config{Provider: "anthropic", APIKey: testKey}, "anthropic", llm.DefaultAnthropicModel},
		{llm.Config{Provider: "google", APIKey: testKey}, "gemini", llm.DefaultGeminiModel},
		{llm.Config{Provider: "gemini", APIKey: testKey, Model: "gemini-2.5-pro"}, "gemini", "gemini-2.5-pro"},
		{llm.Config{Provider: "openai-compatible", BaseURL: "http://localhost:8000/v1", Model: "Qwen/Qwen3-8B"}, "openai-compatible", "Qwen/Qwen3-8B"},
	}
	for _, tc := range good {
		p, err := llm.New(tc.cfg)
		if err != nil {
			t.Errorf("New(%+v): %v", tc.cfg.Provider, err)
			continue
		}
		if p.Name() != tc.name || p.Model() != tc.model {
			t.Errorf("New(%s) = %s/%s, want %s/%s", tc.cfg.Provider, p.Name(), p.Model(), tc.name, tc.model)
		}
	}
}

// TestConcurrentTurns: one provider serves concurrent turns (run with -race).
func TestConcurrentTurns(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		const n = 4
		script := make([]llmtest.Turn, n)
		for i := range script {
			script[i] = llmtest.Turn{Text: "same answer for all"}
		}
		srv := llmtest.NewServer(t, k.wire, script)
		p := newProvider(t, k, srv, nil)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := p.Stream(context.Background(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}, nil)
				if err == nil && resp.Content != "same answer for all" {
					err = errors.New("content " + resp.Content)
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if got := len(srv.Requests()); got != n {
			t.Errorf("%d requests, want %d", got, n)
		}
	})
}

// TestTruncatedStream: a stream cut before its end-of-turn marker is an
// error, not a short answer.
func TestTruncatedStream(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind) {
		srv := llmtest.NewServer(t, k.wire, []llmtest.Turn{{Chunks: []string{"The pod is ", "healthy."}, Truncate: true}})
		p := newProvider(t, k, srv, func(c *llm.Config) { c.MaxRetries = -1 })
		var got strings.Builder
		_, err := p.Stream(context.Background(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}, func(d string) { got.WriteString(d) })
		if !errors.Is(err, llm.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		if got.String() != "The pod is " {
			t.Errorf("streamed %q", got.String())
		}
	})
}

// TestEnvironmentIgnored: the SDKs' own environment variables (base URLs,
// keys) cannot redirect a configured provider or swap its key: Config is the
// only source. Not parallel: it sets process environment.
func TestEnvironmentIgnored(t *testing.T) {
	const envKey = "env-key-must-not-be-sent-0123456789"
	for _, name := range []string{"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "GOOGLE_API_KEY", "GEMINI_API_KEY"} {
		t.Setenv(name, envKey)
	}
	for _, name := range []string{"OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GOOGLE_GEMINI_BASE_URL"} {
		t.Setenv(name, "http://127.0.0.1:9/unreachable/")
	}
	for _, k := range kinds {
		t.Run(k.provider, func(t *testing.T) {
			srv := llmtest.NewServer(t, k.wire, []llmtest.Turn{{Text: "ok"}})
			cfg := llm.Config{Provider: k.provider, APIKey: testKey, Model: "m", BaseURL: srv.URL()}
			if k.provider == llm.ProviderOpenAICompatible {
				cfg.APIKey = "" // a keyless local server must not receive OPENAI_API_KEY
			}
			p, err := llm.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Stream(context.Background(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}, nil); err != nil {
				t.Fatal(err)
			}
			reqs := srv.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests reached the configured server", len(reqs))
			}
			for name, values := range reqs[0].Header {
				if strings.Contains(strings.Join(values, " "), envKey) {
					t.Errorf("header %s carries the environment's key", name)
				}
			}
		})
	}
}

// TestBaseURLWithVersion: a base URL copied with its API version suffix still
// reaches the right endpoint (the SDKs add the version themselves).
func TestBaseURLWithVersion(t *testing.T) {
	for _, tc := range []struct {
		k      kind
		suffix string
	}{{kinds[2], "/v1"}, {kinds[2], "/v1/"}, {kinds[3], "/v1beta"}, {kinds[3], "/v1beta/"}} {
		t.Run(tc.k.provider+tc.suffix, func(t *testing.T) {
			srv := llmtest.NewServer(t, tc.k.wire, []llmtest.Turn{{Text: "ok"}})
			p := newProvider(t, tc.k, srv, func(c *llm.Config) { c.BaseURL += tc.suffix })
			resp, err := p.Stream(context.Background(), llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: "hi"}}}, nil)
			if err != nil || resp.Content != "ok" {
				t.Fatalf("resp %+v err %v", resp, err)
			}
		})
	}
}
