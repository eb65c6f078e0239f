// Package api holds the wire types shared by every Kubently binary: the REST
// request and response bodies, the executor stream envelope, the error body and
// its codes. It depends only on the standard library so that the API server, the
// executor, the CLI and the tests all speak exactly the same types.
package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Session statuses, as in the API reference.
const (
	SessionActive  = "active"
	SessionIdle    = "idle"
	SessionExpired = "expired"
	SessionClosed  = "closed"
)

// Result statuses. pending and running are transient; the other three are final.
const (
	StatusPending   = "pending"
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
	StatusTimeout   = "timeout"
)

// FinalStatus reports whether a result status can no longer change.
func FinalStatus(s string) bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusTimeout
}

// Cluster presence statuses.
const (
	ClusterConnected    = "connected"
	ClusterDisconnected = "disconnected"
)

// Time is a timestamp that travels as RFC 3339 in UTC with second precision
// ("2024-01-20T10:30:45Z"), the format of the API reference. It decodes any
// RFC 3339 value.
type Time struct{ time.Time }

// NewTime wraps t as a wire timestamp.
func NewTime(t time.Time) Time { return Time{t.UTC()} }

// TimePtr wraps t as an optional wire timestamp; the zero time becomes nil.
func TimePtr(t time.Time) *Time {
	if t.IsZero() {
		return nil
	}
	v := NewTime(t)
	return &v
}

// TimeFormat is the layout of every timestamp on the wire.
const TimeFormat = "2006-01-02T15:04:05Z07:00"

// MarshalJSON renders the time as RFC 3339 UTC seconds.
func (t Time) MarshalJSON() ([]byte, error) {
	return json.Marshal(t.UTC().Truncate(time.Second).Format(TimeFormat))
}

// UnmarshalJSON accepts RFC 3339 with or without fractional seconds.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	t.Time = v.UTC()
	return nil
}

// CreateSessionRequest is the body of POST /debug/session.
type CreateSessionRequest struct {
	ClusterID  string         `json:"cluster_id" required:"true" doc:"Target cluster (a DNS-1123 label)"`
	Metadata   map[string]any `json:"metadata,omitempty" doc:"Free-form metadata such as user and correlation_id"`
	TTLSeconds *int           `json:"ttl_seconds,omitempty" doc:"Session lifetime in seconds (60..86400); slides forward with activity"`
}

// Session is a debug session as returned by the session endpoints.
type Session struct {
	SessionID        string         `json:"session_id"`
	ClusterID        string         `json:"cluster_id"`
	Status           string         `json:"status" enum:"active,idle,expired,closed"`
	CreatedAt        Time           `json:"created_at"`
	ExpiresAt        Time           `json:"expires_at"`
	LastActivity     *Time          `json:"last_activity,omitempty"`
	CommandsExecuted int            `json:"commands_executed"`
	ClosedAt         *Time          `json:"closed_at,omitempty"`
	CorrelationID    string         `json:"correlation_id,omitempty"`
	Owner            string         `json:"owner,omitempty" doc:"Principal that created the session"`
	Metadata         map[string]any `json:"metadata,omitempty"`
}

// CloseSessionResponse is the body of DELETE /debug/session/{session_id}.
type CloseSessionResponse struct {
	SessionID string `json:"session_id"`
	Status    string `json:"status" enum:"closed"`
	ClosedAt  Time   `json:"closed_at"`
}

// SessionList is the body of GET /debug/sessions.
type SessionList struct {
	Sessions []Session `json:"sessions"`
	Total    int       `json:"total" doc:"Number of sessions matching the filters, before limit"`
}

