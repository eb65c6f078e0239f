package a2a

import (
	"log/slog"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/agent"
	"github.com/kubently/kubently/internal/httpapi"
	"github.com/kubently/kubently/internal/ratelimit"
	"github.com/kubently/kubently/internal/store"
)

// Store is what the A2A transports keep in the shared store: task records
// (store.KindTask) and wake-ups that carry a CancelTask to the replica running
// the task. Both store backends implement it.
type Store interface {
	store.Records
	store.Notifier
}

// Deps are what the A2A transports need. Investigator and Store are
// required; zero values of the rest take the documented defaults.
type Deps struct {
	Investigator agent.Investigator
	Store        Store
	Log          *slog.Logger
	// Version is the agent version published in the agent card.
	Version string
	// PublicURL is the externally visible base URL (scheme://host[:port]
	// [/prefix]) used in the agent card. Empty: derived from each request's
	// Host and TLS state (or X-Forwarded-Proto).
	PublicURL string
	// BearerAuth advertises the http bearer scheme (OIDC ID tokens) in the
	// agent card next to the X-API-Key scheme; set it when OIDC is configured.
	BearerAuth bool
	// DefaultTimeout bounds an investigation without X-Request-Timeout
	// (default 300 s, never more than MaxRequestTimeout).
	DefaultTimeout time.Duration
	// TaskRetention is how long A2A tasks are kept after their last update
	// (default 24 h).
	TaskRetention time.Duration
	// Keepalive is the interval of SSE keepalive comments while the agent
	// thinks (default 15 s).
	Keepalive time.Duration
	// MaxBodyBytes bounds request bodies (default 1 MiB).
	MaxBodyBytes int64
}

func (d *Deps) defaults() {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Version == "" {
		d.Version = "dev"
	}
	if d.DefaultTimeout <= 0 {
		d.DefaultTimeout = 300 * time.Second
	}
	if d.DefaultTimeout > MaxRequestTimeout*time.Second {
		d.DefaultTimeout = MaxRequestTimeout * time.Second
	}
	if d.TaskRetention <= 0 {
		d.TaskRetention = 24 * time.Hour
	}
	if d.Keepalive <= 0 {
		d.Keepalive = 15 * time.Second
	}
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = 1 << 20
	}
}

// Paths served by this package.
const (
	PathSessions  = "/a2a/sessions"
	PathRPC       = "/a2a"
	PathRPCSlash  = "/a2a/{$}" // exactly "/a2a/", not the subtree
	PathCard      = "/.well-known/agent-card.json"
	PathCardA2A   = "/a2a/.well-known/agent-card.json"
	PathCardOld   = "/.well-known/agent.json"
	routeTag      = "a2a"
	rpcRouteDescr = "A2A protocol, JSON-RPC binding. With A2A-Version: 1.0 the methods are SendMessage, SendStreamingMessage, GetTask, ListTasks, CancelTask, SubscribeToTask and GetExtendedAgentCard; without A2A-Version (or with 0.3) the A2A 0.3 names message/send, message/stream, tasks/get, tasks/cancel and tasks/resubscribe. Streaming methods answer text/event-stream; errors raised before a stream starts are a plain JSON-RPC error. Tasks are visible only to the principal that created them."
)

// Routes returns the A2A routes for httpapi.Deps.Mounts. Authentication,
// rate limits and error bodies come from httpapi like on every REST route:
// the JSON-RPC endpoint and /a2a/sessions need a client credential, the agent
// cards are public.
func Routes(d Deps) []httpapi.Route {
	s := newService(d)
	errBody := api.Error{}
	protected := func(ok map[int]any, extra ...int) map[int]any {
		out := map[int]any{401: errBody, 429: errBody, 500: errBody, 503: errBody}
		for _, c := range extra {
			out[c] = errBody
		}
		for k, v := range ok {
			out[k] = v
		}
		return out
	}
	rpc := func(path, summary string) httpapi.Route {
		return httpapi.Route{Method: "POST", Path: path, Tag: routeTag, Access: httpapi.Client, Rate: ratelimit.Standard,
			Summary: summary, Description: rpcRouteDescr, Request: RPCRequest{},
			Responses: protected(map[int]any{200: RPCResponse{}}, 413), Handle: s.serveRPC}
	}
	card := func(path, summary string) []httpapi.Route {
		return []httpapi.Route{
			{Method: "GET", Path: path, Tag: routeTag, Access: httpapi.Public, Summary: summary,
				Description: "The public A2A 1.0 agent card: skills, the JSON-RPC interface and the accepted security schemes (X-API-Key, and bearer tokens when OIDC is configured). Cacheable (ETag, Cache-Control).",
				Responses:   map[int]any{200: nil, 304: nil}, Handle: s.serveCard},
			{Method: "OPTIONS", Path: path, Tag: routeTag, Access: httpapi.Public, Summary: "CORS preflight for the agent card",
				Responses: map[int]any{204: nil}, Handle: s.cardPreflight},
		}
	}
	routes := []httpapi.Route{
		{Method: "POST", Path: PathSessions, Tag: routeTag, Access: httpapi.Client, Rate: ratelimit.Session, Stream: true,
			Summary:     "Ask the agent a question; answers a stream of Server-Sent Events",
			Description: "Events are data: lines of JSON: tool_call {tool, parameters, timestamp}, tool_result, content {content} as the answer is produced, and exactly one final done {thread_id} or error {message}. Headers: X-Correlation-ID, X-Service-Identity, X-Request-Timeout (seconds, 1-600) bounds the investigation.",
			Request:     SessionRequest{}, Responses: protected(map[int]any{200: agent.Event{}}, 400, 413), Handle: s.serveSession},
		rpc(PathRPC, "A2A JSON-RPC endpoint (1.0 and 0.3)"),
		rpc(PathRPCSlash, "A2A JSON-RPC endpoint (1.0 and 0.3), trailing-slash alias of /a2a"),
	}
	routes = append(routes, card(PathCard, "A2A agent card")...)
	routes = append(routes, card(PathCardA2A, "A2A agent card (under /a2a)")...)
	routes = append(routes, card(PathCardOld, "A2A agent card (legacy path)")...)
	return routes
}

// SessionRequest is the body of POST /a2a/sessions.
type SessionRequest struct {
	Query     string `json:"query" required:"true" doc:"The question, in natural language"`
	ClusterID string `json:"cluster_id,omitempty" doc:"Cluster to focus on (optional)"`
	ThreadID  string `json:"thread_id,omitempty" doc:"Continue this conversation (the thread_id of an earlier done event)"`
}

// RPCRequest documents a JSON-RPC 2.0 request to the A2A endpoint.
type RPCRequest struct {
	JSONRPC string         `json:"jsonrpc" enum:"2.0"`
	ID      any            `json:"id,omitempty" doc:"String or number; echoed in the response"`
	Method  string         `json:"method" enum:"SendMessage,SendStreamingMessage,GetTask,ListTasks,CancelTask,SubscribeToTask,GetExtendedAgentCard,message/send,message/stream,tasks/get,tasks/cancel,tasks/resubscribe"`
	Params  map[string]any `json:"params,omitempty"`
}

// RPCResponse documents a JSON-RPC 2.0 response of the A2A endpoint.
type RPCResponse struct {
	JSONRPC string    `json:"jsonrpc" enum:"2.0"`
	ID      any       `json:"id"`
	Result  any       `json:"result,omitempty"`
	Error   *RPCError `json:"error,omitempty"`
}

// RPCError is a JSON-RPC error object (A2A codes: -32001 task not found,
// -32002 not cancelable, -32009 version not supported, ...).
type RPCError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}
