// Package ratelimit applies Kubently's per-principal quotas: standard
// endpoints, command execution and session creation each have their own
// requests-per-minute budget. Buckets live in the store, so with Redis the
// limits are global across replicas. It also renders the X-RateLimit-*
// headers and the 429 error of the API reference.
package ratelimit

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/problem"
	"github.com/kubently/kubently/internal/store"
)

// Class is a quota class.
type Class string

// Quota classes of the API reference.
const (
	Standard Class = "standard"
	Execute  Class = "execute"
	Session  Class = "session"
)

// Window is the period every quota is counted over.
const Window = time.Minute

// Limits maps classes to requests per Window.
type Limits map[Class]int

// Limiter enforces Limits over a store.Limiter.
type Limiter struct {
	backend store.Limiter
	limits  Limits
	now     func() time.Time
}

// New returns a limiter.
func New(backend store.Limiter, limits Limits) *Limiter {
	return &Limiter{backend: backend, limits: limits, now: time.Now}
}

// Check spends one request of principal's class budget. It sets the
// X-RateLimit-* headers on h in every case and returns a rate_limited problem
// (with Retry-After) when the budget is spent.
func (l *Limiter) Check(ctx context.Context, h http.Header, class Class, principal string) error {
	limit := l.limits[class]
	d, err := l.backend.Allow(ctx, "rl:"+string(class)+":"+principal, limit, Window, l.now())
	if err != nil {
		return err
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(int64(math.Ceil(float64(d.ResetAt.UnixNano())/1e9)), 10))
	if d.Allowed {
		return nil
	}
	retry := int(math.Ceil(d.RetryAfter.Seconds()))
	if retry < 1 {
		retry = 1
	}
	return problem.New(api.CodeRateLimited, "Rate limit exceeded").
		WithDetails(map[string]any{"limit": d.Limit, "window": "1m", "retry_after": retry}).
		WithHeader("Retry-After", strconv.Itoa(retry))
}
