// Package dispatch routes commands from clients to the executors of their
// cluster and results back. A command is accepted only when an executor is
// connected and the security mode it reported allows it; it is then stored as
// a pending result, queued in the store (at-least-once, leased per executor)
// and handed to whichever replica holds a live stream of that cluster. The
// first final result wins; duplicates from re-deliveries are ignored. A
// command whose deadline passes without a result is finalized as timeout, or
// as failed when its executor disconnected and it could not be re-delivered.
package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/audit"
	"github.com/kubently/kubently/internal/auth"
	"github.com/kubently/kubently/internal/cluster"
	"github.com/kubently/kubently/internal/policy"
	"github.com/kubently/kubently/internal/problem"
	"github.com/kubently/kubently/internal/session"
	"github.com/kubently/kubently/internal/store"
)

// Record is a stored command and its result.
type Record struct {
	ID              string        `json:"id"`
	SessionID       string        `json:"session_id"`
	ClusterID       string        `json:"cluster_id"`
	Owner           string        `json:"owner"`
	CommandType     string        `json:"command_type"`
	Args            []string      `json:"args"`
	Status          string        `json:"status"`
	Output          string        `json:"output"`
	Error           *string       `json:"error"`
	ExitCode        *int          `json:"exit_code"`
	ExecutionTimeMs int64         `json:"execution_time_ms"`
	ExecutedAt      time.Time     `json:"executed_at"`
	Truncated       bool          `json:"truncated,omitempty"`
	Warnings        string        `json:"warnings,omitempty"`
	Denial          *api.Denial   `json:"denial,omitempty"`
	CreatedAt       time.Time     `json:"created_at"`
	Deadline        time.Time     `json:"deadline"`
	Timeout         time.Duration `json:"timeout"`
	Interrupted     bool          `json:"interrupted,omitempty"`
	CorrelationID   string        `json:"correlation_id,omitempty"`
}

// View renders a record for the API.
func (r Record) View() api.Result {
	return api.Result{
		ResultID:        r.ID,
		SessionID:       r.SessionID,
		ClusterID:       r.ClusterID,
		Status:          r.Status,
		Output:          r.Output,
		Error:           r.Error,
		ExitCode:        r.ExitCode,
		ExecutionTimeMs: r.ExecutionTimeMs,
		ExecutedAt:      api.TimePtr(r.ExecutedAt),
		Truncated:       r.Truncated,
		Warnings:        r.Warnings,
		Denial:          r.Denial,
	}
}

// Config holds dispatch timings.
type Config struct {
	DefaultTimeout time.Duration
	MaxTimeout     time.Duration
	Retention      time.Duration // how long results stay readable
	Keepalive      time.Duration // stream keepalive interval
	PresenceTTL    time.Duration // stream lease length
	ClaimLease     time.Duration // how long an executor holds a command without renewing
	Grace          time.Duration // wait past a deadline for the executor's own timeout report
	Poll           time.Duration // fallback polling when notifications are lost
	Replica        string        // this replica's id, recorded in stream leases
}

// DefaultConfig returns production timings for the fields Config does not get
// from user configuration.
func DefaultConfig() Config {
	return Config{
		DefaultTimeout: 30 * time.Second,
		MaxTimeout:     300 * time.Second,
		Retention:      time.Hour,
		Keepalive:      15 * time.Second,
		PresenceTTL:    40 * time.Second,
		ClaimLease:     10 * time.Second,
		Grace:          1500 * time.Millisecond,
		Poll:           500 * time.Millisecond,
		Replica:        auth.NewID("replica-", 8),
	}
}

// Dispatcher is the command router.
type Dispatcher struct {
	st       store.Store
	results  store.Collection[Record]
	sessions *session.Service
	clusters *cluster.Registry
	audit    *audit.Log
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	obs      Observer
}

// Observer receives events for metrics; nil methods are fine.
type Observer interface {
	CommandFinished(clusterID, status string, d time.Duration)
	CommandDenied(clusterID, where string)
	StreamOpened(clusterID string)
	StreamClosed(clusterID string)
}

type noObserver struct{}

func (noObserver) CommandFinished(string, string, time.Duration) {}
func (noObserver) CommandDenied(string, string)                  {}
func (noObserver) StreamOpened(string)                           {}
func (noObserver) StreamClosed(string)                           {}

// New returns a dispatcher. obs may be nil.
func New(st store.Store, sessions *session.Service, clusters *cluster.Registry, al *audit.Log, cfg Config, log *slog.Logger, obs Observer) *Dispatcher {
	if obs == nil {
		obs = noObserver{}
	}
	return &Dispatcher{
		st:       st,
		results:  store.NewCollection[Record](st, store.KindResult),
		sessions: sessions,
		clusters: clusters,
		audit:    al,
		cfg:      cfg,
		log:      log,
		now:      time.Now,
		obs:      obs,
	}
}

