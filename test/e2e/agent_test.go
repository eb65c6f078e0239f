package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/analyze/scenarios"
	"github.com/kubently/kubently/internal/llm/llmtest"
	"github.com/kubently/kubently/internal/sse"
)

// The agent over the whole path: POST /a2a/sessions on a real API process,
// tools run as the caller through the real executor process (including its
// extension commands) against a scenario built in the real apiserver.

type agentEvent struct {
	Type       string         `json:"type"`
	Tool       string         `json:"tool"`
	Parameters map[string]any `json:"parameters"`
	Content    string         `json:"content"`
	Message    string         `json:"message"`
}

// ask posts a question and reads the whole event stream.
func ask(t *testing.T, apiURL, key string, body map[string]any) []agentEvent {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctxFor(t, 4*time.Minute), "POST", apiURL+"/a2a/sessions", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(api.HeaderAPIKey, key)
	req.Header.Set(api.HeaderCorrelationID, "agent-e2e")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("POST /a2a/sessions: %s %s", res.Status, res.Header.Get("Content-Type"))
	}
	var out []agentEvent
	rd := sse.NewReader(res.Body)
	for {
		ev, err := rd.Next()
		if err != nil {
			break
		}
		if ev.Name == ":" {
			continue
		}
		var e agentEvent
		if err := json.Unmarshal([]byte(ev.Data), &e); err != nil {
			t.Fatalf("bad event %q: %v", ev.Data, err)
		}
		out = append(out, e)
	}
	if len(out) == 0 || out[len(out)-1].Type != "done" {
		t.Fatalf("stream did not end with done: %+v", out)
	}
	return out
}

func content(evs []agentEvent) string {
	var b strings.Builder
	for _, e := range evs {
		if e.Type == "content" {
			b.WriteString(e.Content)
		}
	}
	return b.String()
}

func TestAgentWithoutLLMDiagnosesThroughTheExecutor(t *testing.T) {
	t.Parallel()
	ns := "agent-offline"
	if err := ensureNamespace(ctxFor(t, time.Minute), ns); err != nil {
		t.Fatal(err)
	}
	if err := scenarios.Build(ctxFor(t, 2*time.Minute), cp, ns, 1); err != nil {
		t.Fatal(err)
	}
	r := newRig(t)
	r.connect(t, "shop", "")
	sc, _ := scenarios.Get(1)
	evs := ask(t, r.api.url(), userKey, map[string]any{"query": sc.Question(ns), "cluster_id": "shop"})
	if evs[1].Type != "tool_call" || evs[1].Tool != "triage" || evs[1].Parameters["namespace"] != ns {
		t.Fatalf("events %+v", evs)
	}
	answer := content(evs)
	if !strings.Contains(answer, "DEPLOY_ENV") || !strings.Contains(answer, "deployment/checkout") {
		t.Fatalf("diagnosis misses the root cause:\n%s", answer)
	}
	// The triage ran as alice, through the executor, and was audited.
	entries := r.user.audit(t, url.Values{"cluster_id": {"shop"}})
	if len(entries) != 1 || entries[0].Argv[0] != "kubently" || entries[0].Argv[1] != "triage" || entries[0].Outcome != api.StatusCompleted || entries[0].Source != "a2a" || entries[0].CorrelationID != "agent-e2e" {
		t.Fatalf("audit %+v", entries)
	}
}

func TestAgentWithLLMUsesRealTools(t *testing.T) {
	t.Parallel()
	ns := "agent-llm"
	if err := ensureNamespace(ctxFor(t, time.Minute), ns); err != nil {
		t.Fatal(err)
	}
	if err := scenarios.Build(ctxFor(t, 2*time.Minute), cp, ns, 9); err != nil {
		t.Fatal(err)
	}
	fake := llmtest.NewServer(t, llmtest.WireOpenAI, []llmtest.Turn{
		{ToolCalls: []llmtest.ToolCall{{Name: "triage", Arguments: fmt.Sprintf(`{"namespace":%q}`, ns)}}},
		{ToolCalls: []llmtest.ToolCall{
			{Name: "execute_kubectl", Arguments: fmt.Sprintf(`{"command":"get pods -n %s --show-labels"}`, ns)},
			{Name: "execute_kubectl", Arguments: fmt.Sprintf(`{"command":"get secrets -n %s -o yaml"}`, ns)},
		}},
		{Text: "Service web-frontend selects app=web-frontend but the pods are labelled app=frontend; change the selector to app=frontend."},
	})
	r := newRig(t, "LLM_PROVIDER=openai", "LLM_API_KEY=sk-e2e-test", "LLM_MODEL=gpt-test", "LLM_BASE_URL="+fake.URL())
	r.connect(t, "web", "")
	evs := ask(t, r.api.url(), userKey, map[string]any{"query": "why does the web-frontend service have no endpoints?", "cluster_id": "web"})
	var tools []string
	for _, e := range evs {
		if e.Type == "tool_call" {
			tools = append(tools, e.Tool)
		}
	}
	if strings.Join(tools, ",") != "triage,execute_kubectl,execute_kubectl" || !strings.Contains(content(evs), "app=frontend") {
		t.Fatalf("events %+v", evs)
	}
	reqs := fake.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d model requests", len(reqs))
	}
	if res := reqs[1].ToolResults(); len(res) != 1 || !strings.Contains(res[0].Content, "selector/label mismatch") {
		t.Fatalf("triage result sent to the model: %+v", res)
	}
	res := reqs[2].ToolResults() // the whole conversation: triage, then the two commands
	if len(res) != 3 {
		t.Fatalf("tool results sent to the model: %+v", res)
	}
	res = res[1:]
	if !strings.Contains(res[0].Content, "app=frontend") || !strings.Contains(res[1].Content, "command denied") {
		t.Fatalf("tool results sent to the model: %+v", res)
	}
	// The secret read was refused by the policy and audited as denied.
	denied := 0
	for _, e := range r.user.audit(t, url.Values{"cluster_id": {"web"}}) {
		if e.Outcome == "denied" {
			denied++
		}
	}
	if denied != 1 {
		t.Fatalf("%d denied audit entries, want 1", denied)
	}
}
