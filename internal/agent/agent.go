// Package agent answers natural-language questions about clusters ("why is
// checkout crashlooping?") by investigating with real kubectl commands run
// through the executors, under the caller's own identity, policy and audit.
// With an LLM configured it runs a bounded tool-calling loop; without one it
// runs the deterministic analyzers and writes the diagnosis from their
// findings. Transports (POST /a2a/sessions, the A2A protocol, MCP) consume
// the Investigate stream; the agent knows nothing about them.
package agent

import (
	"context"
	"time"

	"github.com/kubently/kubently/internal/auth"
)

// Event types of an investigation stream, as in the API reference.
const (
	EventToolCall   = "tool_call"
	EventToolResult = "tool_result"
	EventContent    = "content"
	EventDone       = "done"
	EventError      = "error"
)

// Event is one step of an investigation, streamed as it happens.
type Event struct {
	Type       string         `json:"type"`
	Tool       string         `json:"tool,omitempty"`
	CallID     string         `json:"call_id,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
	// Content is a piece of the answer (type content), streamed as produced.
	Content string `json:"content,omitempty"`
	// Status and Summary describe a tool's outcome (type tool_result); the
	// full tool output goes to the model, not to the stream.
	Status  string `json:"status,omitempty"`
	Summary string `json:"summary,omitempty"`
	// Message explains an error (type error).
	Message   string    `json:"message,omitempty"`
	Timestamp time.Time `json:"timestamp"`
	// ThreadID is set on the done event so callers can continue the conversation.
	ThreadID string `json:"thread_id,omitempty"`
}

// Request is one question.
type Request struct {
	Principal       *auth.Principal
	Query           string
	ClusterID       string // optional: the cluster to focus on
	ThreadID        string // optional: continue a conversation of this principal
	CorrelationID   string
	ServiceIdentity string // X-Service-Identity of a calling agent, for the audit log
	Source          string // "a2a", "a2a-rpc", "mcp": recorded in the audit log
}

// Investigator is what transports call. Investigate streams events through
// emit (never concurrently) and always ends with exactly one done or error
// event, also when ctx ends; it returns the final answer text.
type Investigator interface {
	Investigate(ctx context.Context, req Request, emit func(Event)) (answer string, err error)
}
