package redisstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kubently/kubently/internal/store"
)

// Queue: hash q:{cluster}, field command id -> entry JSON; the counter
// qseq:{cluster} orders entries. Claim, Release and Enqueue run as Lua
// scripts, so two replicas never hand the same command to two consumers
// within one lease.

type entry struct {
	Seq      int64  `json:"seq"`
	Deadline int64  `json:"deadline"`
	Payload  []byte `json:"payload"`
	Delivery int    `json:"delivery"`
	Consumer string `json:"consumer"`
	Lease    int64  `json:"lease"`
}

var enqueueScript = redis.NewScript(`
-- KEYS: queue, seq  ARGV: id, entry-without-seq JSON, deadline_ms
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'conflict' end
local e = cjson.decode(ARGV[2])
e.seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(e))
local keep = tonumber(ARGV[3]) + 60000
if redis.call('PEXPIRETIME', KEYS[1]) < keep then redis.call('PEXPIREAT', KEYS[1], keep) end
return 'ok'`)

// Enqueue implements store.Queue.
func (s *Store) Enqueue(ctx context.Context, clusterID string, cmd store.QueuedCommand) error {
	b, _ := json.Marshal(entry{Deadline: ms(cmd.Deadline), Payload: cmd.Payload})
	res, err := enqueueScript.Run(ctx, s.rdb, []string{s.k("q", clusterID), s.k("qseq", clusterID)}, cmd.ID, b, ms(cmd.Deadline)).Text()
	if err != nil {
		return wrap(err)
	}
	if res == "conflict" {
		return store.ErrConflict
	}
	return s.Publish(ctx, "queue:"+clusterID)
}

var claimScript = redis.NewScript(`
-- KEYS: queue  ARGV: consumer, max, lease_ms, now_ms
local now = tonumber(ARGV[4]); local max = tonumber(ARGV[2])
local all = redis.call('HGETALL', KEYS[1])
local live = {}
for i = 1, #all, 2 do
  local ok, e = pcall(cjson.decode, all[i+1])
  if not ok or tonumber(e.deadline) <= now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    e.id = all[i]
    table.insert(live, e)
  end
end
table.sort(live, function(a, b) return a.seq < b.seq end)
local out = {}
local n = 0
for _, e in ipairs(live) do
  if n >= max then break end
  if e.consumer == '' or e.consumer == ARGV[1] or tonumber(e.lease) <= now then
    if e.consumer ~= ARGV[1] or e.delivery == 0 then e.delivery = e.delivery + 1 end
    e.consumer = ARGV[1]
    e.lease = now + tonumber(ARGV[3])
    local id = e.id
    e.id = nil
    local enc = cjson.encode(e)
    redis.call('HSET', KEYS[1], id, enc)
    table.insert(out, id)
    table.insert(out, enc)
    n = n + 1
  end
end
return out`)

// Claim implements store.Queue.
func (s *Store) Claim(ctx context.Context, clusterID, consumer string, max int, lease time.Duration, now time.Time) ([]store.QueuedCommand, error) {
	res, err := claimScript.Run(ctx, s.rdb, []string{s.k("q", clusterID)}, consumer, max, lease.Milliseconds(), ms(now)).StringSlice()
	if err != nil {
		return nil, wrap(err)
	}
	var out []store.QueuedCommand
	for i := 0; i+1 < len(res); i += 2 {
		var e entry
		if err := json.Unmarshal([]byte(res[i+1]), &e); err != nil {
			continue
		}
		out = append(out, store.QueuedCommand{ID: res[i], Deadline: time.UnixMilli(e.Deadline), Payload: e.Payload, Delivery: e.Delivery})
	}
	return out, nil
}

// Ack implements store.Queue.
func (s *Store) Ack(ctx context.Context, clusterID, commandID string) error {
	return wrap(s.rdb.HDel(ctx, s.k("q", clusterID), commandID).Err())
}

var releaseScript = redis.NewScript(`
-- KEYS: queue  ARGV: consumer
local all = redis.call('HGETALL', KEYS[1])
local n = 0
for i = 1, #all, 2 do
  local ok, e = pcall(cjson.decode, all[i+1])
  if ok and e.consumer == ARGV[1] then
    e.consumer = ''
    e.lease = 0
    redis.call('HSET', KEYS[1], all[i], cjson.encode(e))
    n = n + 1
  end
end
return n`)

// Release implements store.Queue.
func (s *Store) Release(ctx context.Context, clusterID, consumer string) error {
	n, err := releaseScript.Run(ctx, s.rdb, []string{s.k("q", clusterID)}, consumer).Int()
	if err != nil {
		return wrap(err)
	}
	if n > 0 {
		return s.Publish(ctx, "queue:"+clusterID)
	}
	return nil
}

// Depth implements store.Queue.
func (s *Store) Depth(ctx context.Context, clusterID string, now time.Time) (int, error) {
	vals, err := s.rdb.HVals(ctx, s.k("q", clusterID)).Result()
	if err != nil {
		return 0, wrap(err)
	}
	n := 0
	for _, v := range vals {
		var e entry
		if json.Unmarshal([]byte(v), &e) == nil && e.Deadline > ms(now) {
			n++
		}
	}
	return n, nil
}