// ResultTopic is the notifier topic announcing that a result became final.
func ResultTopic(id string) string { return "result:" + id }

// QueueTopic is the notifier topic announcing new work for a cluster.
func QueueTopic(clusterID string) string { return "queue:" + clusterID }

// Request is a command submission.
type Request struct {
	ClusterID     string
	SessionID     string
	CommandType   string
	Args          []string
	Timeout       time.Duration // zero: the default
	CorrelationID string
	RequestID     string
	Source        string // rest, agent, a2a, mcp
}

// Denied is the error returned when a security mode refuses a command; the
// HTTP layer answers 403 with its reason and mode.
func deniedError(reason, mode string) error {
	return problem.Forbidden("command denied: %s", reason).WithDetails(map[string]any{"reason": reason, "security_mode": mode})
}

// DeniedError turns a stored denial into the public error, so that the API's
// pre-check and the executor's refusal answer the same.
func DeniedError(d *api.Denial) error { return deniedError(d.Reason, d.SecurityMode) }

// Submit validates and queues a command for p. It returns the pending record;
// use Wait for the outcome.
func (d *Dispatcher) Submit(ctx context.Context, p *auth.Principal, req Request) (Record, error) {
	if req.Timeout == 0 {
		req.Timeout = d.cfg.DefaultTimeout
	}
	if req.Timeout < time.Second || req.Timeout > d.cfg.MaxTimeout {
		return Record{}, problem.Invalid("timeout", "invalid_value", "timeout must be between 1 and %d seconds", int(d.cfg.MaxTimeout/time.Second))
	}
	// The session must exist for this caller and cluster before anything else.
	sess, err := d.sessions.Get(ctx, p, req.SessionID)
	if err != nil {
		return Record{}, err
	}
	if sess.ClusterID != req.ClusterID {
		return Record{}, problem.Invalid("cluster_id", "session_cluster_mismatch", "Session %s belongs to cluster %s, not %s", req.SessionID, sess.ClusterID, req.ClusterID)
	}
	if !p.CanAccessCluster(req.ClusterID) {
		return Record{}, problem.NotFound("Cluster not found: %s", req.ClusterID)
	}
	started := d.now()
	entry := api.AuditEntry{
		ID:            auth.NewID("aud_", 16),
		Principal:     p.ID,
		ClusterID:     req.ClusterID,
		SessionID:     req.SessionID,
		Argv:          api.Argv(req.CommandType, req.Args),
		CorrelationID: req.CorrelationID,
		RequestID:     req.RequestID,
		Source:        req.Source,
	}
	pres, err := d.clusters.Presence(ctx, req.ClusterID)
	if err != nil {
		return Record{}, err
	}
	if !pres.Connected() {
		entry.Outcome, entry.Reason = "unavailable", "no executor connected"
		d.recordAudit(ctx, entry, started)
		var last any
		if !pres.Info.LastSeen.IsZero() {
			last = api.NewTime(pres.Info.LastSeen)
		}
		return Record{}, problem.Unavailable("Cluster agent is not connected").WithDetails(map[string]any{"cluster_id": req.ClusterID, "last_seen": last})
	}
	mode := precheckMode(pres.Modes())
	if _, err := (policy.Policy{Mode: mode}).Check(req.CommandType, req.Args); err != nil {
		var den *policy.Denial
		if !errors.As(err, &den) {
			return Record{}, err
		}
		entry.Outcome, entry.Reason = "denied", den.Reason
		d.recordAudit(ctx, entry, started)
		d.obs.CommandDenied(req.ClusterID, "api")
		return Record{}, deniedError(den.Reason, string(mode))
	}
	if _, err := d.sessions.Use(ctx, p, req.SessionID, req.ClusterID); err != nil {
		return Record{}, err
	}
	now := d.now().UTC()
	rec := Record{
		ID:            auth.NewID("res_", 16),
		SessionID:     req.SessionID,
		ClusterID:     req.ClusterID,
		Owner:         p.ID,
		CommandType:   req.CommandType,
		Args:          req.Args,
		Status:        api.StatusPending,
		CreatedAt:     now,
		Deadline:      now.Add(req.Timeout),
		Timeout:       req.Timeout,
		CorrelationID: req.CorrelationID,
	}
	if err := d.results.Create(ctx, rec.ID, rec, rec.Deadline.Add(d.cfg.Retention)); err != nil {
		return Record{}, err
	}
	entry.ID, entry.Outcome = rec.ID, api.StatusPending
	d.recordAudit(ctx, entry, started)
	cmd := api.Command{
		CommandID:     rec.ID,
		ClusterID:     rec.ClusterID,
		SessionID:     rec.SessionID,
		CommandType:   rec.CommandType,
		Args:          rec.Args,
		Deadline:      api.NewTime(rec.Deadline),
		Principal:     p.ID,
		CorrelationID: rec.CorrelationID,
	}
	payload, _ := json.Marshal(cmd)
	if err := d.st.Enqueue(ctx, rec.ClusterID, store.QueuedCommand{ID: rec.ID, Deadline: rec.Deadline, Payload: payload}); err != nil {
		return Record{}, err
	}
	if err := d.st.Publish(ctx, QueueTopic(rec.ClusterID)); err != nil {
		d.log.Warn("queue notification failed; executors will poll", "cluster", rec.ClusterID, "err", err)
	}
	return rec, nil
}

