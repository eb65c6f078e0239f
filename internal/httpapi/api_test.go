package httpapi_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/config"
	"github.com/kubently/kubently/internal/testkit"
)

func TestHealth(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do("GET", "/health", "", nil)
	if r.status != 200 {
		t.Fatalf("health %d %s", r.status, r.body)
	}
	var h api.Health
	r.json(t, &h)
	if h.Status != "healthy" || h.Version == "" || h.Timestamp.IsZero() || h.UptimeSeconds < 0 {
		t.Fatalf("health body %s", r.body)
	}
	if !regexp.MustCompile(`"timestamp":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"`).Match(r.body) {
		t.Fatalf("timestamp is not RFC 3339 UTC seconds: %s", r.body)
	}
	if r := e.do("GET", "/healthz", "", nil); r.status != 200 {
		t.Fatalf("healthz %d", r.status)
	}
	if r := e.do("GET", "/readyz", "", nil); r.status != 200 {
		t.Fatalf("readyz %d", r.status)
	}
	// With the store gone, health and readiness report it; liveness does not.
	_ = e.st.Close()
	r = e.do("GET", "/health", "", nil)
	r.json(t, &h)
	if r.status != 503 || h.Status != "unhealthy" {
		t.Fatalf("health with closed store: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/readyz", "", nil); r.status != 503 {
		t.Fatalf("readyz with closed store: %d", r.status)
	}
	if r := e.do("GET", "/healthz", "", nil); r.status != 200 {
		t.Fatalf("healthz with closed store: %d", r.status)
	}
	// Requests that need the store answer 503, not 500.
	e.expect(e.do("POST", "/debug/session", aliceKey, map[string]any{"cluster_id": "static-cluster"}), 503, api.CodeServiceUnavailable)
}

func TestEveryProtectedRouteRequiresCredentials(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do("GET", "/openapi.json", "", nil)
	var doc struct {
		Paths map[string]map[string]struct {
			Security []map[string][]string `json:"security"`
		} `json:"paths"`
	}
	r.json(t, &doc)
	checked := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if len(op.Security) == 0 {
				continue
			}
			concrete := strings.NewReplacer("{session_id}", "sess_x", "{result_id}", "res_x", "{cluster_id}", "prod", "{$}", "").Replace(path)
			for _, key := range []string{"", "wrong-key-0123456789abcdef"} {
				res := e.do(strings.ToUpper(method), concrete, key, nil)
				body := e.expect(res, 401, api.CodeUnauthorized)
				if res.header.Get("WWW-Authenticate") == "" {
					t.Fatalf("%s %s: 401 without WWW-Authenticate", method, path)
				}
				if strings.Contains(string(res.body), "wrong-key") {
					t.Fatalf("401 body echoes the key: %s", res.body)
				}
				_ = body
			}
			checked++
		}
	}
	if checked < 12 {
		t.Fatalf("only %d protected operations checked", checked)
	}
	if strings.Contains(e.logs.String(), "wrong-key-0123456789abcdef") || strings.Contains(e.logs.String(), adminKey) {
		t.Fatal("a key appeared in the logs")
	}
}

func TestAdminOnlyRoutes(t *testing.T) {
	e := newEnv(t, nil)
	for _, rt := range []struct{ method, path string }{
		{"GET", "/debug/sessions"}, {"GET", "/clusters"}, {"GET", "/admin/agents"},
		{"POST", "/admin/agents/prod/token"}, {"DELETE", "/admin/agents/prod/token"},
	} {
		body := e.expect(e.do(rt.method, rt.path, aliceKey, nil), 403, api.CodeForbidden)
		if !strings.Contains(body.Message, "admin") {
			t.Fatalf("%s %s: 403 message %q does not say why", rt.method, rt.path, body.Message)
		}
	}
}

func TestSessionLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	e.registerCluster("prod")
	r := e.do("POST", "/debug/session", aliceKey, map[string]any{
		"cluster_id": "prod",
		"metadata":   map[string]any{"user": "debugging-agent", "correlation_id": "trace-123"},
	})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var s api.Session
	r.json(t, &s)
	if !regexp.MustCompile(`^sess_[a-z0-9]{12,}$`).MatchString(s.SessionID) {
		t.Fatalf("session id %q", s.SessionID)
	}
	if s.ClusterID != "prod" || s.Status != api.SessionActive || s.CorrelationID != "trace-123" {
		t.Fatalf("created %s", r.body)
	}
	if d := s.ExpiresAt.Sub(s.CreatedAt.Time); d != time.Hour {
		t.Fatalf("default lifetime %s, want 1h", d)
	}
	for _, f := range []string{"session_id", "cluster_id", "status", "created_at", "expires_at"} {
		if !strings.Contains(string(r.body), `"`+f+`"`) {
			t.Fatalf("create response lacks %s: %s", f, r.body)
		}
	}
	r = e.do("GET", "/debug/session/"+s.SessionID, aliceKey, nil)
	var got api.Session
	r.json(t, &got)
	if r.status != 200 || got.SessionID != s.SessionID || got.LastActivity == nil || got.CommandsExecuted != 0 || !strings.Contains(string(r.body), `"commands_executed":0`) {
		t.Fatalf("get: %d %s", r.status, r.body)
	}
	// Another user cannot see it; an admin can.
	e.expect(e.do("GET", "/debug/session/"+s.SessionID, bobKey, nil), 404, api.CodeNotFound)
	e.expect(e.do("DELETE", "/debug/session/"+s.SessionID, bobKey, nil), 404, api.CodeNotFound)
	if r := e.do("GET", "/debug/session/"+s.SessionID, adminKey, nil); r.status != 200 {
		t.Fatalf("admin get: %d", r.status)
	}
	// Close it; it stays readable as closed.
	r = e.do("DELETE", "/debug/session/"+s.SessionID, aliceKey, nil)
	var closed api.CloseSessionResponse
	r.json(t, &closed)
	if r.status != 200 || closed.SessionID != s.SessionID || closed.Status != "closed" || closed.ClosedAt.IsZero() {
		t.Fatalf("close: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/debug/session/"+s.SessionID, aliceKey, nil)
	r.json(t, &got)
	if got.Status != api.SessionClosed {
		t.Fatalf("after close: %s", r.body)
	}
	// Unknown session.
	body := e.expect(e.do("GET", "/debug/session/sess_doesnotexist00", aliceKey, nil), 404, api.CodeNotFound)
	if body.Message != "Session not found: sess_doesnotexist00" {
		t.Fatalf("404 message %q", body.Message)
	}
}

