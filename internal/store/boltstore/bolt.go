// Package boltstore is Kubently's default, embedded store: a bbolt database
// file in the data directory that keeps tokens, sessions, results and the
// audit log across restarts with no external service. Presence, rate-limit
// buckets and wake-ups live in process memory, which is exact for the single
// replica this backend serves (bbolt locks its file against a second process).
package boltstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/kubently/kubently/internal/store"
	"github.com/kubently/kubently/internal/store/memstate"
)

// FileName is the database file inside the data directory.
const FileName = "kubently.db"

// Store is the bbolt-backed store.Store.
type Store struct {
	db   *bolt.DB
	path string
	*memstate.State

	stop chan struct{}
	wg   sync.WaitGroup
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database in dataDir and starts a janitor
// that removes expired records every sweep interval.
func Open(dataDir string, sweep time.Duration, log *slog.Logger) (*Store, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(dataDir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("open %s: the database is locked by another process (the embedded store serves one API replica; use Redis for several)", path)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &Store{db: db, path: path, State: memstate.New(), stop: make(chan struct{})}
	if sweep > 0 {
		s.wg.Add(1)
		go s.janitor(sweep, log)
	}
	return s, nil
}

// Name reports the backend and its file.
func (s *Store) Name() string { return "bolt:" + s.path }

// Ping checks the database is open and readable.
func (s *Store) Ping(ctx context.Context) error {
	return s.view(func(*bolt.Tx) error { return nil })
}

// Close stops the janitor and closes the database.
func (s *Store) Close() error {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.wg.Wait()
	return s.db.Close()
}

func (s *Store) janitor(every time.Duration, log *slog.Logger) {
	defer s.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			if n, err := s.Sweep(now); err != nil {
				log.Warn("store sweep failed", "err", err)
			} else if n > 0 {
				log.Debug("store sweep", "removed", n)
			}
			s.State.Sweep(now)
		}
	}
}

func unavailable(err error) error {
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrUnchanged) {
		return err
	}
	if errors.Is(err, bolt.ErrDatabaseNotOpen) || errors.Is(err, bolt.ErrTxClosed) || errors.Is(err, bolt.ErrDatabaseReadOnly) {
		return fmt.Errorf("%w: %v", store.ErrUnavailable, err)
	}
	return err
}

func (s *Store) view(fn func(*bolt.Tx) error) error   { return unavailable(s.db.View(fn)) }
func (s *Store) update(fn func(*bolt.Tx) error) error { return unavailable(s.db.Update(fn)) }

// Records layout: bucket "rec/<kind>" maps id -> header(expiry ns, seq) + value;
// bucket "ord/<kind>" maps seq (big endian) -> id, giving creation order.

const headerLen = 16

func recBucket(kind string) []byte { return []byte("rec/" + kind) }
func ordBucket(kind string) []byte { return []byte("ord/" + kind) }

func encodeRecord(expireAt time.Time, seq uint64, value []byte) []byte {
	b := make([]byte, headerLen+len(value))
	if !expireAt.IsZero() {
		binary.BigEndian.PutUint64(b[0:8], uint64(expireAt.UnixNano()))
	}
	binary.BigEndian.PutUint64(b[8:16], seq)
	copy(b[headerLen:], value)
	return b
}

func decodeRecord(b []byte) (expireAt time.Time, seq uint64, value []byte) {
	if n := binary.BigEndian.Uint64(b[0:8]); n != 0 {
		expireAt = time.Unix(0, int64(n))
	}
	return expireAt, binary.BigEndian.Uint64(b[8:16]), b[headerLen:]
}

func expired(expireAt, now time.Time) bool { return !expireAt.IsZero() && !now.Before(expireAt) }

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

// live returns the stored record of id when it exists and has not expired.
func live(rec *bolt.Bucket, id string, now time.Time) (seq uint64, value []byte, ok bool) {
	raw := rec.Get([]byte(id))
	if raw == nil {
		return 0, nil, false
	}
	exp, seq, v := decodeRecord(raw)
	if expired(exp, now) {
		return seq, nil, false
	}
	return seq, v, true
}

func (s *Store) write(kind, id string, value []byte, expireAt time.Time, mustCreate bool) error {
	return s.update(func(tx *bolt.Tx) error {
		rec, err := tx.CreateBucketIfNotExists(recBucket(kind))
		if err != nil {
			return err
		}
		ord, err := tx.CreateBucketIfNotExists(ordBucket(kind))
		if err != nil {
			return err
		}
		oldSeq, _, ok := live(rec, id, time.Now())
		if ok && mustCreate {
			return store.ErrConflict
		}
		seq := oldSeq
		if !ok {
			if oldSeq != 0 {
				_ = ord.Delete(seqKey(oldSeq))
			}
			if seq, err = ord.NextSequence(); err != nil {
				return err
			}
			if err := ord.Put(seqKey(seq), []byte(id)); err != nil {
				return err
			}
		}
		return rec.Put([]byte(id), encodeRecord(expireAt, seq, value))
	})
}

