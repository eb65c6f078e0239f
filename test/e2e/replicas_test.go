package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/redistest"
)

// Several API replicas on one Redis behind a round-robin load balancer, with
// a real executor and the real test apiserver: the deployment of issue
// "Scale out".

// balancer is a round-robin reverse proxy over the replicas. A replica that
// refuses connections is skipped (like a load balancer's health check), so
// clients and executors reach whichever replicas are alive.
type balancer struct {
	srv      *http.Server
	addr     string
	backends []*url.URL
	next     atomic.Int64
	down     sync.Map // backend index -> true
}

func startBalancer(t *testing.T, backends []string) *balancer {
	t.Helper()
	b := &balancer{}
	for _, s := range backends {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		b.backends = append(b.backends, u)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	b.srv = &http.Server{Handler: b}
	go b.srv.Serve(ln)
	t.Cleanup(func() { b.srv.Close() })
	return b
}

func (b *balancer) url() string { return "http://" + b.addr }

// ServeHTTP forwards to the next live backend; bodies are buffered so a
// request can be retried on another replica when the chosen one is dead.
func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	n := len(b.backends)
	for try := 0; try < n; try++ {
		i := int(b.next.Add(1)) % n
		if _, dead := b.down.Load(i); dead {
			continue
		}
		target := b.backends[i]
		// Probe the backend first: a dead replica is skipped, not reported.
		c, err := net.DialTimeout("tcp", target.Host, time.Second)
		if err != nil {
			continue
		}
		c.Close()
		rp := httputil.NewSingleHostReverseProxy(target)
		rp.FlushInterval = -1 // stream SSE as it comes
		rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "balancer: backend failed: "+err.Error(), http.StatusBadGateway)
		}
		r2 := r.Clone(r.Context())
		r2.Body = io.NopCloser(strings.NewReader(string(body)))
		r2.ContentLength = int64(len(body))
		rp.ServeHTTP(w, r2)
		return
	}
	http.Error(w, "balancer: no live replica", http.StatusBadGateway)
}

type cluster3 struct {
	redis    *redistest.Server
	replicas []*apiProc
	lb       *balancer
	admin    *client
	user     *client
}

// startReplicas starts n API replicas sharing one Redis (with persistence, so
// a Redis restart keeps the data like a production Redis does).
func startReplicas(t *testing.T, n int, extraEnv ...string) *cluster3 {
	t.Helper()
	rs := redistest.StartPersistent(t)
	c := &cluster3{redis: rs}
	prefix := fmt.Sprintf("e2e%d:", time.Now().UnixNano())
	var urls []string
	for i := 0; i < n; i++ {
		dir := t.TempDir()
		env := append([]string{"REDIS_URL=" + rs.URL(), "REDIS_KEY_PREFIX=" + prefix}, extraEnv...)
		a, err := newAPIProc(filepath.Join(dir, "data"), filepath.Join(dir, "api.log"), env...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			a.proc().kill()
			if r := raceReports(a.logPath); r != "" {
				t.Errorf("replica %d reported a data race:\n%s", i, r)
			}
			if t.Failed() {
				t.Logf("--- end of replica %d log ---\n%s", i, logTail(a.logPath, 8<<10))
			}
		})
		c.replicas = append(c.replicas, a)
		urls = append(urls, a.url())
	}
	c.lb = startBalancer(t, urls)
	c.admin = newClient(c.lb.url(), adminKey)
	c.user = newClient(c.lb.url(), userKey)
	return c
}

// replica returns a client of one replica directly.
func (c *cluster3) replica(i int, key string) *client { return newClient(c.replicas[i].url(), key) }

var streamsLine = regexp.MustCompile(`kubently_executor_streams\{cluster="([^"]+)"\} (\d+)`)