func TestSessionCreateErrors(t *testing.T) {
	e := newEnv(t, nil)
	e.registerCluster("prod")
	cases := []struct {
		name   string
		body   any
		status int
		code   string
		field  string
		dcode  string
	}{
		{"missing cluster_id", map[string]any{"metadata": map[string]any{}}, 400, api.CodeInvalidRequest, "cluster_id", "missing_required_field"},
		{"null cluster_id", `{"cluster_id": null}`, 400, api.CodeInvalidRequest, "cluster_id", "missing_required_field"},
		{"empty cluster_id", map[string]any{"cluster_id": ""}, 400, api.CodeInvalidRequest, "cluster_id", "missing_required_field"},
		{"wrong type", map[string]any{"cluster_id": 5}, 400, api.CodeInvalidRequest, "cluster_id", "invalid_type"},
		{"wrong type ttl", map[string]any{"cluster_id": "prod", "ttl_seconds": "long"}, 400, api.CodeInvalidRequest, "ttl_seconds", "invalid_type"},
		{"unknown field", map[string]any{"cluster_id": "prod", "clusterid": "x"}, 400, api.CodeInvalidRequest, "clusterid", "unknown_field"},
		{"malformed", `{"cluster_id": "prod"`, 400, api.CodeInvalidRequest, "", "malformed_json"},
		{"not an object", `["prod"]`, 400, api.CodeInvalidRequest, "", "malformed_json"},
		{"empty body", ``, 400, api.CodeInvalidRequest, "", "missing_body"},
		{"invalid cluster id", map[string]any{"cluster_id": "Prod_Cluster"}, 400, api.CodeInvalidRequest, "cluster_id", "invalid_value"},
		{"ttl too short", map[string]any{"cluster_id": "prod", "ttl_seconds": 59}, 400, api.CodeInvalidRequest, "ttl_seconds", "invalid_value"},
		{"ttl too long", map[string]any{"cluster_id": "prod", "ttl_seconds": 86401}, 400, api.CodeInvalidRequest, "ttl_seconds", "invalid_value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := e.expect(e.do("POST", "/debug/session", aliceKey, c.body), c.status, c.code)
			if body.Details["field"] != nil && body.Details["field"] != c.field && c.field != "" {
				t.Fatalf("details %v, want field %s", body.Details, c.field)
			}
			if body.Details["code"] != c.dcode {
				t.Fatalf("details %v, want code %s", body.Details, c.dcode)
			}
			if c.field != "" && body.Details["field"] != c.field {
				t.Fatalf("details %v, want field %s", body.Details, c.field)
			}
		})
	}
	// The reference's exact message for a missing field.
	body := e.expect(e.do("POST", "/debug/session", aliceKey, map[string]any{}), 400, api.CodeInvalidRequest)
	if body.Message != "Missing required field: cluster_id" {
		t.Fatalf("message %q", body.Message)
	}
	// Unknown cluster: 404 naming it.
	body = e.expect(e.do("POST", "/debug/session", aliceKey, map[string]any{"cluster_id": "nowhere"}), 404, api.CodeNotFound)
	if !strings.Contains(body.Message, "nowhere") {
		t.Fatalf("404 does not name the cluster: %q", body.Message)
	}
	// Wrong content type.
	r := e.do("POST", "/debug/session", aliceKey, "cluster_id=prod", "Content-Type", "application/x-www-form-urlencoded")
	e.expect(r, 400, api.CodeInvalidRequest)
	// Oversized body.
	big := `{"cluster_id":"prod","metadata":{"pad":"` + strings.Repeat("x", 1<<20) + `"}}`
	body = e.expect(e.do("POST", "/debug/session", aliceKey, big), 413, api.CodeTooLarge)
	if !strings.Contains(body.Message, "1048576") {
		t.Fatalf("413 message %q does not give the limit", body.Message)
	}
	// A custom ttl is honoured.
	r = e.do("POST", "/debug/session", aliceKey, map[string]any{"cluster_id": "prod", "ttl_seconds": 120})
	var s api.Session
	r.json(t, &s)
	if d := s.ExpiresAt.Sub(s.CreatedAt.Time); d != 2*time.Minute {
		t.Fatalf("ttl_seconds 120 gave lifetime %s", d)
	}
}

func TestClusterLimitedPrincipal(t *testing.T) {
	e := newEnv(t, nil)
	e.registerCluster("prod")
	e.registerCluster("staging")
	// carol is limited to prod: staging looks absent.
	body := e.expect(e.do("POST", "/debug/session", limitedKey, map[string]any{"cluster_id": "staging"}), 404, api.CodeNotFound)
	if !strings.Contains(body.Message, "staging") {
		t.Fatalf("message %q", body.Message)
	}
	e.expect(e.do("GET", "/clusters/staging/status", limitedKey, nil), 404, api.CodeNotFound)
	if r := e.do("GET", "/clusters/prod/status", limitedKey, nil); r.status != 200 {
		t.Fatalf("own cluster status: %d %s", r.status, r.body)
	}
	s := e.createSession(limitedKey, "prod")
	if s.ClusterID != "prod" {
		t.Fatal(s)
	}
	// alice's staging session is invisible to carol even by id.
	other := e.createSession(aliceKey, "staging")
	e.expect(e.do("GET", "/debug/session/"+other.SessionID, limitedKey, nil), 404, api.CodeNotFound)
	e.expect(e.do("POST", "/debug/execute", limitedKey, map[string]any{"cluster_id": "staging", "session_id": other.SessionID, "command_type": "get", "args": []string{"pods"}}), 404, api.CodeNotFound)
}

func TestListSessions(t *testing.T) {
	e := newEnv(t, nil)
	e.registerCluster("prod")
	e.registerCluster("dev")
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, e.createSession(aliceKey, "prod").SessionID)
	}
	e.createSession(bobKey, "dev")
	e.do("DELETE", "/debug/session/"+ids[0], aliceKey, nil)

	var list api.SessionList
	r := e.do("GET", "/debug/sessions", adminKey, nil)
	r.json(t, &list)
	if r.status != 200 || list.Total != 4 || len(list.Sessions) != 4 {
		t.Fatalf("all: %d %s", r.status, r.body)
	}
	e.do("GET", "/debug/sessions?cluster_id=prod", adminKey, nil).json(t, &list)
	if list.Total != 3 {
		t.Fatalf("cluster filter total %d", list.Total)
	}
	e.do("GET", "/debug/sessions?status=closed", adminKey, nil).json(t, &list)
	if list.Total != 1 || list.Sessions[0].SessionID != ids[0] {
		t.Fatalf("status filter: %+v", list)
	}
	e.do("GET", "/debug/sessions?status=active&limit=1", adminKey, nil).json(t, &list)
	if list.Total != 3 || len(list.Sessions) != 1 {
		t.Fatalf("limit: total %d, len %d", list.Total, len(list.Sessions))
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=ten", "status=sleeping", "cluster_id=BAD_ID"} {
		body := e.expect(e.do("GET", "/debug/sessions?"+q, adminKey, nil), 400, api.CodeInvalidRequest)
		if body.Details["code"] != "invalid_value" {
			t.Fatalf("%s: details %v", q, body.Details)
		}
	}
}

