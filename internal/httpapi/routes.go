package httpapi

import (
	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/ratelimit"
)

// Common error responses, documented on every route that can return them.
var (
	errBody  = api.Error{}
	authErrs = map[int]any{401: errBody, 429: errBody, 500: errBody, 503: errBody}
)

func responses(ok map[int]any, extra ...int) map[int]any {
	out := map[int]any{}
	for k, v := range authErrs {
		out[k] = v
	}
	for _, c := range extra {
		out[c] = errBody
	}
	for k, v := range ok {
		out[k] = v
	}
	return out
}

var (
	pathSession = Param{Name: "session_id", In: "path", Required: true, Type: "string", Description: "Session id (sess_...)"}
	pathResult  = Param{Name: "result_id", In: "path", Required: true, Type: "string", Description: "Result id (res_...)"}
	pathCluster = Param{Name: "cluster_id", In: "path", Required: true, Type: "string", Description: "Cluster id (a DNS-1123 label)"}
)

// table lists every REST endpoint of the API.
func (s *Server) table() []Route {
	return []Route{
		{Method: "GET", Path: "/health", Tag: "health", Access: Public, Summary: "Service health",
			Description: "healthy with 200 while the store is usable, unhealthy with 503 otherwise.",
			Responses:   map[int]any{200: api.Health{}, 503: api.Health{}}, Handle: s.health},
		{Method: "GET", Path: "/healthz", Tag: "health", Access: Public, Summary: "Liveness probe",
			Responses: map[int]any{200: probeBody{}}, Handle: s.liveness},
		{Method: "GET", Path: "/readyz", Tag: "health", Access: Public, Summary: "Readiness probe (store reachable)",
			Responses: map[int]any{200: probeBody{}, 503: probeBody{}}, Handle: s.readiness},
		{Method: "GET", Path: "/metrics", Tag: "health", Access: Public, Summary: "Prometheus metrics",
			Responses: map[int]any{200: nil}, Handle: s.serveMetrics},
		{Method: "GET", Path: "/openapi.json", Tag: "docs", Access: Public, Summary: "This OpenAPI document",
			Responses: map[int]any{200: nil}, Handle: s.openAPI},
		{Method: "GET", Path: "/docs", Tag: "docs", Access: Public, Summary: "Interactive API documentation (works offline)",
			Responses: map[int]any{200: nil}, Handle: s.docs},

		{Method: "POST", Path: "/debug/session", Tag: "sessions", Access: Client, Rate: ratelimit.Session, Summary: "Create a debug session",
			Request: api.CreateSessionRequest{}, Responses: responses(map[int]any{201: api.Session{}}, 400, 404, 413), Handle: s.createSession},
		{Method: "GET", Path: "/debug/session/{session_id}", Tag: "sessions", Access: Client, Rate: ratelimit.Standard, Summary: "Get a debug session",
			Params: []Param{pathSession}, Responses: responses(map[int]any{200: api.Session{}}, 404), Handle: s.getSession},
		{Method: "DELETE", Path: "/debug/session/{session_id}", Tag: "sessions", Access: Client, Rate: ratelimit.Standard, Summary: "Close a debug session",
			Params: []Param{pathSession}, Responses: responses(map[int]any{200: api.CloseSessionResponse{}}, 404), Handle: s.closeSession},
		{Method: "GET", Path: "/debug/sessions", Tag: "sessions", Access: Admin, Rate: ratelimit.Standard, Summary: "List debug sessions (admin)",
			Params: []Param{
				{Name: "cluster_id", In: "query", Type: "string", Description: "Only sessions of this cluster"},
				{Name: "status", In: "query", Type: "string", Description: "Only sessions with this status", Enum: []string{api.SessionActive, api.SessionIdle, api.SessionExpired, api.SessionClosed}},
				{Name: "limit", In: "query", Type: "integer", Description: "At most this many sessions (default 50, max 1000)"},
			}, Responses: responses(map[int]any{200: api.SessionList{}}, 400, 403), Handle: s.listSessions},

		{Method: "POST", Path: "/debug/execute", Tag: "commands", Access: Client, Rate: ratelimit.Execute, Summary: "Run a kubectl command in a cluster",
			Description: "Runs a validated kubectl command through the cluster's executor. 403 when the security mode refuses it; 503 at once when no executor is connected. With async=true answers 202 and the result is polled with GET /debug/result/{result_id}.",
			Request:     api.ExecuteRequest{}, Responses: responses(map[int]any{200: api.Result{}, 202: api.AsyncAccepted{}}, 400, 403, 404, 409, 413), Handle: s.execute},
		{Method: "GET", Path: "/debug/result/{result_id}", Tag: "commands", Access: Client, Rate: ratelimit.Standard, Summary: "Get a command result",
			Params: []Param{pathResult}, Responses: responses(map[int]any{200: api.Result{}}, 404), Handle: s.getResult},

		{Method: "GET", Path: "/clusters", Tag: "clusters", Access: Admin, Rate: ratelimit.Standard, Summary: "List clusters (admin)",
			Responses: responses(map[int]any{200: api.ClusterList{}}, 403), Handle: s.listClusters},
		{Method: "GET", Path: "/clusters/{cluster_id}/status", Tag: "clusters", Access: Client, Rate: ratelimit.Standard, Summary: "Status of one cluster",
			Params: []Param{pathCluster}, Responses: responses(map[int]any{200: api.Cluster{}}, 404), Handle: s.clusterStatus},

		{Method: "POST", Path: "/admin/agents/{cluster_id}/token", Tag: "admin", Access: Admin, Rate: ratelimit.Standard, Summary: "Register a cluster: create its executor token (shown once)",
			Params: []Param{pathCluster}, Responses: responses(map[int]any{201: api.AgentToken{}}, 400, 403, 409), Handle: s.createAgentToken},
		{Method: "GET", Path: "/admin/agents", Tag: "admin", Access: Admin, Rate: ratelimit.Standard, Summary: "List registered executors",
			Responses: responses(map[int]any{200: api.AgentList{}}, 403), Handle: s.listAgents},
		{Method: "DELETE", Path: "/admin/agents/{cluster_id}/token", Tag: "admin", Access: Admin, Rate: ratelimit.Standard, Summary: "Revoke a cluster's executor token (cuts its live streams)",
			Params: []Param{pathCluster}, Responses: responses(map[int]any{204: nil}, 403, 404, 409), Handle: s.revokeAgentToken},

		{Method: "GET", Path: "/audit", Tag: "audit", Access: Client, Rate: ratelimit.Standard, Summary: "Audit log of command attempts (admins see all, others their own)",
			Params: []Param{
				{Name: "cluster_id", In: "query", Type: "string", Description: "Only this cluster"},
				{Name: "session_id", In: "query", Type: "string", Description: "Only this session"},
				{Name: "since", In: "query", Type: "string", Description: "RFC 3339 time: entries at or after"},
				{Name: "until", In: "query", Type: "string", Description: "RFC 3339 time: entries at or before"},
				{Name: "limit", In: "query", Type: "integer", Description: "At most this many entries (default 100, max 1000)"},
			}, Responses: responses(map[int]any{200: api.AuditList{}}, 400), Handle: s.listAudit},

		{Method: "GET", Path: "/executor/stream", Tag: "executor", Access: Executor, Summary: "Executor command stream (Server-Sent Events)",
			Description: "Executors dial out to this endpoint with Authorization: Bearer <token> and X-Cluster-ID. Events: hello, command (an api.Command), ping (keepalive at least every 15 s).",
			Stream:      true, Responses: map[int]any{200: api.Command{}, 401: errBody, 503: errBody}, Handle: s.executorStream},
		{Method: "POST", Path: "/executor/heartbeat", Tag: "executor", Access: Executor, Summary: "Executor liveness (every keepalive interval while its stream is open)",
			Description: "Presence is renewed only while the executor's heartbeats arrive, so a stream whose executor died behind a silent connection is closed within the presence TTL.",
			Params:      []Param{{Name: api.HeaderExecutorID, In: "header", Required: true, Type: "string", Description: "The executor process id of the stream"}},
			Responses:   map[int]any{204: nil, 400: errBody, 401: errBody, 503: errBody}, Handle: s.executorHeartbeat},
		{Method: "POST", Path: "/executor/results", Tag: "executor", Access: Executor, Summary: "Executor posts a command's result",
			Request: api.Result{}, Responses: map[int]any{200: resultAck{}, 400: errBody, 401: errBody, 403: errBody, 404: errBody, 413: errBody, 503: errBody}, Handle: s.postResult},
	}
}

// probeBody is the body of /healthz and /readyz.
type probeBody struct {
	Status string `json:"status" enum:"ok,unavailable"`
	Reason string `json:"reason,omitempty"`
}

// resultAck answers an executor's result post.
type resultAck struct {
	Accepted  bool   `json:"accepted"`
	Duplicate bool   `json:"duplicate" doc:"The command already had a final result; this one was ignored"`
	Status    string `json:"status"`
}
