// Package gcra is the generic cell rate algorithm behind Kubently's rate
// limits: limit requests per period, bursts up to limit, one timestamp of
// state per key (the theoretical arrival time). The in-memory limiter calls it
// directly and the Redis limiter runs the same arithmetic in a Lua script.
package gcra

import (
	"time"

	"github.com/kubently/kubently/internal/store"
)

// Decide applies one request at now to a bucket whose theoretical arrival time
// is tat (zero for a new bucket). It returns the decision and the new tat to
// store when the request is allowed.
func Decide(tat time.Time, limit int, period time.Duration, now time.Time) (store.Decision, time.Time) {
	if limit <= 0 {
		return store.Decision{Allowed: false, Limit: limit, ResetAt: now.Add(period), RetryAfter: period}, tat
	}
	interval := period / time.Duration(limit)
	if tat.Before(now) {
		tat = now
	}
	newTat := tat.Add(interval)
	allowAt := newTat.Add(-period)
	if now.Before(allowAt) {
		return store.Decision{
			Allowed:    false,
			Limit:      limit,
			Remaining:  0,
			ResetAt:    tat,
			RetryAfter: allowAt.Sub(now),
		}, tat
	}
	remaining := int((period - newTat.Sub(now)) / interval)
	if remaining < 0 {
		remaining = 0
	}
	return store.Decision{Allowed: true, Limit: limit, Remaining: remaining, ResetAt: newTat}, newTat
}
