package llm

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Role says who wrote a [Message].
type Role string

// The roles of a conversation. The system prompt normally travels in
// [Request.System]; a RoleSystem message is accepted too and joined to it.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool"
)

// ToolCall is one call of a tool that the model asked for.
type ToolCall struct {
	// ID identifies the call so that its result can be matched to it. Gemini
	// often sends no id; the adapter then makes one up (prefix "gemini-call-")
	// and does not send it back to the provider.
	ID string `json:"id"`
	// Name is the tool's name as declared in [Tool.Name].
	Name string `json:"name"`
	// Arguments is the JSON object of arguments as the model produced it.
	// Models can produce invalid JSON: validate before use.
	Arguments json.RawMessage `json:"arguments"`
	// Signature is an opaque provider token bound to the call (Gemini's thought
	// signature). Keep it with the call in the history: the adapter sends it back
	// unchanged, which some models require.
	Signature string `json:"signature,omitempty"`
}

// Message is one entry of the conversation history.
type Message struct {
	// Role is who wrote the message.
	Role Role `json:"role"`
	// Content is the text of the message; for RoleTool it is the tool's output.
	Content string `json:"content,omitempty"`
	// ToolCalls are the calls an assistant message asked for.
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ToolCallID is, for a RoleTool message, the [ToolCall.ID] it answers.
	ToolCallID string `json:"tool_call_id,omitempty"`
	// ToolName is, for a RoleTool message, the name of the tool that ran
	// (Gemini matches results by name).
	ToolName string `json:"tool_name,omitempty"`
	// IsError marks a RoleTool message whose content is an error report rather
	// than the tool's output.
	IsError bool `json:"is_error,omitempty"`
}

// Tool declares a function the model may call.
type Tool struct {
	// Name is the function name (letters, digits, '_' and '-').
	Name string `json:"name"`
	// Description tells the model what the tool does and when to use it.
	Description string `json:"description"`
	// Parameters is a JSON Schema object describing the arguments; empty
	// means a tool without arguments.
	Parameters json.RawMessage `json:"parameters,omitempty"`
}

// Request is everything one model turn needs.
type Request struct {
	// System is the system prompt (instructions), placed where each provider
	// expects it.
	System string
	// Messages is the conversation so far, oldest first.
	Messages []Message
	// Tools are the functions the model may call in this turn.
	Tools []Tool
	// MaxTokens bounds the length of the answer; 0 means [DefaultMaxTokens].
	MaxTokens int
}

// Usage counts the tokens one turn consumed.
type Usage struct {
	// InputTokens is the prompt size, cached prompt tokens included.
	InputTokens int `json:"input_tokens"`
	// OutputTokens is the size of the answer.
	OutputTokens int `json:"output_tokens"`
}

// Add returns the sum of two usages, for totals over several turns.
func (u Usage) Add(o Usage) Usage {
	return Usage{InputTokens: u.InputTokens + o.InputTokens, OutputTokens: u.OutputTokens + o.OutputTokens}
}

// The normalized values of [Response.StopReason]. A provider reason that does
// not map to one of these is passed through unchanged (for example OpenAI's
// "content_filter" or Gemini's "SAFETY").
const (
	StopEndTurn   = "end_turn"
	StopToolUse   = "tool_use"
	StopMaxTokens = "max_tokens"
)

// Response is the outcome of one model turn.
type Response struct {
	// Content is the whole text of the turn (the concatenation of the deltas
	// given to onText).
	Content string
	// ToolCalls are every tool call of the turn, in the order the model made them.
	ToolCalls []ToolCall
	// Usage is the token count the provider reported.
	Usage Usage
	// StopReason says why the turn ended: StopEndTurn, StopToolUse,
	// StopMaxTokens, or the provider's own word.
	StopReason string
}

