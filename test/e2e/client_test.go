package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/kubently/kubently/api"
)

// deadlineSlack is how long past a command's timeout its request may take to
// answer: the API's 1.5 s grace plus scheduling noise on a loaded 2-core
// machine running race-enabled binaries.
const deadlineSlack = 8 * time.Second

// client is a small REST client of the Kubently API for one principal.
type client struct {
	base string
	key  string
	hc   *http.Client
}

func newClient(base, key string) *client {
	return &client{base: base, key: key, hc: &http.Client{}}
}

// call sends a request (body as JSON unless nil) and decodes a 2xx answer
// into out when out is not nil. It returns the status and the raw body.
func (c *client) call(ctx context.Context, method, path string, body, out any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set(api.HeaderAPIKey, c.key)
	res, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, raw, err
	}
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			return res.StatusCode, raw, fmt.Errorf("decode %s %s answer %s: %w", method, path, bytesTrim(raw), err)
		}
	}
	return res.StatusCode, raw, nil
}

// must is call for tests: the status must be want.
func (c *client) must(t *testing.T, want int, method, path string, body, out any) []byte {
	t.Helper()
	code, raw, err := c.call(ctxFor(t, 2*time.Minute), method, path, body, out)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if code != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, bytesTrim(raw))
	}
	return raw
}

// register creates a cluster's executor token (admin).
func (c *client) register(t *testing.T, cluster string) string {
	t.Helper()
	var tok api.AgentToken
	c.must(t, http.StatusCreated, "POST", "/admin/agents/"+cluster+"/token", nil, &tok)
	return tok.Token
}

// revoke deletes a cluster's executor token (admin).
func (c *client) revoke(t *testing.T, cluster string) {
	t.Helper()
	c.must(t, http.StatusNoContent, "DELETE", "/admin/agents/"+cluster+"/token", nil, nil)
}

func (c *client) createSession(t *testing.T, cluster string) string {
	t.Helper()
	var s api.Session
	c.must(t, http.StatusCreated, "POST", "/debug/session", map[string]any{"cluster_id": cluster}, &s)
	return s.SessionID
}

func (c *client) clusterStatus(t *testing.T, cluster string) api.Cluster {
	t.Helper()
	var cl api.Cluster
	c.must(t, http.StatusOK, "GET", "/clusters/"+cluster+"/status", nil, &cl)
	return cl
}

// waitStreams waits until the cluster has n live executor streams. A
// cluster whose token was revoked is unknown (404): it has none.
func (c *client) waitStreams(t *testing.T, cluster string, n int, within time.Duration) api.Cluster {
	t.Helper()
	end := time.Now().Add(within)
	for {
		var cl api.Cluster
		code, _, err := c.call(ctxFor(t, 10*time.Second), "GET", "/clusters/"+cluster+"/status", nil, &cl)
		if err == nil && (code == http.StatusOK && cl.Executors == n || code == http.StatusNotFound && n == 0) {
			return cl
		}
		if time.Now().After(end) {
			t.Fatalf("cluster %s: %d live stream(s) after %s, want %d (status %d, err %v)", cluster, cl.Executors, within, n, code, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// execResult is the answer to POST /debug/execute.
type execResult struct {
	status  int
	res     api.Result // for 200
	err     api.Error  // for errors
	raw     []byte
	elapsed time.Duration
}

func (r execResult) String() string {
	return fmt.Sprintf("HTTP %d after %s: %s", r.status, r.elapsed.Round(time.Millisecond), bytesTrim(r.raw))
}

// run sends POST /debug/execute synchronously with a timeout in seconds.
// It is safe to call from any goroutine.
func (c *client) run(ctx context.Context, cluster, session string, timeoutSec int, argv ...string) (execResult, error) {
	start := time.Now()
	var out execResult
	code, raw, err := c.call(ctx, "POST", "/debug/execute", api.ExecuteRequest{
		ClusterID: cluster, SessionID: session, CommandType: argv[0], Args: append([]string{}, argv[1:]...), Timeout: &timeoutSec,
	}, nil)
	out.elapsed, out.status, out.raw = time.Since(start), code, raw
	if err != nil {
		return out, fmt.Errorf("execute %q: %w (after %s)", argv, err, out.elapsed)
	}
	switch {
	case code == http.StatusOK:
		err = json.Unmarshal(raw, &out.res)
	case code >= 400:
		err = json.Unmarshal(raw, &out.err)
	}
	if err != nil {
		return out, fmt.Errorf("execute %q: decode %s: %w", argv, bytesTrim(raw), err)
	}
	if limit := time.Duration(timeoutSec)*time.Second + deadlineSlack; out.elapsed > limit {
		return out, fmt.Errorf("execute %q with a %ds timeout answered after %s (limit %s): %s", argv, timeoutSec, out.elapsed, limit, out)
	}
	return out, nil
}

// execute is run for the test goroutine: it fails t when the request fails
// or takes longer than its deadline allows.
func (c *client) execute(t *testing.T, cluster, session string, timeoutSec int, argv ...string) execResult {
	t.Helper()
	out, err := c.run(ctxFor(t, time.Duration(timeoutSec)*time.Second+time.Minute), cluster, session, timeoutSec, argv...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// submit queues argv asynchronously and returns the result id.
func (c *client) submit(t *testing.T, cluster, session string, timeoutSec int, argv ...string) string {
	t.Helper()
	var acc api.AsyncAccepted
	c.must(t, http.StatusAccepted, "POST", "/debug/execute", api.ExecuteRequest{
		ClusterID: cluster, SessionID: session, CommandType: argv[0], Args: append([]string{}, argv[1:]...), Timeout: &timeoutSec, Async: true,
	}, &acc)
	return acc.ResultID
}

func (c *client) result(t *testing.T, id string) api.Result {
	t.Helper()
	var r api.Result
	c.must(t, http.StatusOK, "GET", "/debug/result/"+id, nil, &r)
	return r
}

// waitResult polls a result until cond holds, failing t after within.
func (c *client) waitResult(t *testing.T, id string, within time.Duration, cond func(api.Result) bool) api.Result {
	t.Helper()
	end := time.Now().Add(within)
	for {
		r := c.result(t, id)
		if cond(r) {
			return r
		}
		if time.Now().After(end) {
			t.Fatalf("result %s is %s after %s: %+v", id, r.Status, within, r)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func isFinal(r api.Result) bool   { return api.FinalStatus(r.Status) }
func isRunning(r api.Result) bool { return r.Status == api.StatusRunning }

// audit lists audit entries matching the query (e.g. session_id=...).
func (c *client) audit(t *testing.T, q url.Values) []api.AuditEntry {
	t.Helper()
	var l api.AuditList
	c.must(t, http.StatusOK, "GET", "/audit?"+q.Encode(), nil, &l)
	return l.Entries
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
