// Package redisq implements queue.Store on Redis: one sorted set per skill
// group (score = queue.Entry.Score), a hash per call and per agent, and Lua
// scripts for every change so that a claim, a requeue or an agent going
// offline is atomic across all nodes sharing the server.
//
// Reads never scan the keyspace or every agent: a sorted set "waiting"
// indexes every waiting call of every group (same scores), "idle" the free
// agents, "offers" the calls held and not answered, and "seen" when each
// agent's desk was last seen; the scripts keep them in step with the
// queues in the same atomic step, so listing the floor costs one range
// read plus one pipelined read of the entries, and the ring-out and
// presence sweeps one read each when nothing is due.
//
// Every key carries the same hash tag ("{handoff}" by default), so the
// scripts touch one slot and also run on Redis Cluster.
package redisq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/callbrief/callbrief/handoff/queue"
	"github.com/callbrief/callbrief/store/redisconn"
)

// Config locates the server.
type Config struct {
	Addr     string
	Username string
	Password string
	DB       int
	// Prefix namespaces the keys; it must contain a hash tag so every key
	// lands in one Cluster slot. Default "callbrief:{handoff}:".
	Prefix  string
	Timeout time.Duration // per command; default 2s
	// Sentinel and replica acknowledgement, as in store/redis.
	SentinelMaster string
	SentinelAddrs  []string
	ReplicaAcks    int
}

// Conn is the client configuration.
func (c Config) Conn() redisconn.Config {
	return redisconn.Config{Addr: c.Addr, Username: c.Username, Password: c.Password, DB: c.DB, Timeout: c.Timeout,
		SentinelMaster: c.SentinelMaster, SentinelAddrs: c.SentinelAddrs, ReplicaAcks: c.ReplicaAcks}
}

// Store is queue.Store on Redis.
type Store struct {
	c *goredis.Client
	p string
}

var _ queue.Store = (*Store)(nil)

// New connects lazily; the first command reports an unreachable server.
func New(cfg Config) (*Store, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = "callbrief:{handoff}:"
	}
	c, err := redisconn.New(cfg.Conn())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", queue.ErrInvalid, err)
	}
	return &Store{c: c, p: cfg.Prefix}, nil
}

// Close releases the connections.
func (s *Store) Close() error { return s.c.Close() }

// lib is shared by every script: the eligibility rule (the same as
// queue.Agent.Eligible) and the moves. Lists are stored as ",a,b," so a
// plain find of ",x," tests membership.
const lib = `
local P = ARGV[1]
local function has(list, v) return list ~= nil and v ~= nil and string.find(list, ','..v..',', 1, true) ~= nil end
local function ckey(id) return P..'call:'..id end
local function eligible(a, agent, id)
  local c = redis.call('HMGET', ckey(id), 'group', 'level', 'lang', 'line', 'declined')
  if not c[1] then return false end
  return has(a[2], c[1]) and tonumber(a[1]) >= tonumber(c[2]) and (c[3] == '' or has(a[3], c[3]))
    and (c[4] == '' or has(a[4], c[4])) and not has(c[5], agent)
end
local function take(agent, id)
  local g = redis.call('HGET', ckey(id), 'group')
  redis.call('ZREM', P..'q:'..g, id)
  redis.call('ZREM', P..'waiting', id)
  redis.call('HSET', ckey(id), 'owner', agent)
  redis.call('SADD', P..'held:'..agent, id)
  redis.call('SADD', P..'offers', id)
  redis.call('ZREM', P..'idle', agent)
  return id
end
local function back(id)
  local c = redis.call('HMGET', ckey(id), 'owner', 'group', 'score')
  if not c[2] then return end
  if c[1] and c[1] ~= '' then
    redis.call('SREM', P..'held:'..c[1], id)
    redis.call('HSET', ckey(id), 'owner', '')
  end
  redis.call('SREM', P..'offers', id)
  redis.call('ZADD', P..'q:'..c[2], c[3], id)
  redis.call('ZADD', P..'waiting', c[3], id)
end
local function agentOf(agent)
  local a = redis.call('HMGET', P..'agent:'..agent, 'level', 'groups', 'langs', 'lines')
  if not a[1] then return nil end
  return a
end
`

