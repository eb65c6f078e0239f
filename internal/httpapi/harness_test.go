package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/config"
	"github.com/kubently/kubently/internal/redistest"
	"github.com/kubently/kubently/internal/server"
	"github.com/kubently/kubently/internal/sse"
	"github.com/kubently/kubently/internal/store"
	"github.com/kubently/kubently/internal/testkit"
)

// Keys of the test principals.
const (
	adminKey   = "admin-key-0123456789abcdef"
	aliceKey   = "alice-key-0123456789abcdef"
	bobKey     = "bob-key-0123456789abcdefgh"
	limitedKey = "carol-key-0123456789abcdef"
	staticTok  = "static-token-0123456789abcdef"
)

// env is one API server on a real embedded store, reached over real HTTP.
type env struct {
	t       *testing.T
	cfg     *config.API
	dataDir string
	st      store.Store
	srv     *httptest.Server
	logs    *testkit.SyncBuffer
	mutate  func(*config.API)
	prefix  string // Redis key prefix: each env is an isolated installation
}

// backend is the store the current pass of the suite runs on: TestMain runs
// every test once on the embedded store and once on Redis.
var (
	backend     = "bolt"
	redisServer *redistest.Server
	envCounter  atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code != 0 {
		os.Exit(code)
	}
	srv, ok, err := redistest.StartShared()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		os.Exit(1)
	}
	if !ok {
		fmt.Fprintln(os.Stderr, "SKIP: the Redis pass of the API suite (redis-server not installed)")
		os.Exit(code)
	}
	fmt.Println("=== second pass: the same suite on the Redis store")
	backend, redisServer = "redis", srv
	code = m.Run()
	srv.Stop()
	os.Exit(code)
}

