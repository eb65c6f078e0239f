package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/auth"
	"github.com/kubently/kubently/internal/problem"
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyCorrelationID
)

func requestID(ctx context.Context) string {
	s, _ := ctx.Value(keyRequestID).(string)
	return s
}

// CorrelationID returns the request's X-Correlation-ID ("" when absent).
func CorrelationID(ctx context.Context) string {
	s, _ := ctx.Value(keyCorrelationID).(string)
	return s
}

// Caller-supplied ids are echoed and logged, so they are restricted to a
// harmless alphabet and length.
var safeID = regexp.MustCompile(`^[A-Za-z0-9._:/+=@-]{1,128}$`)

// statusRecorder remembers the status for logs and metrics and keeps
// http.ResponseController working (Flush, deadlines) through Unwrap.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// outer wraps every request: request and correlation ids, panic recovery,
// access log and metrics.
func (s *Server) outer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := r.Header.Get(api.HeaderRequestID)
		if !safeID.MatchString(rid) {
			rid = auth.NewID("req_", 16)
		}
		w.Header().Set(api.HeaderRequestID, rid)
		ctx := context.WithValue(r.Context(), keyRequestID, rid)
		if cid := r.Header.Get(api.HeaderCorrelationID); safeID.MatchString(cid) {
			w.Header().Set(api.HeaderCorrelationID, cid)
			ctx = context.WithValue(ctx, keyCorrelationID, cid)
		}
		r = r.WithContext(ctx)
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic in handler", "request_id", rid, "panic", v, "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeError(rec, r, s.log, problem.New(api.CodeInternal, "An unexpected error occurred").WithDetails(map[string]any{"request_id": rid}))
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			s.Metrics.ObserveRequest(route, r.Method, rec.status, time.Since(start))
			level := slog.LevelInfo
			if strings.HasPrefix(route, "GET /health") || route == "GET /readyz" || route == "GET /healthz" || route == "GET /metrics" {
				level = slog.LevelDebug
			}
			s.log.Log(r.Context(), level, "http request", "request_id", rid, "correlation_id", CorrelationID(ctx), "method", r.Method, "route", route, "status", rec.status, "duration_ms", time.Since(start).Milliseconds(), "principal", principalID(r))
		}()
		next.ServeHTTP(rec, r)
	})
}

func principalID(r *http.Request) string {
	if p := auth.FromContext(r.Context()); p != nil {
		return p.ID
	}
	return ""
}