var (
	scriptEnqueue = goredis.NewScript(lib + `
local id = ARGV[2]
local old = redis.call('HMGET', ckey(id), 'owner', 'group')
if old[1] and old[1] ~= '' then redis.call('SREM', P..'held:'..old[1], id) end
if old[2] then redis.call('ZREM', P..'q:'..old[2], id) end
redis.call('SREM', P..'offers', id)
redis.call('DEL', ckey(id))
redis.call('HSET', ckey(id), 'group', ARGV[3], 'level', ARGV[4], 'lang', ARGV[5], 'line', ARGV[6],
  'declined', ARGV[7], 'score', ARGV[8], 'json', ARGV[9], 'owner', '')
redis.call('ZADD', P..'q:'..ARGV[3], ARGV[8], id)
redis.call('ZADD', P..'waiting', ARGV[8], id)
return 1`)

	// scriptClaim scans the agent's queues from the head, a page at a time,
	// and stops a queue as soon as its scores are no better than the best
	// eligible call found so far.
	scriptClaim = goredis.NewScript(lib + `
local agent = ARGV[2]
local a = agentOf(agent)
if not a then return redis.error_reply('unknown_agent') end
local best, bestScore = nil, nil
for g in string.gmatch(a[2], '[^,]+') do
  local q = P..'q:'..g
  local off, done = 0, false
  while not done do
    local page = redis.call('ZRANGE', q, off, off + 99, 'WITHSCORES')
    if #page == 0 then break end
    for i = 1, #page, 2 do
      local sc = tonumber(page[i+1])
      if bestScore ~= nil and sc >= bestScore then done = true break end
      if eligible(a, agent, page[i]) then best, bestScore, done = page[i], sc, true break end
    end
    off = off + 100
  end
end
if not best then return false end
return take(agent, best)`)

	scriptClaimCall = goredis.NewScript(lib + `
local agent, id = ARGV[2], ARGV[3]
local a = agentOf(agent)
if not a then return redis.error_reply('unknown_agent') end
local c = redis.call('HMGET', ckey(id), 'owner', 'group')
if not c[2] then return redis.error_reply('unknown_call') end
if c[1] ~= '' or not redis.call('ZSCORE', P..'q:'..c[2], id) then return redis.error_reply('taken') end
if not eligible(a, agent, id) then return redis.error_reply('not_eligible') end
return take(agent, id)`)

	scriptRequeue = goredis.NewScript(lib + `
local id, by = ARGV[2], ARGV[3]
if redis.call('EXISTS', ckey(id)) == 0 then return redis.error_reply('unknown_call') end
if by ~= '' then
  local d = redis.call('HGET', ckey(id), 'declined')
  if not has(d, by) then redis.call('HSET', ckey(id), 'declined', d..by..',') end
end
back(id)
return 1`)

	scriptDone = goredis.NewScript(lib + `
local id = ARGV[2]
local c = redis.call('HMGET', ckey(id), 'owner', 'group')
if c[1] and c[1] ~= '' then redis.call('SREM', P..'held:'..c[1], id) end
if c[2] then redis.call('ZREM', P..'q:'..c[2], id) end
redis.call('ZREM', P..'waiting', id)
redis.call('SREM', P..'offers', id)
redis.call('DEL', ckey(id))
return 1`)

	scriptAnswer = goredis.NewScript(lib + `
local id = ARGV[2]
local owner = redis.call('HGET', ckey(id), 'owner')
if not owner then return redis.error_reply('unknown_call') end
redis.call('SREM', P..'offers', id)
return 1`)

	// scriptUnseen lists online agents last seen before ARGV[2] (µs) and
	// forgets offline ones as old: no answer about them can change.
	scriptUnseen = goredis.NewScript(lib + `
local out = {}
for _, a in ipairs(redis.call('ZRANGEBYSCORE', P..'seen', '-inf', '(' .. ARGV[2])) do
  if redis.call('SISMEMBER', P..'online', a) == 1 then table.insert(out, a)
  else redis.call('ZREM', P..'seen', a) end
end
return out`)

	// scriptReindex adds the calls of one group's queue to the index: for
	// a server whose queues were written before the index existed.
	scriptReindex = goredis.NewScript(lib + `
local q = P..'q:'..ARGV[2]
local page = redis.call('ZRANGE', q, 0, -1, 'WITHSCORES')
for i = 1, #page, 2 do redis.call('ZADD', P..'waiting', page[i+1], page[i]) end
return #page / 2`)

	// scriptReindexHeld adds every call held by an online agent to the
	// offers index (answered ones too: the ring-out sweep checks each
	// call's state, and answers take it out).
	scriptReindexHeld = goredis.NewScript(lib + `
local n = 0
for _, a in ipairs(redis.call('SMEMBERS', P..'online')) do
  for _, id in ipairs(redis.call('SMEMBERS', P..'held:'..a)) do
    n = n + redis.call('SADD', P..'offers', id)
  end
end
return n`)

	scriptOnline = goredis.NewScript(lib + `
local agent = ARGV[2]
redis.call('HSET', P..'agent:'..agent, 'level', ARGV[3], 'groups', ARGV[4], 'langs', ARGV[5], 'lines', ARGV[6], 'json', ARGV[7])
redis.call('SADD', P..'online', agent)
if redis.call('SCARD', P..'held:'..agent) == 0 and not redis.call('ZSCORE', P..'idle', agent) then
  redis.call('ZADD', P..'idle', ARGV[8], agent)
end
return 1`)

	scriptIdle = goredis.NewScript(lib + `
if redis.call('SISMEMBER', P..'online', ARGV[2]) == 0 then return redis.error_reply('unknown_agent') end
redis.call('ZADD', P..'idle', ARGV[3], ARGV[2])
return 1`)

	scriptOffline = goredis.NewScript(lib + `
local agent = ARGV[2]
local held = redis.call('SMEMBERS', P..'held:'..agent)
for _, id in ipairs(held) do back(id) end
redis.call('DEL', P..'held:'..agent, P..'agent:'..agent)
redis.call('ZREM', P..'idle', agent)
redis.call('SREM', P..'online', agent)
return held`)
)