// precheckMode picks the most permissive mode the live executors reported:
// the executor is authoritative, so the pre-check must never refuse what the
// executor that gets the command would allow.
func precheckMode(modes []string) policy.Mode {
	best := policy.ReadOnly
	rank := map[policy.Mode]int{policy.ReadOnly: 0, policy.ExtendedReadOnly: 1, policy.FullAccess: 2}
	for _, s := range modes {
		if m, err := policy.ParseMode(s); err == nil && rank[m] > rank[best] {
			best = m
		}
	}
	return best
}

func (d *Dispatcher) recordAudit(ctx context.Context, e api.AuditEntry, at time.Time) {
	if err := d.audit.Record(ctx, e, at); err != nil {
		d.log.Error("audit write failed", "id", e.ID, "err", err)
	}
}

// Get returns a result visible to p (its owner, or an admin), finalizing it
// first when its deadline has passed.
func (d *Dispatcher) Get(ctx context.Context, p *auth.Principal, id string) (Record, error) {
	rec, err := d.results.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && !(p.CanAccessCluster(rec.ClusterID) && (p.IsAdmin() || rec.Owner == p.ID)) {
		return Record{}, problem.NotFound("Result not found: %s", id)
	}
	if err != nil {
		return Record{}, err
	}
	if !api.FinalStatus(rec.Status) && !d.now().Before(rec.Deadline.Add(d.cfg.Grace)) {
		return d.finalizeOverdue(ctx, rec)
	}
	return rec, nil
}

// Wait blocks until the result is final or its deadline (plus grace) passes,
// then returns it. ctx ending (client gone) returns ctx's error; the command
// itself carries on and its result stays readable.
func (d *Dispatcher) Wait(ctx context.Context, rec Record) (Record, error) {
	wake, cancel := d.st.Subscribe(ctx, ResultTopic(rec.ID))
	defer cancel()
	overdue := time.NewTimer(time.Until(rec.Deadline.Add(d.cfg.Grace)))
	defer overdue.Stop()
	poll := time.NewTicker(d.cfg.Poll)
	defer poll.Stop()
	for {
		cur, err := d.results.Get(ctx, rec.ID)
		if err != nil {
			return Record{}, err
		}
		if api.FinalStatus(cur.Status) {
			return cur, nil
		}
		select {
		case <-ctx.Done():
			return Record{}, ctx.Err()
		case <-wake:
		case <-poll.C:
		case <-overdue.C:
			return d.finalizeOverdue(ctx, cur)
		}
	}
}

// finalizeOverdue ends a command whose deadline passed without a final result.
func (d *Dispatcher) finalizeOverdue(ctx context.Context, rec Record) (Record, error) {
	pres, err := d.clusters.Presence(ctx, rec.ClusterID)
	if err != nil {
		return Record{}, err
	}
	res := api.Result{ResultID: rec.ID, Status: api.StatusTimeout}
	var msg string
	switch {
	case rec.Interrupted && !pres.Connected():
		res.Status = api.StatusFailed
		msg = fmt.Sprintf("executor of cluster %s disconnected while running the command and did not come back before its %s deadline", rec.ClusterID, rec.Timeout)
	case rec.Interrupted:
		res.Status = api.StatusFailed
		msg = fmt.Sprintf("executor of cluster %s disconnected while running the command; it could not be re-delivered before its %s deadline", rec.ClusterID, rec.Timeout)
	case !pres.Connected():
		res.Status = api.StatusFailed
		msg = fmt.Sprintf("no executor of cluster %s was connected to run the command before its %s deadline", rec.ClusterID, rec.Timeout)
	default:
		msg = fmt.Sprintf("command did not finish within %s", rec.Timeout)
	}
	res.Error = &msg
	res.Output = rec.Output
	out, _, err := d.finish(ctx, rec.ClusterID, res, true)
	return out, err
}

