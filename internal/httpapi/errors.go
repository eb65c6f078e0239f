package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/problem"
	"github.com/kubently/kubently/internal/store"
)

// statusOf maps public error codes to HTTP status codes. This table and
// writeError are the only place where errors become HTTP responses.
var statusOf = map[string]int{
	api.CodeInvalidRequest:     http.StatusBadRequest,
	api.CodeUnauthorized:       http.StatusUnauthorized,
	api.CodeForbidden:          http.StatusForbidden,
	api.CodeNotFound:           http.StatusNotFound,
	codeMethodNotAllowed:       http.StatusMethodNotAllowed,
	api.CodeConflict:           http.StatusConflict,
	api.CodeTooLarge:           http.StatusRequestEntityTooLarge,
	api.CodeRateLimited:        http.StatusTooManyRequests,
	api.CodeInternal:           http.StatusInternalServerError,
	api.CodeServiceUnavailable: http.StatusServiceUnavailable,
}

const codeMethodNotAllowed = "method_not_allowed"

// toProblem turns any error into a public problem. Unknown errors become
// internal_error carrying only the request id; store outages become 503.
func toProblem(err error, requestID string) *problem.Error {
	if p, ok := problem.As(err); ok {
		if _, known := statusOf[p.Code]; known {
			return p
		}
	}
	if errors.Is(err, store.ErrUnavailable) {
		return problem.Unavailable("The state store is unavailable; retry shortly").WithCause(err)
	}
	return problem.New(api.CodeInternal, "An unexpected error occurred").
		WithDetails(map[string]any{"request_id": requestID}).WithCause(err)
}

// writeError sends err as the public error body and logs its private cause.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	rid := requestID(r.Context())
	p := toProblem(err, rid)
	status := statusOf[p.Code]
	if status >= 500 {
		log.Error("request failed", "request_id", rid, "method", r.Method, "path", r.URL.Path, "code", p.Code, "err", err)
	} else if p.Cause != nil {
		log.Info("request refused", "request_id", rid, "code", p.Code, "err", err)
	}
	for k, v := range p.Header {
		w.Header().Set(k, v)
	}
	if status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", `ApiKey header="X-API-Key", Bearer realm="kubently"`)
	}
	writeJSON(w, status, api.Error{Code: p.Code, Message: p.Message, Details: p.Details})
}

// writeJSON sends v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
