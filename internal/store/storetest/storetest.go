// Package storetest is the one conformance suite every store backend must
// pass. Each backend's tests call Run with a factory; the suite checks records,
// expiry, ordering, atomic updates, the command queue's at-least-once leases,
// presence, rate limiting, notifications and durability across a reopen.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kubently/kubently/internal/store"
)

// Factory opens stores for the suite.
type Factory struct {
	// Open returns a fresh, empty store; the suite closes it.
	Open func(t *testing.T) store.Store
	// Reopen closes s and opens the same data again (a restart).
	Reopen func(t *testing.T, s store.Store) store.Store
}

// Run runs the whole suite.
func Run(t *testing.T, f Factory) {
	t.Run("Records", func(t *testing.T) { testRecords(t, f) })
	t.Run("Expiry", func(t *testing.T) { testExpiry(t, f) })
	t.Run("ScanOrderAndPaging", func(t *testing.T) { testScan(t, f) })
	t.Run("AtomicUpdate", func(t *testing.T) { testAtomicUpdate(t, f) })
	t.Run("Collection", func(t *testing.T) { testCollection(t, f) })
	t.Run("Queue", func(t *testing.T) { testQueue(t, f) })
	t.Run("QueueLeaseLapse", func(t *testing.T) { testQueueLease(t, f) })
	t.Run("Presence", func(t *testing.T) { testPresence(t, f) })
	t.Run("Limiter", func(t *testing.T) { testLimiter(t, f) })
	t.Run("Notifier", func(t *testing.T) { testNotifier(t, f) })
	t.Run("Trim", func(t *testing.T) { testTrim(t, f) })
	t.Run("Durability", func(t *testing.T) { testDurability(t, f) })
}

