// Package redisstore keeps all of Kubently's shared state in Redis (or
// Valkey) so that any number of API replicas can serve together: records with
// native expiry plus a creation-order index, per-cluster command queues whose
// claims are leases updated atomically by Lua scripts, presence leases, a GCRA
// rate limiter evaluated in Redis (global across replicas) and pub/sub
// wake-ups. Every Redis failure surfaces as store.ErrUnavailable after short
// timeouts, never as a hang; the client reconnects by itself.
package redisstore

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kubently/kubently/internal/store"
	"github.com/kubently/kubently/internal/tlsutil"
)

// Options configures the connection.
type Options struct {
	URL                string // redis:// or rediss://
	Password           string // overrides the URL's password when set
	KeyPrefix          string
	TLSCAFile          string
	InsecureSkipVerify bool
}

// Store is the Redis-backed store.Store.
type Store struct {
	rdb    *redis.Client
	prefix string
	addr   string
	log    *slog.Logger

	opMu   sync.Mutex // serializes (un)subscribing on the shared connection
	mu     sync.Mutex // guards subs
	pubsub *redis.PubSub
	subs   map[string]map[chan struct{}]struct{}
	stop   chan struct{}
	wg     sync.WaitGroup
}

var _ store.Store = (*Store)(nil)

// Open connects (lazily: an unreachable Redis is reported by Ping and by each
// call, and the service recovers when Redis returns).
func Open(o Options, log *slog.Logger) (*Store, error) {
	opt, err := redis.ParseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	if o.Password != "" {
		opt.Password = o.Password
	}
	if opt.TLSConfig != nil && (o.TLSCAFile != "" || o.InsecureSkipVerify) {
		opt.TLSConfig.InsecureSkipVerify = o.InsecureSkipVerify //nolint:gosec // operator's explicit choice
		if o.TLSCAFile != "" {
			pool, err := tlsutil.LoadCAPool(o.TLSCAFile)
			if err != nil {
				return nil, fmt.Errorf("redis: %w", err)
			}
			opt.TLSConfig.RootCAs = pool
			opt.TLSConfig.MinVersion = tls.VersionTLS12
		}
	}
	redis.SetLogger(slogPrintf{log})
	opt.DialTimeout = 2 * time.Second
	opt.ReadTimeout = 2 * time.Second
	opt.WriteTimeout = 2 * time.Second
	opt.PoolTimeout = 3 * time.Second
	opt.MaxRetries = 1
	s := &Store{
		rdb:    redis.NewClient(opt),
		prefix: o.KeyPrefix,
		addr:   opt.Addr,
		log:    log,
		subs:   map[string]map[chan struct{}]struct{}{},
		stop:   make(chan struct{}),
	}
	s.pubsub = s.rdb.Subscribe(context.Background())
	s.wg.Add(2)
	go s.receive()
	go s.sweeper(time.Minute)
	return s, nil
}

// slogPrintf routes go-redis's internal messages (reconnect attempts) to the
// service log at debug level instead of stderr; outages surface as errors.
type slogPrintf struct{ log *slog.Logger }

func (l slogPrintf) Printf(ctx context.Context, format string, v ...any) {
	l.log.Debug("redis client: " + fmt.Sprintf(format, v...))
}

// Name reports the backend (never the password).
func (s *Store) Name() string { return "redis:" + s.addr + "/" + s.prefix }

// Ping checks Redis answers.
func (s *Store) Ping(ctx context.Context) error { return wrap(s.rdb.Ping(ctx).Err()) }

// Close stops background work and closes connections.
func (s *Store) Close() error {
	select {
	case <-s.stop:
		return nil
	default:
		close(s.stop)
	}
	_ = s.pubsub.Close()
	s.wg.Wait()
	return s.rdb.Close()
}

// wrap turns Redis failures into store.ErrUnavailable; redis.Nil is handled
// by callers before.
func wrap(err error) error {
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrUnchanged) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("%w: redis: %v", store.ErrUnavailable, err)
}

