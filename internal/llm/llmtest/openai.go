package llmtest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// openaiWire is the OpenAI chat-completions format.
type openaiWire struct{}

func (openaiWire) route(r *http.Request) (string, bool, bool) {
	// The model and stream flag are in the body; parse fills them.
	return "", false, strings.HasSuffix(r.URL.Path, "/chat/completions")
}

func (openaiWire) parse(body []byte, req *Request) error {
	var in struct {
		Model               string `json:"model"`
		Stream              bool   `json:"stream"`
		MaxTokens           int    `json:"max_tokens"`
		MaxCompletionTokens int    `json:"max_completion_tokens"`
		Messages            []struct {
			Role       string          `json:"role"`
			Content    json.RawMessage `json:"content"`
			ToolCallID string          `json:"tool_call_id"`
			ToolCalls  []struct {
				ID       string `json:"id"`
				Type     string `json:"type"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"messages"`
		Tools []struct {
			Type     string `json:"type"`
			Function struct {
				Name        string          `json:"name"`
				Description string          `json:"description"`
				Parameters  json.RawMessage `json:"parameters"`
			} `json:"function"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return err
	}
	req.Model, req.Stream = in.Model, in.Stream
	req.MaxTokens = in.MaxCompletionTokens
	if req.MaxTokens == 0 {
		req.MaxTokens = in.MaxTokens
	}
	var system []string
	for _, m := range in.Messages {
		text := textOfContent(m.Content)
		switch m.Role {
		case "system", "developer":
			system = append(system, text)
		case "tool":
			req.Messages = append(req.Messages, Message{Role: "tool", ToolResults: []ToolResult{{ToolCallID: m.ToolCallID, Content: text}}})
		default:
			msg := Message{Role: m.Role, Content: text}
			for _, tc := range m.ToolCalls {
				msg.ToolCalls = append(msg.ToolCalls, ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
			}
			req.Messages = append(req.Messages, msg)
		}
	}
	req.System = strings.Join(system, "\n\n")
	for _, t := range in.Tools {
		req.Tools = append(req.Tools, Tool{Name: t.Function.Name, Description: t.Function.Description, Parameters: t.Function.Parameters})
	}
	return nil
}

func (openaiWire) errorBody(status int, msg string) any {
	typ, code := "invalid_request_error", any(nil)
	switch {
	case status == http.StatusUnauthorized:
		code = "invalid_api_key"
	case status == http.StatusTooManyRequests:
		typ, code = "requests", "rate_limit_exceeded"
	case status >= 500:
		typ = "server_error"
	}
	return map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code}}
}

// openaiCalls gives the turn's calls their ids.
func openaiCalls(t Turn) []ToolCall {
	calls := append([]ToolCall(nil), t.ToolCalls...)
	for i := range calls {
		if calls[i].ID == "" {
			calls[i].ID = "call_" + strconv.Itoa(i+1)
		}
	}
	return calls
}

func openaiFinish(t Turn) string {
	if t.StopReason != "" {
		return t.StopReason
	}
	if len(t.ToolCalls) > 0 {
		return "tool_calls"
	}
	return "stop"
}

func openaiUsage(t Turn) map[string]any {
	return map[string]any{
		"prompt_tokens":     t.Usage.InputTokens,
		"completion_tokens": t.Usage.OutputTokens,
		"total_tokens":      t.Usage.InputTokens + t.Usage.OutputTokens,
	}
}

func (openaiWire) complete(req Request, t Turn) any {
	msg := map[string]any{"role": "assistant", "content": nil, "refusal": nil}
	if text := textOf(t); text != "" {
		msg["content"] = text
	}
	if calls := openaiCalls(t); len(calls) > 0 {
		var out []map[string]any
		for _, c := range calls {
			out = append(out, map[string]any{
				"id": c.ID, "type": "function",
				"function": map[string]any{"name": c.Name, "arguments": argsOrEmpty(c)},
			})
		}
		msg["tool_calls"] = out
	}
	return map[string]any{
		"id": "chatcmpl-llmtest", "object": "chat.completion", "created": time.Now().Unix(), "model": req.Model,
		"choices": []any{map[string]any{"index": 0, "message": msg, "finish_reason": openaiFinish(t), "logprobs": nil}},
		"usage":   openaiUsage(t),
	}
}

func (openaiWire) streamContentType() string { return "text/event-stream" }

func (openaiWire) stream(sw *sse, req Request, t Turn) {
	created := time.Now().Unix()
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{
			"id": "chatcmpl-llmtest", "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": nil}},
		}
	}
	sw.send("", chunk(map[string]any{"role": "assistant", "content": ""}, nil))
	for i, piece := range chunksOf(t) {
		sw.send("", chunk(map[string]any{"content": piece}, nil))
		if i == 0 && !sw.wait(t) {
			return
		}
	}
	if textOf(t) == "" && !sw.wait(t) {
		return
	}
	// Every call is announced (index, id, name), then the argument fragments
	// follow interleaved across calls: deltas are keyed by index, and a client
	// must not assume one call finishes before the next starts.
	calls := openaiCalls(t)
	frags := make([][]string, len(calls))
	rounds := 0
	for i, c := range calls {
		frags[i] = splitArgs(argsOrEmpty(c))
		rounds = max(rounds, len(frags[i]))
		sw.send("", chunk(map[string]any{"tool_calls": []any{map[string]any{
			"index": i, "id": c.ID, "type": "function",
			"function": map[string]any{"name": c.Name, "arguments": ""},
		}}}, nil))
	}
	for r := range rounds {
		for i := range calls {
			if r < len(frags[i]) {
				sw.send("", chunk(map[string]any{"tool_calls": []any{map[string]any{
					"index": i, "function": map[string]any{"arguments": frags[i][r]},
				}}}, nil))
			}
		}
	}
	sw.send("", chunk(map[string]any{}, openaiFinish(t)))
	var body struct {
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	if json.Unmarshal(req.Body, &body) == nil && body.StreamOptions.IncludeUsage {
		sw.send("", map[string]any{
			"id": "chatcmpl-llmtest", "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"choices": []any{}, "usage": openaiUsage(t),
		})
	}
	sw.send("", "[DONE]")
}
