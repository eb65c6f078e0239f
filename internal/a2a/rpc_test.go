package a2a_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	sdk "github.com/a2aproject/a2a-go/v2/a2a"
	"github.com/a2aproject/a2a-go/v2/a2aclient"
	"github.com/a2aproject/a2a-go/v2/a2aclient/agentcard"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/a2a"
)

// Every protected A2A route answers 401 without a credential or with a wrong
// one, in the API's error format; the agent cards are public.
func TestAuthenticationOnEveryRoute(t *testing.T) {
	e := newEnv(t)
	protected := []struct{ method, path string }{
		{"POST", a2a.PathSessions},
		{"POST", "/a2a"},
		{"POST", "/a2a/"},
	}
	body := rpcBody("GetTask", map[string]any{"id": "x"})
	for _, p := range protected {
		for _, key := range []string{"", "wrong-key-0123456789abcdef"} {
			r := e.do(p.method, p.path, key, body, a2a.HeaderA2AVersion, "1.0")
			if r.status != http.StatusUnauthorized || r.apiError(t).Code != api.CodeUnauthorized || r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s key=%q: %d %s", p.method, p.path, key, r.status, r.body)
			}
		}
	}
	for _, path := range []string{a2a.PathCard, a2a.PathCardA2A, a2a.PathCardOld} {
		if r := e.do("GET", path, "", nil); r.status != http.StatusOK {
			t.Errorf("GET %s without key: %d %s", path, r.status, r.body)
		}
	}
	select {
	case run := <-e.inv.newRun:
		t.Fatalf("an unauthenticated request started an investigation: %+v", run.req)
	default:
	}
}

func TestAgentCard(t *testing.T) {
	e := newEnv(t)
	var first []byte
	for _, path := range []string{a2a.PathCard, a2a.PathCardA2A, a2a.PathCardOld} {
		r := e.do("GET", path, "", nil)
		if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %s", path, r.status, r.header.Get("Content-Type"))
		}
		if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "max-age=") {
			t.Errorf("%s: Cache-Control %q", path, cc)
		}
		if r.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: no CORS header", path)
		}
		if first == nil {
			first = r.body
		} else if string(first) != string(r.body) {
			t.Errorf("%s serves a different card", path)
		}
		etag := r.header.Get("ETag")
		if r2 := e.do("GET", path, "", nil, "If-None-Match", etag); etag == "" || r2.status != http.StatusNotModified {
			t.Errorf("%s: revalidation with ETag %q gave %d", path, etag, r2.status)
		}
		if r3 := e.do("OPTIONS", path, "", nil, "Origin", "https://ui.example", "Access-Control-Request-Headers", "a2a-version"); r3.status != http.StatusNoContent ||
			!strings.Contains(r3.header.Get("Access-Control-Allow-Headers"), "A2A-Version") {
			t.Errorf("%s: preflight %d %v", path, r3.status, r3.header)
		}
	}

	// A pure 1.0 card: none of the 0.3 top-level fields.
	var raw map[string]any
	if err := json.Unmarshal(first, &raw); err != nil {
		t.Fatal(err)
	}
	for _, legacy := range []string{"url", "preferredTransport", "protocolVersion", "additionalInterfaces", "security"} {
		if _, ok := raw[legacy]; ok {
			t.Errorf("card has the 0.3 field %q", legacy)
		}
	}
	var card sdk.AgentCard
	if err := json.Unmarshal(first, &card); err != nil {
		t.Fatal(err)
	}
	if len(card.SupportedInterfaces) != 1 {
		t.Fatalf("interfaces %+v", card.SupportedInterfaces)
	}
	iface := card.SupportedInterfaces[0]
	if iface.URL != e.url+"/a2a" || iface.ProtocolBinding != sdk.TransportProtocolJSONRPC || iface.ProtocolVersion != "1.0" {
		t.Fatalf("interface %+v", iface)
	}
	if !card.Capabilities.Streaming || card.Version != "1.2.3-test" {
		t.Fatalf("capabilities %+v version %q", card.Capabilities, card.Version)
	}
	skills := map[string]bool{}
	for _, s := range card.Skills {
		skills[s.ID] = s.Description != ""
	}
	if !skills["diagnose"] || !skills["kubectl"] {
		t.Fatalf("skills %+v", card.Skills)
	}
	key, ok := card.SecuritySchemes[a2a.SchemeAPIKey].(sdk.APIKeySecurityScheme)
	if !ok || key.Name != api.HeaderAPIKey || key.Location != sdk.APIKeySecuritySchemeLocationHeader {
		t.Fatalf("apiKey scheme %+v", card.SecuritySchemes)
	}
	if b, ok := card.SecuritySchemes[a2a.SchemeBearer].(sdk.HTTPAuthSecurityScheme); !ok || !strings.EqualFold(b.Scheme, "bearer") {
		t.Fatalf("bearer scheme %+v", card.SecuritySchemes)
	}
	if len(card.SecurityRequirements) != 2 {
		t.Fatalf("security requirements %+v", card.SecurityRequirements)
	}

	// The SDK's own resolver accepts it.
	resolved, err := agentcard.DefaultResolver.Resolve(context.Background(), e.url)
	if err != nil || resolved.Name != "Kubently" {
		t.Fatalf("resolve: %v %+v", err, resolved)
	}
}