func (s *Store) k(parts ...string) string {
	out := s.prefix
	for i, p := range parts {
		if i > 0 {
			out += ":"
		}
		out += p
	}
	return out
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// Records: value at rec:{kind}:{id} with native expiry; creation order in the
// sorted set idx:{kind} (member id, score from the counter seq:{kind}).

var writeScript = redis.NewScript(`
-- KEYS: rec, idx, seq   ARGV: id, value, expire_ms (0 = never), now_ms, must_create
local exists = redis.call('EXISTS', KEYS[1]) == 1
if exists and ARGV[5] == '1' then return 'conflict' end
local exp = tonumber(ARGV[3])
if exp > 0 and exp <= tonumber(ARGV[4]) then
  redis.call('DEL', KEYS[1]); redis.call('ZREM', KEYS[2], ARGV[1]); return 'ok'
end
if exp > 0 then redis.call('SET', KEYS[1], ARGV[2], 'PXAT', exp) else redis.call('SET', KEYS[1], ARGV[2]) end
if not exists then
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
end
return 'ok'`)

func (s *Store) write(ctx context.Context, kind, id string, value []byte, expireAt time.Time, mustCreate bool) error {
	exp := int64(0)
	if !expireAt.IsZero() {
		exp = max(ms(expireAt), 1)
	}
	mc := "0"
	if mustCreate {
		mc = "1"
	}
	res, err := writeScript.Run(ctx, s.rdb, []string{s.k("rec", kind, id), s.k("idx", kind), s.k("seq", kind)}, id, value, exp, ms(time.Now()), mc).Text()
	if err != nil {
		return wrap(err)
	}
	if res == "conflict" {
		return store.ErrConflict
	}
	return nil
}

// Create implements store.Records.
func (s *Store) Create(ctx context.Context, kind, id string, value []byte, expireAt time.Time) error {
	return s.write(ctx, kind, id, value, expireAt, true)
}

// Put implements store.Records.
func (s *Store) Put(ctx context.Context, kind, id string, value []byte, expireAt time.Time) error {
	return s.write(ctx, kind, id, value, expireAt, false)
}

// Get implements store.Records.
func (s *Store) Get(ctx context.Context, kind, id string) ([]byte, error) {
	b, err := s.rdb.Get(ctx, s.k("rec", kind, id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, store.ErrNotFound
	}
	return b, wrap(err)
}

// Update implements store.Records with optimistic locking (WATCH/MULTI),
// retried when another replica changed the record in between.
func (s *Store) Update(ctx context.Context, kind, id string, fn store.UpdateFunc) error {
	key := s.k("rec", kind, id)
	for attempt := 0; attempt < 50; attempt++ {
		var fnErr error
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			old, err := tx.Get(ctx, key).Bytes()
			if errors.Is(err, redis.Nil) {
				return store.ErrNotFound
			}
			if err != nil {
				return err
			}
			nv, exp, err := fn(old)
			if err != nil {
				fnErr = err
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				switch {
				case exp.IsZero():
					p.Set(ctx, key, nv, 0) // no expiry
				case !exp.After(time.Now()):
					p.Del(ctx, key)
					p.ZRem(ctx, s.k("idx", kind), id)
				default:
					p.Set(ctx, key, nv, 0)
					p.PExpireAt(ctx, key, exp)
				}
				return nil
			})
			return err
		}, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if fnErr != nil {
			return fnErr
		}
		return wrap(err)
	}
	return fmt.Errorf("%w: redis: update of %s/%s kept conflicting", store.ErrUnavailable, kind, id)
}

// Delete implements store.Records.
func (s *Store) Delete(ctx context.Context, kind, id string) error {
	var del *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		del = p.Del(ctx, s.k("rec", kind, id))
		p.ZRem(ctx, s.k("idx", kind), id)
		return nil
	})
	if err != nil {
		return wrap(err)
	}
	if del.Val() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// Scan implements store.Records: newest first, in pages by score so that
// concurrent inserts do not shift the walk. Index entries whose record has
// expired are removed on the way.
func (s *Store) Scan(ctx context.Context, kind string, fn func(id string, value []byte) bool) error {
	idx := s.k("idx", kind)
	max := "+inf"
	for {
		zs, err := s.rdb.ZRevRangeByScoreWithScores(ctx, idx, &redis.ZRangeBy{Max: max, Min: "-inf", Count: 256}).Result()
		if err != nil {
			return wrap(err)
		}
		if len(zs) == 0 {
			return nil
		}
		keys := make([]string, len(zs))
		for i, z := range zs {
			keys[i] = s.k("rec", kind, z.Member.(string))
		}
		vals, err := s.rdb.MGet(ctx, keys...).Result()
		if err != nil {
			return wrap(err)
		}
		var dead []any
		for i, z := range zs {
			id := z.Member.(string)
			v, ok := vals[i].(string)
			if !ok {
				dead = append(dead, id)
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if !fn(id, []byte(v)) {
				s.prune(ctx, idx, dead)
				return nil
			}
		}
		s.prune(ctx, idx, dead)
		max = "(" + strconv.FormatFloat(zs[len(zs)-1].Score, 'f', -1, 64)
	}
}

var trimScript = redis.NewScript(`
-- KEYS: idx  ARGV: keep, record key prefix
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[1])
if excess <= 0 then return 0 end
local ids = redis.call('ZRANGE', KEYS[1], 0, excess - 1)
for _, id in ipairs(ids) do
  redis.call('DEL', ARGV[2] .. id)
end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, excess - 1)
return #ids`)

// Trim implements store.Records.
func (s *Store) Trim(ctx context.Context, kind string, keep int) (int, error) {
	n, err := trimScript.Run(ctx, s.rdb, []string{s.k("idx", kind)}, keep, s.k("rec", kind)+":").Int()
	return n, wrap(err)
}

func (s *Store) prune(ctx context.Context, idx string, ids []any) {
	if len(ids) > 0 {
		_ = s.rdb.ZRem(ctx, idx, ids...).Err()
	}
}

// sweeper trims index entries of expired records, oldest first, every
// interval, so indexes stay bounded even for kinds that are rarely scanned.
func (s *Store) sweeper(every time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			s.sweepIndexes(ctx)
			cancel()
		}
	}
}