// Create implements store.Records.
func (s *Store) Create(ctx context.Context, kind, id string, value []byte, expireAt time.Time) error {
	return s.write(kind, id, value, expireAt, true)
}

// Put implements store.Records.
func (s *Store) Put(ctx context.Context, kind, id string, value []byte, expireAt time.Time) error {
	return s.write(kind, id, value, expireAt, false)
}

// Get implements store.Records.
func (s *Store) Get(ctx context.Context, kind, id string) ([]byte, error) {
	var out []byte
	err := s.view(func(tx *bolt.Tx) error {
		rec := tx.Bucket(recBucket(kind))
		if rec == nil {
			return store.ErrNotFound
		}
		_, v, ok := live(rec, id, time.Now())
		if !ok {
			return store.ErrNotFound
		}
		out = append([]byte(nil), v...)
		return nil
	})
	return out, err
}

// Update implements store.Records.
func (s *Store) Update(ctx context.Context, kind, id string, fn store.UpdateFunc) error {
	return s.update(func(tx *bolt.Tx) error {
		rec := tx.Bucket(recBucket(kind))
		if rec == nil {
			return store.ErrNotFound
		}
		seq, v, ok := live(rec, id, time.Now())
		if !ok {
			return store.ErrNotFound
		}
		nv, exp, err := fn(append([]byte(nil), v...))
		if err != nil {
			return err
		}
		return rec.Put([]byte(id), encodeRecord(exp, seq, nv))
	})
}

// Delete implements store.Records.
func (s *Store) Delete(ctx context.Context, kind, id string) error {
	return s.update(func(tx *bolt.Tx) error {
		rec := tx.Bucket(recBucket(kind))
		if rec == nil {
			return store.ErrNotFound
		}
		seq, _, ok := live(rec, id, time.Now())
		if !ok {
			return store.ErrNotFound
		}
		if ord := tx.Bucket(ordBucket(kind)); ord != nil {
			_ = ord.Delete(seqKey(seq))
		}
		return rec.Delete([]byte(id))
	})
}

// Scan implements store.Records. It reads in pages so that fn runs outside
// any transaction and may itself use the store.
func (s *Store) Scan(ctx context.Context, kind string, fn func(id string, value []byte) bool) error {
	const page = 256
	var after []byte // seq key to continue below
	for {
		type item struct {
			id string
			v  []byte
		}
		var items []item
		var last []byte
		exhausted := true
		err := s.view(func(tx *bolt.Tx) error {
			rec, ord := tx.Bucket(recBucket(kind)), tx.Bucket(ordBucket(kind))
			if rec == nil || ord == nil {
				return nil
			}
			now := time.Now()
			c := ord.Cursor()
			var k, v []byte
			if after == nil {
				k, v = c.Last()
			} else {
				c.Seek(after)
				k, v = c.Prev()
			}
			for ; k != nil; k, v = c.Prev() {
				if len(items) == page {
					exhausted = false
					break
				}
				last = append(last[:0], k...)
				if _, val, ok := live(rec, string(v), now); ok {
					items = append(items, item{string(v), append([]byte(nil), val...)})
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, it := range items {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !fn(it.id, it.v) {
				return nil
			}
		}
		if exhausted {
			return nil
		}
		after = last
	}
}

// Trim implements store.Records.
func (s *Store) Trim(ctx context.Context, kind string, keep int) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		rec, ord := tx.Bucket(recBucket(kind)), tx.Bucket(ordBucket(kind))
		if rec == nil || ord == nil {
			return nil
		}
		excess := ord.Stats().KeyN - keep
		if excess <= 0 {
			return nil
		}
		var seqs, ids [][]byte
		c := ord.Cursor()
		for k, v := c.First(); k != nil && len(seqs) < excess; k, v = c.Next() {
			seqs = append(seqs, append([]byte(nil), k...))
			ids = append(ids, append([]byte(nil), v...))
		}
		for i := range seqs {
			if err := ord.Delete(seqs[i]); err != nil {
				return err
			}
			if err := rec.Delete(ids[i]); err != nil {
				return err
			}
		}
		n = len(seqs)
		return nil
	})
	return n, err
}

// Sweep deletes expired records and past-deadline queued commands; it returns
// how many it removed. The janitor calls it; tests may too.
func (s *Store) Sweep(now time.Time) (int, error) {
	removed := 0
	err := s.update(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			n := string(name)
			switch {
			case len(n) > 4 && n[:4] == "rec/":
				ord := tx.Bucket(ordBucket(n[4:]))
				var dead [][]byte
				var seqs []uint64
				_ = b.ForEach(func(k, v []byte) error {
					if exp, seq, _ := decodeRecord(v); expired(exp, now) {
						dead = append(dead, append([]byte(nil), k...))
						seqs = append(seqs, seq)
					}
					return nil
				})
				for i, k := range dead {
					if err := b.Delete(k); err != nil {
						return err
					}
					if ord != nil {
						_ = ord.Delete(seqKey(seqs[i]))
					}
				}
				removed += len(dead)
			case len(n) > 2 && n[:2] == "q/":
				var dead [][]byte
				_ = b.ForEach(func(k, v []byte) error {
					var e queueEntry
					if json.Unmarshal(v, &e) != nil || !now.Before(e.Deadline) {
						dead = append(dead, append([]byte(nil), k...))
					}
					return nil
				})
				for _, k := range dead {
					if err := b.Delete(k); err != nil {
						return err
					}
				}
				removed += len(dead)
			}
			return nil
		})
	})
	return removed, err
}

