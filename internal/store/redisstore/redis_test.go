package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kubently/kubently/internal/redistest"
	"github.com/kubently/kubently/internal/store"
	"github.com/kubently/kubently/internal/store/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	var n atomic.Int64
	prefixes := map[store.Store]string{}
	open := func(t *testing.T, prefix string) store.Store {
		s, err := Open(Options{URL: srv.URL(), KeyPrefix: prefix}, quiet)
		if err != nil {
			t.Fatal(err)
		}
		prefixes[s] = prefix
		return s
	}
	storetest.Run(t, storetest.Factory{
		// Each test gets its own key prefix: the same isolation as a fresh database.
		Open: func(t *testing.T) store.Store { return open(t, fmt.Sprintf("t%d:", n.Add(1))) },
		Reopen: func(t *testing.T, s store.Store) store.Store {
			p := prefixes[s]
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, p)
		},
	})
}

func TestUnavailableAndRecovery(t *testing.T) {
	srv := redistest.Start(t)
	s, err := Open(Options{URL: srv.URL(), KeyPrefix: "x:"}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	start := time.Now()
	err = s.Put(ctx, "k", "a", []byte("v"), time.Time{})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("write with Redis down: %v, want ErrUnavailable", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("a write with Redis down took %s", time.Since(start))
	}
	if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Ping with Redis down: %v", err)
	}
	srv.Restart(t)
	deadline := time.Now().Add(10 * time.Second)
	for s.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("store did not recover after Redis came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.Put(ctx, "k", "a", []byte("v"), time.Time{}); err != nil {
		t.Fatalf("write after recovery: %v", err)
	}
	// Notifications work again after the reconnect.
	ch, cancel := s.Subscribe(ctx, "t")
	defer cancel()
	for i := 0; ; i++ {
		_ = s.Publish(ctx, "t")
		select {
		case <-ch:
			return
		case <-time.After(200 * time.Millisecond):
		}
		if i > 50 {
			t.Fatal("no notification after Redis restart")
		}
	}
}