// sendStreaming opens a 1.0 SendStreamingMessage stream.
func (e *env) sendStreaming(key, text string, meta map[string]any, headers ...string) *stream {
	e.t.Helper()
	headers = append(headers, a2a.HeaderA2AVersion, "1.0", "Accept", "text/event-stream")
	return e.open("POST", "/a2a", key, rpcBody("SendStreamingMessage", map[string]any{"message": message(text, meta)}), headers...)
}

// The 1.0 binding streams typed tool-call artifacts, the answer in appended
// chunks as it is produced, and a final completed status.
func TestStreamingMessageV1(t *testing.T) {
	e := newEnv(t)
	release := e.inv.gate("v1")
	s := e.sendStreaming(aliceKey, "gate:v1 what is wrong in prod?", map[string]any{"cluster_id": "prod"},
		api.HeaderCorrelationID, "corr-v1", a2a.HeaderServiceIdentity, "orchestrator")

	task, ok := v1Event(t, mustNext(t, s)).(*sdk.Task)
	if !ok || task.Status.State != sdk.TaskStateSubmitted || task.ID == "" || task.ContextID == "" {
		t.Fatalf("first event %+v", task)
	}
	if st, ok := v1Event(t, mustNext(t, s)).(*sdk.TaskStatusUpdateEvent); !ok || st.Status.State != sdk.TaskStateWorking {
		t.Fatalf("second event %+v", st)
	}
	call, ok := v1Event(t, mustNext(t, s)).(*sdk.TaskArtifactUpdateEvent)
	if !ok || call.Metadata["type"] != "tool_call" || call.Metadata["tool"] != "execute_kubectl" || call.Artifact.Name != "tool_call" {
		t.Fatalf("tool call event %+v", call)
	}
	params, _ := call.Metadata["parameters"].(map[string]any)
	if params["command"] != "get pods -A" || params["cluster_id"] != "prod" {
		t.Fatalf("tool call parameters %+v", call.Metadata)
	}
	if data, _ := call.Artifact.Parts[0].Data().(map[string]any); data["tool"] != "execute_kubectl" {
		t.Fatalf("tool call data part %+v", call.Artifact.Parts)
	}
	if res, ok := v1Event(t, mustNext(t, s)).(*sdk.TaskArtifactUpdateEvent); !ok || res.Metadata["type"] != "tool_result" || res.Metadata["status"] != "ok" {
		t.Fatalf("tool result event %+v", res)
	}
	c1, ok := v1Event(t, mustNext(t, s)).(*sdk.TaskArtifactUpdateEvent)
	if !ok || c1.Metadata["type"] != "content" || c1.Append || c1.Artifact.Name != "answer" || c1.Artifact.Parts[0].Text() != "part 1 " {
		t.Fatalf("first content %+v", c1)
	}
	// The agent waits for the gate: part 1 reached the client while the
	// investigation is still running.
	if c := s.nextComment(); c == "" {
		t.Fatal("no keepalive")
	}
	release()
	c2, ok := v1Event(t, mustNext(t, s)).(*sdk.TaskArtifactUpdateEvent)
	if !ok || !c2.Append || c2.Artifact.ID != c1.Artifact.ID || c2.Artifact.Parts[0].Text() != "part 2" {
		t.Fatalf("second content %+v", c2)
	}
	last, ok := v1Event(t, mustNext(t, s)).(*sdk.TaskArtifactUpdateEvent)
	if !ok || !last.LastChunk || last.Artifact.ID != c1.Artifact.ID {
		t.Fatalf("last chunk %+v", last)
	}
	final, ok := v1Event(t, mustNext(t, s)).(*sdk.TaskStatusUpdateEvent)
	if !ok || final.Status.State != sdk.TaskStateCompleted || final.Status.Message.Parts[0].Text() != "part 1 part 2" {
		t.Fatalf("final event %+v", final)
	}
	if final.Metadata["thread_id"] != task.ContextID {
		t.Fatalf("thread id %+v, context %s", final.Metadata, task.ContextID)
	}
	if more := s.rest(); len(more) != 0 {
		t.Fatalf("events after the final status: %v", more)
	}

	run := e.inv.next(t)
	if run.req.Principal.ID != "alice" || run.req.ClusterID != "prod" || run.req.ThreadID != task.ContextID ||
		run.req.CorrelationID != "corr-v1" || run.req.ServiceIdentity != "orchestrator" || run.req.Source != "a2a-rpc" {
		t.Fatalf("request %+v", run.req)
	}

	// The finished task is stored with its artifacts and history.
	f := e.rpcCall(aliceKey, "1.0", "GetTask", map[string]any{"id": task.ID})
	var got sdk.Task
	if f.Error != nil || json.Unmarshal(f.Result, &got) != nil {
		t.Fatalf("GetTask: %+v %s", f.Error, f.Result)
	}
	if got.Status.State != sdk.TaskStateCompleted || len(got.Artifacts) != 3 || len(got.History) == 0 {
		t.Fatalf("stored task %+v", got)
	}
	for _, a := range got.Artifacts {
		if a.Name == "answer" && (len(a.Parts) != 3 || a.Parts[0].Text()+a.Parts[1].Text() != "part 1 part 2") {
			t.Fatalf("answer artifact %+v", a.Parts)
		}
	}
}

