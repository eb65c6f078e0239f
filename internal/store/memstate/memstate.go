// Package memstate keeps the short-lived shared state of a single API replica
// in process memory: executor presence leases, GCRA rate-limit buckets and the
// wake-up notifier. The embedded store uses it because none of this needs to
// survive a restart: after one, no stream is live and buckets start full.
package memstate

import (
	"context"
	"sync"
	"time"

	"github.com/kubently/kubently/internal/store"
	"github.com/kubently/kubently/internal/store/gcra"
)

// State implements store.Presence, store.Limiter and store.Notifier in memory.
type State struct {
	mu      sync.Mutex
	leases  map[string]map[string]store.Lease // cluster -> stream -> lease
	buckets map[string]time.Time              // key -> GCRA theoretical arrival time
	subs    map[string]map[chan struct{}]struct{}
}

// New returns empty state.
func New() *State {
	return &State{
		leases:  map[string]map[string]store.Lease{},
		buckets: map[string]time.Time{},
		subs:    map[string]map[chan struct{}]struct{}{},
	}
}

// Heartbeat implements store.Presence.
func (s *State) Heartbeat(ctx context.Context, l store.Lease) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.leases[l.ClusterID]
	if m == nil {
		m = map[string]store.Lease{}
		s.leases[l.ClusterID] = m
	}
	m[l.StreamID] = l
	return nil
}

// Leave implements store.Presence.
func (s *State) Leave(ctx context.Context, clusterID, streamID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.leases[clusterID], streamID)
	return nil
}

// Streams implements store.Presence.
func (s *State) Streams(ctx context.Context, clusterID string, now time.Time) ([]store.Lease, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Lease
	for _, l := range s.leases[clusterID] {
		if now.Before(l.Until) {
			out = append(out, l)
		}
	}
	return out, nil
}

// Allow implements store.Limiter with GCRA.
func (s *State) Allow(ctx context.Context, key string, limit int, period time.Duration, now time.Time) (store.Decision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, tat := gcra.Decide(s.buckets[key], limit, period, now)
	if d.Allowed {
		s.buckets[key] = tat
	}
	return d, nil
}

// Publish implements store.Notifier.
func (s *State) Publish(ctx context.Context, topic string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.subs[topic] {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
	return nil
}

// Subscribe implements store.Notifier.
func (s *State) Subscribe(ctx context.Context, topic string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	if s.subs[topic] == nil {
		s.subs[topic] = map[chan struct{}]struct{}{}
	}
	s.subs[topic][ch] = struct{}{}
	s.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.subs[topic], ch)
			if len(s.subs[topic]) == 0 {
				delete(s.subs, topic)
			}
			s.mu.Unlock()
		})
	}
}

// Sweep forgets expired leases and full buckets so memory stays bounded.
func (s *State) Sweep(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, m := range s.leases {
		for id, l := range m {
			if !now.Before(l.Until) {
				delete(m, id)
			}
		}
		if len(m) == 0 {
			delete(s.leases, c)
		}
	}
	for k, tat := range s.buckets {
		if !tat.After(now) {
			delete(s.buckets, k)
		}
	}
}
