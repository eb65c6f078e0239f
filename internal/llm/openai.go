package llm

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/shared"
)

// openaiBackend speaks OpenAI chat completions, for OpenAI itself and for
// OpenAI-compatible servers.
type openaiBackend struct {
	client     openai.Client
	model      string
	compatible bool
}

func newOpenAI(cfg Config, compatible bool, retries int) *openaiBackend {
	opts := []option.RequestOption{
		// Explicit options come after the SDK's environment defaults and win
		// over them, so OPENAI_BASE_URL or OPENAI_API_KEY cannot redirect the
		// client behind the configuration's back.
		option.WithAPIKey(cfg.APIKey),
		option.WithMaxRetries(retries),
	}
	if cfg.BaseURL != "" {
		opts = append(opts, option.WithBaseURL(cfg.BaseURL))
	} else {
		opts = append(opts, option.WithBaseURL("https://api.openai.com/v1/"))
	}
	if compatible && cfg.APIKey == "" {
		// Local servers (Ollama, LM Studio, vLLM without --api-key) need no
		// credentials; send no Authorization header at all.
		opts = append(opts, option.WithHeaderDel("Authorization"))
	}
	return &openaiBackend{client: openai.NewClient(opts...), model: cfg.Model, compatible: compatible}
}

func (b *openaiBackend) params(req Request) openai.ChatCompletionNewParams {
	p := openai.ChatCompletionNewParams{
		Model:         shared.ChatModel(b.model),
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
	if b.compatible {
		// max_tokens is what every compatible server understands;
		// OpenAI's newer models accept only max_completion_tokens.
		p.MaxTokens = openai.Int(int64(req.MaxTokens))
	} else {
		p.MaxCompletionTokens = openai.Int(int64(req.MaxTokens))
	}
	if sys := systemPrompt(req); sys != "" {
		p.Messages = append(p.Messages, openai.SystemMessage(sys))
	}
	for _, m := range req.Messages {
		switch m.Role {
		case RoleSystem:
			// Joined into the leading system message above.
		case RoleUser:
			p.Messages = append(p.Messages, openai.UserMessage(m.Content))
		case RoleAssistant:
			a := openai.ChatCompletionAssistantMessageParam{}
			if m.Content != "" {
				a.Content.OfString = param.NewOpt(m.Content)
			}
			for _, tc := range m.ToolCalls {
				a.ToolCalls = append(a.ToolCalls, openai.ChatCompletionMessageToolCallUnionParam{
					OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{
						ID: tc.ID,
						Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{
							Name:      tc.Name,
							Arguments: string(validArgs(tc.Arguments)),
						},
					},
				})
			}
			p.Messages = append(p.Messages, openai.ChatCompletionMessageParamUnion{OfAssistant: &a})
		case RoleTool:
			content := m.Content
			if m.IsError && !strings.HasPrefix(content, "error") {
				content = "error: " + content
			}
			p.Messages = append(p.Messages, openai.ToolMessage(content, m.ToolCallID))
		}
	}
	for _, t := range req.Tools {
		fn := shared.FunctionDefinitionParam{Name: t.Name}
		if t.Description != "" {
			fn.Description = openai.String(t.Description)
		}
		if len(t.Parameters) > 0 {
			var schema map[string]any
			if err := json.Unmarshal(t.Parameters, &schema); err == nil {
				fn.Parameters = shared.FunctionParameters(schema)
			}
		}
		if fn.Parameters == nil {
			fn.Parameters = shared.FunctionParameters{"type": "object", "properties": map[string]any{}}
		}
		p.Tools = append(p.Tools, openai.ChatCompletionFunctionTool(fn))
	}
	return p
}

func (b *openaiBackend) stream(ctx context.Context, req Request, onText func(string)) (Response, error) {
	stream := b.client.Chat.Completions.NewStreaming(ctx, b.params(req))
	defer stream.Close()

	var (
		resp  Response
		text  strings.Builder
		calls []*ToolCall
		// byIndex maps a tool call's stream index to its position in calls.
		byIndex = map[int64]int{}
		args    []*strings.Builder
		finish  string
	)
	for stream.Next() {
		chunk := stream.Current()
		if chunk.JSON.Usage.Valid() && (chunk.Usage.PromptTokens > 0 || chunk.Usage.CompletionTokens > 0) {
			resp.Usage = Usage{InputTokens: int(chunk.Usage.PromptTokens), OutputTokens: int(chunk.Usage.CompletionTokens)}
		}
		for _, choice := range chunk.Choices {
			if choice.Index != 0 {
				continue
			}
			if d := choice.Delta.Content; d != "" {
				text.WriteString(d)
				onText(d)
			}
			for _, tc := range choice.Delta.ToolCalls {
				pos, seen := byIndex[tc.Index]
				// A server that numbers every call 0 still gives each a new id.
				if seen && tc.ID != "" && calls[pos].ID != "" && calls[pos].ID != tc.ID {
					seen = false
				}
				if !seen {
					calls = append(calls, &ToolCall{})
					args = append(args, &strings.Builder{})
					pos = len(calls) - 1
					byIndex[tc.Index] = pos
				}
				if tc.ID != "" {
					calls[pos].ID = tc.ID
				}
				if tc.Function.Name != "" {
					calls[pos].Name += tc.Function.Name
				}
				args[pos].WriteString(tc.Function.Arguments)
			}
			if choice.FinishReason != "" {
				finish = choice.FinishReason
			}
		}
	}
	if err := stream.Err(); err != nil {
		return Response{}, err
	}
	if finish == "" {
		return Response{}, errIncomplete()
	}
	resp.Content = text.String()
	for i, c := range calls {
		c.Arguments = json.RawMessage(strings.TrimSpace(args[i].String()))
		if len(c.Arguments) == 0 {
			c.Arguments = json.RawMessage("{}")
		}
		if c.ID == "" {
			c.ID = "call_" + c.Name + "_" + strconv.Itoa(i)
		}
		resp.ToolCalls = append(resp.ToolCalls, *c)
	}
	switch finish {
	case "stop":
		resp.StopReason = StopEndTurn
	case "tool_calls", "function_call":
		resp.StopReason = StopToolUse
	case "length":
		resp.StopReason = StopMaxTokens
	default:
		resp.StopReason = finish
	}
	if len(resp.ToolCalls) > 0 && resp.StopReason == StopEndTurn {
		// Some compatible servers end a tool-calling turn with "stop".
		resp.StopReason = StopToolUse
	}
	return resp, nil
}

func (b *openaiBackend) apiError(err error) (apiErrorInfo, bool) {
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		return apiErrorInfo{}, false
	}
	info := apiErrorInfo{status: apiErr.StatusCode, message: apiErr.Message}
	if info.message == "" {
		info.message = apiErr.Error()
	}
	if apiErr.Code != "" && !strings.Contains(info.message, apiErr.Code) {
		info.message += " [" + apiErr.Code + "]"
	}
	if apiErr.Response != nil {
		info.retryAfter = retryAfter(apiErr.Response.Header)
	}
	return info, true
}
