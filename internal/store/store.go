// Package store defines where Kubently keeps its shared state and the small
// interfaces that every backend implements: an embedded database (boltstore,
// the default) and Redis (redisstore, for several API replicas). Both pass the
// one conformance suite in storetest.
//
// A backend provides a handful of primitives — records with expiry, a command
// queue with leased claims, executor presence leases, a rate limiter and a
// wake-up notifier. The typed collections in this package (sessions, tokens,
// results, clusters, audit) are written once on top of those primitives, so the
// two backends cannot drift apart in behaviour.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors every backend returns for the same conditions.
var (
	// ErrNotFound: the record does not exist (or has expired).
	ErrNotFound = errors.New("not found")
	// ErrConflict: Create found an existing record.
	ErrConflict = errors.New("already exists")
	// ErrUnavailable wraps backend failures (connection refused, timeouts):
	// callers answer 503 and retry later; nothing was half-written.
	ErrUnavailable = errors.New("store unavailable")
)

// Record kinds (collections).
const (
	KindToken   = "token"
	KindCluster = "cluster"
	KindSession = "session"
	KindResult  = "result"
	KindAudit   = "audit"
	KindThread  = "thread"
	KindTask    = "task"
)

// UpdateFunc computes the new value of a record from its current value. It
// returns the value to store and its expiry (zero: never). Returning an error
// aborts the update and is passed through to the caller.
type UpdateFunc func(old []byte) (value []byte, expireAt time.Time, err error)

// Records is a set of collections of opaque values keyed by id, each with an
// optional expiry. Scan visits records newest first (in creation order).
type Records interface {
	// Create stores a new record; ErrConflict if the id exists and has not expired.
	Create(ctx context.Context, kind, id string, value []byte, expireAt time.Time) error
	// Put creates or replaces a record, keeping its original creation order.
	Put(ctx context.Context, kind, id string, value []byte, expireAt time.Time) error
	// Get returns a record; ErrNotFound if absent or expired.
	Get(ctx context.Context, kind, id string) ([]byte, error)
	// Update atomically replaces a record with fn(old); ErrNotFound if absent.
	Update(ctx context.Context, kind, id string, fn UpdateFunc) error
	// Delete removes a record; ErrNotFound if absent.
	Delete(ctx context.Context, kind, id string) error
	// Scan calls fn for every live record of kind, newest first, until fn returns false.
	Scan(ctx context.Context, kind string, fn func(id string, value []byte) bool) error
	// Trim deletes the oldest records of kind beyond the newest keep, and
	// returns how many it deleted (bounds collections such as the audit log).
	Trim(ctx context.Context, kind string, keep int) (int, error)
}

// QueuedCommand is a command waiting in, or claimed from, a cluster's queue.
type QueuedCommand struct {
	ID       string
	Deadline time.Time
	Payload  []byte
	// Delivery counts how many times the command was handed out, 1 for the first.
	Delivery int
}

// Queue holds each cluster's accepted commands until an executor acknowledges
// them. Delivery is at-least-once: a claim is a lease held by one consumer (an
// executor process); it is renewed whenever that consumer claims again and
// lapses when it stops doing so, after which any consumer gets the command.
type Queue interface {
	// Enqueue adds a command to the cluster's queue.
	Enqueue(ctx context.Context, clusterID string, cmd QueuedCommand) error
	// Claim hands out up to max commands that are unclaimed, claimed by this
	// same consumer, or whose lease lapsed, and (re)leases them to consumer until
	// now+lease. Commands past their deadline are dropped, never handed out.
	Claim(ctx context.Context, clusterID, consumer string, max int, lease time.Duration, now time.Time) ([]QueuedCommand, error)
	// Ack removes a command (it has a final result). Acking an absent command is not an error.
	Ack(ctx context.Context, clusterID, commandID string) error
	// Release returns the consumer's claims to the queue at once (its stream ended).
	Release(ctx context.Context, clusterID, consumer string) error
	// Depth counts the commands not yet acknowledged (past-deadline ones excluded).
	Depth(ctx context.Context, clusterID string, now time.Time) (int, error)
}

// Lease is one live executor stream as seen by presence.
type Lease struct {
	StreamID   string
	ClusterID  string
	ExecutorID string
	Replica    string
	Info       []byte
	Until      time.Time
}

// Presence tracks live executor streams with leases, so that with several
// replicas a cluster is connected only while some replica holds a live stream.
type Presence interface {
	// Heartbeat creates or extends a stream's lease until l.Until.
	Heartbeat(ctx context.Context, l Lease) error
	// Leave drops a stream's lease (the stream ended cleanly).
	Leave(ctx context.Context, clusterID, streamID string) error
	// Streams lists the cluster's unexpired leases.
	Streams(ctx context.Context, clusterID string, now time.Time) ([]Lease, error)
}

// Decision is the outcome of one rate-limit check.
type Decision struct {
	Allowed    bool
	Limit      int
	Remaining  int
	ResetAt    time.Time     // when the bucket is full again
	RetryAfter time.Duration // zero when allowed
}

// Limiter is a GCRA rate limiter: limit requests per period with bursts up to
// limit. Keys are shared by all replicas that share the backend.
type Limiter interface {
	Allow(ctx context.Context, key string, limit int, period time.Duration, now time.Time) (Decision, error)
}

// Notifier wakes waiters up across replicas (new command queued, result
// stored, token revoked). It is only a hint: the truth is in the records, and
// waiters also poll, so a lost notification costs latency, never data.
type Notifier interface {
	Publish(ctx context.Context, topic string) error
	// Subscribe returns a channel that receives a value after each Publish on
	// topic (coalesced); cancel releases it.
	Subscribe(ctx context.Context, topic string) (ch <-chan struct{}, cancel func())
}

// Store is everything a backend provides.
type Store interface {
	Records
	Queue
	Presence
	Limiter
	Notifier
	// Ping checks that the backend is usable (readiness).
	Ping(ctx context.Context) error
	// Name describes the backend for health output, e.g. "bolt:/data/kubently.db".
	Name() string
	Close() error
}
