package llm

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/genai"
)

// geminiBackend speaks the Gemini API (streamGenerateContent over SSE) with
// the API-key backend.
type geminiBackend struct {
	client *genai.Client
	model  string
}

// geminiIDPrefix marks tool call ids the adapter made up because Gemini sent
// none; such ids are never sent back to Gemini.
const geminiIDPrefix = "gemini-call-"

func newGemini(cfg Config, retries int) (*geminiBackend, error) {
	// The SDK appends /v1beta/models/...; accept a base URL that already ends
	// in the version.
	base := strings.TrimSuffix(strings.TrimRight(cfg.BaseURL, "/"), "/v1beta")
	if base == "" {
		// Set explicitly so GOOGLE_GEMINI_BASE_URL cannot redirect the client.
		base = "https://generativelanguage.googleapis.com/"
	}
	hc := genai.HTTPOptions{BaseURL: base}
	if retries > 0 {
		hc.RetryOptions = &genai.HTTPRetryOptions{Attempts: genai.Ptr(int32(retries + 1))}
	}
	client, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey:      cfg.APIKey,
		Backend:     genai.BackendGeminiAPI,
		HTTPClient:  &http.Client{},
		HTTPOptions: hc,
	})
	if err != nil {
		return nil, err
	}
	return &geminiBackend{client: client, model: cfg.Model}, nil
}

func (b *geminiBackend) request(req Request) ([]*genai.Content, *genai.GenerateContentConfig) {
	cfg := &genai.GenerateContentConfig{MaxOutputTokens: int32(req.MaxTokens)}
	if sys := systemPrompt(req); sys != "" {
		cfg.SystemInstruction = &genai.Content{Parts: []*genai.Part{{Text: sys}}}
	}
	if len(req.Tools) > 0 {
		tool := &genai.Tool{}
		for _, t := range req.Tools {
			fd := &genai.FunctionDeclaration{Name: t.Name, Description: t.Description}
			if len(t.Parameters) > 0 && json.Valid(t.Parameters) {
				// Full JSON Schema, not the OpenAPI subset of Parameters.
				fd.ParametersJsonSchema = t.Parameters
			}
			tool.FunctionDeclarations = append(tool.FunctionDeclarations, fd)
		}
		cfg.Tools = []*genai.Tool{tool}
	}

	var contents []*genai.Content
	add := func(role string, parts ...*genai.Part) {
		if len(parts) == 0 {
			return
		}
		// One turn per side: the responses to parallel calls must travel
		// together in the turn after the calls.
		if n := len(contents); n > 0 && contents[n-1].Role == role {
			contents[n-1].Parts = append(contents[n-1].Parts, parts...)
			return
		}
		contents = append(contents, &genai.Content{Role: role, Parts: parts})
	}
	// Gemini matches results to calls by name: recover a missing ToolName
	// from the call the result answers.
	callNames := map[string]string{}
	for _, m := range req.Messages {
		for _, tc := range m.ToolCalls {
			callNames[tc.ID] = tc.Name
		}
	}
	for _, m := range req.Messages {
		switch m.Role {
		case RoleUser:
			if strings.TrimSpace(m.Content) != "" {
				add(genai.RoleUser, &genai.Part{Text: m.Content})
			}
		case RoleAssistant:
			var parts []*genai.Part
			if strings.TrimSpace(m.Content) != "" {
				parts = append(parts, &genai.Part{Text: m.Content})
			}
			for _, tc := range m.ToolCalls {
				var args map[string]any
				_ = json.Unmarshal(validArgs(tc.Arguments), &args)
				part := &genai.Part{FunctionCall: &genai.FunctionCall{ID: geminiWireID(tc.ID), Name: tc.Name, Args: args}}
				if tc.Signature != "" {
					if sig, err := base64.StdEncoding.DecodeString(tc.Signature); err == nil {
						part.ThoughtSignature = sig
					}
				}
				parts = append(parts, part)
			}
			add(genai.RoleModel, parts...)
		case RoleTool:
			key := "output"
			if m.IsError {
				key = "error"
			}
			name := m.ToolName
			if name == "" {
				name = callNames[m.ToolCallID]
			}
			add(genai.RoleUser, &genai.Part{FunctionResponse: &genai.FunctionResponse{
				ID:       geminiWireID(m.ToolCallID),
				Name:     name,
				Response: map[string]any{key: m.Content},
			}})
		}
	}
	return contents, cfg
}