func testConfig(t *testing.T, dataDir string, mutate func(*config.API)) *config.API {
	t.Helper()
	cfg, err := config.LoadAPI(config.Source{Env: func(k string) string {
		switch k {
		case "KUBENTLY_DATA_DIR":
			return dataDir
		case "API_KEYS":
			return "admin:" + adminKey + ":admin,alice:" + aliceKey + ",bob:" + bobKey + ":user,carol:" + limitedKey + ":user:prod"
		case "EXECUTOR_TOKENS":
			return "static-cluster:" + staticTok
		}
		return ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(cfg)
	}
	return cfg
}

func newEnv(t *testing.T, mutate func(*config.API)) *env {
	t.Helper()
	e := &env{t: t, dataDir: t.TempDir(), logs: &testkit.SyncBuffer{}, mutate: mutate, prefix: fmt.Sprintf("env%d:", envCounter.Add(1))}
	e.start()
	t.Cleanup(e.stop)
	return e
}

func (e *env) start() {
	e.cfg = testConfig(e.t, e.dataDir, e.mutate)
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if backend == "redis" {
		e.cfg.RedisURL, e.cfg.RedisKeyPrefix = redisServer.URL(), e.prefix
	}
	st, err := server.OpenStore(e.cfg, log)
	if err != nil {
		e.t.Fatal(err)
	}
	app, err := server.Build(e.cfg, st, log)
	if err != nil {
		e.t.Fatal(err)
	}
	e.st = st
	e.srv = httptest.NewServer(app.Handler)
}

func (e *env) stop() {
	if e.srv != nil {
		e.srv.CloseClientConnections()
		e.srv.Close()
		e.srv = nil
	}
	if e.st != nil {
		_ = e.st.Close()
		e.st = nil
	}
}

// restart stops the server and store and starts them again on the same data.
func (e *env) restart() {
	e.stop()
	e.start()
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r resp) errBody(t *testing.T) api.Error {
	t.Helper()
	var e api.Error
	r.json(t, &e)
	return e
}

// do sends a request; body may be a string (sent as is) or a value (JSON).
func (e *env) do(method, path, key string, body any, headers ...string) resp {
	e.t.Helper()
	req := testkit.NewRequest(e.t, context.Background(), method, e.srv.URL+path, key, body, headers...)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func (e *env) expect(r resp, status int, code string) api.Error {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if code == "" {
		return api.Error{}
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		e.t.Fatalf("error content type %q", ct)
	}
	body := r.errBody(e.t)
	if body.Code != code || body.Message == "" {
		e.t.Fatalf("error body %s, want code %s with a message", r.body, code)
	}
	return body
}

// registerCluster creates an executor token through the admin API.
func (e *env) registerCluster(id string) string {
	e.t.Helper()
	r := e.do("POST", "/admin/agents/"+id+"/token", adminKey, nil)
	if r.status != http.StatusCreated {
		e.t.Fatalf("register %s: %d %s", id, r.status, r.body)
	}
	var tok api.AgentToken
	r.json(e.t, &tok)
	return tok.Token
}

func (e *env) createSession(key, cluster string) api.Session {
	e.t.Helper()
	r := e.do("POST", "/debug/session", key, map[string]any{"cluster_id": cluster})
	if r.status != http.StatusCreated {
		e.t.Fatalf("create session: %d %s", r.status, r.body)
	}
	var s api.Session
	r.json(e.t, &s)
	return s
}

// fakeExecutor speaks the executor wire protocol over real HTTP: it reads the
// SSE command stream and posts results with a scripted reply. The real
// executor process is exercised in test/e2e; this one lets the API tests
// control timing and failures exactly.
type fakeExecutor struct {
	t       *testing.T
	e       *env
	cluster string
	token   string
	id      string
	mode    string
	reply   func(cmd api.Command) *api.Result // nil: do not answer
	cancel  context.CancelFunc
	done    chan struct{}

	mu       sync.Mutex
	commands []api.Command
	events   []string
	endErr   string
}

func (e *env) connectExecutor(cluster, token, mode string, reply func(api.Command) *api.Result) *fakeExecutor {
	e.t.Helper()
	f := &fakeExecutor{t: e.t, e: e, cluster: cluster, token: token, id: "exec-" + cluster, mode: mode, reply: reply}
	f.connect()
	e.t.Cleanup(f.close)
	return f
}

func (f *fakeExecutor) connect() {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", f.e.srv.URL+"/executor/stream", nil)
	req.Header.Set("Authorization", "Bearer "+f.token)
	req.Header.Set(api.HeaderClusterID, f.cluster)
	req.Header.Set(api.HeaderExecutorID, f.id)
	req.Header.Set(api.HeaderExecutorVersion, "test-1.0")
	req.Header.Set(api.HeaderKubernetesVersion, "v1.37.2")
	req.Header.Set(api.HeaderSecurityMode, f.mode)
	req.Header.Set(api.HeaderAllowedVerbs, "get,describe")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		f.t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		cancel()
		f.t.Fatalf("stream: %d %s", res.StatusCode, b)
	}
	f.cancel = cancel
	f.done = make(chan struct{})
	rd := sse.NewReader(bufio.NewReader(res.Body))
	hello, err := rd.Next()
	if err != nil || hello.Name != api.EventHello {
		f.t.Fatalf("first event %+v, %v; want hello", hello, err)
	}
	go func() {
		defer close(f.done)
		defer res.Body.Close()
		for {
			ev, err := rd.Next()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.events = append(f.events, ev.Name)
			if ev.Name == "error" {
				f.endErr = ev.Data
			}
			f.mu.Unlock()
			if ev.Name != api.EventCommand {
				continue
			}
			var cmd api.Command
			if err := json.Unmarshal([]byte(ev.Data), &cmd); err != nil {
				f.t.Errorf("bad command event %q: %v", ev.Data, err)
				return
			}
			f.mu.Lock()
			f.commands = append(f.commands, cmd)
			f.mu.Unlock()
			go f.answer(cmd)
		}
	}()
	// Wait until the API lists the stream.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		r := f.e.do("GET", "/clusters/"+f.cluster+"/status", adminKey, nil)
		var c api.Cluster
		if r.status == 200 && json.Unmarshal(r.body, &c) == nil && c.Status == api.ClusterConnected {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.t.Fatalf("executor of %s never showed as connected", f.cluster)
}

func (f *fakeExecutor) answer(cmd api.Command) {
	if f.reply == nil {
		return
	}
	res := f.reply(cmd)
	if res == nil {
		return
	}
	res.ResultID = cmd.CommandID
	f.post(*res)
}

func (f *fakeExecutor) post(res api.Result) resp {
	b, _ := json.Marshal(res)
	req, _ := http.NewRequest("POST", f.e.srv.URL+"/executor/results", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+f.token)
	req.Header.Set(api.HeaderClusterID, f.cluster)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		return resp{status: -1}
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	return resp{status: r.StatusCode, header: r.Header, body: body}
}

func (f *fakeExecutor) close() {
	if f.cancel != nil {
		f.cancel()
		<-f.done
		f.cancel = nil
	}
}

// waitEnded waits for the API to end the stream and returns the error event.
func (f *fakeExecutor) waitEnded(d time.Duration) (string, bool) {
	select {
	case <-f.done:
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.endErr, true
	case <-time.After(d):
		return "", false
	}
}

func (f *fakeExecutor) received() []api.Command {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Command(nil), f.commands...)
}

func ptr[T any](v T) *T { return &v }
