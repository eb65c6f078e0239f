package llm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Error kinds. Every error from [Provider.Stream] is an [*Error] that matches
// exactly one of these with errors.Is, so the agent can tell the user what to
// do about it.
var (
	// ErrConfig: the configuration given to New is unusable.
	ErrConfig = errors.New("invalid LLM configuration")
	// ErrAuth: the provider rejected the API key or its permissions (401, 403).
	ErrAuth = errors.New("LLM authentication failed")
	// ErrRateLimited: the provider kept answering 429 (rate limit or quota)
	// after the SDK's retries.
	ErrRateLimited = errors.New("LLM rate limited")
	// ErrUnavailable: the provider is down, overloaded (5xx, 529) or could not
	// be reached, after the SDK's retries.
	ErrUnavailable = errors.New("LLM provider unavailable")
	// ErrTimeout: the turn ran past the caller's deadline or Config.Timeout.
	// The error also matches context.DeadlineExceeded.
	ErrTimeout = errors.New("LLM request timed out")
	// ErrBadRequest: the provider refused the request itself (400, 404, 413,
	// 422: unknown model, context too long, invalid tool schema, ...).
	ErrBadRequest = errors.New("LLM request rejected")
	// ErrProvider: any other failure (an unexpected status, a malformed stream).
	ErrProvider = errors.New("LLM provider error")
)

// Error describes a failed model turn. Its text never contains the API key.
type Error struct {
	// Provider is the provider kind, e.g. "anthropic".
	Provider string
	// Kind is one of the Err* sentinels above, or context.Canceled when the
	// caller cancelled the turn.
	Kind error
	// StatusCode is the HTTP status of the provider's answer, 0 when there was none.
	StatusCode int
	// Message is the provider's explanation (or the transport error), redacted.
	Message string
	// RetryAfter is the wait the provider asked for on its last answer, if any.
	RetryAfter time.Duration
	// Err is the underlying error (an SDK error, a context error). It is kept
	// for errors.As/Is; its own text is not part of Error().
	Err error
}

// Error renders e as "llm anthropic: LLM rate limited (HTTP 429): message".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("llm ")
	b.WriteString(e.Provider)
	b.WriteString(": ")
	if e.Kind != nil {
		b.WriteString(e.Kind.Error())
	} else {
		b.WriteString("error")
	}
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.StatusCode)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Unwrap exposes both the kind and the underlying error to errors.Is/As.
func (e *Error) Unwrap() []error {
	out := make([]error, 0, 2)
	if e.Kind != nil {
		out = append(out, e.Kind)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// apiErrorInfo is what an adapter can read from a vendor API error.
type apiErrorInfo struct {
	status     int
	message    string
	kind       error // set when the body says more than the status (e.g. Anthropic's error type)
	retryAfter time.Duration
}

// wrap turns any error of a turn into an *Error.
func (c *client) wrap(ctx context.Context, err error) error {
	var already *Error
	if errors.As(err, &already) {
		if already.Provider == "" {
			already.Provider = c.name
		}
		already.Message = redact(already.Message, c.apiKey)
		return already
	}
	e := &Error{Provider: c.name, Err: err}
	switch info, ok := c.backend.apiError(err); {
	case ok:
		e.StatusCode = info.status
		e.Message = info.message
		e.RetryAfter = info.retryAfter
		e.Kind = info.kind
		if e.Kind == nil {
			e.Kind = kindForStatus(info.status)
		}
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		e.Kind = ErrTimeout
		e.Message = "no complete answer before the deadline"
		if !errors.Is(err, context.DeadlineExceeded) {
			e.Err = errors.Join(err, context.DeadlineExceeded)
		}
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		e.Kind = context.Canceled
		e.Message = "cancelled"
		if !errors.Is(err, context.Canceled) {
			e.Err = errors.Join(err, context.Canceled)
		}
	case isNetworkError(err):
		e.Kind = ErrUnavailable
		e.Message = err.Error()
	default:
		e.Kind = ErrProvider
		e.Message = err.Error()
	}
	e.Message = redact(e.Message, c.apiKey)
	return e
}

// errIncomplete reports a stream that ended without the provider's
// end-of-turn marker (a dropped connection or a misbehaving proxy): its partial
// answer must not pass for a whole one.
func errIncomplete() error {
	return &Error{Kind: ErrUnavailable, Message: "the answer stream ended before the turn was complete"}
}

// kindForStatus maps an HTTP status to an error kind.
func kindForStatus(status int) error {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ErrAuth
	case status == http.StatusTooManyRequests:
		return ErrRateLimited
	case status == http.StatusRequestTimeout || status >= 500:
		return ErrUnavailable
	case status >= 400:
		return ErrBadRequest
	default:
		return ErrProvider
	}
}

func isNetworkError(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}

// retryAfter reads the wait a provider asked for from the usual headers.
func retryAfter(h http.Header) time.Duration {
	if h == nil {
		return 0
	}
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
			return time.Duration(s * float64(time.Second))
		}
		if t, err := http.ParseTime(v); err == nil {
			if d := time.Until(t); d > 0 {
				return d
			}
		}
	}
	return 0
}

// redact removes the API key from s. Short keys (which would match ordinary
// text) are not searched for; such keys are not real provider keys anyway.
func redact(s, key string) string {
	if len(key) < 6 || s == "" {
		return s
	}
	return strings.ReplaceAll(s, key, "[REDACTED]")
}