// Provider streams one model turn at a time. Implementations are safe for
// concurrent use.
type Provider interface {
	// Name is the canonical provider kind: "openai", "openai-compatible",
	// "anthropic" or "gemini".
	Name() string
	// Model is the model every turn uses.
	Model() string
	// Stream runs one model turn. onText, when not nil, receives the text
	// deltas as they arrive, before Stream returns; the returned Response holds
	// the whole text and every tool call. Errors are [*Error].
	Stream(ctx context.Context, req Request, onText func(delta string)) (Response, error)
}

// Provider kinds accepted by [Config.Provider].
const (
	ProviderOpenAI           = "openai"
	ProviderOpenAICompatible = "openai-compatible"
	ProviderAnthropic        = "anthropic"
	ProviderGemini           = "gemini"
	// ProviderGoogle is an alias of ProviderGemini.
	ProviderGoogle = "google"
)

// Defaults used when a [Config] or [Request] leaves a value at zero.
const (
	DefaultOpenAIModel    = "gpt-5.4-mini"
	DefaultAnthropicModel = "claude-sonnet-5-5"
	DefaultGeminiModel    = "gemini-2.5-flash"
	// DefaultMaxRetries is the number of retries of a 429 or 5xx answer.
	DefaultMaxRetries = 2
	// DefaultTimeout bounds one whole turn, streaming included.
	DefaultTimeout = 5 * time.Minute
	// DefaultMaxTokens bounds the answer when [Request.MaxTokens] is 0
	// (Anthropic requires a bound; the others get it too for consistency).
	DefaultMaxTokens = 4096
)

// Config selects and configures a provider.
type Config struct {
	// Provider is "openai", "anthropic", "gemini" (or "google") or
	// "openai-compatible"; case-insensitive.
	Provider string
	// APIKey authenticates to the provider. Required except for
	// openai-compatible servers, many of which need none. Never logged.
	APIKey string
	// Model names the model; empty picks the provider's default
	// (DefaultOpenAIModel, DefaultAnthropicModel, DefaultGeminiModel).
	// Required for openai-compatible.
	Model string
	// BaseURL overrides the provider's endpoint (a proxy, a gateway, a local
	// server). Required for openai-compatible, e.g. http://localhost:11434/v1.
	BaseURL string
	// MaxRetries is how often a 429, 408/409 or 5xx answer (or a connection
	// failure) is retried by the SDK: 0 means DefaultMaxRetries, negative
	// means never.
	MaxRetries int
	// Timeout bounds one whole turn including retries and streaming: 0 means
	// DefaultTimeout, negative means only the caller's context bounds it.
	Timeout time.Duration
}

