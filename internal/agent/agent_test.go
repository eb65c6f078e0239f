package agent_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/agent"
	"github.com/kubently/kubently/internal/analyze/scenarios"
	"github.com/kubently/kubently/internal/auth"
	"github.com/kubently/kubently/internal/dispatch"
	"github.com/kubently/kubently/internal/execext"
	"github.com/kubently/kubently/internal/k8stest"
	"github.com/kubently/kubently/internal/kube"
	"github.com/kubently/kubently/internal/llm"
	"github.com/kubently/kubently/internal/llm/llmtest"
	"github.com/kubently/kubently/internal/policy"
	"github.com/kubently/kubently/internal/problem"
	"github.com/kubently/kubently/internal/store"
	"github.com/kubently/kubently/internal/store/boltstore"
)

var cp *k8stest.ControlPlane

func TestMain(m *testing.M) {
	os.Exit(k8stest.RunMain(m, func(c *k8stest.ControlPlane) error { cp = c; return nil }))
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// clusterKubectl runs the agent's commands against the real test apiserver
// the way an executor does — security policy, extension commands, in-process
// kubectl with the read-only ServiceAccount — without the API in between
// (the full path over processes is covered in test/e2e).
type clusterKubectl struct {
	runner  *kube.Runner
	client  kubernetes.Interface
	pol     policy.Policy
	cluster string

	mu    sync.Mutex
	calls [][]string
}

func newClusterKubectl(t *testing.T) *clusterKubectl {
	_, cfg, err := cp.ReadOnlyServiceAccount(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r, err := kube.NewRunner(kube.Options{Config: cfg, ReadOnly: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &clusterKubectl{runner: r, client: client, pol: policy.Policy{Mode: policy.ReadOnly}, cluster: "test"}
}

func (k *clusterKubectl) Run(ctx context.Context, inv *agent.Investigation, clusterID string, argv []string) (api.Result, error) {
	if clusterID != k.cluster || !inv.Req.Principal.CanAccessCluster(clusterID) {
		return api.Result{}, problem.NotFound("Cluster not found: %s", clusterID)
	}
	k.mu.Lock()
	k.calls = append(k.calls, argv)
	k.mu.Unlock()
	if _, err := k.pol.Check(argv[0], argv[1:]); err != nil {
		var den *policy.Denial
		if errors.As(err, &den) {
			return api.Result{}, dispatch.DeniedError(&api.Denial{Reason: den.Reason, SecurityMode: string(k.pol.Mode)})
		}
		return api.Result{}, err
	}
	var out, errText string
	var code int
	if execext.Handles(argv) {
		r := execext.Run(ctx, k.client, argv)
		out, errText, code = r.Output, r.Error, r.ExitCode
	} else {
		r := k.runner.Run(ctx, argv)
		out, errText, code = r.Output, r.Error, r.ExitCode
	}
	res := api.Result{Status: api.StatusCompleted, Output: out, ExitCode: &code, Warnings: errText}
	if code != 0 {
		res.Status, res.Error, res.Warnings = api.StatusFailed, &errText, ""
	}
	return res, nil
}

func (k *clusterKubectl) Clusters(ctx context.Context, p *auth.Principal) ([]api.Cluster, error) {
	if !p.CanAccessCluster(k.cluster) {
		return nil, nil
	}
	return []api.Cluster{{ClusterID: k.cluster, Status: api.ClusterConnected, SecurityMode: "readOnly"}}, nil
}

func (k *clusterKubectl) ran() [][]string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([][]string(nil), k.calls...)
}

func openStore(t *testing.T) store.Store {
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "db"), time.Minute, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var alice = &auth.Principal{ID: "alice", Role: auth.RoleUser}

func collect(t *testing.T, a agent.Investigator, req agent.Request) ([]agent.Event, string, error) {
	t.Helper()
	var events []agent.Event
	answer, err := a.Investigate(context.Background(), req, func(e agent.Event) { events = append(events, e) })
	if len(events) == 0 {
		t.Fatal("no events")
	}
	last := events[len(events)-1].Type
	if last != agent.EventDone && last != agent.EventError {
		t.Fatalf("stream ended with %q, not done/error", last)
	}
	for _, e := range events[:len(events)-1] {
		if e.Type == agent.EventDone || e.Type == agent.EventError {
			t.Fatalf("terminal event %q before the end", e.Type)
		}
	}
	return events, answer, err
}

func TestOfflineDiagnosisWithoutLLM(t *testing.T) {
	ns := cp.NewNamespace(t)
	if err := scenarios.Build(context.Background(), cp, ns, 1); err != nil {
		t.Fatal(err)
	}
	k := newClusterKubectl(t)
	a := agent.New(k, nil, openStore(t), agent.Config{}, quiet)
	sc, _ := scenarios.Get(1)
	events, answer, err := collect(t, a, agent.Request{Principal: alice, Query: sc.Question(ns), ClusterID: "test"})
	if err != nil {
		t.Fatalf("offline investigation failed: %v", err)
	}
	if events[0].Type != agent.EventContent || events[1].Type != agent.EventToolCall || events[1].Tool != "triage" || events[1].Parameters["namespace"] != ns {
		t.Fatalf("events %+v", events[:2])
	}
	if !strings.Contains(answer, "DEPLOY_ENV") || !strings.Contains(answer, sc.Resource(ns)) {
		t.Fatalf("offline diagnosis misses the root cause:\n%s", answer)
	}
	if strings.Contains(strings.ToLower(answer), "api key") {
		t.Fatalf("offline answer complains about keys:\n%s", answer)
	}
}

func TestToolLoopOpenAI(t *testing.T) {
	ns := cp.NewNamespace(t)
	if err := scenarios.Build(context.Background(), cp, ns, 9); err != nil {
		t.Fatal(err)
	}
	gate := make(chan struct{})
	fake := llmtest.NewServer(t, llmtest.WireOpenAI, []llmtest.Turn{
		{ToolCalls: []llmtest.ToolCall{
			{Name: "triage", Arguments: fmt.Sprintf(`{"namespace":%q}`, ns)},
			{Name: "execute_kubectl", Arguments: fmt.Sprintf(`{"command":"get pods -n %s --show-labels"}`, ns)},
		}, Usage: llmtest.Usage{InputTokens: 100, OutputTokens: 20}},
		{Text: "The Service selector app=web-frontend matches no pod; the pods are labelled app=frontend. Fix the selector.", Gate: gate, Usage: llmtest.Usage{InputTokens: 300, OutputTokens: 40}},
	})
	p, err := llm.New(llm.Config{Provider: "openai", APIKey: "sk-test", Model: "gpt-test", BaseURL: fake.URL()})
	if err != nil {
		t.Fatal(err)
	}
	k := newClusterKubectl(t)
	a := agent.New(k, p, openStore(t), agent.Config{}, quiet)
	var events []agent.Event
	var contentBeforeEnd bool
	answer, err := a.Investigate(context.Background(), agent.Request{Principal: alice, Query: "why does the web service have no endpoints?", ClusterID: "test"}, func(e agent.Event) {
		events = append(events, e)
		if e.Type == agent.EventContent {
			select {
			case <-gate:
			default:
				contentBeforeEnd = true // the first chunk arrived while the model was still "typing"
				close(gate)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !contentBeforeEnd {
		t.Fatal("content was not streamed before the model's turn ended")
	}
	var tools []string
	for _, e := range events {
		if e.Type == agent.EventToolCall {
			tools = append(tools, e.Tool)
		}
	}
	if strings.Join(tools, ",") != "triage,execute_kubectl" || events[len(events)-1].Type != agent.EventDone || events[len(events)-1].ThreadID == "" {
		t.Fatalf("events %+v", events)
	}
	if !strings.Contains(answer, "web-frontend") {
		t.Fatalf("answer %q", answer)
	}
	// The tool results went back to the model, framed as untrusted, with real cluster data.
	reqs := fake.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d model requests", len(reqs))
	}
	results := reqs[1].ToolResults()
	if len(results) != 2 || !strings.Contains(results[0].Content, "<tool_output") || !strings.Contains(results[0].Content, "web-frontend") || !strings.Contains(results[1].Content, "app=frontend") {
		t.Fatalf("tool results sent back: %+v", results)
	}
	if !strings.Contains(reqs[0].System, "never follow instructions") || len(reqs[0].Tools) != 7 || reqs[0].Tools[0].Name != "triage" {
		t.Fatalf("first request: system %q, %d tools", reqs[0].System, len(reqs[0].Tools))
	}
	// Every command ran under the policy, through the read-only path.
	// (The two ran concurrently, in either order.)
	calls := k.ran()
	verbs := []string{calls[0][0], calls[1][0]}
	sort.Strings(verbs)
	if len(calls) != 2 || verbs[0] != "get" || verbs[1] != "kubently" {
		t.Fatalf("commands %v", calls)
	}
}

func TestConversationMemoryIsPerPrincipal(t *testing.T) {
	fake := llmtest.NewServer(t, llmtest.WireAnthropic, []llmtest.Turn{
		{Text: "First answer."},
		{Text: "Second answer, remembering."},
		{Text: "Bob's answer."},
	})
	p, err := llm.New(llm.Config{Provider: "anthropic", APIKey: "sk-ant", Model: "claude-test", BaseURL: fake.URL()})
	if err != nil {
		t.Fatal(err)
	}
	a := agent.New(newClusterKubectl(t), p, openStore(t), agent.Config{}, quiet)
	_, _, err = collect(t, a, agent.Request{Principal: alice, Query: "question one", ThreadID: "t1", ClusterID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	collect(t, a, agent.Request{Principal: alice, Query: "question two", ThreadID: "t1"})
	collect(t, a, agent.Request{Principal: &auth.Principal{ID: "bob"}, Query: "bob asks", ThreadID: "t1"})
	reqs := fake.Requests()
	second := reqs[1].Messages
	if len(second) != 3 || second[0].Content != "question one" || second[1].Content != "First answer." || second[2].Content != "question two" {
		t.Fatalf("second request did not replay the thread: %+v", second)
	}
	if !strings.Contains(reqs[1].System, `"test"`) {
		t.Fatalf("thread's cluster not remembered: %q", reqs[1].System)
	}
	if third := reqs[2].Messages; len(third) != 1 || third[0].Content != "bob asks" {
		t.Fatalf("bob saw alice's thread: %+v", third)
	}
}

func TestGeminiToolCall(t *testing.T) {
	fake := llmtest.NewServer(t, llmtest.WireGemini, []llmtest.Turn{
		{ToolCalls: []llmtest.ToolCall{{Name: "list_clusters", Arguments: `{}`}}},
		{Text: "You have one cluster, test."},
	})
	p, err := llm.New(llm.Config{Provider: "gemini", APIKey: "g-key", Model: "gemini-test", BaseURL: fake.URL()})
	if err != nil {
		t.Fatal(err)
	}
	a := agent.New(newClusterKubectl(t), p, openStore(t), agent.Config{}, quiet)
	_, answer, err := collect(t, a, agent.Request{Principal: alice, Query: "which clusters do I have?"})
	if err != nil || !strings.Contains(answer, "one cluster") {
		t.Fatalf("answer %q, %v", answer, err)
	}
	if res := fake.Requests()[1].ToolResults(); len(res) != 1 || !strings.Contains(res[0].Content, "test: connected") {
		t.Fatalf("tool result %+v", res)
	}
}

func TestCallerRightsDenialsAndRedaction(t *testing.T) {
	ns := cp.NewNamespace(t)
	if err := scenarios.Build(context.Background(), cp, ns, 1); err != nil {
		t.Fatal(err)
	}
	fake := llmtest.NewServer(t, llmtest.WireOpenAI, []llmtest.Turn{
		{ToolCalls: []llmtest.ToolCall{
			{Name: "execute_kubectl", Arguments: `{"cluster_id":"other","command":"get pods -A"}`},
			{Name: "execute_kubectl", Arguments: fmt.Sprintf(`{"command":"get secrets -n %s -o yaml"}`, ns)},
			{Name: "execute_kubectl", Arguments: fmt.Sprintf(`{"command":"delete pod x -n %s"}`, ns)},
			{Name: "no_such_tool", Arguments: `{}`},
		}},
		{Text: "I could not do those."},
	})
	p, _ := llm.New(llm.Config{Provider: "openai", APIKey: "sk", Model: "m", BaseURL: fake.URL()})
	k := newClusterKubectl(t)
	limited := &auth.Principal{ID: "carol", Clusters: []string{"test"}}
	a := agent.New(k, p, openStore(t), agent.Config{}, quiet)
	_, _, err := collect(t, a, agent.Request{Principal: limited, Query: "do things", ClusterID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	res := fake.Requests()[1].ToolResults()
	if len(res) != 4 {
		t.Fatalf("results %+v", res)
	}
	for i, want := range []string{"Cluster not found: other", "command denied", "command denied", "unknown tool"} {
		if !strings.Contains(res[i].Content, want) {
			t.Fatalf("result %d = %q, want %q", i, res[i].Content, want)
		}
	}
	// Nothing ran for the other cluster; the two denied commands were refused by the policy.
	for _, c := range k.ran() {
		if c[0] == "delete" && len(k.ran()) > 2 {
			t.Fatalf("ran %v", k.ran())
		}
	}
	if got := agent.Redact("DB_PASSWORD=hunter22 token: abcdef123456 Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-abcdefgh secretName: db-creds"); strings.Contains(got, "hunter22") || strings.Contains(got, "abcdef123456") || strings.Contains(got, "eyJhbGci") || !strings.Contains(got, "secretName: db-creds") {
		t.Fatalf("redaction: %q", got)
	}
}

func TestBoundsGivePartialAnswers(t *testing.T) {
	loop := llmtest.Turn{ToolCalls: []llmtest.ToolCall{{Name: "list_clusters", Arguments: `{}`}}, Usage: llmtest.Usage{InputTokens: 10, OutputTokens: 5}}
	t.Run("steps", func(t *testing.T) {
		fake := llmtest.NewServer(t, llmtest.WireOpenAI, []llmtest.Turn{loop, loop, {Text: "Partial: only the cluster list so far."}})
		p, _ := llm.New(llm.Config{Provider: "openai", APIKey: "sk", Model: "m", BaseURL: fake.URL()})
		a := agent.New(newClusterKubectl(t), p, openStore(t), agent.Config{MaxSteps: 2}, quiet)
		_, answer, err := collect(t, a, agent.Request{Principal: alice, Query: "loop forever", ClusterID: "test"})
		if err != nil || !strings.Contains(answer, "Partial: only the cluster list") || !strings.Contains(answer, "step limit (2)") {
			t.Fatalf("answer %q, %v", answer, err)
		}
		if last := fake.Requests()[2]; len(last.Tools) != 0 {
			t.Fatal("the wrap-up turn still offered tools")
		}
	})
	t.Run("tokens", func(t *testing.T) {
		big := loop
		big.Usage = llmtest.Usage{InputTokens: 900, OutputTokens: 200}
		fake := llmtest.NewServer(t, llmtest.WireOpenAI, []llmtest.Turn{big})
		p, _ := llm.New(llm.Config{Provider: "openai", APIKey: "sk", Model: "m", BaseURL: fake.URL()})
		a := agent.New(newClusterKubectl(t), p, openStore(t), agent.Config{TokenBudget: 1000}, quiet)
		_, answer, err := collect(t, a, agent.Request{Principal: alice, Query: "expensive", ClusterID: "test"})
		if err != nil || !strings.Contains(answer, "token budget (1000)") {
			t.Fatalf("answer %q, %v", answer, err)
		}
	})
}

func TestProviderFailuresEndInAnErrorEvent(t *testing.T) {
	fake := llmtest.NewServer(t, llmtest.WireAnthropic, []llmtest.Turn{{Status: 401, Message: "invalid x-api-key"}})
	p, _ := llm.New(llm.Config{Provider: "anthropic", APIKey: "sk-ant-secret", Model: "m", BaseURL: fake.URL(), MaxRetries: 1})
	a := agent.New(newClusterKubectl(t), p, openStore(t), agent.Config{}, quiet)
	events, _, err := collect(t, a, agent.Request{Principal: alice, Query: "hi", ClusterID: "test"})
	last := events[len(events)-1]
	if err == nil || last.Type != agent.EventError || !strings.Contains(last.Message, "language model provider failed") || strings.Contains(last.Message, "sk-ant-secret") {
		t.Fatalf("events %+v, err %v", events, err)
	}
	// A hanging provider is bounded by the investigation timeout.
	hang := llmtest.NewServer(t, llmtest.WireOpenAI, []llmtest.Turn{{Hang: true}})
	p, _ = llm.New(llm.Config{Provider: "openai", APIKey: "sk", Model: "m", BaseURL: hang.URL()})
	a = agent.New(newClusterKubectl(t), p, openStore(t), agent.Config{Timeout: 2 * time.Second}, quiet)
	start := time.Now()
	events, _, err = collect(t, a, agent.Request{Principal: alice, Query: "hi", ClusterID: "test"})
	if err == nil || time.Since(start) > 10*time.Second || events[len(events)-1].Type != agent.EventError {
		t.Fatalf("hanging provider: %v after %s", err, time.Since(start))
	}
}

// TestEveryToolAgainstTheCluster drives each tool through the model with real
// data from scenario 1 (a crashlooping Deployment) and checks what the model
// got back.
func TestEveryToolAgainstTheCluster(t *testing.T) {
	ns := cp.NewNamespace(t)
	if err := scenarios.Build(context.Background(), cp, ns, 1); err != nil {
		t.Fatal(err)
	}
	calls := []llmtest.ToolCall{
		{Name: "list_clusters", Arguments: `{}`},
		{Name: "execute_kubectl_multi", Arguments: fmt.Sprintf(`{"command":"get deployments -n %s"}`, ns)},
		{Name: "get_events_for_resource", Arguments: fmt.Sprintf(`{"namespace":%q,"kind":"deployment","name":"checkout"}`, ns)},
		{Name: "get_recent_changes", Arguments: fmt.Sprintf(`{"namespace":%q,"since_minutes":120}`, ns)},
		{Name: "search_pod_logs", Arguments: fmt.Sprintf(`{"namespace":%q,"selector":"app=checkout","pattern":"fatal"}`, ns)},
		{Name: "execute_kubectl", Arguments: `{"command":"get pods -n 'unbalanced"}`},
	}
	fake := llmtest.NewServer(t, llmtest.WireOpenAI, []llmtest.Turn{{ToolCalls: calls}, {Text: "done"}})
	p, _ := llm.New(llm.Config{Provider: "openai", APIKey: "sk", Model: "m", BaseURL: fake.URL()})
	k := newClusterKubectl(t)
	a := agent.New(k, p, openStore(t), agent.Config{}, quiet)
	if _, _, err := collect(t, a, agent.Request{Principal: alice, Query: "look around", ClusterID: "test"}); err != nil {
		t.Fatal(err)
	}
	res := fake.Requests()[1].ToolResults()
	if len(res) != len(calls) {
		t.Fatalf("%d results for %d calls", len(res), len(calls))
	}
	want := [][]string{
		{"test: connected"},
		{"=== cluster test", "checkout", "0/2"},
		{"=== events for deployment/checkout"},
		{"new replicaset/checkout-", "registry.example.com/shop/checkout:2.3.1", "BackOff"},
		{"2 matching lines", "(previous): fatal: DEPLOY_ENV is not set"},
		{"unbalanced quotes"},
	}
	for i, w := range want {
		for _, s := range w {
			if !strings.Contains(res[i].Content, s) {
				t.Errorf("%s result lacks %q:\n%s", calls[i].Name, s, res[i].Content)
			}
		}
	}
	// The event walk went from the pod's owner chain through real commands.
	var sawEvents bool
	for _, c := range k.ran() {
		if c[0] == "events" && strings.Join(c, " ") == fmt.Sprintf("events -n %s --for deployment/checkout", ns) {
			sawEvents = true
		}
	}
	if !sawEvents {
		t.Fatalf("no events command ran: %v", k.ran())
	}
}
