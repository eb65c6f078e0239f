// Package executor is the in-cluster side of Kubently. It dials OUT to the
// API's command stream (Server-Sent Events), checks every command against the
// cluster owner's security policy (authoritative) and runs exactly the argv
// the policy parsed and approved, in a bounded worker pool with each
// command's own deadline, and posts results back, retrying until the API
// accepts them. A command re-delivered after a reconnect runs at most once
// per executor.
//
// It reconnects forever with exponential backoff and jitter (at least 10 s
// after a 401), treats 45 s without any event as a dead connection, dials a
// fresh connection for every stream and drops its result connections when
// they may be dead, and on shutdown finishes or fails its in-flight commands
// cleanly.
package executor

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/auth"
	"github.com/kubently/kubently/internal/policy"
	"github.com/kubently/kubently/internal/sse"
	"github.com/kubently/kubently/internal/tlsutil"
)

// Runner runs an allowed kubectl argv against the cluster.
type Runner interface {
	Run(ctx context.Context, argv []string) RunResult
}

// RunResult is what a Runner produced.
type RunResult struct {
	Output    string
	Error     string
	ExitCode  int
	Truncated bool
}

// Config configures an executor.
type Config struct {
	APIURL             string
	ClusterID          string
	Token              string
	CAFile             string
	InsecureSkipVerify bool
	Policy             policy.Policy
	Concurrency        int
	Version            string
	KubernetesVersion  string
	// IdleTimeout is how long the stream may be silent before it is treated
	// as dead (the API sends keepalives at least every 15 s).
	IdleTimeout time.Duration
	// BackoffMin and BackoffMax bound reconnect delays.
	BackoffMin, BackoffMax time.Duration
	// UnauthorizedBackoff is the least delay after a 401.
	UnauthorizedBackoff time.Duration
	// ShutdownGrace is how long in-flight commands may run after shutdown starts.
	ShutdownGrace time.Duration
}

func (c *Config) defaults() {
	if c.Concurrency <= 0 {
		c.Concurrency = 8
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 45 * time.Second
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = 500 * time.Millisecond
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 30 * time.Second
	}
	if c.UnauthorizedBackoff <= 0 {
		c.UnauthorizedBackoff = 10 * time.Second
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = 10 * time.Second
	}
}

// Timings of result delivery that are not configuration.
const (
	// resultAttemptTimeout bounds one POST of a result; a dead connection
	// costs at most this before the next attempt on a fresh one.
	resultAttemptTimeout = 15 * time.Second
	// runningReportTimeout bounds the best-effort "running" report.
	runningReportTimeout = 5 * time.Second
	// rememberFinished is how long past its deadline a finished command's id
	// is remembered, so a late re-delivery does not run it a second time.
	rememberFinished = 2 * time.Minute
)

// Executor is one executor process.
type Executor struct {
	cfg    Config
	runner Runner
	log    *slog.Logger
	id     string
	tls    *tls.Config
	// results carries result posts; it is replaced when its connections
	// may be dead (see dropResults). The stream gets a transport of its own
	// for every connection (see session), so a dead connection is never
	// reused for the next stream.
	resultsMu sync.Mutex
	results   *resultsConn

	slots    chan struct{}
	mu       sync.Mutex
	inflight map[string]context.CancelFunc
	finished map[string]time.Time // command id -> when to forget it
	wg       sync.WaitGroup

	// Connected is signalled (non-blocking) each time a stream is established; tests use it.
	Connected chan struct{}
}

