package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
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

func TestPasswordTLSAndPrefix(t *testing.T) {
	srv := redistest.StartWith(t, redistest.Options{Password: "s3cret-pass", TLS: true})
	ctx := context.Background()
	good, err := Open(Options{URL: srv.URL(), Password: "s3cret-pass", TLSCAFile: srv.CAFile, KeyPrefix: "a:"}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if err := good.Ping(ctx); err != nil {
		t.Fatalf("TLS with CA and password: %v", err)
	}
	if strings.Contains(good.Name(), "s3cret") {
		t.Fatalf("Name leaks the password: %s", good.Name())
	}
	// Another prefix is another installation on the same Redis.
	other, _ := Open(Options{URL: srv.URL(), Password: "s3cret-pass", TLSCAFile: srv.CAFile, KeyPrefix: "b:"}, quiet)
	defer other.Close()
	if err := good.Put(ctx, "k", "x", []byte("1"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Get(ctx, "k", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("prefixes are not isolated: %v", err)
	}
	for name, o := range map[string]Options{
		"wrong password": {URL: srv.URL(), Password: "nope", TLSCAFile: srv.CAFile},
		"untrusted cert": {URL: srv.URL(), Password: "s3cret-pass"},
		"plain text":     {URL: strings.Replace(srv.URL(), "rediss://", "redis://", 1), Password: "s3cret-pass"},
	} {
		s, err := Open(o, quiet)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Ping(ctx)
		s.Close()
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("%s: Ping = %v, want ErrUnavailable", name, err)
		}
		if strings.Contains(fmt.Sprint(err), "s3cret") {
			t.Fatalf("%s: error leaks the password: %v", name, err)
		}
	}
}

func TestSweepTrimsIndexesOfEveryKind(t *testing.T) {
	srv := redistest.Start(t)
	s, err := Open(Options{URL: srv.URL(), KeyPrefix: "sw:"}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for _, kind := range []string{"beat", "some-new-kind"} {
		if err := s.Put(ctx, kind, "a", []byte("x"), time.Now().Add(300*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	s.sweepIndexes(ctx)
	for _, kind := range []string{"beat", "some-new-kind"} {
		if n, _ := s.rdb.ZCard(ctx, s.k("idx", kind)).Result(); n != 0 {
			t.Fatalf("index of %s keeps %d entries of expired records", kind, n)
		}
	}
}
