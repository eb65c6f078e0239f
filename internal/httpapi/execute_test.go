package httpapi_test

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/config"
)

func execBody(s api.Session, verb string, args ...string) map[string]any {
	return map[string]any{"cluster_id": s.ClusterID, "session_id": s.SessionID, "command_type": verb, "args": args}
}

func TestExecuteNoExecutorIsImmediate503(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.registerCluster("prod")
	s := e.createSession(aliceKey, "prod")
	start := time.Now()
	body := e.expect(e.do("POST", "/debug/execute", aliceKey, execBody(s, "get", "pods")), 503, api.CodeServiceUnavailable)
	if time.Since(start) > 2*time.Second {
		t.Fatalf("503 took %s: the API waited for a dead cluster", time.Since(start))
	}
	if body.Message != "Cluster agent is not connected" || body.Details["cluster_id"] != "prod" {
		t.Fatalf("503 body %+v", body)
	}
	if v, ok := body.Details["last_seen"]; !ok || v != nil {
		t.Fatalf("never-seen cluster: last_seen %v (present %v), want null", v, ok)
	}
	// After an executor was seen, last_seen is reported.
	f := e.connectExecutor("prod", tok, "readOnly", nil)
	f.close()
	time.Sleep(100 * time.Millisecond)
	body = e.expect(e.do("POST", "/debug/execute", aliceKey, execBody(s, "get", "pods")), 503, api.CodeServiceUnavailable)
	if ls, _ := body.Details["last_seen"].(string); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(ls) {
		t.Fatalf("last_seen %v", body.Details["last_seen"])
	}
}

func TestExecuteOutcomes(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.registerCluster("prod")
	s := e.createSession(aliceKey, "prod")
	f := e.connectExecutor("prod", tok, "readOnly", func(cmd api.Command) *api.Result {
		switch cmd.Args[0] {
		case "pods":
			return &api.Result{Status: api.StatusCompleted, Output: "NAME   READY\nweb    1/1\n", ExitCode: ptr(0), ExecutionTimeMs: 12, ExecutedAt: ptr(api.NewTime(time.Now()))}
		case "nosuch":
			msg := `Error from server (NotFound): pods "nosuch" not found`
			return &api.Result{Status: api.StatusFailed, Error: &msg, ExitCode: ptr(1), ExecutionTimeMs: 5}
		case "slow":
			return nil // never answers: the API reports timeout
		}
		return nil
	})
	time.Sleep(1100 * time.Millisecond) // so a slid expiry differs at the wire's second precision
	r := e.do("POST", "/debug/execute", aliceKey, execBody(s, "get", "pods"), api.HeaderCorrelationID, "corr-1")
	var res api.Result
	r.json(t, &res)
	if r.status != 200 || res.Status != api.StatusCompleted || res.Output != "NAME   READY\nweb    1/1\n" || res.Error != nil || *res.ExitCode != 0 || res.ClusterID != "prod" || res.SessionID != s.SessionID || res.ExecutionTimeMs != 12 || res.ExecutedAt == nil {
		t.Fatalf("completed: %d %s", r.status, r.body)
	}
	if !regexp.MustCompile(`^res_[a-z0-9]{12,}$`).MatchString(res.ResultID) {
		t.Fatalf("result id %q", res.ResultID)
	}
	for _, field := range []string{"result_id", "session_id", "status", "output", "error", "execution_time_ms", "executed_at", "exit_code", "cluster_id"} {
		if !strings.Contains(string(r.body), `"`+field+`"`) {
			t.Fatalf("result lacks %s: %s", field, r.body)
		}
	}
	r = e.do("POST", "/debug/execute", aliceKey, execBody(s, "get", "pods", "nosuch"))
	r = e.do("POST", "/debug/execute", aliceKey, execBody(s, "get", "nosuch"))
	r.json(t, &res)
	if r.status != 200 || res.Status != api.StatusFailed || res.Error == nil || *res.Error != `Error from server (NotFound): pods "nosuch" not found` || *res.ExitCode != 1 {
		t.Fatalf("failed: %d %s", r.status, r.body)
	}
	start := time.Now()
	r = e.do("POST", "/debug/execute", aliceKey, map[string]any{"cluster_id": "prod", "session_id": s.SessionID, "command_type": "get", "args": []string{"slow"}, "timeout": 1})
	r.json(t, &res)
	if r.status != 200 || res.Status != api.StatusTimeout || res.Error == nil || !strings.Contains(*res.Error, "1s") {
		t.Fatalf("timeout: %d %s", r.status, r.body)
	}
	if d := time.Since(start); d < time.Second || d > 5*time.Second {
		t.Fatalf("timeout answered after %s", d)
	}
	// Each accepted command counted and slid the expiry.
	var got api.Session
	e.do("GET", "/debug/session/"+s.SessionID, aliceKey, nil).json(t, &got)
	if got.CommandsExecuted != 4 || !got.ExpiresAt.After(s.ExpiresAt.Time) {
		t.Fatalf("session after 4 commands: executed %d, expires %v (was %v)", got.CommandsExecuted, got.ExpiresAt, s.ExpiresAt)
	}
	// The result stays readable; not by others.
	if r := e.do("GET", "/debug/result/"+res.ResultID, aliceKey, nil); r.status != 200 {
		t.Fatalf("get result: %d", r.status)
	}
	e.expect(e.do("GET", "/debug/result/"+res.ResultID, bobKey, nil), 404, api.CodeNotFound)
	e.expect(e.do("GET", "/debug/result/res_unknown0000000", aliceKey, nil), 404, api.CodeNotFound)
	// The correlation id reached the executor and the audit log.
	var audit api.AuditList
	e.do("GET", "/audit?session_id="+s.SessionID, aliceKey, nil).json(t, &audit)
	if len(audit.Entries) != 4 || audit.Entries[3].CorrelationID != "corr-1" || audit.Entries[3].Outcome != api.StatusCompleted || *audit.Entries[3].ExitCode != 0 {
		t.Fatalf("audit %+v", audit.Entries)
	}
	if audit.Entries[0].Outcome != api.StatusTimeout || audit.Entries[1].Outcome != api.StatusFailed {
		t.Fatalf("audit outcomes %+v", audit.Entries)
	}
	if strings.Contains(fmt.Sprint(audit), "NAME   READY") {
		t.Fatal("audit holds command output")
	}
	if cmds := f.received(); len(cmds) != 4 || cmds[0].CorrelationID != "corr-1" || cmds[0].Principal != "alice" || cmds[0].TimeoutMs <= 0 || cmds[0].Delivery != 1 {
		t.Fatalf("commands received %+v", cmds)
	}
}