// ExecuteRequest is the body of POST /debug/execute.
type ExecuteRequest struct {
	ClusterID   string   `json:"cluster_id" required:"true"`
	SessionID   string   `json:"session_id" required:"true"`
	CommandType string   `json:"command_type" required:"true" doc:"kubectl verb: get, describe, explain, version, cluster-info, logs, events, top, api-resources, api-versions, rollout, auth"`
	Args        []string `json:"args" required:"true" doc:"Arguments after the verb"`
	Timeout     *int     `json:"timeout,omitempty" doc:"Seconds (default 30, max 300)"`
	Async       bool     `json:"async,omitempty" doc:"Return 202 at once and poll GET /debug/result/{result_id}"`
}

// Result is the outcome of one command. The same type travels from the
// executor to the API (POST /executor/results) and from the API to clients,
// so status, exit code, output and error are never lost on the way.
type Result struct {
	ResultID        string  `json:"result_id"`
	SessionID       string  `json:"session_id"`
	ClusterID       string  `json:"cluster_id"`
	Status          string  `json:"status" enum:"pending,running,completed,failed,timeout"`
	Output          string  `json:"output"`
	Error           *string `json:"error"`
	ExitCode        *int    `json:"exit_code"`
	ExecutionTimeMs int64   `json:"execution_time_ms"`
	ExecutedAt      *Time   `json:"executed_at"`
	Truncated       bool    `json:"truncated,omitempty" doc:"Output was cut at the executor's cap"`
	Warnings        string  `json:"warnings,omitempty" doc:"What kubectl printed on stderr for a successful command, e.g. No resources found in default namespace."`
	Denial          *Denial `json:"denial,omitempty" doc:"Set when the executor's security mode refused the command"`
}

// Denial says why a security mode refused a command.
type Denial struct {
	Reason       string `json:"reason"`
	SecurityMode string `json:"security_mode"`
}

// AsyncAccepted is the 202 body of an async POST /debug/execute.
type AsyncAccepted struct {
	ResultID  string `json:"result_id"`
	SessionID string `json:"session_id"`
	ClusterID string `json:"cluster_id"`
	Status    string `json:"status" enum:"pending"`
}

// Cluster is one entry of GET /clusters and the body of
// GET /clusters/{cluster_id}/status.
type Cluster struct {
	ClusterID         string   `json:"cluster_id"`
	Name              string   `json:"name"`
	Status            string   `json:"status" enum:"connected,disconnected"`
	AgentVersion      string   `json:"agent_version"`
	LastSeen          *Time    `json:"last_seen"`
	KubernetesVersion string   `json:"kubernetes_version,omitempty"`
	SecurityMode      string   `json:"security_mode,omitempty"`
	AllowedVerbs      []string `json:"allowed_verbs,omitempty"`
	Executors         int      `json:"executors" doc:"Number of live executor streams"`
	ActiveSessions    int      `json:"active_sessions"`
	QueueDepth        int      `json:"queue_depth"`
}

// ClusterList is the body of GET /clusters.
type ClusterList struct {
	Clusters []Cluster `json:"clusters"`
}

// AgentToken is the 201 body of POST /admin/agents/{cluster_id}/token. The
// token is shown once; only its hash is stored.
type AgentToken struct {
	ClusterID string `json:"cluster_id"`
	Token     string `json:"token"`
	CreatedAt Time   `json:"created_at"`
}

// Agent is one registered executor identity in GET /admin/agents.
type Agent struct {
	ClusterID string `json:"cluster_id"`
	CreatedAt *Time  `json:"created_at"`
	Source    string `json:"source" enum:"api,config" doc:"api: created through the admin API; config: a static token from configuration"`
	Status    string `json:"status" enum:"connected,disconnected"`
}

// AgentList is the body of GET /admin/agents.
type AgentList struct {
	Agents []Agent `json:"agents"`
}

// Health is the body of GET /health.
type Health struct {
	Status        string `json:"status" enum:"healthy,unhealthy"`
	Version       string `json:"version"`
	Timestamp     Time   `json:"timestamp"`
	UptimeSeconds int64  `json:"uptime_seconds"`
	Store         string `json:"store,omitempty" doc:"Store backend and, when unhealthy, why"`
}

