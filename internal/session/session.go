// Package session manages debug sessions: creation on a registered cluster,
// ownership by the principal that created it, a sliding expiry that moves with
// each command, and the derived status (active, idle, expired, closed). Closed
// and expired sessions stay readable for a retention period and refuse
// commands.
package session

import (
	"context"
	"errors"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/auth"
	"github.com/kubently/kubently/internal/problem"
	"github.com/kubently/kubently/internal/store"
)

// Record is a stored session.
type Record struct {
	ID               string         `json:"id"`
	ClusterID        string         `json:"cluster_id"`
	Owner            string         `json:"owner"`
	CorrelationID    string         `json:"correlation_id,omitempty"`
	Metadata         map[string]any `json:"metadata,omitempty"`
	TTL              time.Duration  `json:"ttl"`
	CreatedAt        time.Time      `json:"created_at"`
	LastActivity     time.Time      `json:"last_activity"`
	ExpiresAt        time.Time      `json:"expires_at"`
	ClosedAt         time.Time      `json:"closed_at"`
	CommandsExecuted int            `json:"commands_executed"`
}

// Config holds the session lifetimes.
type Config struct {
	DefaultTTL time.Duration
	IdleAfter  time.Duration
	Retention  time.Duration
}

// Service manages sessions in a store.
type Service struct {
	col store.Collection[Record]
	cfg Config
	now func() time.Time
}

// NewService returns a session service over st.
func NewService(st store.Records, cfg Config) *Service {
	return &Service{col: store.NewCollection[Record](st, store.KindSession), cfg: cfg, now: time.Now}
}

// Status derives a session's status at now.
func (s *Service) Status(r Record, now time.Time) string {
	switch {
	case !r.ClosedAt.IsZero():
		return api.SessionClosed
	case !now.Before(r.ExpiresAt):
		return api.SessionExpired
	case now.Sub(r.LastActivity) >= s.cfg.IdleAfter:
		return api.SessionIdle
	default:
		return api.SessionActive
	}
}

// View renders a record for the API.
func (s *Service) View(r Record) api.Session {
	v := api.Session{
		SessionID:        r.ID,
		ClusterID:        r.ClusterID,
		Status:           s.Status(r, s.now()),
		CreatedAt:        api.NewTime(r.CreatedAt),
		ExpiresAt:        api.NewTime(r.ExpiresAt),
		LastActivity:     api.TimePtr(r.LastActivity),
		CommandsExecuted: r.CommandsExecuted,
		ClosedAt:         api.TimePtr(r.ClosedAt),
		CorrelationID:    r.CorrelationID,
		Owner:            r.Owner,
		Metadata:         r.Metadata,
	}
	return v
}

// retainUntil is when the store may forget the record.
func (s *Service) retainUntil(r Record) time.Time {
	end := r.ExpiresAt
	if !r.ClosedAt.IsZero() && r.ClosedAt.Before(end) {
		end = r.ClosedAt
	}
	return end.Add(s.cfg.Retention)
}

// CreateRequest is a validated session creation.
type CreateRequest struct {
	ClusterID     string
	Metadata      map[string]any
	TTL           time.Duration // zero: the default
	CorrelationID string
}

// Create opens a session owned by p.
func (s *Service) Create(ctx context.Context, p *auth.Principal, req CreateRequest) (Record, error) {
	now := s.now().UTC()
	ttl := req.TTL
	if ttl == 0 {
		ttl = s.cfg.DefaultTTL
	}
	r := Record{
		ID:            auth.NewID("sess_", 16),
		ClusterID:     req.ClusterID,
		Owner:         p.ID,
		CorrelationID: req.CorrelationID,
		Metadata:      req.Metadata,
		TTL:           ttl,
		CreatedAt:     now,
		LastActivity:  now,
		ExpiresAt:     now.Add(ttl),
	}
	if err := s.col.Create(ctx, r.ID, r, s.retainUntil(r)); err != nil {
		return Record{}, err
	}
	return r, nil
}

func notFound(id string) error { return problem.NotFound("Session not found: %s", id) }

// Get returns a session visible to p: its own, or any for an admin. Others
// get not_found, as if the session did not exist.
func (s *Service) Get(ctx context.Context, p *auth.Principal, id string) (Record, error) {
	r, err := s.col.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !visible(p, r) {
		return Record{}, notFound(id)
	}
	return r, err
}

func visible(p *auth.Principal, r Record) bool {
	if !p.CanAccessCluster(r.ClusterID) {
		return false
	}
	return p.IsAdmin() || r.Owner == p.ID
}

// Close marks a session closed; closing a closed session reports it again.
func (s *Service) Close(ctx context.Context, p *auth.Principal, id string) (Record, error) {
	if _, err := s.Get(ctx, p, id); err != nil {
		return Record{}, err
	}
	r, err := s.col.Update(ctx, id, func(r *Record) (time.Time, error) {
		if !r.ClosedAt.IsZero() {
			return time.Time{}, store.ErrUnchanged
		}
		r.ClosedAt = s.now().UTC()
		return s.retainUntil(*r), nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return Record{}, notFound(id)
	}
	return r, err
}

// Use records one accepted command on a session: the session must be visible
// to p, be for clusterID and not be closed or expired. It counts the command
// and slides the expiry forward.
func (s *Service) Use(ctx context.Context, p *auth.Principal, id, clusterID string) (Record, error) {
	if _, err := s.Get(ctx, p, id); err != nil {
		return Record{}, err
	}
	r, err := s.col.Update(ctx, id, func(r *Record) (time.Time, error) {
		now := s.now().UTC()
		switch st := s.Status(*r, now); st {
		case api.SessionClosed, api.SessionExpired:
			return time.Time{}, problem.Conflict("Session %s is %s; create a new session", id, st).WithDetails(map[string]any{"session_id": id, "status": st})
		}
		if r.ClusterID != clusterID {
			return time.Time{}, problem.Invalid("cluster_id", "session_cluster_mismatch", "Session %s belongs to cluster %s, not %s", id, r.ClusterID, clusterID)
		}
		r.CommandsExecuted++
		r.LastActivity = now
		r.ExpiresAt = now.Add(r.TTL)
		return s.retainUntil(*r), nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return Record{}, notFound(id)
	}
	return r, err
}

// Filter selects sessions in List.
type Filter struct {
	ClusterID string
	Status    string
	Limit     int
	// Visible, when set, limits the listing to what this principal may see.
	Visible *auth.Principal
}

// List returns up to f.Limit matching sessions, newest first, and how many
// matched in total.
func (s *Service) List(ctx context.Context, f Filter) ([]Record, int, error) {
	now := s.now()
	var out []Record
	total := 0
	err := s.col.Scan(ctx, func(_ string, r Record) bool {
		if f.ClusterID != "" && r.ClusterID != f.ClusterID {
			return true
		}
		if f.Status != "" && s.Status(r, now) != f.Status {
			return true
		}
		if f.Visible != nil && !visible(f.Visible, r) {
			return true
		}
		total++
		if len(out) < f.Limit {
			out = append(out, r)
		}
		return true
	})
	return out, total, err
}

// ActiveCount counts a cluster's sessions that are active or idle.
func (s *Service) ActiveCount(ctx context.Context, clusterID string) (int, error) {
	now := s.now()
	n := 0
	err := s.col.Scan(ctx, func(_ string, r Record) bool {
		if r.ClusterID == clusterID {
			if st := s.Status(r, now); st == api.SessionActive || st == api.SessionIdle {
				n++
			}
		}
		return true
	})
	return n, err
}