func list(xs []string) string {
	if len(xs) == 0 {
		return ","
	}
	return "," + strings.Join(xs, ",") + ","
}

// mapErr turns script error replies and connection failures into the
// queue sentinels.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unknown_agent"):
		return fmt.Errorf("redisq: %s: %w", op, queue.ErrUnknownAgent)
	case strings.Contains(msg, "unknown_call"):
		return fmt.Errorf("redisq: %s: %w", op, queue.ErrUnknownCall)
	case strings.Contains(msg, "not_eligible"):
		return fmt.Errorf("redisq: %s: %w", op, queue.ErrNotEligible)
	case strings.Contains(msg, "taken"):
		return fmt.Errorf("redisq: %s: %w", op, queue.ErrTaken)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("redisq: %s: %w", op, err)
	}
	return fmt.Errorf("redisq: %s: %w: %w", op, queue.ErrUnavailable, err)
}

func (s *Store) run(ctx context.Context, sc *goredis.Script, op string, args ...any) (any, error) {
	v, err := sc.Run(ctx, s.c, []string{s.p + "lock"}, append([]any{s.p}, args...)...).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	return v, mapErr(op, err)
}

// Enqueue implements queue.Store.
func (s *Store) Enqueue(ctx context.Context, e queue.Entry) error {
	if e.CallID == "" || e.Group == "" || e.Enqueued.IsZero() {
		return fmt.Errorf("%w: call %q", queue.ErrInvalid, e.CallID)
	}
	e.Owner = ""
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("%w: %w", queue.ErrInvalid, err)
	}
	_, err = s.run(ctx, scriptEnqueue, "enqueue", e.CallID, e.Group, e.MinLevel, e.Language, e.Line,
		list(e.Declined), strconv.FormatFloat(e.Score(), 'f', -1, 64), string(b))
	return err
}

func (s *Store) claimed(ctx context.Context, v any, op string) (queue.Entry, error) {
	id, ok := v.(string)
	if !ok {
		return queue.Entry{}, queue.ErrEmpty
	}
	return s.Get(ctx, id)
}

// Claim implements queue.Store.
func (s *Store) Claim(ctx context.Context, agentID string) (queue.Entry, error) {
	v, err := s.run(ctx, scriptClaim, "claim", agentID)
	if err != nil {
		return queue.Entry{}, err
	}
	return s.claimed(ctx, v, "claim")
}

// ClaimCall implements queue.Store.
func (s *Store) ClaimCall(ctx context.Context, agentID, callID string) (queue.Entry, error) {
	v, err := s.run(ctx, scriptClaimCall, "claim call", agentID, callID)
	if err != nil {
		return queue.Entry{}, err
	}
	return s.claimed(ctx, v, "claim call")
}

// Requeue implements queue.Store.
func (s *Store) Requeue(ctx context.Context, callID, declinedBy string) error {
	_, err := s.run(ctx, scriptRequeue, "requeue", callID, declinedBy)
	return err
}

// Done implements queue.Store.
func (s *Store) Done(ctx context.Context, callID string) error {
	_, err := s.run(ctx, scriptDone, "done", callID)
	return err
}