func TestExecuteValidation(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.registerCluster("prod")
	e.registerCluster("dev")
	s := e.createSession(aliceKey, "prod")
	e.connectExecutor("prod", tok, "readOnly", nil)
	for _, field := range []string{"cluster_id", "session_id", "command_type", "args"} {
		b := execBody(s, "get", "pods")
		delete(b, field)
		body := e.expect(e.do("POST", "/debug/execute", aliceKey, b), 400, api.CodeInvalidRequest)
		if body.Details["field"] != field || body.Details["code"] != "missing_required_field" {
			t.Fatalf("missing %s: %+v", field, body)
		}
	}
	b := execBody(s, "get", "pods")
	b["args"] = "pods"
	if body := e.expect(e.do("POST", "/debug/execute", aliceKey, b), 400, api.CodeInvalidRequest); body.Details["code"] != "invalid_type" {
		t.Fatalf("args as string: %+v", body)
	}
	for _, to := range []int{0, 301, -5} {
		b := execBody(s, "get", "pods")
		b["timeout"] = to
		e.expect(e.do("POST", "/debug/execute", aliceKey, b), 400, api.CodeInvalidRequest)
	}
	// Session of another cluster.
	b = execBody(s, "get", "pods")
	b["cluster_id"] = "dev"
	if body := e.expect(e.do("POST", "/debug/execute", aliceKey, b), 400, api.CodeInvalidRequest); body.Details["code"] != "session_cluster_mismatch" {
		t.Fatalf("mismatch: %+v", body)
	}
	// Someone else's session looks absent.
	e.expect(e.do("POST", "/debug/execute", bobKey, execBody(s, "get", "pods")), 404, api.CodeNotFound)
	// A closed session refuses commands.
	e.do("DELETE", "/debug/session/"+s.SessionID, aliceKey, nil)
	body := e.expect(e.do("POST", "/debug/execute", aliceKey, execBody(s, "get", "pods")), 409, api.CodeConflict)
	if !strings.Contains(body.Message, "closed") {
		t.Fatalf("closed session message %q", body.Message)
	}
	// An expired one too.
	short := e.do("POST", "/debug/session", aliceKey, map[string]any{"cluster_id": "prod", "ttl_seconds": 60})
	var ss api.Session
	short.json(t, &ss)
	_ = ss
}