func TestIdleAndExpiredStatus(t *testing.T) {
	e := newEnv(t, func(c *config.API) { c.SessionIdleAfter = 300 * time.Millisecond })
	e.registerCluster("prod")
	s := e.createSession(aliceKey, "prod")
	time.Sleep(400 * time.Millisecond)
	var got api.Session
	e.do("GET", "/debug/session/"+s.SessionID, aliceKey, nil).json(t, &got)
	if got.Status != api.SessionIdle {
		t.Fatalf("status after idle period: %s", got.Status)
	}
}

func TestRateLimits(t *testing.T) {
	e := newEnv(t, func(c *config.API) { c.RateLimitStandard = 3; c.RateLimitSession = 2 })
	e.registerCluster("prod")
	var last resp
	for i := 0; i < 3; i++ {
		last = e.do("GET", "/clusters/prod/status", aliceKey, nil)
		if last.status != 200 {
			t.Fatalf("request %d: %d", i, last.status)
		}
		if last.header.Get("X-RateLimit-Limit") != "3" || last.header.Get("X-RateLimit-Remaining") != strconv.Itoa(2-i) {
			t.Fatalf("request %d headers: %v", i, last.header)
		}
		reset, err := strconv.ParseInt(last.header.Get("X-RateLimit-Reset"), 10, 64)
		if err != nil || reset < time.Now().Unix() || reset > time.Now().Add(61*time.Second).Unix() {
			t.Fatalf("X-RateLimit-Reset %q", last.header.Get("X-RateLimit-Reset"))
		}
	}
	r := e.do("GET", "/clusters/prod/status", aliceKey, nil)
	body := e.expect(r, 429, api.CodeRateLimited)
	if body.Message != "Rate limit exceeded" || body.Details["limit"] != float64(3) || body.Details["window"] != "1m" {
		t.Fatalf("429 body %s", r.body)
	}
	retry, _ := strconv.Atoi(r.header.Get("Retry-After"))
	if retry < 1 || retry > 20 || body.Details["retry_after"] != float64(retry) {
		t.Fatalf("Retry-After %q vs details %v", r.header.Get("Retry-After"), body.Details)
	}
	if r.header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("429 headers %v", r.header)
	}
	// Another principal has its own budget; health is never limited.
	if r := e.do("GET", "/clusters/prod/status", bobKey, nil); r.status != 200 {
		t.Fatalf("bob limited by alice's traffic: %d", r.status)
	}
	for i := 0; i < 10; i++ {
		if r := e.do("GET", "/health", "", nil); r.status != 200 || r.header.Get("X-RateLimit-Limit") != "" {
			t.Fatalf("health limited: %d %v", r.status, r.header)
		}
	}
	// Session creation has its own class.
	e.createSession(bobKey, "prod")
	r = e.do("POST", "/debug/session", bobKey, map[string]any{"cluster_id": "prod"})
	if r.header.Get("X-RateLimit-Limit") != "2" {
		t.Fatalf("session class limit header %q", r.header.Get("X-RateLimit-Limit"))
	}
	e.expect(e.do("POST", "/debug/session", bobKey, map[string]any{"cluster_id": "prod"}), 429, api.CodeRateLimited)
}

