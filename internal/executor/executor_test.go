package executor

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/config"
	"github.com/kubently/kubently/internal/policy"
	"github.com/kubently/kubently/internal/testkit"
)

// fastKeepalive makes the API send keepalives often, for tests of silence.
func fastKeepalive(c *config.API) { c.Keepalive = 300 * time.Millisecond }

// testConfig is an executor configuration with short delays.
func testConfig(url, cluster, token string) Config {
	return Config{
		APIURL: url, ClusterID: cluster, Token: token, Policy: readOnly(),
		BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
		UnauthorizedBackoff: 400 * time.Millisecond, IdleTimeout: 5 * time.Second, ShutdownGrace: 2 * time.Second,
	}
}

func TestBackoffBounds(t *testing.T) {
	const min, max = 100 * time.Millisecond, 3 * time.Second
	for attempt := 0; attempt <= 12; attempt++ {
		ceil := min << attempt
		if attempt > 8 || ceil > max {
			ceil = max
		}
		var hi time.Duration
		for i := 0; i < 2000; i++ {
			d := backoff(attempt, min, max)
			if d < min || d > ceil {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", attempt, d, min, ceil)
			}
			hi = maxDuration(hi, d)
		}
		// Jitter spreads the delays over the whole range.
		if attempt > 0 && hi < min+(ceil-min)/2 {
			t.Errorf("backoff(%d): largest of 2000 delays %s, want some above the middle of [%s, %s]", attempt, hi, min, ceil)
		}
	}
	if d := backoff(0, min, max); d != min {
		t.Errorf("first retry after %s, want %s", d, min)
	}
	if d := backoff(1000, min, max); d > max {
		t.Errorf("backoff(1000) = %s overflows the cap %s", d, max)
	}
}

