package llmtest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// anthropicWire is the Anthropic Messages format.
type anthropicWire struct{}

func (anthropicWire) route(r *http.Request) (string, bool, bool) {
	return "", false, r.URL.Path == "/v1/messages"
}

type anthropicBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	IsError   bool            `json:"is_error"`
}

// anthropicBlocks reads a content value: a string or a list of blocks.
func anthropicBlocks(raw json.RawMessage) ([]anthropicBlock, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []anthropicBlock{{Type: "text", Text: s}}, nil
	}
	var blocks []anthropicBlock
	err := json.Unmarshal(raw, &blocks)
	return blocks, err
}

func (anthropicWire) parse(body []byte, req *Request) error {
	var in struct {
		Model     string          `json:"model"`
		Stream    bool            `json:"stream"`
		MaxTokens int             `json:"max_tokens"`
		System    json.RawMessage `json:"system"`
		Messages  []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		Tools []struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			InputSchema json.RawMessage `json:"input_schema"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return err
	}
	req.Model, req.Stream, req.MaxTokens = in.Model, in.Stream, in.MaxTokens
	req.System = textOfContent(in.System)
	for _, m := range in.Messages {
		blocks, err := anthropicBlocks(m.Content)
		if err != nil {
			return err
		}
		msg := Message{Role: m.Role}
		var text strings.Builder
		for _, b := range blocks {
			switch b.Type {
			case "text":
				text.WriteString(b.Text)
			case "tool_use":
				msg.ToolCalls = append(msg.ToolCalls, ToolCall{ID: b.ID, Name: b.Name, Arguments: string(b.Input)})
			case "tool_result":
				msg.ToolResults = append(msg.ToolResults, ToolResult{ToolCallID: b.ToolUseID, Content: textOfContent(b.Content), IsError: b.IsError})
			}
		}
		msg.Content = text.String()
		if m.Role == "user" && len(msg.ToolResults) > 0 && msg.Content == "" {
			msg.Role = "tool"
		}
		req.Messages = append(req.Messages, msg)
	}
	for _, t := range in.Tools {
		req.Tools = append(req.Tools, Tool{Name: t.Name, Description: t.Description, Parameters: t.InputSchema})
	}
	return nil
}

func (anthropicWire) errorBody(status int, msg string) any {
	typ := "invalid_request_error"
	switch {
	case status == http.StatusUnauthorized:
		typ = "authentication_error"
	case status == http.StatusForbidden:
		typ = "permission_error"
	case status == http.StatusNotFound:
		typ = "not_found_error"
	case status == http.StatusTooManyRequests:
		typ = "rate_limit_error"
	case status == 529:
		typ = "overloaded_error"
	case status >= 500:
		typ = "api_error"
	}
	return map[string]any{"type": "error", "error": map[string]any{"type": typ, "message": msg}, "request_id": "req_llmtest"}
}

func anthropicCalls(t Turn) []ToolCall {
	calls := append([]ToolCall(nil), t.ToolCalls...)
	for i := range calls {
		if calls[i].ID == "" {
			calls[i].ID = "toolu_" + strconv.Itoa(i+1)
		}
	}
	return calls
}

func anthropicStop(t Turn) string {
	if t.StopReason != "" {
		return t.StopReason
	}
	if len(t.ToolCalls) > 0 {
		return "tool_use"
	}
	return "end_turn"
}

func anthropicUsage(input, output int) map[string]any {
	return map[string]any{
		"input_tokens": input, "output_tokens": output,
		"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
	}
}

func (anthropicWire) complete(req Request, t Turn) any {
	content := []any{}
	if text := textOf(t); text != "" {
		content = append(content, map[string]any{"type": "text", "text": text})
	}
	for _, c := range anthropicCalls(t) {
		content = append(content, map[string]any{"type": "tool_use", "id": c.ID, "name": c.Name, "input": json.RawMessage(argsOrEmpty(c))})
	}
	return map[string]any{
		"id": "msg_llmtest", "type": "message", "role": "assistant", "model": req.Model,
		"content": content, "stop_reason": anthropicStop(t), "stop_sequence": nil,
		"usage": anthropicUsage(t.Usage.InputTokens, t.Usage.OutputTokens),
	}
}

func (anthropicWire) streamContentType() string { return "text/event-stream; charset=utf-8" }

func (anthropicWire) stream(sw *sse, req Request, t Turn) {
	sw.send("message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": "msg_llmtest", "type": "message", "role": "assistant", "model": req.Model,
		"content": []any{}, "stop_reason": nil, "stop_sequence": nil,
		"usage": anthropicUsage(t.Usage.InputTokens, 1),
	}})
	sw.send("ping", map[string]any{"type": "ping"})
	index := 0
	if chunks := chunksOf(t); len(chunks) > 0 {
		sw.send("content_block_start", map[string]any{"type": "content_block_start", "index": index,
			"content_block": map[string]any{"type": "text", "text": ""}})
		for i, piece := range chunks {
			sw.send("content_block_delta", map[string]any{"type": "content_block_delta", "index": index,
				"delta": map[string]any{"type": "text_delta", "text": piece}})
			if i == 0 && !sw.wait(t) {
				return
			}
		}
		sw.send("content_block_stop", map[string]any{"type": "content_block_stop", "index": index})
		index++
	} else if !sw.wait(t) {
		return
	}
	for _, c := range anthropicCalls(t) {
		sw.send("content_block_start", map[string]any{"type": "content_block_start", "index": index,
			"content_block": map[string]any{"type": "tool_use", "id": c.ID, "name": c.Name, "input": map[string]any{}}})
		for _, f := range splitArgs(argsOrEmpty(c)) {
			sw.send("content_block_delta", map[string]any{"type": "content_block_delta", "index": index,
				"delta": map[string]any{"type": "input_json_delta", "partial_json": f}})
		}
		sw.send("content_block_stop", map[string]any{"type": "content_block_stop", "index": index})
		index++
	}
	sw.send("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": anthropicStop(t), "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": t.Usage.OutputTokens}})
	sw.send("message_stop", map[string]any{"type": "message_stop"})
}