func open(t *testing.T, f Factory) store.Store {
	t.Helper()
	s := f.Open(t)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testRecords(t *testing.T, f Factory) {
	s, ctx := open(t, f), context.Background()
	must(t, s.Ping(ctx))
	if _, err := s.Get(ctx, "k", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get missing: %v, want ErrNotFound", err)
	}
	must(t, s.Create(ctx, "k", "a", []byte("1"), time.Time{}))
	if err := s.Create(ctx, "k", "a", []byte("2"), time.Time{}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Create twice: %v, want ErrConflict", err)
	}
	if v, err := s.Get(ctx, "k", "a"); err != nil || string(v) != "1" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	// The same id in another kind is another record.
	if _, err := s.Get(ctx, "other", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("kinds are not separate: %v", err)
	}
	must(t, s.Put(ctx, "k", "a", []byte("3"), time.Time{}))
	must(t, s.Update(ctx, "k", "a", func(old []byte) ([]byte, time.Time, error) {
		return append(old, '4'), time.Time{}, nil
	}))
	if v, _ := s.Get(ctx, "k", "a"); string(v) != "34" {
		t.Fatalf("after Put+Update = %q, want 34", v)
	}
	boom := errors.New("boom")
	if err := s.Update(ctx, "k", "a", func([]byte) ([]byte, time.Time, error) { return nil, time.Time{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("Update error not passed through: %v", err)
	}
	if v, _ := s.Get(ctx, "k", "a"); string(v) != "34" {
		t.Fatalf("failed Update changed the record: %q", v)
	}
	if err := s.Update(ctx, "k", "missing", func(b []byte) ([]byte, time.Time, error) { return b, time.Time{}, nil }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Update missing: %v", err)
	}
	must(t, s.Delete(ctx, "k", "a"))
	if err := s.Delete(ctx, "k", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Delete twice: %v", err)
	}
	if _, err := s.Get(ctx, "k", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}
}

func testExpiry(t *testing.T, f Factory) {
	s, ctx := open(t, f), context.Background()
	past := time.Now().Add(-time.Second)
	must(t, s.Put(ctx, "k", "old", []byte("x"), past))
	if _, err := s.Get(ctx, "k", "old"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired record visible: %v", err)
	}
	// An expired id can be created again.
	must(t, s.Create(ctx, "k", "old", []byte("new"), time.Now().Add(time.Hour)))
	if v, err := s.Get(ctx, "k", "old"); err != nil || string(v) != "new" {
		t.Fatalf("recreated = %q, %v", v, err)
	}
	// Update can shorten the expiry to the past, which removes the record.
	must(t, s.Update(ctx, "k", "old", func(b []byte) ([]byte, time.Time, error) { return b, past, nil }))
	if _, err := s.Get(ctx, "k", "old"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("record expired by Update still visible: %v", err)
	}
	// A short expiry passes in real time.
	must(t, s.Put(ctx, "k", "short", []byte("x"), time.Now().Add(1500*time.Millisecond)))
	if _, err := s.Get(ctx, "k", "short"); err != nil {
		t.Fatalf("record gone early: %v", err)
	}
	time.Sleep(1600 * time.Millisecond)
	if _, err := s.Get(ctx, "k", "short"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("record outlived its expiry: %v", err)
	}
	n := 0
	must(t, s.Scan(ctx, "k", func(string, []byte) bool { n++; return true }))
	if n != 0 {
		t.Fatalf("Scan shows %d expired records", n)
	}
}

func testScan(t *testing.T, f Factory) {
	s, ctx := open(t, f), context.Background()
	const total = 600 // more than one page of any backend
	for i := 0; i < total; i++ {
		must(t, s.Create(ctx, "k", fmt.Sprintf("id%04d", i), []byte(fmt.Sprint(i)), time.Time{}))
	}
	// Replacing a record keeps its place; deleting one removes it.
	must(t, s.Put(ctx, "k", "id0010", []byte("replaced"), time.Time{}))
	must(t, s.Delete(ctx, "k", "id0020"))
	var ids []string
	must(t, s.Scan(ctx, "k", func(id string, v []byte) bool { ids = append(ids, id); return true }))
	if len(ids) != total-1 {
		t.Fatalf("Scan saw %d records, want %d", len(ids), total-1)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i-1] <= ids[i] {
			t.Fatalf("Scan not newest first at %d: %s then %s", i, ids[i-1], ids[i])
		}
	}
	n := 0
	must(t, s.Scan(ctx, "k", func(string, []byte) bool { n++; return n < 5 }))
	if n != 5 {
		t.Fatalf("Scan did not stop when asked: %d calls", n)
	}
	// fn may use the store while scanning.
	must(t, s.Scan(ctx, "k", func(id string, _ []byte) bool {
		_, err := s.Get(ctx, "k", id)
		must(t, err)
		return false
	}))
}

func testAtomicUpdate(t *testing.T, f Factory) {
	s, ctx := open(t, f), context.Background()
	c := store.NewCollection[int](s, "counter")
	must(t, c.Create(ctx, "n", 0, time.Time{}))
	var wg sync.WaitGroup
	const workers, each = 8, 10
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := c.Update(ctx, "n", func(v *int) (time.Time, error) { *v++; return time.Time{}, nil }); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if v, _ := c.Get(ctx, "n"); v != workers*each {
		t.Fatalf("concurrent increments lost: %d, want %d", v, workers*each)
	}
}

type doc struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

func testCollection(t *testing.T, f Factory) {
	s, ctx := open(t, f), context.Background()
	c := store.NewCollection[doc](s, "docs")
	must(t, c.Create(ctx, "a", doc{Name: "a"}, time.Time{}))
	got, err := c.Update(ctx, "a", func(d *doc) (time.Time, error) { d.Count = 7; return time.Time{}, nil })
	must(t, err)
	if got.Count != 7 {
		t.Fatalf("Update returned %+v", got)
	}
	got, err = c.Update(ctx, "a", func(d *doc) (time.Time, error) { d.Count = 99; return time.Time{}, store.ErrUnchanged })
	must(t, err)
	if got.Count != 7 {
		t.Fatalf("ErrUnchanged update returned %+v, want the stored value", got)
	}
	if d, _ := c.Get(ctx, "a"); d.Count != 7 {
		t.Fatalf("ErrUnchanged update modified the record: %+v", d)
	}
}

func enqueue(t *testing.T, s store.Store, cluster, id string, deadline time.Time) {
	t.Helper()
	must(t, s.Enqueue(context.Background(), cluster, store.QueuedCommand{ID: id, Deadline: deadline, Payload: []byte(`{"id":"` + id + `"}`)}))
}

func ids(cmds []store.QueuedCommand) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, c.ID)
	}
	return out
}

