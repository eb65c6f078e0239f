package llm

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
)

// anthropicBackend speaks the Anthropic Messages API with SSE streaming.
type anthropicBackend struct {
	client anthropic.Client
	model  string
}

func newAnthropic(cfg Config, retries int) *anthropicBackend {
	opts := []option.RequestOption{
		// The configuration is the only source of credentials and endpoint:
		// no ANTHROPIC_* variable, profile file or federation is consulted.
		option.WithoutEnvironmentDefaults(),
		option.WithAPIKey(cfg.APIKey),
		option.WithMaxRetries(retries),
	}
	if cfg.BaseURL != "" {
		// The SDK appends /v1/messages itself; accept a base URL that already
		// ends in /v1, as users often copy it that way.
		base := strings.TrimSuffix(strings.TrimRight(cfg.BaseURL, "/"), "/v1")
		opts = append(opts, option.WithBaseURL(base+"/"))
	}
	return &anthropicBackend{client: anthropic.NewClient(opts...), model: cfg.Model}
}

func (b *anthropicBackend) params(req Request) anthropic.MessageNewParams {
	p := anthropic.MessageNewParams{
		Model:     anthropic.Model(b.model),
		MaxTokens: int64(req.MaxTokens),
	}
	if sys := systemPrompt(req); sys != "" {
		p.System = []anthropic.TextBlockParam{{Text: sys}}
	}

	// Anthropic wants user and assistant turns; tool results are content
	// blocks of a user turn, and all results of one parallel call must share
	// that turn. Consecutive messages of one side are therefore merged.
	type turn struct {
		assistant bool
		blocks    []anthropic.ContentBlockParamUnion
	}
	var turns []turn
	add := func(assistant bool, blocks ...anthropic.ContentBlockParamUnion) {
		if len(blocks) == 0 {
			return
		}
		if n := len(turns); n > 0 && turns[n-1].assistant == assistant {
			turns[n-1].blocks = append(turns[n-1].blocks, blocks...)
			return
		}
		turns = append(turns, turn{assistant: assistant, blocks: blocks})
	}
	for _, m := range req.Messages {
		switch m.Role {
		case RoleUser:
			if strings.TrimSpace(m.Content) != "" {
				add(false, anthropic.NewTextBlock(m.Content))
			}
		case RoleAssistant:
			var blocks []anthropic.ContentBlockParamUnion
			if strings.TrimSpace(m.Content) != "" {
				blocks = append(blocks, anthropic.NewTextBlock(m.Content))
			}
			for _, tc := range m.ToolCalls {
				blocks = append(blocks, anthropic.NewToolUseBlock(tc.ID, validArgs(tc.Arguments), tc.Name))
			}
			add(true, blocks...)
		case RoleTool:
			add(false, anthropic.NewToolResultBlock(m.ToolCallID, m.Content, m.IsError))
		}
	}
	for _, t := range turns {
		if t.assistant {
			p.Messages = append(p.Messages, anthropic.NewAssistantMessage(t.blocks...))
		} else {
			p.Messages = append(p.Messages, anthropic.NewUserMessage(t.blocks...))
		}
	}

	for _, t := range req.Tools {
		tool := anthropic.ToolParam{Name: t.Name, InputSchema: anthropicSchema(t.Parameters)}
		if t.Description != "" {
			tool.Description = anthropic.String(t.Description)
		}
		p.Tools = append(p.Tools, anthropic.ToolUnionParam{OfTool: &tool})
	}
	return p
}

// anthropicSchema splits a JSON Schema object into the SDK's input_schema
// shape: properties and required as fields, every other keyword kept as is.
func anthropicSchema(raw json.RawMessage) anthropic.ToolInputSchemaParam {
	var schema map[string]any
	if len(raw) == 0 || json.Unmarshal(raw, &schema) != nil {
		return anthropic.ToolInputSchemaParam{Properties: map[string]any{}}
	}
	out := anthropic.ToolInputSchemaParam{Properties: schema["properties"]}
	if out.Properties == nil {
		out.Properties = map[string]any{}
	}
	if req, ok := schema["required"].([]any); ok {
		for _, r := range req {
			if s, ok := r.(string); ok {
				out.Required = append(out.Required, s)
			}
		}
	}
	for k, v := range schema {
		switch k {
		case "type", "properties", "required":
		default:
			if out.ExtraFields == nil {
				out.ExtraFields = map[string]any{}
			}
			out.ExtraFields[k] = v
		}
	}
	return out
}

func (b *anthropicBackend) stream(ctx context.Context, req Request, onText func(string)) (Response, error) {
	stream := b.client.Messages.NewStreaming(ctx, b.params(req))
	defer stream.Close()

	var msg anthropic.Message
	stopped := false
	for stream.Next() {
		event := stream.Current()
		if err := msg.Accumulate(event); err != nil {
			return Response{}, err
		}
		if event.Type == "message_stop" {
			stopped = true
		}
		if event.Type == "content_block_delta" && event.Delta.Type == "text_delta" && event.Delta.Text != "" {
			onText(event.Delta.Text)
		}
	}
	if err := stream.Err(); err != nil {
		return Response{}, err
	}
	if !stopped {
		return Response{}, errIncomplete()
	}

	var resp Response
	var text strings.Builder
	for _, block := range msg.Content {
		switch block.Type {
		case "text":
			text.WriteString(block.Text)
		case "tool_use":
			args := json.RawMessage(strings.TrimSpace(string(block.Input)))
			if len(args) == 0 {
				args = json.RawMessage("{}")
			}
			resp.ToolCalls = append(resp.ToolCalls, ToolCall{ID: block.ID, Name: block.Name, Arguments: args})
		}
	}
	resp.Content = text.String()
	u := msg.Usage
	resp.Usage = Usage{
		InputTokens:  int(u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens),
		OutputTokens: int(u.OutputTokens),
	}
	switch reason := string(msg.StopReason); reason {
	case "end_turn", "stop_sequence":
		resp.StopReason = StopEndTurn
	case "tool_use":
		resp.StopReason = StopToolUse
	case "max_tokens":
		resp.StopReason = StopMaxTokens
	case "":
		resp.StopReason = StopEndTurn
		if len(resp.ToolCalls) > 0 {
			resp.StopReason = StopToolUse
		}
	default:
		resp.StopReason = reason
	}
	return resp, nil
}

func (b *anthropicBackend) apiError(err error) (apiErrorInfo, bool) {
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) {
		return apiErrorInfo{}, false
	}
	info := apiErrorInfo{status: apiErr.StatusCode, message: apiErr.Message}
	typ := string(apiErr.Type())
	if info.message == "" {
		info.message = typ
	} else if typ != "" {
		info.message += " [" + typ + "]"
	}
	// An error event inside a 200 stream carries its meaning in its type.
	switch typ {
	case "authentication_error", "permission_error":
		info.kind = ErrAuth
	case "rate_limit_error":
		info.kind = ErrRateLimited
	case "overloaded_error", "api_error", "timeout_error":
		info.kind = ErrUnavailable
	case "invalid_request_error", "not_found_error", "request_too_large":
		info.kind = ErrBadRequest
	}
	if apiErr.Response != nil {
		info.retryAfter = retryAfter(apiErr.Response.Header)
	}
	return info, true
}
