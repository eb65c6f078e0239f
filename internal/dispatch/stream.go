package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/kubently/kubently/api"
	"github.com/kubently/kubently/internal/auth"
	"github.com/kubently/kubently/internal/cluster"
	"github.com/kubently/kubently/internal/problem"
	"github.com/kubently/kubently/internal/store"
)

// Sink sends one event on an executor's stream and flushes it.
type Sink interface {
	Send(event string, data any) error
}

// StreamRequest describes a connecting executor.
type StreamRequest struct {
	ClusterID  string
	ExecutorID string // stable for the executor process: its claims survive a reconnect
	Info       cluster.StreamInfo
	// StillValid re-checks the executor's credentials on every keepalive, so a
	// revoked token cuts the stream even if the revocation notice was lost.
	StillValid func(ctx context.Context) error
}

// ErrRevoked ends a stream whose token was revoked.
var ErrRevoked = errors.New("executor token revoked")

// stillValid re-checks the executor's token: a refusal ends the stream as
// revoked, any other failure (the store is down) with that failure.
func stillValid(ctx context.Context, req StreamRequest) error {
	err := req.StillValid(ctx)
	if p, ok := problem.As(err); ok && p.Code == api.CodeUnauthorized {
		return ErrRevoked
	}
	return err
}

// ErrNoHeartbeat ends a stream whose executor stopped sending heartbeats.
var ErrNoHeartbeat = errors.New("no heartbeat from the executor: presumed dead")

// kindBeat holds each executor's last heartbeat, expiring after the presence TTL.
const kindBeat = "beat"

func beatID(clusterID, executorID string) string { return clusterID + "/" + executorID }

// Beat records that an executor is alive (POST /executor/heartbeat). Any
// replica may receive it; the replica holding the stream reads it.
func (d *Dispatcher) Beat(ctx context.Context, clusterID, executorID string) error {
	now := d.now()
	b, _ := json.Marshal(now.UTC())
	return d.st.Put(ctx, kindBeat, beatID(clusterID, executorID), b, now.Add(d.cfg.PresenceTTL))
}

// alive reports whether the executor's heartbeats are current. A stream
// younger than the presence TTL counts as alive (its first beat may still be
// on the way).
func (d *Dispatcher) alive(ctx context.Context, req StreamRequest, opened time.Time) (bool, error) {
	if d.now().Sub(opened) < d.cfg.PresenceTTL {
		return true, nil
	}
	_, err := d.st.Get(ctx, kindBeat, beatID(req.ClusterID, req.ExecutorID))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// maxInFlight bounds how many commands one stream holds at a time; the
// executor queues them for its own worker pool.
const maxInFlight = 64

// Serve feeds a cluster's queued commands to one executor stream until ctx
// ends, the token is revoked or the store fails. It keeps the stream's
// presence lease alive and sends a keepalive every cfg.Keepalive.
func (d *Dispatcher) Serve(ctx context.Context, req StreamRequest, sink Sink) error {
	streamID := auth.NewID("str_", 12)
	opened := d.now()
	info, _ := json.Marshal(req.Info)
	lease := func() store.Lease {
		return store.Lease{StreamID: streamID, ClusterID: req.ClusterID, ExecutorID: req.ExecutorID, Replica: d.cfg.Replica, Info: info, Until: d.now().Add(d.cfg.PresenceTTL)}
	}
	if err := d.st.Heartbeat(ctx, lease()); err != nil {
		return err
	}
	// A new stream from the same executor means its previous one is dead:
	// what that stream held is handed out again, as a counted re-delivery.
	if err := d.st.Release(ctx, req.ClusterID, req.ExecutorID); err != nil {
		return err
	}
	if err := d.clusters.Report(ctx, cluster.Info{
		ClusterID: req.ClusterID, AgentVersion: req.Info.AgentVersion, KubernetesVersion: req.Info.KubernetesVersion,
		SecurityMode: req.Info.SecurityMode, AllowedVerbs: req.Info.AllowedVerbs,
	}); err != nil {
		return err
	}
	d.obs.StreamOpened(req.ClusterID)
	d.log.Info("executor stream opened", "cluster", req.ClusterID, "executor", req.ExecutorID, "stream", streamID, "mode", req.Info.SecurityMode, "version", req.Info.AgentVersion)
	sent := map[string]bool{}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = d.st.Leave(cctx, req.ClusterID, streamID)
		_ = d.st.Release(cctx, req.ClusterID, req.ExecutorID)
		ids := make([]string, 0, len(sent))
		for id := range sent {
			ids = append(ids, id)
		}
		d.markInterrupted(cctx, ids)
		d.obs.StreamClosed(req.ClusterID)
		d.log.Info("executor stream closed", "cluster", req.ClusterID, "executor", req.ExecutorID, "stream", streamID, "in_flight", len(ids))
	}()

	wake, cancelWake := d.st.Subscribe(ctx, QueueTopic(req.ClusterID))
	defer cancelWake()
	revoked, cancelRevoked := d.st.Subscribe(ctx, cluster.RevokeTopic(req.ClusterID))
	defer cancelRevoked()

	if err := sink.Send(api.EventHello, api.Hello{ClusterID: req.ClusterID, StreamID: streamID, KeepaliveMs: d.cfg.Keepalive.Milliseconds()}); err != nil {
		return err
	}
	keepalive := time.NewTicker(d.cfg.Keepalive)
	defer keepalive.Stop()
	poll := time.NewTicker(d.cfg.Poll)
	defer poll.Stop()
	for {
		now := d.now()
		claimed, err := d.st.Claim(ctx, req.ClusterID, req.ExecutorID, maxInFlight, d.cfg.ClaimLease, now)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		current := make(map[string]bool, len(claimed))
		for _, c := range claimed {
			current[c.ID] = true
			if sent[c.ID] {
				continue
			}
			var cmd api.Command
			if err := json.Unmarshal(c.Payload, &cmd); err != nil {
				d.log.Error("undecodable queued command dropped", "id", c.ID, "err", err)
				_ = d.st.Ack(ctx, req.ClusterID, c.ID)
				continue
			}
			cmd.TimeoutMs = c.Deadline.Sub(now).Milliseconds()
			cmd.Delivery = c.Delivery
			if err := sink.Send(api.EventCommand, cmd); err != nil {
				sent[c.ID] = true // it may have reached the executor
				return err
			}
		}
		sent = current
		select {
		case <-ctx.Done():
			return nil
		case <-revoked:
			if err := stillValid(ctx, req); err != nil {
				return err
			}
		case <-wake:
		case <-poll.C:
		case <-keepalive.C:
			if err := stillValid(ctx, req); err != nil {
				return err
			}
			if ok, err := d.alive(ctx, req, opened); err != nil {
				return err
			} else if !ok {
				return ErrNoHeartbeat
			}
			if err := sink.Send(api.EventPing, map[string]any{"time": api.NewTime(d.now())}); err != nil {
				return err
			}
			if err := d.st.Heartbeat(ctx, lease()); err != nil {
				return err
			}
			if err := d.clusters.Seen(ctx, req.ClusterID); err != nil {
				return err
			}
		}
	}
}