func testQueue(t *testing.T, f Factory) {
	s, ctx := open(t, f), context.Background()
	now := time.Now()
	dl := now.Add(time.Minute)
	enqueue(t, s, "c1", "a", dl)
	enqueue(t, s, "c1", "b", dl)
	enqueue(t, s, "c1", "c", dl)
	enqueue(t, s, "c2", "z", dl)
	if err := s.Enqueue(ctx, "c1", store.QueuedCommand{ID: "a", Deadline: dl}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate Enqueue: %v, want ErrConflict", err)
	}
	if d, _ := s.Depth(ctx, "c1", now); d != 3 {
		t.Fatalf("Depth = %d, want 3", d)
	}
	got, err := s.Claim(ctx, "c1", "e1", 2, 10*time.Second, now)
	must(t, err)
	if fmt.Sprint(ids(got)) != "[a b]" || got[0].Delivery != 1 || string(got[0].Payload) != `{"id":"a"}` {
		t.Fatalf("first Claim = %+v", got)
	}
	// Another consumer only gets what is not leased.
	got, _ = s.Claim(ctx, "c1", "e2", 10, 10*time.Second, now)
	if fmt.Sprint(ids(got)) != "[c]" {
		t.Fatalf("second consumer got %v, want [c]", ids(got))
	}
	// The same consumer gets its claims again (a reconnect) without a new delivery.
	got, _ = s.Claim(ctx, "c1", "e1", 10, 10*time.Second, now)
	if fmt.Sprint(ids(got)) != "[a b]" || got[0].Delivery != 1 {
		t.Fatalf("reclaim by same consumer = %v (delivery %d)", ids(got), got[0].Delivery)
	}
	must(t, s.Ack(ctx, "c1", "a"))
	must(t, s.Ack(ctx, "c1", "a")) // idempotent
	// Release hands e1's remaining claim to others as a new delivery.
	must(t, s.Release(ctx, "c1", "e1"))
	got, _ = s.Claim(ctx, "c1", "e3", 10, 10*time.Second, now)
	if fmt.Sprint(ids(got)) != "[b]" || got[0].Delivery != 2 {
		t.Fatalf("after Release, e3 got %+v, want b with delivery 2", got)
	}
	if d, _ := s.Depth(ctx, "c1", now); d != 2 {
		t.Fatalf("Depth after ack = %d, want 2", d)
	}
	// Other clusters are separate queues.
	got, _ = s.Claim(ctx, "c2", "e1", 10, 10*time.Second, now)
	if fmt.Sprint(ids(got)) != "[z]" {
		t.Fatalf("c2 claim = %v", ids(got))
	}
	// Past-deadline commands are never handed out and do not count.
	enqueue(t, s, "c3", "late", now.Add(time.Second))
	later := now.Add(2 * time.Second)
	if got, _ = s.Claim(ctx, "c3", "e1", 10, 10*time.Second, later); len(got) != 0 {
		t.Fatalf("past-deadline command handed out: %v", ids(got))
	}
	if d, _ := s.Depth(ctx, "c3", later); d != 0 {
		t.Fatalf("Depth counts past-deadline command: %d", d)
	}
}

func testQueueLease(t *testing.T, f Factory) {
	s, ctx := open(t, f), context.Background()
	now := time.Now()
	enqueue(t, s, "c", "a", now.Add(time.Minute))
	got, _ := s.Claim(ctx, "c", "dead-executor", 10, 5*time.Second, now)
	if len(got) != 1 {
		t.Fatalf("claim = %v", ids(got))
	}
	if got, _ = s.Claim(ctx, "c", "other", 10, 5*time.Second, now.Add(4*time.Second)); len(got) != 0 {
		t.Fatalf("lease not honoured: %v", ids(got))
	}
	got, _ = s.Claim(ctx, "c", "other", 10, 5*time.Second, now.Add(6*time.Second))
	if fmt.Sprint(ids(got)) != "[a]" || got[0].Delivery != 2 {
		t.Fatalf("after lease lapse got %+v, want a with delivery 2", got)
	}
}

func testPresence(t *testing.T, f Factory) {
	s, ctx := open(t, f), context.Background()
	now := time.Now()
	must(t, s.Heartbeat(ctx, store.Lease{StreamID: "s1", ClusterID: "c", ExecutorID: "e1", Replica: "r1", Info: []byte(`{"v":1}`), Until: now.Add(30 * time.Second)}))
	must(t, s.Heartbeat(ctx, store.Lease{StreamID: "s2", ClusterID: "c", ExecutorID: "e2", Replica: "r2", Until: now.Add(10 * time.Second)}))
	ls, err := s.Streams(ctx, "c", now)
	must(t, err)
	if len(ls) != 2 {
		t.Fatalf("Streams = %+v", ls)
	}
	for _, l := range ls {
		if l.StreamID == "s1" && (l.ExecutorID != "e1" || l.Replica != "r1" || string(l.Info) != `{"v":1}`) {
			t.Fatalf("lease fields lost: %+v", l)
		}
	}
	if ls, _ = s.Streams(ctx, "c", now.Add(20*time.Second)); len(ls) != 1 || ls[0].StreamID != "s1" {
		t.Fatalf("expired lease still listed: %+v", ls)
	}
	must(t, s.Heartbeat(ctx, store.Lease{StreamID: "s2", ClusterID: "c", ExecutorID: "e2", Until: now.Add(60 * time.Second)}))
	if ls, _ = s.Streams(ctx, "c", now.Add(20*time.Second)); len(ls) != 2 {
		t.Fatalf("renewed lease not listed: %+v", ls)
	}
	must(t, s.Leave(ctx, "c", "s1"))
	if ls, _ = s.Streams(ctx, "c", now); len(ls) != 1 || ls[0].StreamID != "s2" {
		t.Fatalf("after Leave: %+v", ls)
	}
	if ls, _ = s.Streams(ctx, "other", now); len(ls) != 0 {
		t.Fatalf("other cluster has leases: %+v", ls)
	}
}

