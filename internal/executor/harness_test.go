package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/config"
	"github.com/kubently/kubently/internal/policy"
	"github.com/kubently/kubently/internal/server"
	"github.com/kubently/kubently/internal/store"
	"github.com/kubently/kubently/internal/testkit"
)

// The executor's tests run it against the real API server (internal/server on
// its embedded store, over real HTTP on loopback). Only the Kubernetes side is
// replaced, by a scripted Runner, so that a test decides how long a command
// runs and what it prints.

const (
	adminKey = "admin-key-0123456789abcdef"
	userKey  = "alice-key-0123456789abcdef"
)

// apiServer is a real kubently-api served in-process on a fixed loopback
// address, so it can be stopped and started again on the same address and
// data directory (a restart).
type apiServer struct {
	t       *testing.T
	addr    string
	dataDir string
	logs    *testkit.SyncBuffer
	mutate  func(*config.API)

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan error
	st     store.Store
}

func startAPI(t *testing.T, mutate func(*config.API)) *apiServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &apiServer{t: t, addr: ln.Addr().String(), dataDir: t.TempDir(), logs: &testkit.SyncBuffer{}, mutate: mutate}
	a.serve(ln)
	t.Cleanup(func() {
		a.stop()
		if t.Failed() {
			t.Logf("API log:\n%s", a.logs.String())
		}
	})
	return a
}

func (a *apiServer) url() string { return "http://" + a.addr }

func (a *apiServer) serve(ln net.Listener) {
	a.t.Helper()
	cfg, err := config.LoadAPI(config.Source{Env: func(k string) string {
		switch k {
		case "KUBENTLY_DATA_DIR":
			return a.dataDir
		case "API_KEYS":
			return "admin:" + adminKey + ":admin,alice:" + userKey
		case "RATE_LIMIT_EXECUTE", "RATE_LIMIT_STANDARD", "RATE_LIMIT_SESSION":
			return "100000"
		}
		return ""
	}})
	if err != nil {
		a.t.Fatal(err)
	}
	if a.mutate != nil {
		a.mutate(cfg)
	}
	log := slog.New(slog.NewTextHandler(a.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st, err := server.OpenStore(cfg, log)
	if err != nil {
		a.t.Fatal(err)
	}
	app, err := server.Build(cfg, st, log)
	if err != nil {
		a.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx, ln) }()
	a.mu.Lock()
	a.cancel, a.done, a.st = cancel, done, st
	a.mu.Unlock()
}

// stop shuts the server down and closes its store; connections are refused
// until start.
func (a *apiServer) stop() {
	a.mu.Lock()
	cancel, done, st := a.cancel, a.done, a.st
	a.cancel, a.done, a.st = nil, nil, nil
	a.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		a.t.Error("the API did not shut down within 30s")
	}
	_ = st.Close()
}

// start serves again on the same address and data.
func (a *apiServer) start() {
	a.t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", a.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		a.t.Fatalf("listen again on %s: %v", a.addr, err)
	}
	a.serve(ln)
}

// do sends a JSON request with an API key and decodes a JSON answer into out
// (when not nil). It returns the status and the raw body.
func (a *apiServer) do(method, path, key string, body, out any) (int, []byte) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, a.url()+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(api.HeaderAPIKey, key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			a.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return res.StatusCode, raw
}

// register creates the cluster's executor token and a session of the user.
func (a *apiServer) register(cluster string) (token, session string) {
	a.t.Helper()
	var tok api.AgentToken
	if code, raw := a.do("POST", "/admin/agents/"+cluster+"/token", adminKey, nil, &tok); code != http.StatusCreated {
		a.t.Fatalf("register %s: %d %s", cluster, code, raw)
	}
	var s api.Session
	if code, raw := a.do("POST", "/debug/session", userKey, map[string]any{"cluster_id": cluster}, &s); code != http.StatusCreated {
		a.t.Fatalf("session: %d %s", code, raw)
	}
	return tok.Token, s.SessionID
}

// execute runs a command synchronously and returns the status and body.
func (a *apiServer) execute(cluster, session string, timeoutSec int, argv ...string) (int, []byte) {
	a.t.Helper()
	return a.do("POST", "/debug/execute", userKey, map[string]any{
		"cluster_id": cluster, "session_id": session, "command_type": argv[0], "args": argv[1:], "timeout": timeoutSec,
	}, nil)
}