func TestRequestAndCorrelationIDs(t *testing.T) {
	e := newEnv(t, nil)
	e.registerCluster("prod")
	r := e.do("GET", "/health", "", nil)
	if !regexp.MustCompile(`^req_[a-z0-9]{16}$`).MatchString(r.header.Get(api.HeaderRequestID)) {
		t.Fatalf("generated request id %q", r.header.Get(api.HeaderRequestID))
	}
	r = e.do("POST", "/debug/session", aliceKey, map[string]any{"cluster_id": "prod"}, api.HeaderRequestID, "my-req-1", api.HeaderCorrelationID, "trace-abc")
	if r.header.Get(api.HeaderRequestID) != "my-req-1" || r.header.Get(api.HeaderCorrelationID) != "trace-abc" {
		t.Fatalf("ids not echoed: %v", r.header)
	}
	var s api.Session
	r.json(t, &s)
	if s.CorrelationID != "trace-abc" {
		t.Fatalf("correlation id not stored on the session: %s", r.body)
	}
	if !strings.Contains(e.logs.String(), `"request_id":"my-req-1"`) {
		t.Fatal("request id not logged")
	}
	// A hostile id is replaced, not echoed.
	r = e.do("GET", "/health", "", nil, api.HeaderRequestID, "bad id\twith spaces")
	if strings.Contains(r.header.Get(api.HeaderRequestID), " ") {
		t.Fatalf("unsafe request id echoed: %q", r.header.Get(api.HeaderRequestID))
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	e := newEnv(t, nil)
	e.expect(e.do("GET", "/nope", "", nil), 404, api.CodeNotFound)
	r := e.do("PUT", "/debug/session", aliceKey, nil)
	e.expect(r, 405, "method_not_allowed")
	if r.header.Get("Allow") != "POST" {
		t.Fatalf("Allow %q", r.header.Get("Allow"))
	}
}

func TestAgentTokens(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do("POST", "/admin/agents/prod/token", adminKey, nil)
	var tok api.AgentToken
	r.json(t, &tok)
	if r.status != 201 || tok.ClusterID != "prod" || len(tok.Token) < 32 || tok.CreatedAt.IsZero() {
		t.Fatalf("create token: %d %s", r.status, r.body)
	}
	e.expect(e.do("POST", "/admin/agents/prod/token", adminKey, nil), 409, api.CodeConflict)
	e.expect(e.do("POST", "/admin/agents/static-cluster/token", adminKey, nil), 409, api.CodeConflict)
	e.expect(e.do("POST", "/admin/agents/Bad_Name/token", adminKey, nil), 400, api.CodeInvalidRequest)
	var list api.AgentList
	e.do("GET", "/admin/agents", adminKey, nil).json(t, &list)
	if len(list.Agents) != 2 || list.Agents[0].ClusterID != "prod" || list.Agents[0].Source != "api" || list.Agents[1].Source != "config" {
		t.Fatalf("agents %+v", list)
	}
	if strings.Contains(fmt.Sprint(list), tok.Token) {
		t.Fatal("token listed")
	}
	// The token is stored only as a hash.
	if raw, err := e.st.Get(t.Context(), "token", "prod"); err != nil || strings.Contains(string(raw), tok.Token) {
		t.Fatalf("stored token record %s (%v) contains the token", raw, err)
	}
	// A token works only for its own cluster.
	f := e.connectExecutor("prod", tok.Token, "readOnly", nil)
	req, _ := http.NewRequest("GET", e.srv.URL+"/executor/stream", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	req.Header.Set(api.HeaderClusterID, "static-cluster")
	req.Header.Set(api.HeaderExecutorID, "x")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("token of prod accepted for static-cluster: %d", res.StatusCode)
	}
	// Revoking cuts the live stream and the token stops working.
	if r := e.do("DELETE", "/admin/agents/prod/token", adminKey, nil); r.status != 204 || len(r.body) != 0 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	msg, ended := f.waitEnded(5 * time.Second)
	if !ended || !strings.Contains(msg, "revoked") {
		t.Fatalf("stream not cut by revocation (ended %v, %q)", ended, msg)
	}
	e.expect(e.do("DELETE", "/admin/agents/prod/token", adminKey, nil), 404, api.CodeNotFound)
	e.expect(e.do("DELETE", "/admin/agents/static-cluster/token", adminKey, nil), 409, api.CodeConflict)
	if r := f.post(api.Result{ResultID: "res_x", Status: "completed"}); r.status != 401 {
		t.Fatalf("revoked token posted a result: %d", r.status)
	}
	// A new token can be issued after revocation.
	if r := e.do("POST", "/admin/agents/prod/token", adminKey, nil); r.status != 201 {
		t.Fatalf("re-register: %d", r.status)
	}
}

func TestClusters(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.registerCluster("prod")
	var c api.Cluster
	r := e.do("GET", "/clusters/prod/status", aliceKey, nil)
	r.json(t, &c)
	if r.status != 200 || c.Status != api.ClusterDisconnected || c.LastSeen != nil || !strings.Contains(string(r.body), `"last_seen":null`) {
		t.Fatalf("never-connected cluster: %s", r.body)
	}
	e.createSession(aliceKey, "prod")
	f := e.connectExecutor("prod", tok, "extendedReadOnly", nil)
	r = e.do("GET", "/clusters/prod/status", aliceKey, nil)
	r.json(t, &c)
	for _, field := range []string{"cluster_id", "name", "status", "agent_version", "last_seen", "active_sessions", "queue_depth"} {
		if !strings.Contains(string(r.body), `"`+field+`"`) {
			t.Fatalf("status lacks %s: %s", field, r.body)
		}
	}
	if c.Status != api.ClusterConnected || c.AgentVersion != "test-1.0" || c.KubernetesVersion != "v1.37.2" || c.SecurityMode != "extendedReadOnly" || c.ActiveSessions != 1 || c.QueueDepth != 0 || c.Executors != 1 || c.LastSeen == nil {
		t.Fatalf("connected cluster: %s", r.body)
	}
	var list api.ClusterList
	e.do("GET", "/clusters", adminKey, nil).json(t, &list)
	if len(list.Clusters) != 2 || list.Clusters[0].ClusterID != "prod" || list.Clusters[0].Status != api.ClusterConnected || list.Clusters[1].ClusterID != "static-cluster" {
		t.Fatalf("clusters %+v", list)
	}
	f.close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		e.do("GET", "/clusters/prod/status", aliceKey, nil).json(t, &c)
		if c.Status == api.ClusterDisconnected && c.LastSeen != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %s after the stream closed", c.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.expect(e.do("GET", "/clusters/nowhere/status", aliceKey, nil), 404, api.CodeNotFound)
	e.expect(e.do("GET", "/clusters/NOT_VALID/status", aliceKey, nil), 400, api.CodeInvalidRequest)
}

func TestOpenAPIAndDocs(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do("GET", "/openapi.json", "", nil)
	var doc map[string]any
	r.json(t, &doc)
	if !strings.HasPrefix(doc["openapi"].(string), "3.") {
		t.Fatalf("openapi version %v", doc["openapi"])
	}
	paths := doc["paths"].(map[string]any)
	for _, p := range []string{"/health", "/debug/session", "/debug/session/{session_id}", "/debug/sessions", "/debug/execute", "/debug/result/{result_id}", "/clusters", "/clusters/{cluster_id}/status", "/admin/agents", "/admin/agents/{cluster_id}/token", "/executor/stream", "/executor/results", "/audit", "/metrics", "/docs", "/openapi.json", "/healthz", "/readyz"} {
		if paths[p] == nil {
			t.Fatalf("path %s not documented", p)
		}
	}
	schemes := doc["components"].(map[string]any)["securitySchemes"].(map[string]any)
	for _, s := range []string{"ApiKeyAuth", "OIDCBearer", "ExecutorToken"} {
		if schemes[s] == nil {
			t.Fatalf("security scheme %s missing", s)
		}
	}
	r = e.do("GET", "/docs", "", nil)
	if r.status != 200 || !strings.Contains(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("docs: %d %s", r.status, r.header.Get("Content-Type"))
	}
	page := string(r.body)
	if !strings.Contains(page, "/openapi.json") {
		t.Fatal("docs page does not load the document")
	}
	// Offline: nothing is loaded from another origin.
	if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//`).FindString(page); m != "" {
		t.Fatalf("docs page references an external resource: %s", m)
	}
	if !strings.Contains(r.header.Get("Content-Security-Policy"), "connect-src 'self'") {
		t.Fatalf("docs page CSP %q", r.header.Get("Content-Security-Policy"))
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, nil)
	e.do("GET", "/health", "", nil)
	r := e.do("GET", "/metrics", "", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `kubently_http_requests_total{code="200",method="GET",route="GET /health"}`) {
		t.Fatalf("metrics: %d\n%s", r.status, r.body)
	}
}