// v1Client is the a2a-go SDK client for alice's or bob's key.
func (e *env) v1Client(t *testing.T, key string) (*a2aclient.Client, context.Context) {
	t.Helper()
	ctx := a2aclient.AttachServiceParams(context.Background(), a2aclient.ServiceParams{api.HeaderAPIKey: []string{key}})
	card, err := agentcard.DefaultResolver.Resolve(ctx, e.url)
	if err != nil {
		t.Fatal(err)
	}
	c, err := a2aclient.NewFromCard(ctx, card)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Destroy() })
	return c, ctx
}

// The official Go client drives the 1.0 methods end to end.
func TestGoClientV1(t *testing.T) {
	e := newEnv(t)
	c, ctx := e.v1Client(t, aliceKey)

	res, err := c.SendMessage(ctx, &sdk.SendMessageRequest{Message: sdk.NewMessage(sdk.MessageRoleUser, sdk.NewTextPart("list crashlooping pods"))})
	if err != nil {
		t.Fatal(err)
	}
	task, ok := res.(*sdk.Task)
	if !ok || task.Status.State != sdk.TaskStateCompleted || task.Status.Message.Parts[0].Text() != "Two pods are in CrashLoopBackOff." {
		t.Fatalf("SendMessage result %+v", res)
	}

	var kinds []string
	for ev, err := range c.SendStreamingMessage(ctx, &sdk.SendMessageRequest{Message: sdk.NewMessage(sdk.MessageRoleUser, sdk.NewTextPart("again"))}) {
		if err != nil {
			t.Fatal(err)
		}
		switch v := ev.(type) {
		case *sdk.Task:
			kinds = append(kinds, "task")
		case *sdk.TaskStatusUpdateEvent:
			kinds = append(kinds, "status:"+string(v.Status.State))
		case *sdk.TaskArtifactUpdateEvent:
			kinds = append(kinds, "artifact:"+v.Metadata["type"].(string))
		}
	}
	want := "task status:TASK_STATE_WORKING artifact:tool_call artifact:content artifact:content artifact:content artifact:content status:TASK_STATE_COMPLETED"
	if got := strings.Join(kinds, " "); got != want {
		t.Fatalf("stream\n got %s\nwant %s", got, want)
	}

	got, err := c.GetTask(ctx, &sdk.GetTaskRequest{ID: task.ID})
	if err != nil || got.Status.State != sdk.TaskStateCompleted {
		t.Fatalf("GetTask: %v %+v", err, got)
	}
	list, err := c.ListTasks(ctx, &sdk.ListTasksRequest{})
	if err != nil || len(list.Tasks) != 2 || list.TotalSize != 2 {
		t.Fatalf("ListTasks: %v %+v", err, list)
	}
	page, err := c.ListTasks(ctx, &sdk.ListTasksRequest{PageSize: 1})
	if err != nil || len(page.Tasks) != 1 || page.NextPageToken == "" {
		t.Fatalf("ListTasks page 1: %v %+v", err, page)
	}
	page2, err := c.ListTasks(ctx, &sdk.ListTasksRequest{PageSize: 1, PageToken: page.NextPageToken})
	if err != nil || len(page2.Tasks) != 1 || page2.NextPageToken != "" || page2.Tasks[0].ID == page.Tasks[0].ID {
		t.Fatalf("ListTasks page 2: %v %+v", err, page2)
	}
	if _, err := c.CancelTask(ctx, &sdk.CancelTaskRequest{ID: task.ID}); err == nil || !strings.Contains(err.Error(), "cancel") {
		t.Fatalf("canceling a completed task: %v", err)
	}
	card, err := c.GetExtendedAgentCard(ctx, &sdk.GetExtendedAgentCardRequest{})
	if err != nil || card.Name != "Kubently" || card.SupportedInterfaces[0].URL != e.url+"/a2a" {
		t.Fatalf("extended card: %v %+v", err, card)
	}
}

