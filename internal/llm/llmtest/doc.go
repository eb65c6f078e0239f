// Package llmtest provides scripted fake LLM servers for tests. Each fake is an
// httptest server that speaks one provider's real HTTP wire format, so the
// official SDKs run their real request, streaming and tool-call code against it:
//
//   - [WireOpenAI]: POST …/chat/completions, plain JSON or streamed
//     chat.completion.chunk events (text and tool_calls deltas, a usage chunk
//     when stream_options.include_usage is set, then data: [DONE]);
//   - [WireAnthropic]: POST /v1/messages, plain JSON or SSE events message_start,
//     content_block_start, content_block_delta (text_delta, input_json_delta),
//     content_block_stop, message_delta and message_stop;
//   - [WireGemini]: POST /{version}/models/{model}:generateContent and
//     :streamGenerateContent?alt=sse, with functionCall parts.
//
// A server replays a script: each request to the model endpoint consumes the
// next [Turn], which answers with text (streamed in several chunks), tool calls
// (several in one turn for parallel calls), an HTTP error (429 with a retry
// hint, 500, 401, ...) or a hang. The server records every request, parsed into
// a provider-neutral [Request] (system prompt, messages, tool calls, tool
// results, tools), so tests can assert what the SDK sent back.
//
// The package depends on the standard library only.
package llmtest