// submit queues a command asynchronously and returns its result id.
func (a *apiServer) submit(cluster, session string, timeoutSec int, argv ...string) string {
	a.t.Helper()
	var acc api.AsyncAccepted
	code, raw := a.do("POST", "/debug/execute", userKey, map[string]any{
		"cluster_id": cluster, "session_id": session, "command_type": argv[0], "args": argv[1:], "timeout": timeoutSec, "async": true,
	}, &acc)
	if code != http.StatusAccepted {
		a.t.Fatalf("submit %v: %d %s", argv, code, raw)
	}
	return acc.ResultID
}

func (a *apiServer) result(id string) api.Result {
	a.t.Helper()
	var r api.Result
	if code, raw := a.do("GET", "/debug/result/"+id, userKey, nil, &r); code != http.StatusOK {
		a.t.Fatalf("result %s: %d %s", id, code, raw)
	}
	return r
}

// waitResult polls a result until cond holds or the time is up.
func (a *apiServer) waitResult(id string, within time.Duration, cond func(api.Result) bool) api.Result {
	a.t.Helper()
	end := time.Now().Add(within)
	for {
		r := a.result(id)
		if cond(r) {
			return r
		}
		if time.Now().After(end) {
			a.t.Fatalf("result %s still %s after %s: %+v", id, r.Status, within, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func final(r api.Result) bool   { return api.FinalStatus(r.Status) }
func running(r api.Result) bool { return r.Status != api.StatusPending }

// connected waits until the API reports n live streams for the cluster.
func (a *apiServer) connected(cluster string, n int, within time.Duration) {
	a.t.Helper()
	end := time.Now().Add(within)
	for {
		var c api.Cluster
		if code, _ := a.do("GET", "/clusters/"+cluster+"/status", adminKey, nil, &c); code == http.StatusOK && c.Executors == n {
			return
		}
		if time.Now().After(end) {
			a.t.Fatalf("cluster %s does not have %d live stream(s) after %s", cluster, n, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scriptRunner is the test's stand-in for in-process kubectl: it records
// every argv it is given and answers with run (or "ok" at once).
type scriptRunner struct {
	calls atomic.Int64
	mu    sync.Mutex
	argvs [][]string
	run   func(ctx context.Context, argv []string) RunResult
}

func (r *scriptRunner) Run(ctx context.Context, argv []string) RunResult {
	r.calls.Add(1)
	r.mu.Lock()
	r.argvs = append(r.argvs, append([]string(nil), argv...))
	r.mu.Unlock()
	if r.run == nil {
		return RunResult{Output: "ok\n"}
	}
	return r.run(ctx, argv)
}

func (r *scriptRunner) got() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]string(nil), r.argvs...)
}

// gate is a Runner script that blocks every command until release (then it
// prints "released") or until its context ends.
type gate struct{ ch chan struct{} }

func newGate() *gate { return &gate{ch: make(chan struct{})} }

func (g *gate) release() { close(g.ch) }

func (g *gate) run(ctx context.Context, argv []string) RunResult {
	select {
	case <-g.ch:
		return RunResult{Output: "released: " + strings.Join(argv, " ") + "\n"}
	case <-ctx.Done():
		return RunResult{Output: "partial\n", Error: "error: " + context.Cause(ctx).Error() + "\n", ExitCode: 1}
	}
}

// runningExecutor is an Executor running in the background.
type runningExecutor struct {
	*Executor
	logs   *testkit.SyncBuffer
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
}

// startExecutor runs an executor for cluster against apiURL until the test ends.
func startExecutor(t *testing.T, cfg Config, runner Runner) *runningExecutor {
	t.Helper()
	if cfg.Version == "" {
		cfg.Version = "test"
	}
	logs := &testkit.SyncBuffer{}
	ex, err := New(cfg, runner, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	re := &runningExecutor{Executor: ex, logs: logs, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(re.done)
		if err := ex.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		re.stop(t, time.Minute)
		if t.Failed() {
			t.Logf("executor log:\n%s", logs.String())
		}
	})
	return re
}

// stop cancels Run and waits for it to return.
func (re *runningExecutor) stop(t *testing.T, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	re.cancel()
	select {
	case <-re.done:
	case <-time.After(within):
		t.Errorf("Run did not return within %s of cancellation", within)
	}
	return time.Since(start)
}

// waitLog waits until the executor's log contains s.
func (re *runningExecutor) waitLog(t *testing.T, s string, within time.Duration) {
	t.Helper()
	end := time.Now().Add(within)
	for !strings.Contains(re.logs.String(), s) {
		if time.Now().After(end) {
			t.Fatalf("executor log has no %q after %s", s, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// errorBody decodes an API error body.
func errorBody(t *testing.T, raw []byte) api.Error {
	t.Helper()
	var e api.Error
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("decode error body %s: %v", raw, err)
	}
	return e
}

func readOnly() policy.Policy { return policy.Policy{Mode: policy.ReadOnly} }