// ListTasks answers an empty list (not null) to a principal without tasks,
// and historyLength on SendMessage trims the returned history.
func TestListEmptyAndHistoryLength(t *testing.T) {
	e := newEnv(t)
	f := e.rpcCall(bobKey, "1.0", "ListTasks", map[string]any{})
	if f.Error != nil || !strings.Contains(string(f.Result), `"tasks":[]`) {
		t.Fatalf("empty ListTasks: %+v %s", f.Error, f.Result)
	}
	zero := 0
	f = e.rpcCall(aliceKey, "1.0", "SendMessage", map[string]any{"message": message("hello", nil), "configuration": map[string]any{"historyLength": zero}})
	var res struct {
		Task sdk.Task `json:"task"`
	}
	if f.Error != nil || json.Unmarshal(f.Result, &res) != nil {
		t.Fatalf("SendMessage: %+v %s", f.Error, f.Result)
	}
	if res.Task.Status.State != sdk.TaskStateCompleted || len(res.Task.History) != 0 {
		t.Fatalf("historyLength 0 returned %d messages: %s", len(res.Task.History), f.Result)
	}
	f = e.rpcCall(aliceKey, "1.0", "GetTask", map[string]any{"id": res.Task.ID})
	var stored sdk.Task
	if json.Unmarshal(f.Result, &stored) != nil || len(stored.History) == 0 {
		t.Fatalf("the stored history was trimmed too: %s", f.Result)
	}
}