func TestExecuteDenied(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.registerCluster("prod")
	s := e.createSession(aliceKey, "prod")
	f := e.connectExecutor("prod", tok, "readOnly", func(cmd api.Command) *api.Result {
		return &api.Result{Status: api.StatusCompleted, Output: "ran", ExitCode: ptr(0)}
	})
	denied := [][]string{
		{"delete", "pod", "x"},
		{"get", "secrets", "-o", "yaml"},
		{"get", "pods", "--kubeconfig=/etc/x"},
		{"exec", "pod", "--", "ls"},
	}
	for _, argv := range denied {
		r := e.do("POST", "/debug/execute", aliceKey, execBody(s, argv[0], argv[1:]...))
		body := e.expect(r, 403, api.CodeForbidden)
		reason, _ := body.Details["reason"].(string)
		if !strings.HasPrefix(body.Message, "command denied: ") || reason == "" || body.Message != "command denied: "+reason || body.Details["security_mode"] != "readOnly" {
			t.Fatalf("%v: %s", argv, r.body)
		}
	}
	if n := len(f.received()); n != 0 {
		t.Fatalf("%d denied commands reached the executor", n)
	}
	var audit api.AuditList
	e.do("GET", "/audit", aliceKey, nil).json(t, &audit)
	if len(audit.Entries) != len(denied) {
		t.Fatalf("audit has %d entries, want %d", len(audit.Entries), len(denied))
	}
	for _, a := range audit.Entries {
		if a.Outcome != "denied" || a.Reason == "" || a.Principal != "alice" {
			t.Fatalf("audit entry %+v", a)
		}
	}
	// Denied commands do not count on the session.
	var got api.Session
	e.do("GET", "/debug/session/"+s.SessionID, aliceKey, nil).json(t, &got)
	if got.CommandsExecuted != 0 {
		t.Fatalf("denied commands counted: %d", got.CommandsExecuted)
	}
}

func TestExecutorSideDenialAnswersLikeThePrecheck(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.registerCluster("prod")
	s := e.createSession(aliceKey, "prod")
	// The executor's own rules are stricter than its mode (a deny rule).
	e.connectExecutor("prod", tok, "readOnly", func(cmd api.Command) *api.Result {
		msg := "command denied: denied by rule: verbs=[get] resources=[configmaps]"
		return &api.Result{Status: api.StatusFailed, Error: &msg, ExitCode: ptr(1), Denial: &api.Denial{Reason: "denied by rule: verbs=[get] resources=[configmaps]", SecurityMode: "readOnly"}}
	})
	r := e.do("POST", "/debug/execute", aliceKey, execBody(s, "get", "configmaps"))
	body := e.expect(r, 403, api.CodeForbidden)
	if body.Message != "command denied: denied by rule: verbs=[get] resources=[configmaps]" || body.Details["security_mode"] != "readOnly" {
		t.Fatalf("executor denial: %s", r.body)
	}
	var audit api.AuditList
	e.do("GET", "/audit", aliceKey, nil).json(t, &audit)
	if len(audit.Entries) != 1 || audit.Entries[0].Outcome != "denied" || audit.Entries[0].Reason != "denied by rule: verbs=[get] resources=[configmaps]" {
		t.Fatalf("audit %+v", audit.Entries)
	}
}