// New builds the provider cfg describes. Errors match [ErrConfig].
func New(cfg Config) (Provider, error) {
	kind := strings.ToLower(strings.TrimSpace(cfg.Provider))
	cfg.APIKey = strings.TrimSpace(cfg.APIKey)
	cfg.Model = strings.TrimSpace(cfg.Model)
	cfg.BaseURL = strings.TrimSpace(cfg.BaseURL)

	var err error
	switch kind {
	case ProviderOpenAI:
		if err = requireKey(kind, cfg, "OPENAI_API_KEY"); err != nil {
			return nil, err
		}
		cfg.Model = orDefault(cfg.Model, DefaultOpenAIModel)
	case ProviderOpenAICompatible:
		if cfg.BaseURL == "" {
			return nil, configError(kind, "a base URL (LLM_BASE_URL) is required, e.g. http://localhost:11434/v1 for Ollama")
		}
		if cfg.Model == "" {
			return nil, configError(kind, "a model name (LLM_MODEL) is required: openai-compatible servers have no common default")
		}
	case ProviderAnthropic:
		if err = requireKey(kind, cfg, "ANTHROPIC_API_KEY"); err != nil {
			return nil, err
		}
		cfg.Model = orDefault(cfg.Model, DefaultAnthropicModel)
	case ProviderGemini, ProviderGoogle:
		kind = ProviderGemini
		if err = requireKey(kind, cfg, "GOOGLE_API_KEY or GEMINI_API_KEY"); err != nil {
			return nil, err
		}
		cfg.Model = orDefault(cfg.Model, DefaultGeminiModel)
	case "":
		return nil, fmt.Errorf("%w: no LLM provider configured (set LLM_PROVIDER to openai, anthropic, gemini or openai-compatible)", ErrConfig)
	default:
		return nil, fmt.Errorf("%w: unknown LLM provider %q (want openai, anthropic, gemini, google or openai-compatible)", ErrConfig, cfg.Provider)
	}
	if cfg.BaseURL != "" && !strings.HasPrefix(cfg.BaseURL, "http://") && !strings.HasPrefix(cfg.BaseURL, "https://") {
		return nil, configError(kind, fmt.Sprintf("base URL %q must start with http:// or https://", cfg.BaseURL))
	}

	retries := cfg.MaxRetries
	switch {
	case retries == 0:
		retries = DefaultMaxRetries
	case retries < 0:
		retries = 0
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}

	c := &client{name: kind, model: cfg.Model, timeout: timeout, apiKey: cfg.APIKey}
	switch kind {
	case ProviderOpenAI, ProviderOpenAICompatible:
		c.backend = newOpenAI(cfg, kind == ProviderOpenAICompatible, retries)
	case ProviderAnthropic:
		c.backend = newAnthropic(cfg, retries)
	case ProviderGemini:
		c.backend, err = newGemini(cfg, retries)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %s", ErrConfig, kind, redact(err.Error(), cfg.APIKey))
		}
	}
	return c, nil
}

func requireKey(kind string, cfg Config, fallbacks string) error {
	if cfg.APIKey == "" {
		return configError(kind, "an API key is required (set LLM_API_KEY or "+fallbacks+")")
	}
	return nil
}

func configError(kind, msg string) error {
	return fmt.Errorf("%w: %s: %s", ErrConfig, kind, msg)
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// backend is what each adapter implements: one streamed turn in the vendor's
// format, and the mapping of the vendor's errors.
type backend interface {
	stream(ctx context.Context, req Request, onText func(string)) (Response, error)
	// apiError extracts the HTTP status, message and retry hint of a vendor
	// API error; ok is false when err is not one.
	apiError(err error) (info apiErrorInfo, ok bool)
}

// client is the Provider returned by New: it applies the turn timeout and
// turns every failure into an *Error whose text holds no API key.
type client struct {
	name, model string
	timeout     time.Duration
	apiKey      string
	backend     backend
}

func (c *client) Name() string  { return c.name }
func (c *client) Model() string { return c.model }

func (c *client) Stream(ctx context.Context, req Request, onText func(string)) (Response, error) {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	if req.MaxTokens <= 0 {
		req.MaxTokens = DefaultMaxTokens
	}
	if onText == nil {
		onText = func(string) {}
	}
	resp, err := c.backend.stream(ctx, req, onText)
	if err != nil {
		return resp, c.wrap(ctx, err)
	}
	return resp, nil
}

// systemPrompt joins Request.System and any RoleSystem messages, the form every
// adapter needs.
func systemPrompt(req Request) string {
	parts := []string{}
	if strings.TrimSpace(req.System) != "" {
		parts = append(parts, req.System)
	}
	for _, m := range req.Messages {
		if m.Role == RoleSystem && strings.TrimSpace(m.Content) != "" {
			parts = append(parts, m.Content)
		}
	}
	return strings.Join(parts, "\n\n")
}

// validArgs returns the arguments as a JSON object, "{}" when they are empty or
// not valid JSON (so that a history with a malformed call can still be sent).
func validArgs(args json.RawMessage) json.RawMessage {
	trimmed := strings.TrimSpace(string(args))
	if trimmed == "" || !json.Valid([]byte(trimmed)) || !strings.HasPrefix(trimmed, "{") {
		return json.RawMessage("{}")
	}
	return json.RawMessage(trimmed)
}