func TestRestartKeepsState(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.registerCluster("prod")
	s := e.createSession(aliceKey, "prod")
	f := e.connectExecutor("prod", tok, "readOnly", func(cmd api.Command) *api.Result {
		return &api.Result{Status: api.StatusCompleted, Output: "pod-a Running", ExitCode: ptr(0)}
	})
	r := e.do("POST", "/debug/execute", aliceKey, map[string]any{"cluster_id": "prod", "session_id": s.SessionID, "command_type": "get", "args": []string{"pods"}})
	var res api.Result
	r.json(t, &res)
	if res.Status != api.StatusCompleted {
		t.Fatalf("execute: %s", r.body)
	}
	f.close()
	e.restart()
	// Token, session, result and audit survive.
	f2 := e.connectExecutor("prod", tok, "readOnly", nil)
	_ = f2
	var got api.Session
	r = e.do("GET", "/debug/session/"+s.SessionID, aliceKey, nil)
	r.json(t, &got)
	if r.status != 200 || got.CommandsExecuted != 1 {
		t.Fatalf("session after restart: %d %s", r.status, r.body)
	}
	var again api.Result
	r = e.do("GET", "/debug/result/"+res.ResultID, aliceKey, nil)
	r.json(t, &again)
	if r.status != 200 || again.Output != "pod-a Running" || again.Status != api.StatusCompleted {
		t.Fatalf("result after restart: %d %s", r.status, r.body)
	}
	var audit api.AuditList
	e.do("GET", "/audit", adminKey, nil).json(t, &audit)
	if len(audit.Entries) != 1 || audit.Entries[0].Outcome != api.StatusCompleted {
		t.Fatalf("audit after restart: %+v", audit)
	}
}