// Get implements queue.Store.
func (s *Store) Get(ctx context.Context, callID string) (queue.Entry, error) {
	vals, err := s.c.HMGet(ctx, s.p+"call:"+callID, "json", "owner", "declined").Result()
	if err != nil {
		return queue.Entry{}, mapErr("get", err)
	}
	return decodeEntry(callID, vals)
}

// decodeEntry reads a call's hash fields json, owner and declined.
func decodeEntry(callID string, vals []any) (queue.Entry, error) {
	js, ok := vals[0].(string)
	if !ok {
		return queue.Entry{}, fmt.Errorf("redisq: get %s: %w", callID, queue.ErrUnknownCall)
	}
	var e queue.Entry
	if err := json.Unmarshal([]byte(js), &e); err != nil {
		return queue.Entry{}, fmt.Errorf("redisq: get %s: %w: %w", callID, queue.ErrUnavailable, err)
	}
	e.Owner, _ = vals[1].(string)
	d, _ := vals[2].(string)
	e.Declined = nil
	for _, a := range strings.Split(strings.Trim(d, ","), ",") {
		if a != "" {
			e.Declined = append(e.Declined, a)
		}
	}
	return e, nil
}

// Waiting implements queue.Store. Every group at once reads the index of
// waiting calls, never the keyspace; the entries come in one pipelined
// round trip.
func (s *Store) Waiting(ctx context.Context, groups ...string) ([]queue.Entry, error) {
	keys := []string{s.p + "waiting"}
	if len(groups) > 0 {
		keys = keys[:0]
		for _, g := range groups {
			keys = append(keys, s.p+"q:"+g)
		}
	}
	var ids []string
	for _, k := range keys {
		xs, err := s.c.ZRange(ctx, k, 0, -1).Result()
		if err != nil {
			return nil, mapErr("waiting", err)
		}
		ids = append(ids, xs...)
	}
	out, err := s.entries(ctx, ids)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score() < out[j].Score() })
	return out, nil
}

