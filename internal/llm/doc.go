// Package llm is Kubently's small, provider-neutral view of a chat model that
// can call tools. The agent loop talks only to [Provider]; adapters translate a
// [Request] into each vendor's wire format through the vendor's official Go SDK
// and translate the streamed answer back into a [Response]:
//
//   - "openai": OpenAI chat completions (github.com/openai/openai-go/v3);
//   - "openai-compatible": the same SDK pointed at any server that speaks the
//     chat-completions API (Ollama, vLLM, LM Studio, LiteLLM, ...) through
//     [Config.BaseURL], where the API key is optional;
//   - "anthropic": the Messages API with SSE streaming
//     (github.com/anthropics/anthropic-sdk-go/v2);
//   - "gemini" (alias "google"): the Gemini API generateContent endpoints
//     (google.golang.org/genai) with the API-key backend.
//
// Every adapter streams, so text reaches the caller as it is produced, and
// returns every tool call of the turn (parallel tool calls included). Retries
// of 429 and 5xx answers are left to each SDK's own retry logic, bounded by
// [Config.MaxRetries]; a whole turn is bounded by the caller's context and by
// [Config.Timeout], so a provider that stops answering cannot hang the agent.
// Failures come back as [*Error], which matches [ErrAuth], [ErrRateLimited],
// [ErrUnavailable], [ErrTimeout], [ErrBadRequest] or [ErrProvider] with
// errors.Is, so callers can report them clearly. API keys never appear in
// error text.
//
// Tests exercise the real SDKs against the scripted fake servers of package
// llmtest, which speak each provider's HTTP wire format.
package llm