func TestJSONTimesAreUTCSeconds(t *testing.T) {
	b, _ := json.Marshal(api.NewTime(time.Date(2024, 1, 20, 11, 30, 45, 999, time.FixedZone("x", 3600))))
	if string(b) != `"2024-01-20T10:30:45Z"` {
		t.Fatalf("time %s", b)
	}
}

var updateGolden = flag.Bool("update", false, "rewrite testdata golden files")

// TestOpenAPIGolden pins the OpenAPI document: a change to a route or a wire
// type shows up as a reviewable diff of testdata/openapi.golden.json.
func TestOpenAPIGolden(t *testing.T) {
	// The document as served, with every mounted route (A2A included).
	e := newEnv(t, nil)
	got := e.do("GET", "/openapi.json", "", nil).body
	path := filepath.Join("testdata", "openapi.golden.json")
	if *updateGolden {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil { //nolint:gosec // a golden file
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/httpapi -run OpenAPIGolden -update)", err)
	}
	if string(got) != string(want) {
		t.Fatal("the OpenAPI document changed; review and run go test ./internal/httpapi -run OpenAPIGolden -update")
	}
	var doc map[string]any
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatal(err)
	}
	// Every operation documents its error bodies with the shared schema.
	for path, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			for code, r := range op.(map[string]any)["responses"].(map[string]any) {
				if code[0] == '4' || code[0] == '5' {
					c, _ := r.(map[string]any)["content"].(map[string]any)
					if path != "/health" && path != "/readyz" && !strings.Contains(fmt.Sprint(c), "#/components/schemas/Error") {
						t.Errorf("%s %s %s: error response without the Error schema", method, path, code)
					}
				}
			}
		}
	}
}

// TestOpenAPIDocumentIsValid checks the served document against the official
// OpenAPI JSON schemas with an independent validator from npm, and that the
// validator does reject a broken document.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	dir, node := testkit.NPMDir(t, "@seriousme/openapi-schema-validator")
	e := newEnv(t, nil)
	doc := e.do("GET", "/openapi.json", "", nil).body
	validate := func(b []byte) (string, error) {
		path := filepath.Join(t.TempDir(), "openapi.json")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(node, "validate-openapi.mjs", path)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := validate(doc); err != nil || !strings.Contains(out, `"valid":true`) || !strings.Contains(out, `"version":"3.1"`) {
		t.Fatalf("the OpenAPI document does not validate: %v\n%s", err, out)
	}
	broken := strings.Replace(string(doc), `"responses": {`, `"responses": "none", "x-was": {`, 1)
	if out, err := validate([]byte(broken)); err == nil || !strings.Contains(out, `"valid":false`) {
		t.Fatalf("a broken document validated: %s", out)
	}
}