// Queue layout: bucket "q/<cluster>" maps command id -> queueEntry (JSON).

type queueEntry struct {
	Seq        uint64    `json:"seq"`
	Deadline   time.Time `json:"deadline"`
	Payload    []byte    `json:"payload"`
	Delivery   int       `json:"delivery"`
	Consumer   string    `json:"consumer,omitempty"`
	LeaseUntil time.Time `json:"lease_until"`
}

func queueBucket(cluster string) []byte { return []byte("q/" + cluster) }

// Enqueue implements store.Queue.
func (s *Store) Enqueue(ctx context.Context, clusterID string, cmd store.QueuedCommand) error {
	err := s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(queueBucket(clusterID))
		if err != nil {
			return err
		}
		if b.Get([]byte(cmd.ID)) != nil {
			return store.ErrConflict
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		v, err := json.Marshal(queueEntry{Seq: seq, Deadline: cmd.Deadline, Payload: cmd.Payload})
		if err != nil {
			return err
		}
		return b.Put([]byte(cmd.ID), v)
	})
	if err == nil {
		s.Publish(ctx, "queue:"+clusterID)
	}
	return err
}

// Claim implements store.Queue.
func (s *Store) Claim(ctx context.Context, clusterID, consumer string, max int, lease time.Duration, now time.Time) ([]store.QueuedCommand, error) {
	var out []store.QueuedCommand
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(queueBucket(clusterID))
		if b == nil {
			return nil
		}
		type kv struct {
			id string
			e  queueEntry
		}
		var all []kv
		var dead [][]byte
		if err := b.ForEach(func(k, v []byte) error {
			var e queueEntry
			if json.Unmarshal(v, &e) != nil || !now.Before(e.Deadline) {
				dead = append(dead, append([]byte(nil), k...))
				return nil
			}
			all = append(all, kv{string(k), e})
			return nil
		}); err != nil {
			return err
		}
		for _, k := range dead {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		sort.Slice(all, func(i, j int) bool { return all[i].e.Seq < all[j].e.Seq })
		for _, it := range all {
			if len(out) >= max {
				break
			}
			e := it.e
			free := e.Consumer == "" || e.Consumer == consumer || !now.Before(e.LeaseUntil)
			if !free {
				continue
			}
			if e.Consumer != consumer || e.Delivery == 0 {
				e.Delivery++
			}
			e.Consumer = consumer
			e.LeaseUntil = now.Add(lease)
			v, err := json.Marshal(e)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(it.id), v); err != nil {
				return err
			}
			out = append(out, store.QueuedCommand{ID: it.id, Deadline: e.Deadline, Payload: e.Payload, Delivery: e.Delivery})
		}
		return nil
	})
	return out, err
}

// Ack implements store.Queue.
func (s *Store) Ack(ctx context.Context, clusterID, commandID string) error {
	return s.update(func(tx *bolt.Tx) error {
		if b := tx.Bucket(queueBucket(clusterID)); b != nil {
			return b.Delete([]byte(commandID))
		}
		return nil
	})
}

// Release implements store.Queue.
func (s *Store) Release(ctx context.Context, clusterID, consumer string) error {
	released := false
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(queueBucket(clusterID))
		if b == nil {
			return nil
		}
		type kv struct {
			k []byte
			v []byte
		}
		var changed []kv
		_ = b.ForEach(func(k, v []byte) error {
			var e queueEntry
			if json.Unmarshal(v, &e) == nil && e.Consumer == consumer {
				e.Consumer, e.LeaseUntil = "", time.Time{}
				nv, _ := json.Marshal(e)
				changed = append(changed, kv{append([]byte(nil), k...), nv})
			}
			return nil
		})
		for _, c := range changed {
			if err := b.Put(c.k, c.v); err != nil {
				return err
			}
		}
		released = len(changed) > 0
		return nil
	})
	if err == nil && released {
		s.Publish(ctx, "queue:"+clusterID)
	}
	return err
}

// Depth implements store.Queue.
func (s *Store) Depth(ctx context.Context, clusterID string, now time.Time) (int, error) {
	n := 0
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(queueBucket(clusterID))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var e queueEntry
			if json.Unmarshal(v, &e) == nil && now.Before(e.Deadline) {
				n++
			}
			return nil
		})
	})
	return n, err
}