// sweepIndexes trims the index of every kind there is (found by key pattern,
// so kinds added later are covered too).
func (s *Store) sweepIndexes(ctx context.Context) {
	prefix := s.k("idx") + ":"
	iter := s.rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		s.trimIndex(ctx, strings.TrimPrefix(iter.Val(), prefix), 1000)
	}
}

func (s *Store) trimIndex(ctx context.Context, kind string, max int64) {
	idx := s.k("idx", kind)
	ids, err := s.rdb.ZRange(ctx, idx, 0, max-1).Result()
	if err != nil || len(ids) == 0 {
		return
	}
	p := s.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(ids))
	for i, id := range ids {
		cmds[i] = p.Exists(ctx, s.k("rec", kind, id))
	}
	if _, err := p.Exec(ctx); err != nil {
		return
	}
	var dead []any
	for i, c := range cmds {
		if c.Val() == 0 {
			dead = append(dead, ids[i])
		}
	}
	s.prune(ctx, idx, dead)
}

// Presence: hash pres:{cluster}, field stream id -> lease JSON.

type leaseJSON struct {
	ExecutorID string `json:"e"`
	Replica    string `json:"r"`
	Info       []byte `json:"i,omitempty"`
	Until      int64  `json:"u"`
}

// Heartbeat implements store.Presence.
func (s *Store) Heartbeat(ctx context.Context, l store.Lease) error {
	b, _ := json.Marshal(leaseJSON{ExecutorID: l.ExecutorID, Replica: l.Replica, Info: l.Info, Until: ms(l.Until)})
	key := s.k("pres", l.ClusterID)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, l.StreamID, b)
		p.PExpire(ctx, key, time.Until(l.Until)+time.Minute)
		return nil
	})
	return wrap(err)
}

// Leave implements store.Presence.
func (s *Store) Leave(ctx context.Context, clusterID, streamID string) error {
	return wrap(s.rdb.HDel(ctx, s.k("pres", clusterID), streamID).Err())
}

// Streams implements store.Presence.
func (s *Store) Streams(ctx context.Context, clusterID string, now time.Time) ([]store.Lease, error) {
	key := s.k("pres", clusterID)
	m, err := s.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, wrap(err)
	}
	var out []store.Lease
	var dead []string
	for id, v := range m {
		var l leaseJSON
		if json.Unmarshal([]byte(v), &l) != nil {
			dead = append(dead, id)
			continue
		}
		until := time.UnixMilli(l.Until)
		if !now.Before(until) {
			// Only drop leases that are clearly stale, to tolerate clock skew.
			if now.Sub(until) > time.Minute {
				dead = append(dead, id)
			}
			continue
		}
		out = append(out, store.Lease{StreamID: id, ClusterID: clusterID, ExecutorID: l.ExecutorID, Replica: l.Replica, Info: l.Info, Until: until})
	}
	if len(dead) > 0 {
		_ = s.rdb.HDel(ctx, key, dead...).Err()
	}
	return out, nil
}

// Limiter: GCRA with the theoretical arrival time (ms) at rl keys.

var gcraScript = redis.NewScript(`
-- KEYS: bucket  ARGV: limit, period_us, now_us (integers, exact in doubles)
local limit = tonumber(ARGV[1]); local period = tonumber(ARGV[2]); local now = tonumber(ARGV[3])
local interval = math.floor(period / limit)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - period
if now < allow_at then
  return {0, 0, string.format('%d', tat), string.format('%d', allow_at - now)}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
local remaining = math.floor((period - (new_tat - now)) / interval)
if remaining < 0 then remaining = 0 end
return {1, remaining, string.format('%d', new_tat), '0'}`)

// Allow implements store.Limiter; the arithmetic matches package gcra, in
// integer microseconds.
func (s *Store) Allow(ctx context.Context, key string, limit int, period time.Duration, now time.Time) (store.Decision, error) {
	if limit <= 0 {
		return store.Decision{Limit: limit, ResetAt: now.Add(period), RetryAfter: period}, nil
	}
	res, err := gcraScript.Run(ctx, s.rdb, []string{s.k(key)}, limit, period.Microseconds(), now.UnixMicro()).Slice()
	if err != nil {
		return store.Decision{}, wrap(err)
	}
	allowed := res[0].(int64) == 1
	remaining := int(res[1].(int64))
	tat, _ := strconv.ParseInt(res[2].(string), 10, 64)
	retry, _ := strconv.ParseInt(res[3].(string), 10, 64)
	d := store.Decision{Allowed: allowed, Limit: limit, Remaining: remaining, ResetAt: time.UnixMicro(tat)}
	if !allowed {
		d.RetryAfter = time.Duration(retry) * time.Microsecond
	}
	return d, nil
}
