package boltstore

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kubently/kubently/internal/store"
	"github.com/kubently/kubently/internal/store/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestConformance(t *testing.T) {
	dirs := map[store.Store]string{}
	storetest.Run(t, storetest.Factory{
		Open: func(t *testing.T) store.Store {
			dir := t.TempDir()
			s, err := Open(dir, time.Minute, quiet)
			if err != nil {
				t.Fatal(err)
			}
			dirs[s] = dir
			return s
		},
		Reopen: func(t *testing.T, s store.Store) store.Store {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			n, err := Open(dirs[s], time.Minute, quiet)
			if err != nil {
				t.Fatal(err)
			}
			dirs[n] = dirs[s]
			return n
		},
	})
}

func TestSecondProcessIsRefusedClearly(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 0, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = Open(dir, 0, quiet)
	if err == nil || !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("second open: %v", err)
	}
}

func TestSweepRemovesExpired(t *testing.T) {
	s, err := Open(t.TempDir(), 0, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	now := time.Now()
	if err := s.Put(ctx, "k", "gone", []byte("x"), now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "k", "kept", []byte("x"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, "c", store.QueuedCommand{ID: "q", Deadline: now.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	n, err := s.Sweep(now.Add(2 * time.Second))
	if err != nil || n != 2 {
		t.Fatalf("Sweep removed %d (%v), want 2", n, err)
	}
	if _, err := s.Get(ctx, "k", "kept"); err != nil {
		t.Fatalf("Sweep removed a live record: %v", err)
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	s, err := Open(t.TempDir(), 0, quiet)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Ping(context.Background()); err == nil {
		t.Fatal("Ping on a closed store succeeded")
	}
}