// New returns an executor; it does not connect until Run.
func New(cfg Config, runner Runner, log *slog.Logger) (*Executor, error) {
	cfg.defaults()
	if cfg.APIURL == "" || cfg.ClusterID == "" || cfg.Token == "" {
		return nil, errors.New("executor needs the API URL, the cluster id and a token")
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // operator's explicit choice
	if cfg.CAFile != "" {
		pool, err := tlsutil.LoadCAPool(cfg.CAFile)
		if err != nil {
			return nil, err
		}
		tlsCfg.RootCAs = pool
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "executor"
	}
	e := &Executor{
		cfg:       cfg,
		runner:    runner,
		log:       log,
		id:        auth.NewID(sanitize(host)+"-", 8),
		tls:       tlsCfg,
		slots:     make(chan struct{}, cfg.Concurrency),
		inflight:  map[string]context.CancelFunc{},
		finished:  map[string]time.Time{},
		Connected: make(chan struct{}, 1),
	}
	e.results = e.newResultsConn()
	return e, nil
}

// resultsConn is one generation of the connections results are posted on.
// Over HTTP/2 every post shares one connection, so when it goes silent the
// whole generation is dropped: requests in flight on it are cancelled and
// retried on fresh connections.
type resultsConn struct {
	tr     *http.Transport
	client *http.Client
	ctx    context.Context // ends when the generation is dropped
	cancel context.CancelFunc
}

func (e *Executor) newResultsConn() *resultsConn {
	tr := e.newTransport()
	ctx, cancel := context.WithCancel(context.Background())
	return &resultsConn{tr: tr, client: &http.Client{Transport: tr}, ctx: ctx, cancel: cancel}
}

// currentResults returns the generation to post on.
func (e *Executor) currentResults() *resultsConn {
	e.resultsMu.Lock()
	defer e.resultsMu.Unlock()
	return e.results
}

// dropResults replaces the results connections if rc is still current.
// Requests in flight on rc are cancelled (their posts retry at once on the
// new generation) and its connections are closed.
func (e *Executor) dropResults(rc *resultsConn) {
	e.resultsMu.Lock()
	if e.results != rc {
		e.resultsMu.Unlock()
		return
	}
	e.results = e.newResultsConn()
	e.resultsMu.Unlock()
	rc.cancel()
	rc.tr.CloseIdleConnections()
	// Cancelled requests release their connections shortly after.
	time.AfterFunc(time.Second, rc.tr.CloseIdleConnections)
}

// newTransport returns an HTTP transport to the API. HTTP/2 connections are
// health-checked with pings, so one that went silent (a middlebox dropped
// it) is closed instead of being reused forever.
func (e *Executor) newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       e.tls.Clone(),
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
		HTTP2:                 &http.HTTP2Config{SendPingTimeout: 15 * time.Second, PingTimeout: 10 * time.Second},
	}
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			b.WriteRune(r)
		}
	}
	if b.Len() > 40 {
		return b.String()[:40]
	}
	return b.String()
}

// ID is this process's executor id (stable across reconnects).
func (e *Executor) ID() string { return e.id }

// errUnauthorized marks a 401 from the API.
var errUnauthorized = errors.New("the API refused the executor token (401)")

// Run connects and serves until ctx ends, then drains in-flight commands.
func (e *Executor) Run(ctx context.Context) error {
	attempt := 0
	for ctx.Err() == nil {
		start := time.Now()
		err := e.session(ctx)
		if ctx.Err() != nil {
			break
		}
		if time.Since(start) > time.Minute {
			attempt = 0 // a long healthy session resets the backoff
		}
		delay := e.retryDelay(attempt, err)
		attempt++
		e.log.Warn("executor stream ended; reconnecting", "err", err, "in", delay.Round(time.Millisecond))
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
	}
	e.drain()
	return nil
}

// retryDelay is how long to wait before reconnect attempt number attempt+1
// after a stream ended with err: exponential backoff, and at least
// UnauthorizedBackoff (plus up to half of it as jitter) after a 401, so a
// revoked or wrong token does not hammer the API.
func (e *Executor) retryDelay(attempt int, err error) time.Duration {
	delay := backoff(attempt, e.cfg.BackoffMin, e.cfg.BackoffMax)
	if errors.Is(err, errUnauthorized) && delay < e.cfg.UnauthorizedBackoff {
		delay = e.cfg.UnauthorizedBackoff + time.Duration(rand.Int64N(int64(e.cfg.UnauthorizedBackoff)/2+1))
	}
	return delay
}