func testLimiter(t *testing.T, f Factory) {
	s, ctx := open(t, f), context.Background()
	now := time.Now()
	for i := 0; i < 5; i++ {
		d, err := s.Allow(ctx, "key", 5, time.Minute, now)
		must(t, err)
		if !d.Allowed || d.Limit != 5 || d.Remaining != 4-i {
			t.Fatalf("request %d: %+v, want allowed with remaining %d", i, d, 4-i)
		}
	}
	d, _ := s.Allow(ctx, "key", 5, time.Minute, now)
	if d.Allowed || d.Remaining != 0 || d.RetryAfter <= 11*time.Second || d.RetryAfter > 12*time.Second {
		t.Fatalf("sixth request: %+v, want denied with retry-after 12s", d)
	}
	if !d.ResetAt.After(now) {
		t.Fatalf("reset not in the future: %+v", d)
	}
	if d, _ = s.Allow(ctx, "other", 5, time.Minute, now); !d.Allowed {
		t.Fatalf("keys are not independent: %+v", d)
	}
	if d, _ = s.Allow(ctx, "key", 5, time.Minute, now.Add(12*time.Second)); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after one interval: %+v, want allowed with 0 remaining", d)
	}
	if d, _ = s.Allow(ctx, "key", 5, time.Minute, now.Add(2*time.Minute)); !d.Allowed || d.Remaining != 4 {
		t.Fatalf("after a full period: %+v, want a full bucket", d)
	}
}

func testNotifier(t *testing.T, f Factory) {
	s, ctx := open(t, f), context.Background()
	ch, cancel := s.Subscribe(ctx, "topic")
	defer cancel()
	other, cancelOther := s.Subscribe(ctx, "other")
	defer cancelOther()
	// Subscriptions may take a moment to become active on networked backends.
	deadline := time.After(5 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	must(t, s.Publish(ctx, "topic"))
	for received := false; !received; {
		select {
		case <-ch:
			received = true
		case <-tick.C:
			must(t, s.Publish(ctx, "topic"))
		case <-deadline:
			t.Fatal("no notification within 5s")
		}
	}
	select {
	case <-other:
		t.Fatal("notification leaked to another topic")
	case <-time.After(200 * time.Millisecond):
	}
}

func testDurability(t *testing.T, f Factory) {
	s := f.Open(t)
	ctx := context.Background()
	must(t, s.Create(ctx, "k", "keep", []byte("v"), time.Now().Add(time.Hour)))
	enqueue(t, s, "c", "cmd", time.Now().Add(time.Hour))
	s = f.Reopen(t, s)
	t.Cleanup(func() { _ = s.Close() })
	if v, err := s.Get(ctx, "k", "keep"); err != nil || string(v) != "v" {
		t.Fatalf("record lost across reopen: %q, %v", v, err)
	}
	if got, _ := s.Claim(ctx, "c", "e", 10, time.Second, time.Now()); fmt.Sprint(ids(got)) != "[cmd]" {
		t.Fatalf("queued command lost across reopen: %v", ids(got))
	}
}

func testTrim(t *testing.T, f Factory) {
	s, ctx := open(t, f), context.Background()
	for i := 0; i < 10; i++ {
		must(t, s.Create(ctx, "log", fmt.Sprintf("e%02d", i), []byte("x"), time.Time{}))
	}
	n, err := s.Trim(ctx, "log", 4)
	must(t, err)
	if n != 6 {
		t.Fatalf("Trim removed %d, want 6", n)
	}
	var ids []string
	must(t, s.Scan(ctx, "log", func(id string, _ []byte) bool { ids = append(ids, id); return true }))
	if fmt.Sprint(ids) != "[e09 e08 e07 e06]" {
		t.Fatalf("after Trim: %v, want the newest four", ids)
	}
	if _, err := s.Get(ctx, "log", "e00"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("trimmed record still readable: %v", err)
	}
	if n, _ := s.Trim(ctx, "log", 4); n != 0 {
		t.Fatalf("second Trim removed %d", n)
	}
}
