package redisstore

import (
	"context"
	"sync"
	"time"
)

// Notifier: one shared pub/sub connection per store; local subscribers are
// fanned out from it. go-redis re-subscribes after reconnects; missed
// messages only delay waiters, who also poll.

// Publish implements store.Notifier.
func (s *Store) Publish(ctx context.Context, topic string) error {
	return wrap(s.rdb.Publish(ctx, s.k("n", topic), "1").Err())
}

// Subscribe implements store.Notifier.
func (s *Store) Subscribe(ctx context.Context, topic string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	channel := s.k("n", topic)
	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.mu.Lock()
	first := len(s.subs[channel]) == 0
	if first {
		s.subs[channel] = map[chan struct{}]struct{}{}
	}
	s.subs[channel][ch] = struct{}{}
	s.mu.Unlock()
	if first {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := s.pubsub.Subscribe(sctx, channel); err != nil {
			s.log.Debug("redis subscribe failed; relying on polling", "err", err)
		}
		cancel()
	}
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			s.opMu.Lock()
			defer s.opMu.Unlock()
			s.mu.Lock()
			delete(s.subs[channel], ch)
			last := len(s.subs[channel]) == 0
			if last {
				delete(s.subs, channel)
			}
			s.mu.Unlock()
			if last {
				uctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_ = s.pubsub.Unsubscribe(uctx, channel)
				cancel()
			}
		})
	}
}

func (s *Store) receive() {
	defer s.wg.Done()
	msgs := s.pubsub.Channel()
	for {
		select {
		case <-s.stop:
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			s.mu.Lock()
			for ch := range s.subs[m.Channel] {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
			s.mu.Unlock()
		}
	}
}