// geminiWireID is the id to send back for a call: empty for ids the adapter made up.
func geminiWireID(id string) string {
	if strings.HasPrefix(id, geminiIDPrefix) {
		return ""
	}
	return id
}

func (b *geminiBackend) stream(ctx context.Context, req Request, onText func(string)) (Response, error) {
	contents, cfg := b.request(req)
	var (
		resp   Response
		text   strings.Builder
		finish genai.FinishReason
	)
	for chunk, err := range b.client.Models.GenerateContentStream(ctx, b.model, contents, cfg) {
		if err != nil {
			return Response{}, err
		}
		if chunk == nil {
			continue
		}
		if u := chunk.UsageMetadata; u != nil {
			resp.Usage = Usage{
				InputTokens:  int(u.PromptTokenCount + u.ToolUsePromptTokenCount),
				OutputTokens: int(u.CandidatesTokenCount + u.ThoughtsTokenCount),
			}
		}
		if fb := chunk.PromptFeedback; fb != nil && fb.BlockReason != "" {
			msg := "prompt blocked: " + string(fb.BlockReason)
			if fb.BlockReasonMessage != "" {
				msg += ": " + fb.BlockReasonMessage
			}
			return Response{}, &Error{Provider: ProviderGemini, Kind: ErrBadRequest, Message: msg}
		}
		if len(chunk.Candidates) == 0 || chunk.Candidates[0] == nil {
			continue
		}
		cand := chunk.Candidates[0]
		if cand.FinishReason != "" {
			finish = cand.FinishReason
		}
		if cand.Content == nil {
			continue
		}
		for _, part := range cand.Content.Parts {
			switch {
			case part == nil || part.Thought:
			case part.FunctionCall != nil:
				fc := part.FunctionCall
				args, err := json.Marshal(fc.Args)
				if err != nil || fc.Args == nil {
					args = []byte("{}")
				}
				call := ToolCall{ID: fc.ID, Name: fc.Name, Arguments: args}
				if call.ID == "" {
					call.ID = geminiIDPrefix + strconv.Itoa(len(resp.ToolCalls)+1) + "-" + fc.Name
				}
				if len(part.ThoughtSignature) > 0 {
					call.Signature = base64.StdEncoding.EncodeToString(part.ThoughtSignature)
				}
				resp.ToolCalls = append(resp.ToolCalls, call)
			case part.Text != "":
				text.WriteString(part.Text)
				onText(part.Text)
			}
		}
	}
	if finish == "" {
		return Response{}, errIncomplete()
	}
	resp.Content = text.String()
	switch finish {
	case genai.FinishReasonStop, genai.FinishReasonUnspecified:
		resp.StopReason = StopEndTurn
		if len(resp.ToolCalls) > 0 {
			resp.StopReason = StopToolUse
		}
	case genai.FinishReasonMaxTokens:
		resp.StopReason = StopMaxTokens
	default:
		resp.StopReason = string(finish)
	}
	return resp, nil
}

func (b *geminiBackend) apiError(err error) (apiErrorInfo, bool) {
	var apiErr genai.APIError
	if !errors.As(err, &apiErr) {
		var p *genai.APIError
		if !errors.As(err, &p) || p == nil {
			return apiErrorInfo{}, false
		}
		apiErr = *p
	}
	info := apiErrorInfo{status: apiErr.Code, message: apiErr.Message}
	if apiErr.Status != "" && !strings.Contains(info.message, apiErr.Status) {
		info.message = strings.TrimSpace(info.message + " [" + apiErr.Status + "]")
	}
	// Gemini answers a bad key with 400 INVALID_ARGUMENT and reason API_KEY_INVALID.
	if details := fmt.Sprint(apiErr.Details); strings.Contains(details, "API_KEY_INVALID") ||
		strings.Contains(info.message, "API key not valid") || apiErr.Status == "UNAUTHENTICATED" || apiErr.Status == "PERMISSION_DENIED" {
		info.kind = ErrAuth
	}
	switch apiErr.Status {
	case "RESOURCE_EXHAUSTED":
		info.kind = ErrRateLimited
	case "UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED":
		info.kind = ErrUnavailable
	}
	return info, true
}