// backoff is exponential with full jitter: a random delay in [min, min*2^n], capped.
func backoff(attempt int, min, max time.Duration) time.Duration {
	ceil := min
	for i := 0; i < attempt && ceil < max; i++ {
		ceil *= 2
	}
	if ceil > max {
		ceil = max
	}
	return min + time.Duration(rand.Int64N(int64(ceil-min)+1))
}

// errSilent ends a stream on which nothing arrived for IdleTimeout.
var errSilent = errors.New("connection presumed dead")

// session holds one stream until it fails. Every stream has its own
// transport, closed when the stream ends: the next attempt always dials a
// fresh connection, even over HTTP/2 where a dead connection would otherwise
// be reused.
func (e *Executor) session(ctx context.Context) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tr := e.newTransport()
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, strings.TrimRight(e.cfg.APIURL, "/")+"/executor/stream", nil)
	if err != nil {
		return err
	}
	e.authorize(req)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set(api.HeaderExecutorID, e.id)
	req.Header.Set(api.HeaderExecutorVersion, e.cfg.Version)
	req.Header.Set(api.HeaderKubernetesVersion, e.cfg.KubernetesVersion)
	req.Header.Set(api.HeaderSecurityMode, string(e.cfg.Policy.Mode))
	req.Header.Set(api.HeaderAllowedVerbs, strings.Join(e.cfg.Policy.AllowedVerbs(), ","))
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusUnauthorized {
		return errUnauthorized
	}
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		return fmt.Errorf("stream refused: %s: %s", res.Status, bytes.TrimSpace(b))
	}
	// Any event (keepalive, command) resets the idle timer; silence kills the stream.
	var silent atomic.Bool
	idle := time.AfterFunc(e.cfg.IdleTimeout, func() { silent.Store(true); cancel() })
	defer idle.Stop()
	rd := sse.NewReader(res.Body)
	for {
		ev, err := rd.Next()
		if err != nil {
			if silent.Load() && ctx.Err() == nil {
				// The result connections may be dead the same way.
				e.dropResults(e.currentResults())
				return fmt.Errorf("no event for %s: %w", e.cfg.IdleTimeout, errSilent)
			}
			return err
		}
		idle.Reset(e.cfg.IdleTimeout)
		switch ev.Name {
		case api.EventHello:
			var hello api.Hello
			_ = json.Unmarshal([]byte(ev.Data), &hello)
			every := time.Duration(hello.KeepaliveMs) * time.Millisecond
			if every <= 0 || every > 15*time.Second {
				every = 15 * time.Second
			}
			go e.heartbeat(sctx, every)
			e.log.Info("connected to the API", "cluster", e.cfg.ClusterID, "executor", e.id, "mode", e.cfg.Policy.Mode)
			select {
			case e.Connected <- struct{}{}:
			default:
			}
		case api.EventCommand:
			var cmd api.Command
			if err := json.Unmarshal([]byte(ev.Data), &cmd); err != nil {
				e.log.Error("undecodable command event", "err", err)
				continue
			}
			e.accept(ctx, cmd, time.Now())
		case "error":
			return fmt.Errorf("the API ended the stream: %s", ev.Data)
		}
	}
}

func (e *Executor) authorize(req *http.Request) {
	req.Header.Set("Authorization", "Bearer "+e.cfg.Token)
	req.Header.Set(api.HeaderClusterID, e.cfg.ClusterID)
	req.Header.Set(api.HeaderExecutorID, e.id)
}