func maxDuration(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

func TestRetryDelayAfterUnauthorized(t *testing.T) {
	cfg := Config{BackoffMin: 50 * time.Millisecond, BackoffMax: 2 * time.Second, UnauthorizedBackoff: 10 * time.Second}
	cfg.defaults()
	e := &Executor{cfg: cfg}
	for attempt := 0; attempt < 10; attempt++ {
		for i := 0; i < 200; i++ {
			if d := e.retryDelay(attempt, errUnauthorized); d < 10*time.Second || d > 15*time.Second {
				t.Fatalf("after a 401 (attempt %d): delay %s, want 10s..15s", attempt, d)
			}
			if d := e.retryDelay(attempt, errors.New("connection refused")); d > 2*time.Second {
				t.Fatalf("after a network error (attempt %d): delay %s above the 2s cap", attempt, d)
			}
		}
	}
	// A longer ordinary backoff is kept after a 401.
	cfg.BackoffMin, cfg.BackoffMax = 20*time.Second, 40*time.Second
	e = &Executor{cfg: cfg}
	if d := e.retryDelay(3, errUnauthorized); d < 20*time.Second {
		t.Fatalf("401 delay %s shortened the ordinary backoff (min 20s)", d)
	}
}

// TestRunsTheApprovedArgv: the runner gets exactly the argv the policy
// parsed and approved, and the result travels back with its status, output,
// error text and exit code.
func TestRunsTheApprovedArgv(t *testing.T) {
	a := startAPI(t, nil)
	token, sess := a.register("c1")
	r := &scriptRunner{run: func(_ context.Context, argv []string) RunResult {
		if argv[len(argv)-1] == "missing" {
			return RunResult{Error: "Error from server (NotFound): pods \"missing\" not found\n", ExitCode: 1}
		}
		return RunResult{Output: "NAME   READY\n", Error: "Warning: ignored on success\n"}
	}}
	startExecutor(t, testConfig(a.url(), "c1", token), r)
	a.connected("c1", 1, 10*time.Second)

	cases := [][]string{
		{"get", "po", "-n", "x", "-owide"},
		{"get", "pods", "--", "--server=evil"}, // a name, not a flag
		{"logs", "-p", "web", "-c", "app", "--tail=5"},
	}
	for _, argv := range cases {
		code, raw := a.execute("c1", sess, 10, argv...)
		if code != http.StatusOK {
			t.Fatalf("%v: %d %s", argv, code, raw)
		}
	}
	got := r.got()
	if len(got) != len(cases) {
		t.Fatalf("runner ran %d commands, want %d", len(got), len(cases))
	}
	for i, argv := range cases {
		c, err := readOnly().Check(argv[0], argv[1:])
		if err != nil {
			t.Fatal(err)
		}
		if want := c.Argv(); strings.Join(got[i], "\x00") != strings.Join(want, "\x00") {
			t.Errorf("runner got %q for %q, want the approved argv %q", got[i], argv, want)
		}
	}
	if got[0][0] != "get" || !contains(got[0], "--namespace=x") || !contains(got[0], "--output=wide") {
		t.Errorf("normalized argv %q lost the namespace or output", got[0])
	}

	var ok api.Result
	code, raw := a.execute("c1", sess, 10, "get", "pods")
	decode(t, code, raw, &ok)
	if ok.Status != api.StatusCompleted || ok.Output != "NAME   READY\n" || ok.ExitCode == nil || *ok.ExitCode != 0 || ok.Error != nil {
		t.Errorf("completed result %+v", ok)
	}
	var bad api.Result
	code, raw = a.execute("c1", sess, 10, "get", "pods", "missing")
	decode(t, code, raw, &bad)
	if bad.Status != api.StatusFailed || bad.ExitCode == nil || *bad.ExitCode != 1 || bad.Error == nil ||
		*bad.Error != "Error from server (NotFound): pods \"missing\" not found\n" {
		t.Errorf("failed result %+v", bad)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func decode(t *testing.T, code int, raw []byte, out *api.Result) {
	t.Helper()
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
}

// TestPolicyDenialNeverReachesRunner: a command the API lets through but the
// executor's own rules refuse is answered 403 like an API refusal, audited
// as denied, and never touches the runner.
func TestPolicyDenialNeverReachesRunner(t *testing.T) {
	a := startAPI(t, nil)
	token, sess := a.register("c1")
	r := &scriptRunner{}
	cfg := testConfig(a.url(), "c1", token)
	cfg.Policy = policy.Policy{Mode: policy.ReadOnly, Deny: []policy.Rule{{Verbs: []string{"get"}, Resources: []string{"configmaps"}}}}
	startExecutor(t, cfg, r)
	a.connected("c1", 1, 10*time.Second)

	for _, argv := range [][]string{
		{"get", "configmaps"},          // refused by the executor's deny rule
		{"get", "cm", "-n", "x"},       // the same rule, another spelling
		{"get", "configmap/web", "-A"}, // and another
		{"delete", "pod", "x"},         // refused by the API's pre-check already
	} {
		code, raw := a.execute("c1", sess, 10, argv...)
		if code != http.StatusForbidden {
			t.Fatalf("%v: status %d, want 403: %s", argv, code, raw)
		}
		e := errorBody(t, raw)
		reason, _ := e.Details["reason"].(string)
		if e.Code != api.CodeForbidden || reason == "" || e.Message != "command denied: "+reason || e.Details["security_mode"] != "readOnly" {
			t.Errorf("%v: error body %s", argv, raw)
		}
		if argv[0] == "get" && !strings.Contains(reason, "deny rule 1") {
			t.Errorf("%v: reason %q does not name the executor's deny rule", argv, reason)
		}
	}
	if n := r.calls.Load(); n != 0 {
		t.Fatalf("the runner ran %d refused commands", n)
	}
	var audit api.AuditList
	if code, raw := a.do("GET", "/audit?session_id="+sess, adminKey, nil, &audit); code != http.StatusOK {
		t.Fatalf("audit: %d %s", code, raw)
	}
	denied := 0
	for _, e := range audit.Entries {
		if e.Outcome == "denied" {
			denied++
		}
	}
	if denied != 4 {
		t.Errorf("audit has %d denied entries, want 4: %+v", denied, audit.Entries)
	}
}

// TestDeadlineBecomesTimeout: a command still running at its deadline is
// cancelled by the executor and reported as timeout, in time for the waiting
// request.
func TestDeadlineBecomesTimeout(t *testing.T) {
	a := startAPI(t, nil)
	token, sess := a.register("c1")
	g := newGate()
	var cause atomic.Value
	r := &scriptRunner{run: func(ctx context.Context, argv []string) RunResult {
		res := g.run(ctx, argv)
		cause.Store(context.Cause(ctx))
		return res
	}}
	startExecutor(t, testConfig(a.url(), "c1", token), r)
	a.connected("c1", 1, 10*time.Second)

	start := time.Now()
	var res api.Result
	code, raw := a.execute("c1", sess, 2, "get", "pods")
	elapsed := time.Since(start)
	decode(t, code, raw, &res)
	if res.Status != api.StatusTimeout || res.Error == nil || !strings.Contains(*res.Error, "the executor cancelled it") || res.ExitCode != nil {
		t.Fatalf("result %+v (error %v), want the executor's timeout", res, deref(res.Error))
	}
	if res.Output != "partial\n" {
		t.Errorf("output printed before the deadline was lost: %q", res.Output)
	}
	if elapsed < 2*time.Second || elapsed > 6*time.Second {
		t.Errorf("a 2s command answered after %s", elapsed)
	}
	if c, _ := cause.Load().(error); !errors.Is(c, context.DeadlineExceeded) {
		t.Errorf("runner context ended with %v, want the deadline", c)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestSlotWaitIsBoundedByDeadline: with every worker busy, a queued command
// times out at its deadline without running.
func TestSlotWaitIsBoundedByDeadline(t *testing.T) {
	a := startAPI(t, nil)
	token, sess := a.register("c1")
	g := newGate()
	r := &scriptRunner{run: g.run}
	cfg := testConfig(a.url(), "c1", token)
	cfg.Concurrency = 1
	startExecutor(t, cfg, r)
	a.connected("c1", 1, 10*time.Second)

	busy := a.submit("c1", sess, 30, "get", "pods")
	a.waitResult(busy, 10*time.Second, running)
	var res api.Result
	code, raw := a.execute("c1", sess, 1, "get", "nodes")
	decode(t, code, raw, &res)
	if res.Status != api.StatusTimeout {
		t.Fatalf("queued command: %+v, want timeout", res)
	}
	if n := r.calls.Load(); n != 1 {
		t.Fatalf("runner ran %d commands, want only the first", n)
	}
	g.release()
	if got := a.waitResult(busy, 10*time.Second, final); got.Status != api.StatusCompleted {
		t.Fatalf("first command: %+v", got)
	}
}

// TestRedeliveryRunsOnce: when the stream breaks while a command runs, the
// API re-delivers it on the new stream; the executor does not run it again,
// and its one result completes the command. A re-delivery after the command
// finished is ignored too.
func TestRedeliveryRunsOnce(t *testing.T) {
	a := startAPI(t, nil)
	token, sess := a.register("c1")
	p := testkit.StartProxy(t, a.addr)
	g := newGate()
	r := &scriptRunner{run: g.run}
	ex := startExecutor(t, testConfig(p.URL(), "c1", token), r)
	a.connected("c1", 1, 10*time.Second)

	id := a.submit("c1", sess, 30, "get", "pods")
	a.waitResult(id, 10*time.Second, running)
	if n := p.Cut(); n == 0 {
		t.Fatal("no connection to cut")
	}
	ex.waitLog(t, "re-delivered command ignored", 10*time.Second)
	g.release()
	res := a.waitResult(id, 10*time.Second, final)
	if res.Status != api.StatusCompleted || !strings.HasPrefix(res.Output, "released: get") {
		t.Fatalf("result %+v", res)
	}
	if n := r.calls.Load(); n != 1 {
		t.Fatalf("the command ran %d times", n)
	}

	// The same command delivered again after it finished.
	before := strings.Count(ex.logs.String(), "re-delivered command ignored")
	ex.accept(context.Background(), api.Command{CommandID: id, ClusterID: "c1", SessionID: sess, CommandType: "get", Args: []string{"pods"}, TimeoutMs: 5000, Delivery: 3}, time.Now())
	if after := strings.Count(ex.logs.String(), "re-delivered command ignored"); after != before+1 {
		t.Errorf("late re-delivery not reported as ignored")
	}
	ex.wg.Wait()
	if n := r.calls.Load(); n != 1 {
		t.Fatalf("a finished command ran again on re-delivery (%d runs)", n)
	}
}

// TestResultRetriedWhileAPIDown: a result finished while the API is down is
// delivered once it is back.
func TestResultRetriedWhileAPIDown(t *testing.T) {
	a := startAPI(t, nil)
	token, sess := a.register("c1")
	g := newGate()
	r := &scriptRunner{run: g.run}
	ex := startExecutor(t, testConfig(a.url(), "c1", token), r)
	a.connected("c1", 1, 10*time.Second)

	id := a.submit("c1", sess, 60, "get", "pods")
	a.waitResult(id, 10*time.Second, running)
	a.stop()
	g.release()
	ex.waitLog(t, "result not delivered; retrying", 10*time.Second)
	time.Sleep(time.Second) // a few more failed attempts
	a.start()
	res := a.waitResult(id, 20*time.Second, final)
	if res.Status != api.StatusCompleted || !strings.HasPrefix(res.Output, "released:") {
		t.Fatalf("result after the API came back: %+v", res)
	}
	ex.waitLog(t, "result delivered after retries", 5*time.Second)
	a.connected("c1", 1, 20*time.Second) // and the stream came back by itself
	if n := r.calls.Load(); n != 1 {
		t.Fatalf("the command ran %d times", n)
	}
}

// TestShutdownFinishesOrFailsInflight: at shutdown a command that ends
// within the grace period completes; one that does not is cancelled and
// reported as failed, and Run returns soon after.
func TestShutdownFinishesOrFailsInflight(t *testing.T) {
	a := startAPI(t, nil)
	token, sess := a.register("c1")
	quick := make(chan struct{})
	r := &scriptRunner{run: func(ctx context.Context, argv []string) RunResult {
		if argv[len(argv)-1] == "quick" {
			select {
			case <-quick:
				return RunResult{Output: "quick done\n"}
			case <-ctx.Done():
				return RunResult{ExitCode: 1}
			}
		}
		<-ctx.Done()
		return RunResult{ExitCode: 1, Error: "stopped\n"}
	}}
	cfg := testConfig(a.url(), "c1", token)
	cfg.ShutdownGrace = 1500 * time.Millisecond
	ex := startExecutor(t, cfg, r)
	a.connected("c1", 1, 10*time.Second)

	q := a.submit("c1", sess, 60, "get", "pods", "quick")
	s := a.submit("c1", sess, 60, "get", "pods", "slow")
	a.waitResult(q, 10*time.Second, running)
	a.waitResult(s, 10*time.Second, running)
	go func() { time.Sleep(300 * time.Millisecond); close(quick) }()
	took := ex.stop(t, 15*time.Second)
	if took > 8*time.Second {
		t.Errorf("shutdown took %s with a 1.5s grace period", took)
	}
	if res := a.result(q); res.Status != api.StatusCompleted || res.Output != "quick done\n" {
		t.Errorf("command finishing within the grace period: %+v", res)
	}
	res := a.result(s)
	if res.Status != api.StatusFailed || res.Error == nil || !strings.Contains(*res.Error, "shut down before the command finished") {
		t.Errorf("command cut at shutdown: %+v (error %s)", res, deref(res.Error))
	}
}

// TestUnauthorizedBacksOff: a refused token makes the executor retry slowly,
// without giving up or crashing.
func TestUnauthorizedBacksOff(t *testing.T) {
	a := startAPI(t, nil)
	a.register("c1")
	cfg := testConfig(a.url(), "c1", "wrong-token-0123456789")
	cfg.UnauthorizedBackoff = 500 * time.Millisecond
	ex := startExecutor(t, cfg, &scriptRunner{})
	time.Sleep(2 * time.Second)
	n := strings.Count(ex.logs.String(), "refused the executor token (401)")
	// Delays are 500-750ms: 3 or 4 attempts in 2s. Without the 401 rule the
	// 20-200ms backoff would make about 15.
	if n < 2 || n > 5 {
		t.Fatalf("%d attempts in 2s with a 500ms unauthorized backoff:\n%s", n, ex.logs.String())
	}
	select {
	case <-ex.done:
		t.Fatal("Run gave up")
	default:
	}
}

// TestSilentStreamReconnects: a stream on which nothing arrives any more
// (a middlebox dropped the connection without closing it) is abandoned after
// IdleTimeout; the executor reconnects, and a command sent into the dead
// stream is re-delivered and completes. Pooled result connections, dead the
// same way, are not reused.
func TestSilentStreamReconnects(t *testing.T) {
	a := startAPI(t, fastKeepalive)
	token, sess := a.register("c1")
	p := testkit.StartProxy(t, a.addr)
	r := &scriptRunner{}
	cfg := testConfig(p.URL(), "c1", token)
	cfg.IdleTimeout = 1500 * time.Millisecond
	ex := startExecutor(t, cfg, r)
	a.connected("c1", 1, 10*time.Second)
	// A first command leaves an idle result connection in the pool.
	if code, raw := a.execute("c1", sess, 10, "get", "pods"); code != http.StatusOK {
		t.Fatalf("%d %s", code, raw)
	}
	if n := p.Blackhole(); n < 2 {
		t.Fatalf("blackholed %d connections, want the stream and a pooled result connection", n)
	}
	start := time.Now()
	var res api.Result
	code, raw := a.execute("c1", sess, 30, "get", "nodes")
	decode(t, code, raw, &res)
	elapsed := time.Since(start)
	if res.Status != api.StatusCompleted {
		t.Fatalf("command sent into the silent stream: %+v", res)
	}
	// 1.5s of silence, a reconnect, the re-delivery: far less than a result
	// attempt timeout (15s) would cost if a dead pooled connection were reused.
	if elapsed > 8*time.Second {
		t.Errorf("command took %s", elapsed)
	}
	if !strings.Contains(ex.logs.String(), "connection presumed dead") {
		t.Errorf("executor did not report the silent stream")
	}
}

// TestSilentHTTP2ConnectionIsNotReused: behind a TLS front end speaking
// HTTP/2, the stream and results share nothing with a dead connection: after
// the connection goes silent the executor reconnects on a fresh one at once
// instead of queueing its new stream behind the dead one.
func TestSilentHTTP2ConnectionIsNotReused(t *testing.T) {
	a := startAPI(t, fastKeepalive)
	token, sess := a.register("c1")
	target, _ := url.Parse(a.url())
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.FlushInterval = -1 // stream the events as they come
	var proto atomic.Value
	front := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/executor/stream" {
			proto.Store(r.Proto)
		}
		rp.ServeHTTP(w, r)
	}))
	front.EnableHTTP2 = true
	front.StartTLS()
	t.Cleanup(front.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: front.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	p := testkit.StartProxy(t, front.Listener.Addr().String())
	cfg := testConfig("https://"+p.Addr(), "c1", token)
	cfg.CAFile = caFile
	cfg.IdleTimeout = 1500 * time.Millisecond
	ex := startExecutor(t, cfg, &scriptRunner{})
	a.connected("c1", 1, 10*time.Second)
	if got, _ := proto.Load().(string); got != "HTTP/2.0" {
		t.Fatalf("the executor's stream used %q, want HTTP/2", got)
	}
	if code, raw := a.execute("c1", sess, 10, "get", "pods"); code != http.StatusOK {
		t.Fatalf("%d %s", code, raw)
	}

	p.Blackhole()
	start := time.Now()
	var res api.Result
	code, raw := a.execute("c1", sess, 30, "get", "nodes")
	decode(t, code, raw, &res)
	if res.Status != api.StatusCompleted {
		t.Fatalf("command sent into the silent HTTP/2 connection: %+v", res)
	}
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("command took %s: the executor waited on the dead connection", took)
	}
	ex.waitLog(t, "connection presumed dead", time.Second)
}