// AuditEntry records one execute attempt, allowed or denied. It never holds
// command output.
type AuditEntry struct {
	ID            string   `json:"id"`
	Time          Time     `json:"time"`
	Principal     string   `json:"principal"`
	ClusterID     string   `json:"cluster_id"`
	SessionID     string   `json:"session_id,omitempty"`
	Argv          []string `json:"argv"`
	Outcome       string   `json:"outcome" enum:"pending,running,completed,failed,timeout,denied,unavailable" doc:"Final status of the command, or denied/unavailable when it never ran"`
	Reason        string   `json:"reason,omitempty"`
	ExitCode      *int     `json:"exit_code"`
	DurationMs    int64    `json:"duration_ms"`
	CorrelationID string   `json:"correlation_id,omitempty"`
	RequestID     string   `json:"request_id,omitempty"`
	Source        string   `json:"source,omitempty" doc:"rest, agent, a2a or mcp"`
}

// AuditList is the body of GET /audit.
type AuditList struct {
	Entries []AuditEntry `json:"entries"`
}

// Error codes of the public error body.
const (
	CodeInvalidRequest     = "invalid_request"
	CodeUnauthorized       = "unauthorized"
	CodeForbidden          = "forbidden"
	CodeNotFound           = "not_found"
	CodeConflict           = "conflict"
	CodeTooLarge           = "payload_too_large"
	CodeRateLimited        = "rate_limited"
	CodeInternal           = "internal_error"
	CodeServiceUnavailable = "service_unavailable"
)

// Error is the body of every error response.
type Error struct {
	Code    string         `json:"error"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// Error makes *Error usable as a Go error on the client side.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Executor stream protocol. The executor opens GET /executor/stream and
// receives Server-Sent Events: "command" events carry a Command, "ping" events
// are keepalives sent at least every 15 seconds.
const (
	EventCommand = "command"
	EventPing    = "ping"
	EventHello   = "hello"
)

// Executor request headers, sent on the stream request so the API knows what
// is connected.
const (
	HeaderClusterID         = "X-Cluster-ID"
	HeaderExecutorID        = "X-Executor-ID"
	HeaderExecutorVersion   = "X-Executor-Version"
	HeaderKubernetesVersion = "X-Kubernetes-Version"
	HeaderSecurityMode      = "X-Security-Mode"
	HeaderAllowedVerbs      = "X-Allowed-Verbs"
)

// Client request headers.
const (
	HeaderAPIKey        = "X-API-Key"
	HeaderRequestID     = "X-Request-ID"
	HeaderCorrelationID = "X-Correlation-ID"
)

// Command is one unit of work sent to an executor.
type Command struct {
	CommandID     string   `json:"command_id"`
	ClusterID     string   `json:"cluster_id"`
	SessionID     string   `json:"session_id"`
	CommandType   string   `json:"command_type"`
	Args          []string `json:"args"`
	TimeoutMs     int64    `json:"timeout_ms" doc:"Time left for this command when it was sent"`
	Deadline      Time     `json:"deadline"`
	Principal     string   `json:"principal"`
	CorrelationID string   `json:"correlation_id,omitempty"`
	Delivery      int      `json:"delivery" doc:"1 for the first delivery, higher for re-deliveries"`
}

// Hello is the first event on an executor stream: what the API registered.
type Hello struct {
	ClusterID   string `json:"cluster_id"`
	StreamID    string `json:"stream_id"`
	KeepaliveMs int64  `json:"keepalive_ms"`
}

// Argv joins a command type and its arguments for display and audit.
func Argv(commandType string, args []string) []string {
	out := make([]string, 0, len(args)+1)
	if commandType != "" {
		out = append(out, commandType)
	}
	return append(out, args...)
}

// ArgvString renders an argv as a single kubectl-like line for messages.
func ArgvString(argv []string) string {
	return fmt.Sprintf("kubectl %s", strings.Join(argv, " "))
}