// heartbeat tells the API, on a connection of its own, that this executor
// is alive while a stream is open. The API cannot learn that from the stream:
// its keepalive writes succeed into a socket buffer even when the executor
// behind a wedged proxy is long gone, so without heartbeats such a stream
// would count as connected forever.
func (e *Executor) heartbeat(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if code, rc, err := e.postOnce("/executor/heartbeat", []byte("{}"), every); err != nil {
			e.dropResults(rc)
			e.log.Debug("heartbeat failed", "err", err)
		} else if code >= 300 {
			e.log.Debug("heartbeat refused", "status", code)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// accept starts a command unless it is already running here or finished
// here recently (a re-delivery after a reconnect): a command runs at most
// once per executor.
func (e *Executor) accept(ctx context.Context, cmd api.Command, received time.Time) {
	e.mu.Lock()
	for id, forget := range e.finished {
		if received.After(forget) {
			delete(e.finished, id)
		}
	}
	_, running := e.inflight[cmd.CommandID]
	_, done := e.finished[cmd.CommandID]
	if running || done {
		e.mu.Unlock()
		e.log.Info("re-delivered command ignored: it already runs or ran here", "id", cmd.CommandID, "delivery", cmd.Delivery, "running", running)
		return
	}
	deadline := received.Add(time.Duration(cmd.TimeoutMs) * time.Millisecond)
	cctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	e.inflight[cmd.CommandID] = cancel
	e.mu.Unlock()
	e.log.Info("command received", "id", cmd.CommandID, "delivery", cmd.Delivery, "timeout_ms", cmd.TimeoutMs)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer func() {
			e.mu.Lock()
			delete(e.inflight, cmd.CommandID)
			e.finished[cmd.CommandID] = deadline.Add(rememberFinished)
			e.mu.Unlock()
			cancel()
		}()
		res := e.execute(cctx, cmd)
		e.post(res, deadline)
	}()
}

// execute checks and runs one command and builds its result.
func (e *Executor) execute(ctx context.Context, cmd api.Command) api.Result {
	start := time.Now()
	res := api.Result{ResultID: cmd.CommandID, SessionID: cmd.SessionID, ClusterID: cmd.ClusterID, ExecutedAt: ptr(api.NewTime(start))}
	log := e.log.With("id", cmd.CommandID, "principal", cmd.Principal, "correlation_id", cmd.CorrelationID, "delivery", cmd.Delivery,
		"argv", strings.Join(api.Argv(cmd.CommandType, cmd.Args), " "))
	parsed, err := e.cfg.Policy.Check(cmd.CommandType, cmd.Args)
	if err != nil {
		var den *policy.Denial
		reason := err.Error()
		if errors.As(err, &den) {
			reason = den.Reason
		}
		msg := "command denied: " + reason
		res.Status, res.Error, res.ExitCode = api.StatusFailed, &msg, ptr(1)
		res.Denial = &api.Denial{Reason: reason, SecurityMode: string(e.cfg.Policy.Mode)}
		log.Warn("command denied", "reason", reason)
		return res
	}
	// Run exactly what the policy parsed and approved: its normalized argv
	// means the same to kubectl, with no spelling left to interpret.
	argv := parsed.Argv()
	// Wait for a worker slot, but never past the deadline.
	select {
	case <-ctx.Done():
		return timedOut(res, start, cmd)
	default:
	}
	select {
	case e.slots <- struct{}{}:
		defer func() { <-e.slots }()
	case <-ctx.Done():
		return timedOut(res, start, cmd)
	}
	e.reportRunning(cmd.CommandID)
	out := e.runner.Run(ctx, argv)
	res.ExecutionTimeMs = time.Since(start).Milliseconds()
	res.Output, res.Truncated = out.Output, out.Truncated
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		r := timedOut(res, start, cmd)
		r.Output = out.Output
		log.Warn("command timed out", "after_ms", res.ExecutionTimeMs)
		return r
	}
	if ctx.Err() != nil {
		msg := "the executor shut down before the command finished"
		res.Status, res.Error, res.ExitCode = api.StatusFailed, &msg, nil
		log.Warn("command cancelled at shutdown")
		return res
	}
	res.ExitCode = ptr(out.ExitCode)
	if out.ExitCode == 0 {
		res.Status = api.StatusCompleted
		res.Warnings = out.Error // notes such as "No resources found in x namespace."
	} else {
		// kubectl's stderr exactly, even when empty: `auth can-i` answers
		// "no" on stdout with exit code 1 and nothing on stderr.
		res.Status = api.StatusFailed
		msg := out.Error
		res.Error = &msg
	}
	log.Info("command finished", "status", res.Status, "exit_code", out.ExitCode, "duration_ms", res.ExecutionTimeMs)
	return res
}