// holder returns the index of the replica that holds cluster's stream, from
// each replica's own metrics.
func (c *cluster3) holder(t *testing.T, cluster string) int {
	t.Helper()
	for i, a := range c.replicas {
		if a.proc().exited() {
			continue
		}
		res, err := http.Get(a.url() + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		for _, m := range streamsLine.FindAllStringSubmatch(string(b), -1) {
			if m[1] == cluster && m[2] != "0" {
				return i
			}
		}
	}
	return -1
}

func TestReplicasServeAnyRequest(t *testing.T) {
	t.Parallel()
	c := startReplicas(t, 3)
	const cl = "multi"
	token := c.replica(0, adminKey).register(t, cl)
	// The executor streams from replica 0 only.
	startExecutor(t, executorOpts{apiURL: c.replicas[0].url(), cluster: cl, token: token})
	for i := range c.replicas {
		c.replica(i, adminKey).waitStreams(t, cl, 1, 2*time.Minute)
	}
	if h := c.holder(t, cl); h != 0 {
		t.Fatalf("stream held by replica %d, want 0", h)
	}
	// A session made on replica 1 is visible on 2; a command submitted on
	// replica 2 runs through the stream on 0; its result is readable on 1.
	sess := c.replica(1, userKey).createSession(t, cl)
	var s api.Session
	c.replica(2, userKey).must(t, http.StatusOK, "GET", "/debug/session/"+sess, nil, &s)
	res := c.replica(2, userKey).execute(t, cl, sess, 30, "get", "pods", "-n", fx.ns, "-o", "name")
	if res.status != http.StatusOK || res.res.Status != api.StatusCompleted || !strings.Contains(res.res.Output, "pod/"+fx.shopPods[0]) {
		t.Fatalf("command submitted on replica 2: %s", res)
	}
	got := c.replica(1, userKey).result(t, res.res.ResultID)
	if got.Output != res.res.Output {
		t.Fatalf("result on replica 1 differs: %+v", got)
	}
	// Async on 1, polled on 0.
	id := c.replica(1, userKey).submit(t, cl, sess, 30, "version")
	final := c.replica(0, userKey).waitResult(t, id, time.Minute, isFinal)
	if final.Status != api.StatusCompleted || !strings.Contains(final.Output, "Server Version") {
		t.Fatalf("async result polled on replica 0: %+v", final)
	}
	// Every replica counts the session's commands the same.
	for i := range c.replicas {
		c.replica(i, userKey).must(t, http.StatusOK, "GET", "/debug/session/"+sess, nil, &s)
		if s.CommandsExecuted != 2 {
			t.Fatalf("replica %d sees %d commands", i, s.CommandsExecuted)
		}
	}
	// Audit entries written on different replicas are one log.
	entries := c.replica(0, adminKey).audit(t, url.Values{"session_id": {sess}})
	if len(entries) != 2 {
		t.Fatalf("audit across replicas: %+v", entries)
	}
}

func TestRateLimitsAreGlobalAcrossReplicas(t *testing.T) {
	t.Parallel()
	c := startReplicas(t, 3, "RATE_LIMIT_STANDARD=9")
	allowed, limited := 0, 0
	var last http.Header
	for i := 0; i < 12; i++ {
		req, _ := http.NewRequest("GET", c.replicas[i%3].url()+"/admin/agents", nil)
		req.Header.Set(api.HeaderAPIKey, adminKey)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		switch res.StatusCode {
		case http.StatusOK:
			allowed++
		case http.StatusTooManyRequests:
			limited++
			last = res.Header
		default:
			t.Fatalf("request %d: %s", i, res.Status)
		}
	}
	// 9 per minute in total, whichever replica answers (a request or two may
	// be refilled while the loop runs on a slow machine).
	if allowed < 9 || allowed > 10 || limited < 2 {
		t.Fatalf("%d allowed, %d limited across 3 replicas; want 9 (global budget)", allowed, limited)
	}
	if last.Get("X-RateLimit-Limit") != "9" || last.Get("X-RateLimit-Remaining") != "0" || last.Get("Retry-After") == "" {
		t.Fatalf("429 headers %v", last)
	}
}

// TestKillReplicaHoldingTheStream: kill -9 of the replica that holds the
// executor's stream while clients keep sending commands through the load
// balancer. Every accepted request completes or gets a clear error, none
// hangs past its deadline, and the executor re-attaches to another replica
// by itself.
func TestKillReplicaHoldingTheStream(t *testing.T) {
	t.Parallel()
	c := startReplicas(t, 3)
	const cl = "failover"
	token := c.admin.register(t, cl)
	startExecutor(t, executorOpts{apiURL: c.lb.url(), cluster: cl, token: token})
	c.admin.waitStreams(t, cl, 1, 2*time.Minute)
	sess := c.user.createSession(t, cl)
	victim := c.holder(t, cl)
	if victim < 0 {
		t.Fatal("no replica reports the stream")
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var completed, clearErrors, transport atomic.Int64
	var mu sync.Mutex
	var problems []string
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				const timeout = 20
				start := time.Now()
				res, err := c.user.run(context.Background(), cl, sess, timeout, "get", "pods", "-n", fx.ns, "-o", "name")
				took := time.Since(start)
				mu.Lock()
				switch {
				case took > timeout*time.Second+deadlineSlack:
					problems = append(problems, fmt.Sprintf("a request took %s: %v %s", took, err, res))
				case err != nil:
					transport.Add(1) // the connection to the dying replica broke: the client sees it
				case res.status == http.StatusOK && res.res.Status == api.StatusCompleted:
					completed.Add(1)
				case res.status == http.StatusServiceUnavailable || res.status == http.StatusBadGateway ||
					res.status == http.StatusOK && res.res.Status == api.StatusFailed && res.res.Error != nil && *res.res.Error != "":
					clearErrors.Add(1)
				default:
					problems = append(problems, "unclear answer: "+res.String())
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(2 * time.Second)
	if !c.replicas[victim].proc().signal(syscall.SIGKILL, 10*time.Second) {
		t.Fatal("replica did not die")
	}
	killed := time.Now()
	// The executor re-attaches to a surviving replica by itself.
	for {
		h := c.holder(t, cl)
		if h >= 0 && h != victim {
			t.Logf("executor re-attached to replica %d after %s", h, time.Since(killed).Round(time.Millisecond))
			break
		}
		if time.Since(killed) > 90*time.Second {
			t.Fatal("the executor did not re-attach to another replica within 90s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	if len(problems) > 0 {
		t.Fatalf("%d problems:\n%s", len(problems), strings.Join(problems, "\n"))
	}
	if completed.Load() == 0 {
		t.Fatal("no command completed")
	}
	t.Logf("completed %d, clear errors %d, broken connections %d", completed.Load(), clearErrors.Load(), transport.Load())
	// After the failover, commands complete again; presence is right with
	// the dead replica's lease gone.
	res := c.user.execute(t, cl, sess, 30, "version")
	if res.status != http.StatusOK || res.res.Status != api.StatusCompleted {
		t.Fatalf("after failover: %s", res)
	}
	st := c.admin.waitStreams(t, cl, 1, 60*time.Second)
	if st.Status != api.ClusterConnected {
		t.Fatalf("cluster status after failover: %+v", st)
	}
}

// TestRedisRestart: with Redis gone, readiness fails and requests get 503
// service_unavailable quickly; when Redis is back, the replicas and the
// executor recover by themselves and nothing was lost.
func TestRedisRestart(t *testing.T) {
	t.Parallel()
	c := startReplicas(t, 2)
	const cl = "redisbounce"
	token := c.admin.register(t, cl)
	startExecutor(t, executorOpts{apiURL: c.lb.url(), cluster: cl, token: token})
	c.admin.waitStreams(t, cl, 1, 2*time.Minute)
	sess := c.user.createSession(t, cl)
	done := c.user.execute(t, cl, sess, 30, "version")
	if done.status != http.StatusOK {
		t.Fatalf("before: %s", done)
	}

	c.redis.Stop()
	for i, a := range c.replicas {
		res, err := http.Get(a.url() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("replica %d readyz with Redis down: %s", i, res.Status)
		}
	}
	start := time.Now()
	code, body, err := c.user.call(ctxFor(t, 30*time.Second), "GET", "/debug/session/"+sess, nil, nil)
	if err != nil || code != http.StatusServiceUnavailable || !strings.Contains(string(body), api.CodeServiceUnavailable) {
		t.Fatalf("request with Redis down: %d %s %v", code, body, err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("a request with Redis down took %s", time.Since(start))
	}

	c.redis.Restart(t)
	deadline := time.Now().Add(90 * time.Second)
	for {
		res := c.user.execute(t, cl, sess, 20, "version")
		if res.status == http.StatusOK && res.res.Status == api.StatusCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery 90s after Redis returned: %s", res)
		}
		time.Sleep(time.Second)
	}
	// The earlier result and the session survived the restart.
	if got := c.user.result(t, done.res.ResultID); got.Status != api.StatusCompleted {
		t.Fatalf("result after Redis restart: %+v", got)
	}
	var s api.Session
	c.user.must(t, http.StatusOK, "GET", "/debug/session/"+sess, nil, &s)
	if s.CommandsExecuted < 2 {
		t.Fatalf("session after Redis restart: %+v", s)
	}
}

// TestTwoExecutorsOfOneCluster: both executors are live consumers of the
// cluster's queue; commands complete whichever takes them, and when one dies
// the other carries on alone.
func TestTwoExecutorsOfOneCluster(t *testing.T) {
	t.Parallel()
	c := startReplicas(t, 2)
	const cl = "pair"
	token := c.admin.register(t, cl)
	first := startExecutor(t, executorOpts{apiURL: c.replicas[0].url(), cluster: cl, token: token})
	startExecutor(t, executorOpts{apiURL: c.replicas[1].url(), cluster: cl, token: token})
	c.admin.waitStreams(t, cl, 2, 2*time.Minute)
	sess := c.user.createSession(t, cl)
	for i := 0; i < 6; i++ {
		if res := c.user.execute(t, cl, sess, 30, "get", "pods", "-n", fx.ns, "-o", "name"); res.status != http.StatusOK || res.res.Status != api.StatusCompleted {
			t.Fatalf("command %d with two executors: %s", i, res)
		}
	}
	if !first.signal(syscall.SIGKILL, 10*time.Second) {
		t.Fatal("executor did not die")
	}
	c.admin.waitStreams(t, cl, 1, time.Minute)
	for i := 0; i < 3; i++ {
		if res := c.user.execute(t, cl, sess, 30, "version"); res.status != http.StatusOK || res.res.Status != api.StatusCompleted {
			t.Fatalf("command %d with one executor left: %s", i, res)
		}
	}
}
