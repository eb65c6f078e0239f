// Package problem is the typed error every Kubently domain package returns
// when a request cannot be served: a public code from the API reference
// ("not_found", "invalid_request", ...), a message safe to show the caller,
// optional details and an optional private cause for the logs. The HTTP layer
// maps codes to status codes in exactly one place (httpapi/errors.go).
package problem

import (
	"errors"
	"fmt"

	"github.com/kubently/kubently/api"
)

// Error is a failure with a public face.
type Error struct {
	Code    string
	Message string
	Details map[string]any
	// Cause is logged, never sent to the caller.
	Cause error
	// Header holds extra response headers (e.g. Retry-After, WWW-Authenticate).
	Header map[string]string
}

// Error implements error with the public message.
func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Code + ": " + e.Message + ": " + e.Cause.Error()
	}
	return e.Code + ": " + e.Message
}

// Unwrap exposes the private cause to errors.Is/As.
func (e *Error) Unwrap() error { return e.Cause }

// As returns err as *Error when it is (or wraps) one.
func As(err error) (*Error, bool) {
	var p *Error
	ok := errors.As(err, &p)
	return p, ok
}

// New builds an error with a formatted message.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithDetails returns e with details set.
func (e *Error) WithDetails(d map[string]any) *Error { e.Details = d; return e }

// WithCause returns e with a private cause.
func (e *Error) WithCause(err error) *Error { e.Cause = err; return e }

// WithHeader returns e with an extra response header.
func (e *Error) WithHeader(k, v string) *Error {
	if e.Header == nil {
		e.Header = map[string]string{}
	}
	e.Header[k] = v
	return e
}

// Invalid reports a bad request about one field. code is a machine-readable
// reason such as "missing_required_field" or "invalid_value".
func Invalid(field, code, format string, args ...any) *Error {
	e := New(api.CodeInvalidRequest, format, args...)
	if code != "" {
		e.Details = map[string]any{"code": code}
	}
	if field != "" {
		if e.Details == nil {
			e.Details = map[string]any{}
		}
		e.Details["field"] = field
	}
	return e
}

// Missing reports a required field that was absent, in the reference's words.
func Missing(field string) *Error {
	return Invalid(field, "missing_required_field", "Missing required field: %s", field)
}

// NotFound reports an absent resource, named in the message.
func NotFound(format string, args ...any) *Error { return New(api.CodeNotFound, format, args...) }

// Conflict reports a resource that already exists.
func Conflict(format string, args ...any) *Error { return New(api.CodeConflict, format, args...) }

// Forbidden reports a principal without the right.
func Forbidden(format string, args ...any) *Error { return New(api.CodeForbidden, format, args...) }

// Unauthorized reports missing or bad credentials.
func Unauthorized(format string, args ...any) *Error {
	return New(api.CodeUnauthorized, format, args...)
}

// Unavailable reports a dependency that is not there right now.
func Unavailable(format string, args ...any) *Error {
	return New(api.CodeServiceUnavailable, format, args...)
}
