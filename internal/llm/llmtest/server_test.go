package llmtest_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	anthropicoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	openaioption "github.com/openai/openai-go/v3/option"
	"google.golang.org/genai"

	"github.com/kubently/kubently/internal/llm/llmtest"
)

// These tests drive the fakes' non-streaming endpoints with the official SDKs
// directly (the llm package covers streaming through its adapters).

var script = []llmtest.Turn{{
	Text:      "Checking.",
	ToolCalls: []llmtest.ToolCall{{Name: "get_pods", Arguments: `{"namespace":"kube-system"}`}, {Name: "get_nodes"}},
	Usage:     llmtest.Usage{InputTokens: 42, OutputTokens: 7},
}}

func TestOpenAIChatCompletion(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.WireOpenAI, script)
	client := openai.NewClient(openaioption.WithBaseURL(srv.URL()), openaioption.WithAPIKey("k"), openaioption.WithMaxRetries(0))
	res, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-test",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("sys"), openai.UserMessage("list pods")},
	})
	if err != nil {
		t.Fatal(err)
	}
	msg := res.Choices[0].Message
	if msg.Content != "Checking." || len(msg.ToolCalls) != 2 || res.Choices[0].FinishReason != "tool_calls" {
		t.Fatalf("message = %+v", msg)
	}
	if c := msg.ToolCalls[0]; c.ID != "call_1" || c.Function.Name != "get_pods" || c.Function.Arguments != `{"namespace":"kube-system"}` {
		t.Errorf("call 0 = %+v", c)
	}
	if c := msg.ToolCalls[1]; c.ID != "call_2" || c.Function.Arguments != "{}" {
		t.Errorf("call 1 = %+v", c)
	}
	if res.Usage.PromptTokens != 42 || res.Usage.CompletionTokens != 7 {
		t.Errorf("usage = %+v", res.Usage)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Stream || reqs[0].System != "sys" || reqs[0].Model != "gpt-test" ||
		len(reqs[0].Messages) != 1 || reqs[0].Messages[0].Content != "list pods" {
		t.Errorf("recorded %+v", reqs)
	}
}

func TestAnthropicMessage(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.WireAnthropic, script)
	client := anthropic.NewClient(anthropicoption.WithoutEnvironmentDefaults(), anthropicoption.WithBaseURL(srv.URL()),
		anthropicoption.WithAPIKey("k"), anthropicoption.WithMaxRetries(0))
	res, err := client.Messages.New(context.Background(), anthropic.MessageNewParams{
		Model: "claude-test", MaxTokens: 100,
		System:   []anthropic.TextBlockParam{{Text: "sys"}},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("list pods"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Content) != 3 || res.Content[0].Text != "Checking." || res.StopReason != "tool_use" {
		t.Fatalf("message = %+v", res)
	}
	if b := res.Content[1]; b.Type != "tool_use" || b.ID != "toolu_1" || b.Name != "get_pods" || string(b.Input) != `{"namespace":"kube-system"}` {
		t.Errorf("block 1 = %+v", b)
	}
	if res.Usage.InputTokens != 42 || res.Usage.OutputTokens != 7 {
		t.Errorf("usage = %+v", res.Usage)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Stream || reqs[0].System != "sys" || reqs[0].MaxTokens != 100 {
		t.Errorf("recorded %+v", reqs)
	}
}

func TestGeminiGenerateContent(t *testing.T) {
	srv := llmtest.NewServer(t, llmtest.WireGemini, script)
	client, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		APIKey: "k", Backend: genai.BackendGeminiAPI, HTTPOptions: genai.HTTPOptions{BaseURL: srv.URL()},
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.Models.GenerateContent(context.Background(), "gemini-test",
		[]*genai.Content{genai.NewContentFromText("list pods", genai.RoleUser)},
		&genai.GenerateContentConfig{SystemInstruction: genai.NewContentFromText("sys", genai.RoleUser)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Text() != "Checking." {
		t.Errorf("text = %q", res.Text())
	}
	calls := res.FunctionCalls()
	if len(calls) != 2 || calls[0].Name != "get_pods" || calls[0].Args["namespace"] != "kube-system" || calls[0].ID != "" {
		t.Errorf("calls = %+v", calls)
	}
	if res.UsageMetadata.PromptTokenCount != 42 || res.UsageMetadata.CandidatesTokenCount != 7 {
		t.Errorf("usage = %+v", res.UsageMetadata)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || reqs[0].Stream || reqs[0].System != "sys" || reqs[0].Model != "gemini-test" ||
		reqs[0].Path != "/v1beta/models/gemini-test:generateContent" {
		t.Errorf("recorded %+v", reqs)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(reqs[0].Body, &body); err != nil || body["contents"] == nil {
		t.Errorf("body %s", reqs[0].Body)
	}
}
