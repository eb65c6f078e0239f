// Package audit keeps the record of every command attempt, allowed or denied:
// who, which cluster and session, the argv, the outcome, exit code, duration
// and correlation id — never the output. An entry is written when a command is
// accepted or refused and updated in place when its result arrives, so a
// command that never finishes still leaves a trace.
package audit

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/store"
)

// Log is the audit log over a store.
type Log struct {
	col       store.Collection[record]
	retention time.Duration
	max       int
	writes    atomic.Int64
}

// record is a stored entry: the wire entry plus its exact time (the wire
// format has second precision, filters need more).
type record struct {
	api.AuditEntry
	At time.Time `json:"at"`
}

// NewLog returns an audit log whose entries expire after retention and
// which keeps at most maxEntries (0: no count limit).
func NewLog(st store.Records, retention time.Duration, maxEntries int) *Log {
	return &Log{col: store.NewCollection[record](st, store.KindAudit), retention: retention, max: maxEntries}
}

// trimEvery is how many writes pass between count trims.
const trimEvery = 100

// Record writes or replaces an entry (keyed by its id); at is its exact time.
func (l *Log) Record(ctx context.Context, e api.AuditEntry, at time.Time) error {
	e.Time = api.NewTime(at)
	if err := l.col.Put(ctx, e.ID, record{AuditEntry: e, At: at}, at.Add(l.retention)); err != nil {
		return err
	}
	if l.max > 0 && l.writes.Add(1)%trimEvery == 0 {
		_, err := l.col.R.Trim(ctx, store.KindAudit, l.max)
		return err
	}
	return nil
}

// Finish updates an accepted command's entry with its final outcome. A missing
// entry (expired, or written by an older version) is recreated from e.
func (l *Log) Finish(ctx context.Context, id string, o Outcome, fallback api.AuditEntry, at time.Time) error {
	apply := func(e *api.AuditEntry) {
		e.Outcome, e.Reason, e.ExitCode, e.DurationMs = o.Status, o.Reason, o.ExitCode, o.Duration.Milliseconds()
	}
	_, err := l.col.Update(ctx, id, func(r *record) (time.Time, error) {
		apply(&r.AuditEntry)
		return r.At.Add(l.retention), nil
	})
	if errors.Is(err, store.ErrNotFound) {
		fallback.ID = id
		apply(&fallback)
		return l.Record(ctx, fallback, at)
	}
	return err
}

// Outcome is how an accepted command ended.
type Outcome struct {
	Status   string // a final result status, or "denied"
	Reason   string
	ExitCode *int
	Duration time.Duration
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
	err := l.col.Scan(ctx, func(_ string, r record) bool {
		e := r.AuditEntry
		switch {
		case f.Principal != "" && e.Principal != f.Principal,
			f.ClusterID != "" && e.ClusterID != f.ClusterID,
			f.SessionID != "" && e.SessionID != f.SessionID,
			!f.Since.IsZero() && r.At.Before(f.Since),
			!f.Until.IsZero() && r.At.After(f.Until),
			f.Clusters != nil && !allowed[e.ClusterID]:
			return true
		}
		out = append(out, e)
		return len(out) < f.Limit
	})
	return out, err
}
