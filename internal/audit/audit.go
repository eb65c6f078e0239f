// Package audit keeps the record of every command attempt, allowed or denied:
// who, which cluster and session, the argv, the outcome, exit code, duration
// and correlation id — never the output. An entry is written when a command is
// accepted or refused and updated in place when its result arrives, so a
// command that never finishes still leaves a trace.
package audit

import (
	"context"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/store"
)

// Log is the audit log over a store.
type Log struct {
	col       store.Collection[api.AuditEntry]
	retention time.Duration
}

// NewLog returns an audit log whose entries expire after retention.
func NewLog(st store.Records, retention time.Duration) *Log {
	return &Log{col: store.NewCollection[api.AuditEntry](st, store.KindAudit), retention: retention}
}

// Record writes or replaces an entry (keyed by its id).
func (l *Log) Record(ctx context.Context, e api.AuditEntry) error {
	return l.col.Put(ctx, e.ID, e, e.Time.Add(l.retention))
}

// Finish updates an accepted command's entry with its final outcome. A missing
// entry (expired, or written by an older version) is recreated from e.
func (l *Log) Finish(ctx context.Context, id, outcome string, exitCode *int, duration time.Duration, fallback api.AuditEntry) error {
	_, err := l.col.Update(ctx, id, func(e *api.AuditEntry) (time.Time, error) {
		e.Outcome, e.ExitCode, e.DurationMs = outcome, exitCode, duration.Milliseconds()
		return e.Time.Add(l.retention), nil
	})
	if err == store.ErrNotFound {
		fallback.ID, fallback.Outcome, fallback.ExitCode, fallback.DurationMs = id, outcome, exitCode, duration.Milliseconds()
		return l.Record(ctx, fallback)
	}
	return err
}

// Filter selects entries.
type Filter struct {
	Principal string // empty: everyone (admins)
	ClusterID string
	SessionID string
	Since     time.Time
	Until     time.Time
	Limit     int
	// Clusters, when non-nil, limits entries to these clusters.
	Clusters []string
}

// Query returns matching entries, newest first.
func (l *Log) Query(ctx context.Context, f Filter) ([]api.AuditEntry, error) {
	out := []api.AuditEntry{}
	allowed := map[string]bool{}
	for _, c := range f.Clusters {
		allowed[c] = true
	}
	err := l.col.Scan(ctx, func(_ string, e api.AuditEntry) bool {
		switch {
		case f.Principal != "" && e.Principal != f.Principal,
			f.ClusterID != "" && e.ClusterID != f.ClusterID,
			f.SessionID != "" && e.SessionID != f.SessionID,
			!f.Since.IsZero() && e.Time.Before(f.Since),
			!f.Until.IsZero() && e.Time.After(f.Until),
			f.Clusters != nil && !allowed[e.ClusterID]:
			return true
		}
		out = append(out, e)
		return len(out) < f.Limit
	})
	return out, err
}