// Requests without A2A-Version (or with 0.3) speak the 0.3 method names and
// frames (kind, final); the same tasks are visible through 1.0.
func TestLegacyV03(t *testing.T) {
	e := newEnv(t)
	for _, version := range []string{"", "0.3"} {
		t.Run("version="+version, func(t *testing.T) {
			var headers []string
			if version != "" {
				headers = []string{a2a.HeaderA2AVersion, version}
			}
			release := e.inv.gate("legacy" + version)
			s := e.open("POST", "/a2a", aliceKey, rpcBody("message/stream", map[string]any{"message": legacyMessage("gate:legacy" + version + " check pods")}), headers...)
			var frames []map[string]any
			next := func() map[string]any {
				f := parseRPC(t, []byte(mustNext(t, s)))
				if f.Error != nil {
					t.Fatalf("stream error %+v", f.Error)
				}
				var m map[string]any
				_ = json.Unmarshal(f.Result, &m)
				frames = append(frames, m)
				return m
			}
			if m := next(); m["kind"] != "task" {
				t.Fatalf("first frame %v", m)
			}
			if m := next(); m["kind"] != "status-update" || m["final"] != false {
				t.Fatalf("second frame %v", m)
			}
			call := next()
			meta, _ := call["metadata"].(map[string]any)
			if call["kind"] != "artifact-update" || meta["type"] != "tool_call" || meta["tool"] != "execute_kubectl" {
				t.Fatalf("tool call frame %v", call)
			}
			next() // tool result
			content := next()
			art, _ := content["artifact"].(map[string]any)
			parts, _ := art["parts"].([]any)
			if len(parts) != 1 || parts[0].(map[string]any)["kind"] != "text" || parts[0].(map[string]any)["text"] != "part 1 " {
				t.Fatalf("content frame %v", content)
			}
			release()
			var final map[string]any
			for {
				d, ok := s.next()
				if !ok {
					break
				}
				f := parseRPC(t, []byte(d))
				_ = json.Unmarshal(f.Result, &final)
			}
			status, _ := final["status"].(map[string]any)
			if final["kind"] != "status-update" || final["final"] != true || status["state"] != "completed" {
				t.Fatalf("final frame %v", final)
			}
			taskID := frames[0]["id"].(string)

			f := e.rpcCall(aliceKey, version, "tasks/get", map[string]any{"id": taskID})
			var task map[string]any
			_ = json.Unmarshal(f.Result, &task)
			if f.Error != nil || task["kind"] != "task" || task["status"].(map[string]any)["state"] != "completed" {
				t.Fatalf("tasks/get: %+v %s", f.Error, f.Result)
			}
			if f := e.rpcCall(aliceKey, "1.0", "GetTask", map[string]any{"id": taskID}); f.Error != nil {
				t.Fatalf("1.0 GetTask of a 0.3 task: %+v", f.Error)
			}

			f = e.rpcCall(aliceKey, version, "message/send", map[string]any{"message": legacyMessage("plain question")})
			_ = json.Unmarshal(f.Result, &task)
			if f.Error != nil || task["kind"] != "task" || task["status"].(map[string]any)["state"] != "completed" {
				t.Fatalf("message/send: %+v %s", f.Error, f.Result)
			}
		})
	}
}

// Unsupported versions and errors raised before a stream starts are plain
// JSON-RPC errors, not 200 event streams.
func TestVersionAndEarlyErrors(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name, version, method string
		params                any
		code                  int
	}{
		{"unsupported version", "2.0", "GetTask", map[string]any{"id": "x"}, -32009},
		{"unsupported version, streaming", "0.2", "message/stream", map[string]any{"message": legacyMessage("x")}, -32009},
		{"subscribe to an unknown task", "1.0", "SubscribeToTask", map[string]any{"id": "nope"}, -32001},
		{"stream without parts", "1.0", "SendStreamingMessage", map[string]any{"message": map[string]any{"messageId": "m1", "role": "ROLE_USER", "parts": []any{}}}, -32602},
		{"stream without text", "1.0", "SendStreamingMessage", map[string]any{"message": map[string]any{"messageId": "m2", "role": "ROLE_USER", "parts": []any{map[string]any{"data": map[string]any{"a": 1}}}}}, -32602},
		{"bad X-Request-Timeout", "1.0", "SendStreamingMessage", map[string]any{"message": message("x", nil)}, -32602},
		{"1.0 method name with 0.3", "0.3", "GetTask", map[string]any{"id": "x"}, -32601},
		{"unknown task", "1.0", "GetTask", map[string]any{"id": "nope"}, -32001},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			headers := []string{a2a.HeaderA2AVersion, c.version, "Accept", "text/event-stream"}
			if c.name == "bad X-Request-Timeout" {
				headers = append(headers, a2a.HeaderRequestTimeout, "9999")
			}
			r := e.do("POST", "/a2a", aliceKey, rpcBody(c.method, c.params), headers...)
			if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Fatalf("HTTP %d %s: %s", r.status, r.header.Get("Content-Type"), r.body)
			}
			f := parseRPC(t, r.body)
			if f.Error == nil || f.Error.Code != c.code {
				t.Fatalf("want error %d, got %s", c.code, r.body)
			}
			if id, _ := f.ID.(float64); id != 7 {
				t.Fatalf("response id %v", f.ID)
			}
		})
	}
}