// entries reads calls in one round trip, leaving out those that ended
// since their ids were read.
func (s *Store) entries(ctx context.Context, ids []string) ([]queue.Entry, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := s.c.Pipeline()
	cmds := make([]*goredis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, s.p+"call:"+id, "json", "owner", "declined")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, mapErr("waiting", err)
	}
	out := make([]queue.Entry, 0, len(ids))
	for i, id := range ids {
		e, err := decodeEntry(id, cmds[i].Val())
		if errors.Is(err, queue.ErrUnknownCall) {
			continue // ended between the two reads
		}
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// Reindex adds every call waiting in the queues of groups to the index of
// waiting calls, and every held call to the index of offers. The scripts
// keep the indexes from then on; this is for queues written by a version
// before them, once, at start.
func (s *Store) Reindex(ctx context.Context, groups ...string) (int, error) {
	v, err := s.run(ctx, scriptReindexHeld, "reindex")
	if err != nil {
		return 0, err
	}
	k, _ := v.(int64)
	n := int(k)
	for _, g := range groups {
		v, err := s.run(ctx, scriptReindex, "reindex", g)
		if err != nil {
			return n, err
		}
		k, _ := v.(int64)
		n += int(k)
	}
	return n, nil
}

// Online implements queue.Store.
func (s *Store) Online(ctx context.Context, a queue.Agent, at time.Time) error {
	if a.ID == "" {
		return fmt.Errorf("%w: agent without id", queue.ErrInvalid)
	}
	b, _ := json.Marshal(a)
	_, err := s.run(ctx, scriptOnline, "online", a.ID, a.Level, list(a.Groups), list(a.Languages), list(a.Lines), string(b), at.UnixMilli())
	return err
}

// Idle implements queue.Store.
func (s *Store) Idle(ctx context.Context, agentID string, at time.Time) error {
	_, err := s.run(ctx, scriptIdle, "idle", agentID, at.UnixMilli())
	return err
}

// Offline implements queue.Store.
func (s *Store) Offline(ctx context.Context, agentID string) ([]string, error) {
	v, err := s.run(ctx, scriptOffline, "offline", agentID)
	if err != nil {
		return nil, err
	}
	var ids []string
	if xs, ok := v.([]any); ok {
		for _, x := range xs {
			if id, ok := x.(string); ok {
				ids = append(ids, id)
			}
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// Agents implements queue.Store: two round trips (the online set, then
// every agent's profile, idle time and calls in one pipeline).
func (s *Store) Agents(ctx context.Context) ([]queue.Presence, error) {
	ids, err := s.c.SMembers(ctx, s.p+"online").Result()
	if err != nil {
		return nil, mapErr("agents", err)
	}
	return s.presence(ctx, ids, nil)
}

// IdleAgents implements queue.Store: the idle index, then the idle
// agents' profiles and calls; one command when nobody is idle.
func (s *Store) IdleAgents(ctx context.Context) ([]queue.Presence, error) {
	zs, err := s.c.ZRangeWithScores(ctx, s.p+"idle", 0, -1).Result()
	if err != nil {
		return nil, mapErr("idle agents", err)
	}
	ids := make([]string, len(zs))
	since := make(map[string]time.Time, len(zs))
	for i, z := range zs {
		id, _ := z.Member.(string)
		ids[i], since[id] = id, time.UnixMilli(int64(z.Score))
	}
	return s.presence(ctx, ids, since)
}

// presence reads agents in one pipeline; idle, when given, holds their
// idle times already read.
func (s *Store) presence(ctx context.Context, ids []string, idle map[string]time.Time) ([]queue.Presence, error) {
	out := make([]queue.Presence, 0, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	pipe := s.c.Pipeline()
	prof := make([]*goredis.StringCmd, len(ids))
	held := make([]*goredis.StringSliceCmd, len(ids))
	score := make([]*goredis.FloatCmd, len(ids))
	for i, id := range ids {
		prof[i] = pipe.HGet(ctx, s.p+"agent:"+id, "json")
		held[i] = pipe.SMembers(ctx, s.p+"held:"+id)
		if idle == nil {
			score[i] = pipe.ZScore(ctx, s.p+"idle", id)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, mapErr("agents", err)
	}
	for i, id := range ids {
		js, err := prof[i].Result()
		if errors.Is(err, goredis.Nil) {
			continue // went offline between the reads
		}
		if err != nil {
			return nil, mapErr("agents", err)
		}
		var p queue.Presence
		if err := json.Unmarshal([]byte(js), &p.Agent); err != nil {
			return nil, fmt.Errorf("redisq: agent %s: %w: %w", id, queue.ErrUnavailable, err)
		}
		if idle != nil {
			p.IdleSince = idle[id]
		} else if ms, err := score[i].Result(); err == nil {
			p.IdleSince = time.UnixMilli(int64(ms))
		}
		p.Calls = held[i].Val()
		if len(p.Calls) == 0 {
			p.Calls = nil
		}
		sort.Strings(p.Calls)
		out = append(out, p)
	}
	queue.SortPresence(out)
	return out, nil
}

// Answer implements queue.Store.
func (s *Store) Answer(ctx context.Context, callID string) error {
	_, err := s.run(ctx, scriptAnswer, "answer", callID)
	return err
}

// Offers implements queue.Store: the offers index, then the entries in
// one pipelined round trip.
func (s *Store) Offers(ctx context.Context) ([]queue.Entry, error) {
	ids, err := s.c.SMembers(ctx, s.p+"offers").Result()
	if err != nil {
		return nil, mapErr("offers", err)
	}
	sort.Strings(ids)
	es, err := s.entries(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := es[:0]
	for _, e := range es {
		if e.Owner != "" {
			out = append(out, e)
		}
	}
	return out, nil
}

// Seen implements queue.Store.
func (s *Store) Seen(ctx context.Context, agentID string, at time.Time) error {
	if agentID == "" {
		return fmt.Errorf("%w: agent without id", queue.ErrInvalid)
	}
	return mapErr("seen", s.c.ZAdd(ctx, s.p+"seen", goredis.Z{Score: float64(at.UnixMicro()), Member: agentID}).Err())
}

// LastSeen implements queue.Store.
func (s *Store) LastSeen(ctx context.Context, agentID string) (time.Time, error) {
	us, err := s.c.ZScore(ctx, s.p+"seen", agentID).Result()
	if errors.Is(err, goredis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, mapErr("last seen", err)
	}
	return time.UnixMicro(int64(us)), nil
}

// Unseen implements queue.Store.
func (s *Store) Unseen(ctx context.Context, before time.Time) ([]string, error) {
	v, err := s.run(ctx, scriptUnseen, "unseen", before.UnixMicro())
	if err != nil {
		return nil, err
	}
	var out []string
	if xs, ok := v.([]any); ok {
		for _, x := range xs {
			if id, ok := x.(string); ok {
				out = append(out, id)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}
