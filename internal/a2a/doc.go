// Package a2a serves Kubently's agent-to-agent transports over the agent's
// Investigate stream, on the API's single port:
//
//   - POST /a2a/sessions: the API reference's simple transport, a JSON
//     question answered with a text/event-stream of tool_call, content, done
//     and error events (see docs/a2a.md).
//   - The standard A2A protocol (JSON-RPC binding) at /a2a and /a2a/, built on
//     the official Go SDK (github.com/a2aproject/a2a-go/v2): A2A 1.0 method
//     names for requests with "A2A-Version: 1.0", the 0.3 names
//     (message/stream, tasks/get, ...) for requests that send no version or
//     0.3. The public agent card is served at /.well-known/agent-card.json,
//     /a2a/.well-known/agent-card.json and the legacy /.well-known/agent.json.
//
// Routes returns httpapi routes, so authentication (X-API-Key or OIDC), rate
// limits and error bodies are applied by httpapi exactly as on every REST
// route; this package reads the caller from auth.FromContext.
//
// A2A tasks live in the shared store (store.KindTask), scoped to the principal
// that created them: with Redis every replica sees them, with the embedded
// store they survive a restart. The package also closes the SDK's known gaps:
// it validates A2A-Version, maps the principal to the SDK's call-context
// user, answers ListTasks with an empty list instead of null, honours
// historyLength on send, answers errors that happen before a stream starts as
// a plain JSON-RPC error instead of a 200 event stream, serves the card with
// cache headers, and checks task ownership before SubscribeToTask, whose SDK
// implementation does not.
package a2a