// CancelTask cancels the running investigation; the stream and the stored
// task end canceled.
func TestCancelTask(t *testing.T) {
	e := newEnv(t)
	for _, version := range []string{"1.0", "0.3"} {
		t.Run(version, func(t *testing.T) {
			s := e.sendStreaming(aliceKey, "hang until canceled", nil)
			task := v1Event(t, mustNext(t, s)).(*sdk.Task)
			run := e.inv.next(t)
			method := "CancelTask"
			if version == "0.3" {
				method = "tasks/cancel"
			}
			f := e.rpcCall(aliceKey, version, method, map[string]any{"id": string(task.ID)})
			if f.Error != nil {
				t.Fatalf("cancel: %+v", f.Error)
			}
			var got struct {
				Status struct {
					State string `json:"state"`
				} `json:"status"`
			}
			_ = json.Unmarshal(f.Result, &got)
			want := map[string]string{"1.0": "TASK_STATE_CANCELED", "0.3": "canceled"}[version]
			if got.Status.State != want {
				t.Fatalf("cancel result %s", f.Result)
			}
			run.waitCanceled(t)
			var last sdk.Event
			for _, d := range s.rest() {
				last = v1Event(t, d)
			}
			if stateOf(last) != sdk.TaskStateCanceled {
				t.Fatalf("stream ended with %+v", last)
			}
			f = e.rpcCall(aliceKey, "1.0", "GetTask", map[string]any{"id": string(task.ID)})
			var stored sdk.Task
			if json.Unmarshal(f.Result, &stored) != nil || stored.Status.State != sdk.TaskStateCanceled {
				t.Fatalf("stored %s", f.Result)
			}
		})
	}
}

// A principal sees nothing of another principal's tasks, running or not.
func TestTaskIsolation(t *testing.T) {
	e := newEnv(t)
	f := e.rpcCall(aliceKey, "1.0", "SendMessage", map[string]any{"message": message("alice's question", nil)})
	var done struct {
		Task sdk.Task `json:"task"`
	}
	if f.Error != nil || json.Unmarshal(f.Result, &done) != nil {
		t.Fatalf("SendMessage: %+v", f.Error)
	}
	s := e.sendStreaming(aliceKey, "hang while bob looks", nil)
	running := v1Event(t, mustNext(t, s)).(*sdk.Task)
	if first := e.inv.next(t); first.req.Query != "alice's question" {
		t.Fatalf("first investigation %q", first.req.Query)
	}
	run := e.inv.next(t) // the running one

	for _, id := range []sdk.TaskID{done.Task.ID, running.ID} {
		for _, m := range []struct{ version, method string }{{"1.0", "GetTask"}, {"1.0", "CancelTask"}, {"0.3", "tasks/get"}, {"0.3", "tasks/cancel"}} {
			if f := e.rpcCall(bobKey, m.version, m.method, map[string]any{"id": string(id)}); f.Error == nil || f.Error.Code != -32001 {
				t.Errorf("bob %s %s: %+v %s", m.method, id, f.Error, f.Result)
			}
		}
		for _, m := range []struct{ version, method string }{{"1.0", "SubscribeToTask"}, {"0.3", "tasks/resubscribe"}} {
			r := e.do("POST", "/a2a", bobKey, rpcBody(m.method, map[string]any{"id": string(id)}), a2a.HeaderA2AVersion, m.version)
			if f := parseRPC(t, r.body); f.Error == nil || f.Error.Code != -32001 {
				t.Errorf("bob %s %s: %s", m.method, id, r.body)
			}
		}
		// bob cannot continue alice's task either
		msg := message("mine now", nil)
		msg["taskId"] = string(id)
		if f := e.rpcCall(bobKey, "1.0", "SendMessage", map[string]any{"message": msg}); f.Error == nil || f.Error.Code != -32001 {
			t.Errorf("bob SendMessage into %s: %+v", id, f.Error)
		}
	}
	f = e.rpcCall(bobKey, "1.0", "ListTasks", map[string]any{})
	if f.Error != nil || !strings.Contains(string(f.Result), `"tasks":[]`) {
		t.Fatalf("bob's ListTasks: %s", f.Result)
	}
	f = e.rpcCall(aliceKey, "1.0", "ListTasks", map[string]any{})
	var list sdk.ListTasksResponse
	if json.Unmarshal(f.Result, &list) != nil || len(list.Tasks) != 2 {
		t.Fatalf("alice's ListTasks: %s", f.Result)
	}

	// alice may resubscribe to her running task; it is still running after
	// bob's attempts to cancel it.
	sub := e.open("POST", "/a2a", aliceKey, rpcBody("SubscribeToTask", map[string]any{"id": string(running.ID)}), a2a.HeaderA2AVersion, "1.0")
	if first, ok := v1Event(t, mustNext(t, sub)).(*sdk.Task); !ok || first.ID != running.ID || first.Status.State != sdk.TaskStateWorking {
		t.Fatalf("resubscribe first event %+v", first)
	}
	select {
	case <-run.canceled:
		t.Fatal("bob's cancel reached alice's investigation")
	default:
	}
	if f := e.rpcCall(aliceKey, "1.0", "CancelTask", map[string]any{"id": string(running.ID)}); f.Error != nil {
		t.Fatalf("alice cancel: %+v", f.Error)
	}
	run.waitCanceled(t)
}