// Ingest stores a result posted by an executor of clusterID. It refuses
// results for commands of other clusters, and ignores duplicates and results
// that arrive after the command was finalized (first final result wins).
func (d *Dispatcher) Ingest(ctx context.Context, clusterID string, res api.Result) (Record, bool, error) {
	if res.ResultID == "" {
		return Record{}, false, problem.Missing("result_id")
	}
	rec, err := d.results.Get(ctx, res.ResultID)
	if errors.Is(err, store.ErrNotFound) {
		return Record{}, false, problem.NotFound("Result not found: %s", res.ResultID)
	}
	if err != nil {
		return Record{}, false, err
	}
	if rec.ClusterID != clusterID {
		return Record{}, false, problem.Forbidden("Result %s belongs to a command for another cluster", res.ResultID)
	}
	switch {
	case res.Status == api.StatusRunning:
		out, err := d.results.Update(ctx, rec.ID, func(r *Record) (time.Time, error) {
			if r.Status != api.StatusPending {
				return time.Time{}, store.ErrUnchanged
			}
			r.Status = api.StatusRunning
			return r.Deadline.Add(d.cfg.Retention), nil
		})
		return out, false, err
	case api.FinalStatus(res.Status):
		return d.finish(ctx, clusterID, res, false)
	default:
		return Record{}, false, problem.Invalid("status", "invalid_value", "status must be running, completed, failed or timeout, got %q", res.Status)
	}
}

// finish makes a result final unless it already is. It returns the stored
// record and whether this call was a duplicate.
func (d *Dispatcher) finish(ctx context.Context, clusterID string, res api.Result, byAPI bool) (Record, bool, error) {
	dup := false
	out, err := d.results.Update(ctx, res.ResultID, func(r *Record) (time.Time, error) {
		if api.FinalStatus(r.Status) {
			dup = true
			return time.Time{}, store.ErrUnchanged
		}
		r.Status = res.Status
		r.Output = res.Output
		r.Error = res.Error
		r.ExitCode = res.ExitCode
		r.Truncated = res.Truncated
		r.Warnings = res.Warnings
		r.Denial = res.Denial
		if byAPI {
			r.ExecutionTimeMs = d.now().Sub(r.CreatedAt).Milliseconds()
		} else {
			r.ExecutionTimeMs = res.ExecutionTimeMs
			if res.ExecutedAt != nil {
				r.ExecutedAt = res.ExecutedAt.Time
			}
		}
		return r.Deadline.Add(d.cfg.Retention), nil
	})
	if err != nil || dup {
		return out, dup, err
	}
	if err := d.st.Ack(ctx, clusterID, out.ID); err != nil {
		d.log.Warn("queue ack failed; the command will expire at its deadline", "id", out.ID, "err", err)
	}
	// The audit entry is final before anyone waiting is told.
	o := audit.Outcome{Status: out.Status, ExitCode: out.ExitCode, Duration: time.Duration(out.ExecutionTimeMs) * time.Millisecond}
	if out.Denial != nil {
		o.Status, o.Reason = "denied", out.Denial.Reason
		d.obs.CommandDenied(clusterID, "executor")
	} else if out.Error != nil && out.Status != api.StatusCompleted {
		o.Reason = firstLine(*out.Error)
	}
	fallback := api.AuditEntry{Principal: out.Owner, ClusterID: out.ClusterID, SessionID: out.SessionID, Argv: api.Argv(out.CommandType, out.Args), CorrelationID: out.CorrelationID}
	if err := d.audit.Finish(ctx, out.ID, o, fallback, out.CreatedAt); err != nil {
		d.log.Error("audit write failed", "id", out.ID, "err", err)
	}
	if err := d.st.Publish(ctx, ResultTopic(out.ID)); err != nil {
		d.log.Warn("result notification failed; waiters will poll", "id", out.ID, "err", err)
	}
	d.obs.CommandFinished(clusterID, out.Status, time.Duration(out.ExecutionTimeMs)*time.Millisecond)
	return out, false, nil
}

// markInterrupted flags commands whose stream ended before their result came,
// so that an overdue one is reported as failed rather than as a timeout.
func (d *Dispatcher) markInterrupted(ctx context.Context, ids []string) {
	for _, id := range ids {
		_, err := d.results.Update(ctx, id, func(r *Record) (time.Time, error) {
			if api.FinalStatus(r.Status) {
				return time.Time{}, store.ErrUnchanged
			}
			r.Interrupted = true
			return r.Deadline.Add(d.cfg.Retention), nil
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			d.log.Warn("could not mark interrupted command", "id", id, "err", err)
		}
	}
}

// firstLine shortens an error for the audit log (never the command output).
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}
