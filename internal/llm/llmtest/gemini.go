package llmtest

import (
	"encoding/json"
	"net/http"
	"strings"
)

// geminiWire is the Gemini API generateContent format.
type geminiWire struct{}

func (geminiWire) route(r *http.Request) (string, bool, bool) {
	// /v1beta/models/gemini-2.5-flash:streamGenerateContent
	path := r.URL.Path
	i := strings.Index(path, "/models/")
	if i < 0 {
		return "", false, false
	}
	model, method, ok := strings.Cut(path[i+len("/models/"):], ":")
	if !ok || model == "" {
		return "", false, false
	}
	switch method {
	case "generateContent":
		return model, false, true
	case "streamGenerateContent":
		return model, true, true
	}
	return "", false, false
}

type geminiPart struct {
	Text         string `json:"text"`
	Thought      bool   `json:"thought"`
	FunctionCall *struct {
		ID   string          `json:"id"`
		Name string          `json:"name"`
		Args json.RawMessage `json:"args"`
	} `json:"functionCall"`
	FunctionResponse *struct {
		ID       string                     `json:"id"`
		Name     string                     `json:"name"`
		Response map[string]json.RawMessage `json:"response"`
	} `json:"functionResponse"`
	ThoughtSignature string `json:"thoughtSignature"`
}

type geminiContent struct {
	Role  string       `json:"role"`
	Parts []geminiPart `json:"parts"`
}

func (geminiWire) parse(body []byte, req *Request) error {
	var in struct {
		Contents          []geminiContent `json:"contents"`
		SystemInstruction *geminiContent  `json:"systemInstruction"`
		Tools             []struct {
			FunctionDeclarations []struct {
				Name                 string          `json:"name"`
				Description          string          `json:"description"`
				Parameters           json.RawMessage `json:"parameters"`
				ParametersJSONSchema json.RawMessage `json:"parametersJsonSchema"`
			} `json:"functionDeclarations"`
		} `json:"tools"`
		GenerationConfig struct {
			MaxOutputTokens int `json:"maxOutputTokens"`
		} `json:"generationConfig"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return err
	}
	req.MaxTokens = in.GenerationConfig.MaxOutputTokens
	if in.SystemInstruction != nil {
		var parts []string
		for _, p := range in.SystemInstruction.Parts {
			parts = append(parts, p.Text)
		}
		req.System = strings.Join(parts, "")
	}
	for _, c := range in.Contents {
		msg := Message{Role: c.Role}
		if msg.Role == "model" {
			msg.Role = "assistant"
		}
		var text strings.Builder
		for _, p := range c.Parts {
			switch {
			case p.FunctionCall != nil:
				msg.ToolCalls = append(msg.ToolCalls, ToolCall{
					ID: p.FunctionCall.ID, Name: p.FunctionCall.Name,
					Arguments: string(p.FunctionCall.Args), Signature: p.ThoughtSignature,
				})
			case p.FunctionResponse != nil:
				res := ToolResult{ToolCallID: p.FunctionResponse.ID, Name: p.FunctionResponse.Name}
				if v, ok := p.FunctionResponse.Response["error"]; ok {
					res.IsError = true
					res.Content = textOfContent(v)
				} else if v, ok := p.FunctionResponse.Response["output"]; ok {
					res.Content = textOfContent(v)
				} else {
					all, _ := json.Marshal(p.FunctionResponse.Response)
					res.Content = string(all)
				}
				msg.ToolResults = append(msg.ToolResults, res)
			case !p.Thought:
				text.WriteString(p.Text)
			}
		}
		msg.Content = text.String()
		if msg.Role == "user" && len(msg.ToolResults) > 0 && msg.Content == "" {
			msg.Role = "tool"
		}
		req.Messages = append(req.Messages, msg)
	}
	for _, t := range in.Tools {
		for _, fd := range t.FunctionDeclarations {
			params := fd.ParametersJSONSchema
			if len(params) == 0 {
				params = fd.Parameters
			}
			req.Tools = append(req.Tools, Tool{Name: fd.Name, Description: fd.Description, Parameters: params})
		}
	}
	return nil
}

func (geminiWire) errorBody(status int, msg string) any {
	st := "INVALID_ARGUMENT"
	switch {
	case status == http.StatusUnauthorized:
		st = "UNAUTHENTICATED"
	case status == http.StatusForbidden:
		st = "PERMISSION_DENIED"
	case status == http.StatusNotFound:
		st = "NOT_FOUND"
	case status == http.StatusTooManyRequests:
		st = "RESOURCE_EXHAUSTED"
	case status == http.StatusServiceUnavailable:
		st = "UNAVAILABLE"
	case status >= 500:
		st = "INTERNAL"
	}
	return map[string]any{"error": map[string]any{"code": status, "message": msg, "status": st}}
}

func geminiFinish(t Turn) string {
	if t.StopReason != "" {
		return t.StopReason
	}
	return "STOP" // Gemini ends tool-calling turns with STOP too
}

func geminiUsage(t Turn) map[string]any {
	return map[string]any{
		"promptTokenCount":     t.Usage.InputTokens,
		"candidatesTokenCount": t.Usage.OutputTokens,
		"totalTokenCount":      t.Usage.InputTokens + t.Usage.OutputTokens,
	}
}

func geminiCallParts(t Turn) []any {
	var parts []any
	for _, c := range t.ToolCalls {
		fc := map[string]any{"name": c.Name, "args": json.RawMessage(argsOrEmpty(c))}
		if c.ID != "" {
			fc["id"] = c.ID
		}
		part := map[string]any{"functionCall": fc}
		if c.Signature != "" {
			part["thoughtSignature"] = c.Signature
		}
		parts = append(parts, part)
	}
	return parts
}

func geminiResponse(req Request, parts []any, finish string, usage map[string]any) map[string]any {
	cand := map[string]any{"content": map[string]any{"role": "model", "parts": parts}, "index": 0}
	if finish != "" {
		cand["finishReason"] = finish
	}
	out := map[string]any{"candidates": []any{cand}, "modelVersion": req.Model, "responseId": "llmtest"}
	if usage != nil {
		out["usageMetadata"] = usage
	}
	return out
}

func (geminiWire) complete(req Request, t Turn) any {
	parts := []any{}
	if text := textOf(t); text != "" {
		parts = append(parts, map[string]any{"text": text})
	}
	parts = append(parts, geminiCallParts(t)...)
	return geminiResponse(req, parts, geminiFinish(t), geminiUsage(t))
}

func (geminiWire) streamContentType() string { return "text/event-stream" }

func (geminiWire) stream(sw *sse, req Request, t Turn) {
	chunks := chunksOf(t)
	calls := geminiCallParts(t)
	for i, piece := range chunks {
		last := i == len(chunks)-1 && len(calls) == 0
		finish, usage := "", map[string]any(nil)
		if last {
			finish, usage = geminiFinish(t), geminiUsage(t)
		}
		sw.send("", geminiResponse(req, []any{map[string]any{"text": piece}}, finish, usage))
		if i == 0 && !sw.wait(t) {
			return
		}
	}
	if len(chunks) == 0 && !sw.wait(t) {
		return
	}
	if len(calls) > 0 || len(chunks) == 0 {
		if calls == nil {
			calls = []any{}
		}
		sw.send("", geminiResponse(req, calls, geminiFinish(t), geminiUsage(t)))
	}
}