func timedOut(res api.Result, start time.Time, cmd api.Command) api.Result {
	msg := fmt.Sprintf("command did not finish within its deadline (%s); the executor cancelled it", (time.Duration(cmd.TimeoutMs) * time.Millisecond).Round(time.Second))
	res.Status, res.Error, res.ExitCode = api.StatusTimeout, &msg, nil
	res.ExecutionTimeMs = time.Since(start).Milliseconds()
	return res
}

// reportRunning tells the API, best effort and without delaying the
// command, that it started. A late report is harmless: the API only moves a
// pending command to running.
func (e *Executor) reportRunning(id string) {
	body, _ := json.Marshal(api.Result{ResultID: id, Status: api.StatusRunning})
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if code, _, err := e.postOnce("/executor/results", body, runningReportTimeout); err != nil || code >= 300 {
			e.log.Debug("running report not delivered", "id", id, "status", code, "err", err)
		}
	}()
}

// postOnce sends one result body on the current results connections, within
// timeout, and returns the HTTP status and the generation it used.
func (e *Executor) postOnce(path string, body []byte, timeout time.Duration) (int, *resultsConn, error) {
	rc := e.currentResults()
	ctx, cancel := context.WithTimeout(rc.ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(e.cfg.APIURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, rc, err
	}
	req.Header.Set("Content-Type", "application/json")
	e.authorize(req)
	r, err := rc.client.Do(req)
	if err != nil {
		return 0, rc, err
	}
	defer r.Body.Close()
	if _, err := io.Copy(io.Discard, io.LimitReader(r.Body, 64<<10)); err != nil {
		return 0, rc, err
	}
	return r.StatusCode, rc, nil
}

// post delivers a final result, retrying with backoff until it is accepted,
// the API says it is not wanted (4xx), or a minute past the command's
// deadline. Each attempt is bounded, and one that fails on the network drops
// the results connections, so a dead connection is not tried twice.
func (e *Executor) post(res api.Result, deadline time.Time) {
	body, err := json.Marshal(res)
	if err != nil {
		e.log.Error("encode result", "err", err)
		return
	}
	giveUp := deadline.Add(time.Minute)
	for attempt := 0; ; attempt++ {
		code, rc, err := e.postOnce("/executor/results", body, resultAttemptTimeout)
		switch {
		case err == nil && code < 300:
			if attempt > 0 {
				e.log.Info("result delivered after retries", "id", res.ResultID, "attempts", attempt+1)
			}
			return
		case err == nil && code >= 400 && code < 500 && code != http.StatusTooManyRequests:
			e.log.Warn("the API refused a result", "id", res.ResultID, "status", code)
			return
		}
		if err != nil {
			e.dropResults(rc)
		}
		if time.Now().After(giveUp) {
			e.log.Error("could not deliver a result", "id", res.ResultID, "status", res.Status, "http_status", code, "err", err)
			return
		}
		delay := backoff(attempt, 200*time.Millisecond, 5*time.Second)
		e.log.Warn("result not delivered; retrying", "id", res.ResultID, "http_status", code, "err", err, "in", delay.Round(time.Millisecond))
		select {
		case <-time.After(delay):
		case <-time.After(time.Until(giveUp)):
		}
	}
}

// drain lets in-flight commands finish within the grace period, then cancels
// the rest; their results (timeout/failed) are still posted.
func (e *Executor) drain() {
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-time.After(e.cfg.ShutdownGrace):
	}
	e.mu.Lock()
	for id, cancel := range e.inflight {
		e.log.Warn("cancelling in-flight command at shutdown", "id", id)
		cancel()
	}
	e.mu.Unlock()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		e.log.Error("in-flight commands did not stop after cancellation")
	}
}

func ptr[T any](v T) *T { return &v }