// X-Request-Timeout bounds an A2A investigation; the task fails with a clear
// message.
func TestRPCRequestTimeout(t *testing.T) {
	e := newEnv(t)
	s := e.sendStreaming(aliceKey, "hang past the limit", nil, a2a.HeaderRequestTimeout, "1")
	var last sdk.Event
	for _, d := range s.rest() {
		last = v1Event(t, d)
	}
	st, ok := last.(*sdk.TaskStatusUpdateEvent)
	if !ok || st.Status.State != sdk.TaskStateFailed || !strings.Contains(st.Status.Message.Parts[0].Text(), "time limit of 1s") {
		t.Fatalf("last event %+v", last)
	}
	e.inv.next(t).waitCanceled(t)
}

// A failing investigation ends the task failed with the agent's message.
func TestRPCFailure(t *testing.T) {
	e := newEnv(t)
	f := e.rpcCall(aliceKey, "1.0", "SendMessage", map[string]any{"message": message("fail now", nil)})
	var res struct {
		Task sdk.Task `json:"task"`
	}
	if f.Error != nil || json.Unmarshal(f.Result, &res) != nil {
		t.Fatalf("%+v %s", f.Error, f.Result)
	}
	if res.Task.Status.State != sdk.TaskStateFailed || res.Task.Status.Message.Parts[0].Text() != "kubectl: connection refused" {
		t.Fatalf("task %s", f.Result)
	}
}

// The trailing-slash alias serves the same endpoint; other paths below /a2a
// are not JSON-RPC endpoints.
func TestTrailingSlash(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/a2a/", aliceKey, rpcBody("ListTasks", map[string]any{}), a2a.HeaderA2AVersion, "1.0")
	if f := parseRPC(t, r.body); r.status != http.StatusOK || f.Error != nil {
		t.Fatalf("POST /a2a/: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/a2a/other", aliceKey, rpcBody("ListTasks", nil)); r.status != http.StatusNotFound {
		t.Fatalf("POST /a2a/other: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/a2a", aliceKey, nil); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("GET /a2a: %d %s", r.status, r.body)
	}
}

// Tasks are kept in the embedded store and survive a restart.
func TestTasksSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	e := startEnv(t, envOptions{dataDir: dir})
	f := e.rpcCall(aliceKey, "1.0", "SendMessage", map[string]any{"message": message("remember me", nil)})
	var res struct {
		Task sdk.Task `json:"task"`
	}
	if f.Error != nil || json.Unmarshal(f.Result, &res) != nil {
		t.Fatalf("%+v", f.Error)
	}
	e.close()
	e2 := startEnv(t, envOptions{dataDir: dir})
	f = e2.rpcCall(aliceKey, "1.0", "GetTask", map[string]any{"id": string(res.Task.ID)})
	var got sdk.Task
	if f.Error != nil || json.Unmarshal(f.Result, &got) != nil || got.Status.State != sdk.TaskStateCompleted {
		t.Fatalf("after restart: %+v %s", f.Error, f.Result)
	}
	if f := e2.rpcCall(bobKey, "1.0", "GetTask", map[string]any{"id": string(res.Task.ID)}); f.Error == nil {
		t.Fatal("bob sees alice's task after the restart")
	}
}