func TestAsyncExecute(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.registerCluster("prod")
	s := e.createSession(aliceKey, "prod")
	release := make(chan struct{})
	f := e.connectExecutor("prod", tok, "readOnly", func(cmd api.Command) *api.Result {
		<-release
		return &api.Result{Status: api.StatusCompleted, Output: "done", ExitCode: ptr(0)}
	})
	b := execBody(s, "get", "pods")
	b["async"] = true
	r := e.do("POST", "/debug/execute", aliceKey, b)
	var acc api.AsyncAccepted
	r.json(t, &acc)
	if r.status != 202 || acc.Status != api.StatusPending || acc.ResultID == "" || r.header.Get("Location") != "/debug/result/"+acc.ResultID {
		t.Fatalf("async: %d %s", r.status, r.body)
	}
	// The executor reports it is running.
	deadline := time.Now().Add(5 * time.Second)
	for len(f.received()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	f.post(api.Result{ResultID: acc.ResultID, Status: api.StatusRunning})
	var res api.Result
	e.do("GET", "/debug/result/"+acc.ResultID, aliceKey, nil).json(t, &res)
	if res.Status != api.StatusRunning {
		t.Fatalf("status while running: %s", res.Status)
	}
	close(release)
	for {
		e.do("GET", "/debug/result/"+acc.ResultID, aliceKey, nil).json(t, &res)
		if res.Status == api.StatusCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("async result never completed: %+v", res)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if res.Output != "done" {
		t.Fatalf("async result %+v", res)
	}
	// An async command that is never answered becomes timeout when read after its deadline.
	b["timeout"] = 1
	r = e.do("POST", "/debug/execute", aliceKey, map[string]any{"cluster_id": "prod", "session_id": s.SessionID, "command_type": "get", "args": []string{"pods"}, "timeout": 1, "async": true})
	r.json(t, &acc)
	release2 := make(chan struct{})
	defer close(release2)
	time.Sleep(2600 * time.Millisecond)
	e.do("GET", "/debug/result/"+acc.ResultID, aliceKey, nil).json(t, &res)
	if res.Status != api.StatusTimeout && res.Status != api.StatusCompleted {
		t.Fatalf("overdue async result: %+v", res)
	}
}

func TestResultIngestRules(t *testing.T) {
	e := newEnv(t, nil)
	tokProd := e.registerCluster("prod")
	tokDev := e.registerCluster("dev")
	s := e.createSession(aliceKey, "prod")
	var mu sync.Mutex
	var first api.Command
	got := make(chan struct{}, 1)
	f := e.connectExecutor("prod", tokProd, "readOnly", func(cmd api.Command) *api.Result {
		mu.Lock()
		first = cmd
		mu.Unlock()
		got <- struct{}{}
		return nil
	})
	dev := e.connectExecutor("dev", tokDev, "readOnly", nil)
	b := execBody(s, "get", "pods")
	b["async"] = true
	var acc api.AsyncAccepted
	e.do("POST", "/debug/execute", aliceKey, b).json(t, &acc)
	<-got
	// The executor of another cluster may not post this result.
	if r := dev.post(api.Result{ResultID: acc.ResultID, Status: api.StatusCompleted, Output: "forged"}); r.status != 403 {
		t.Fatalf("cross-cluster result: %d %s", r.status, r.body)
	}
	if r := f.post(api.Result{ResultID: acc.ResultID, Status: "weird"}); r.status != 400 {
		t.Fatalf("bad status accepted: %d", r.status)
	}
	if r := f.post(api.Result{ResultID: "res_nope000000000000", Status: api.StatusCompleted}); r.status != 404 {
		t.Fatalf("unknown result: %d", r.status)
	}
	r := f.post(api.Result{ResultID: acc.ResultID, Status: api.StatusCompleted, Output: "one", ExitCode: ptr(0)})
	if r.status != 200 || !strings.Contains(string(r.body), `"accepted":true`) {
		t.Fatalf("first result: %d %s", r.status, r.body)
	}
	r = f.post(api.Result{ResultID: acc.ResultID, Status: api.StatusCompleted, Output: "two", ExitCode: ptr(0)})
	if r.status != 200 || !strings.Contains(string(r.body), `"duplicate":true`) {
		t.Fatalf("duplicate result: %d %s", r.status, r.body)
	}
	var res api.Result
	e.do("GET", "/debug/result/"+acc.ResultID, aliceKey, nil).json(t, &res)
	if res.Output != "one" {
		t.Fatalf("duplicate overwrote the first result: %+v", res)
	}
	mu.Lock()
	_ = first
	mu.Unlock()
}

func TestRedeliveryAfterExecutorReconnect(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.registerCluster("prod")
	s := e.createSession(aliceKey, "prod")
	seen := make(chan api.Command, 4)
	f := e.connectExecutor("prod", tok, "readOnly", func(cmd api.Command) *api.Result { seen <- cmd; return nil })
	type out struct {
		r   resp
		err error
	}
	done := make(chan resp, 1)
	go func() {
		done <- e.do("POST", "/debug/execute", aliceKey, map[string]any{"cluster_id": "prod", "session_id": s.SessionID, "command_type": "get", "args": []string{"pods"}, "timeout": 20})
	}()
	first := <-seen
	// The executor drops mid-command and comes back (same process id).
	f.close()
	f.reply = func(cmd api.Command) *api.Result {
		seen <- cmd
		return &api.Result{Status: api.StatusCompleted, Output: "after reconnect", ExitCode: ptr(0)}
	}
	f.connect()
	again := <-seen
	if again.CommandID != first.CommandID || again.Delivery < 2 {
		t.Fatalf("re-delivery %+v after %+v", again, first)
	}
	r := <-done
	var res api.Result
	r.json(t, &res)
	if res.Status != api.StatusCompleted || res.Output != "after reconnect" {
		t.Fatalf("result after re-delivery: %s", r.body)
	}
}

func TestExecutorGoneBeforeDeadlineFailsClearly(t *testing.T) {
	e := newEnv(t, func(c *config.API) {})
	tok := e.registerCluster("prod")
	s := e.createSession(aliceKey, "prod")
	seen := make(chan api.Command, 1)
	f := e.connectExecutor("prod", tok, "readOnly", func(cmd api.Command) *api.Result { seen <- cmd; return nil })
	done := make(chan resp, 1)
	go func() {
		done <- e.do("POST", "/debug/execute", aliceKey, map[string]any{"cluster_id": "prod", "session_id": s.SessionID, "command_type": "get", "args": []string{"pods"}, "timeout": 2})
	}()
	<-seen
	f.close()
	r := <-done
	var res api.Result
	r.json(t, &res)
	if r.status != 200 || res.Status != api.StatusFailed || res.Error == nil || !strings.Contains(*res.Error, "disconnected") {
		t.Fatalf("executor gone: %d %s", r.status, r.body)
	}
}

func TestAuditVisibilityAndFilters(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.registerCluster("prod")
	sa := e.createSession(aliceKey, "prod")
	sb := e.createSession(bobKey, "prod")
	e.connectExecutor("prod", tok, "readOnly", func(cmd api.Command) *api.Result {
		return &api.Result{Status: api.StatusCompleted, ExitCode: ptr(0)}
	})
	e.do("POST", "/debug/execute", aliceKey, execBody(sa, "get", "pods"))
	mid := time.Now().UTC()
	time.Sleep(1100 * time.Millisecond)
	e.do("POST", "/debug/execute", bobKey, execBody(sb, "get", "nodes"))
	var l api.AuditList
	e.do("GET", "/audit", aliceKey, nil).json(t, &l)
	if len(l.Entries) != 1 || l.Entries[0].Principal != "alice" {
		t.Fatalf("alice sees %+v", l.Entries)
	}
	e.do("GET", "/audit", adminKey, nil).json(t, &l)
	if len(l.Entries) != 2 || l.Entries[0].Principal != "bob" {
		t.Fatalf("admin sees %+v", l.Entries)
	}
	e.do("GET", "/audit?limit=1", adminKey, nil).json(t, &l)
	if len(l.Entries) != 1 {
		t.Fatalf("limit: %+v", l.Entries)
	}
	e.do("GET", "/audit?since="+url.QueryEscape(mid.Add(time.Second/2).Format(time.RFC3339Nano)), adminKey, nil).json(t, &l)
	if len(l.Entries) != 1 || l.Entries[0].Principal != "bob" {
		t.Fatalf("since: %+v", l.Entries)
	}
	e.do("GET", "/audit?session_id="+sa.SessionID, adminKey, nil).json(t, &l)
	if len(l.Entries) != 1 || l.Entries[0].Principal != "alice" || l.Entries[0].Argv[0] != "get" {
		t.Fatalf("session filter: %+v", l.Entries)
	}
	for _, q := range []string{"since=yesterday", "limit=0", "until=2024-13-01"} {
		e.expect(e.do("GET", "/audit?"+q, adminKey, nil), 400, api.CodeInvalidRequest)
	}
}
