// Package redisstore is the Redis store.Store backend, for running several
// nexo replicas against one state. Every multi-key operation is a Lua script
// or a MULTI/EXEC block; all keys of one store share the hash tag
// "{prefix}", so the scripts also work on Redis Cluster (the whole store
// lives in one slot).
package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/store/internal/check"
)

// Store is the Redis implementation of store.Store.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ store.Store = (*Store)(nil)

// New wraps a go-redis client. The Store owns the client: Close closes it.
// Every key is "{prefix}:...", braces in prefix are replaced by "_" (they
// would break the cluster hash tag) and an empty prefix becomes "nexo".
func New(client redis.UniversalClient, prefix string) *Store {
	prefix = strings.NewReplacer("{", "_", "}", "_").Replace(prefix)
	if prefix == "" {
		prefix = "nexo"
	}
	return &Store{rdb: client, prefix: prefix}
}

// Client returns the underlying go-redis client.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Prefix is the key prefix in use (the cluster hash tag).
func (s *Store) Prefix() string { return s.prefix }

// KeyPattern is the SCAN/KEYS pattern matching every key of this store.
func (s *Store) KeyPattern() string { return "{" + s.prefix + "}:*" }

func (s *Store) key(parts ...string) string {
	return "{" + s.prefix + "}:" + strings.Join(parts, ":")
}

// Close closes the client.
func (s *Store) Close() error {
	err := s.rdb.Close()
	if errors.Is(err, redis.ErrClosed) {
		return nil
	}
	return wrap(err)
}

// Ping checks the server answers.
func (s *Store) Ping(ctx context.Context) error {
	return wrap(s.rdb.Ping(ctx).Err())
}

// wrap maps connectivity failures to store.ErrUnavailable and leaves
// redis.Nil alone.
func wrap(err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		return err
	}
	if unavailable(err) {
		return fmt.Errorf("%w: redis: %w", store.ErrUnavailable, err)
	}
	return fmt.Errorf("redisstore: %w", err)
}

func unavailable(err error) bool {
	var netErr net.Error
	switch {
	case errors.Is(err, redis.ErrClosed), errors.Is(err, redis.ErrPoolTimeout),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ENOENT),
		errors.As(err, &netErr):
		return true
	}
	return redis.IsLoadingError(err) || redis.IsClusterDownError(err) ||
		redis.IsMasterDownError(err) || redis.IsReadOnlyError(err) || redis.IsTryAgainError(err)
}

// ms converts a TTL to whole milliseconds, at least 1.
func ms(d time.Duration) int64 { return max(d.Milliseconds(), 1) }

// micros is the score of a time in the sorted sets (exact in a float64
// until the year 2255).
func micros(t time.Time) int64 { return t.UnixMicro() }

// Dedupe implements store.Store with SET NX PX.
func (s *Store) Dedupe(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := errors.Join(check.Key("dedupe key", key), check.TTL("dedupe ttl", ttl)); err != nil {
		return false, err
	}
	err := s.rdb.SetArgs(ctx, s.key("dedupe", key), "1", redis.SetArgs{Mode: "NX", TTL: time.Duration(ms(ttl)) * time.Millisecond}).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, wrap(err)
	}
	return true, nil
}

// luaNow is the server's clock in milliseconds, and luaGone tells whether
// an owner's heartbeat (KEYS[n], the replicas hash) has expired or been
// retired; an owner without a heartbeat record is not gone.
const luaNow = `
local function nowms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`

const luaGone = luaNow + `
local function gone(replicas, owner)
  local e = redis.call('HGET', replicas, owner)
  return e ~= false and tonumber(e) <= nowms()
end
`

var acquireScript = redis.NewScript(luaGone + `
local cur = redis.call('GET', KEYS[1])
if cur then
  local holder = string.match(cur, '^%d+:(.*)$')
  if not holder or not gone(KEYS[3], holder) then return 0 end
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token .. ':' .. ARGV[1], 'PX', ARGV[2])
return token`)

var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`)

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`)

func leaseValue(l store.Lease) string { return strconv.FormatUint(l.Token, 10) + ":" + l.Owner }

// AcquireLease implements store.Store: the lease key is set only when
// absent (with PX) or held by a gone owner, and the fencing counter of the
// name is incremented in the same script; the counter never expires.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (store.Lease, bool, error) {
	if err := check.Lease(name, owner, ttl); err != nil {
		return store.Lease{}, false, err
	}
	token, err := acquireScript.Run(ctx, s.rdb, []string{s.key("lease", name), s.key("fence", name), s.key("replicas")}, owner, ms(ttl)).Int64()
	if err != nil {
		return store.Lease{}, false, wrap(err)
	}
	if token == 0 {
		return store.Lease{}, false, nil
	}
	return store.Lease{Name: name, Owner: owner, Token: uint64(token)}, true, nil
}

// RenewLease implements store.Store.
func (s *Store) RenewLease(ctx context.Context, l store.Lease, ttl time.Duration) error {
	if err := errors.Join(check.HeldLease(l), check.TTL("lease ttl", ttl)); err != nil {
		return err
	}
	ok, err := renewScript.Run(ctx, s.rdb, []string{s.key("lease", l.Name)}, leaseValue(l), ms(ttl)).Int64()
	if err != nil {
		return wrap(err)
	}
	if ok == 0 {
		return fmt.Errorf("%w: %s (token %d)", store.ErrLeaseLost, l.Name, l.Token)
	}
	return nil
}

// ReleaseLease implements store.Store.
func (s *Store) ReleaseLease(ctx context.Context, l store.Lease) error {
	if err := check.HeldLease(l); err != nil {
		return err
	}
	return wrap(releaseScript.Run(ctx, s.rdb, []string{s.key("lease", l.Name)}, leaseValue(l)).Err())
}

// Heartbeats: replicas is a hash owner -> expiry (ms on the server's
// clock); a retired owner's expiry is the moment it retired. Records expired
// longer than store.HeartbeatRetention are dropped on the next heartbeat.
var heartbeatScript = redis.NewScript(luaNow + `
local now = nowms()
redis.call('HSET', KEYS[1], ARGV[1], now + tonumber(ARGV[2]))
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if tonumber(all[i + 1]) < now - tonumber(ARGV[3]) then redis.call('HDEL', KEYS[1], all[i]) end
end
return now`)

var retireScript = redis.NewScript(luaNow + `
redis.call('HSET', KEYS[1], ARGV[1], nowms())
return 1`)

var replicasScript = redis.NewScript(luaNow + `
local now = nowms()
local out = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if tonumber(all[i + 1]) > now then
    table.insert(out, all[i])
    table.insert(out, all[i + 1])
  end
end
return out`)

// Heartbeat implements store.Store.
func (s *Store) Heartbeat(ctx context.Context, owner string, ttl time.Duration) error {
	if err := check.Heartbeat(owner, ttl); err != nil {
		return err
	}
	return wrap(heartbeatScript.Run(ctx, s.rdb, []string{s.key("replicas")}, owner, ms(ttl), ms(store.HeartbeatRetention)).Err())
}

// Retire implements store.Store.
func (s *Store) Retire(ctx context.Context, owner string) error {
	if err := check.Key("replica owner", owner); err != nil {
		return err
	}
	return wrap(retireScript.Run(ctx, s.rdb, []string{s.key("replicas")}, owner).Err())
}

// Replicas implements store.Store.
func (s *Store) Replicas(ctx context.Context) ([]store.Replica, error) {
	flat, err := replicasScript.Run(ctx, s.rdb, []string{s.key("replicas")}).StringSlice()
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]store.Replica, 0, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		msec, err := strconv.ParseInt(flat[i+1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redisstore: heartbeat of %s: %w", flat[i], err)
		}
		out = append(out, store.Replica{Owner: flat[i], Expires: time.UnixMilli(msec).UTC()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Owner < out[j].Owner })
	return out, nil
}

// Workflows are hashes {v: version, lock: lock key taken, json: record};
// wfidx is a sorted set of ids; wflock:<key> holds the id of the open
// workflow owning the lock key.
var createWorkflowScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 'exists' end
if ARGV[4] == '1' then
  local h = redis.call('GET', KEYS[3])
  if h then return 'locked:' .. h end
  redis.call('SET', KEYS[3], ARGV[1])
end
redis.call('HSET', KEYS[1], 'v', '1', 'json', ARGV[2], 'lock', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 'ok'`)

var updateWorkflowScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return 'notfound' end
if v ~= ARGV[1] then return 'conflict:' .. v end
if ARGV[5] == '1' then
  local h = redis.call('GET', KEYS[3])
  if h and h ~= ARGV[3] then return 'locked:' .. h end
end
if ARGV[4] == '1' and redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
if ARGV[5] == '1' then redis.call('SET', KEYS[3], ARGV[3]) end
redis.call('HSET', KEYS[1], 'v', tostring(tonumber(ARGV[1]) + 1), 'json', ARGV[2], 'lock', ARGV[6])
return 'ok'`)

func takesLock(wf *store.Workflow) bool { return wf.LockKey != "" && !wf.Done }

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// CreateWorkflow implements store.Store. An open workflow whose LockKey is
// held by another open workflow is refused with an error wrapping
// store.ErrExists. CreatedAt is set to now unless already set.
func (s *Store) CreateWorkflow(ctx context.Context, wf *store.Workflow) error {
	if err := check.Workflow(wf); err != nil {
		return err
	}
	rec := *wf
	t := check.Now()
	rec.Version = 1
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = t
	}
	rec.UpdatedAt = t
	data, err := json.Marshal(&rec)
	if err != nil {
		return fmt.Errorf("redisstore: encode workflow %s: %w", rec.ID, err)
	}
	lock := ""
	if takesLock(&rec) {
		lock = rec.LockKey
	}
	res, err := createWorkflowScript.Run(ctx, s.rdb,
		[]string{s.key("wf", rec.ID), s.key("wfidx"), s.key("wflock", lock)},
		rec.ID, data, micros(rec.CreatedAt), flag(lock != ""), lock).Text()
	if err != nil {
		return wrap(err)
	}
	switch {
	case res == "exists":
		return fmt.Errorf("%w: workflow %s", store.ErrExists, rec.ID)
	case strings.HasPrefix(res, "locked:"):
		return fmt.Errorf("%w: lock %s is held by open workflow %s", store.ErrExists, lock, strings.TrimPrefix(res, "locked:"))
	}
	*wf = rec
	return nil
}

// GetWorkflow implements store.Store.
func (s *Store) GetWorkflow(ctx context.Context, id string) (*store.Workflow, error) {
	data, err := s.rdb.HGet(ctx, s.key("wf", id), "json").Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("%w: workflow %s", store.ErrNotFound, id)
	}
	if err != nil {
		return nil, wrap(err)
	}
	return decodeWorkflow(id, data)
}

func decodeWorkflow(id string, data []byte) (*store.Workflow, error) {
	var wf store.Workflow
	if err := json.Unmarshal(data, &wf); err != nil {
		return nil, fmt.Errorf("redisstore: workflow %s: %w", id, err)
	}
	return &wf, nil
}

// UpdateWorkflow implements store.Store. Done releases the lock key; a
// changed LockKey moves it (ErrExists if another open workflow holds it).
func (s *Store) UpdateWorkflow(ctx context.Context, wf *store.Workflow) error {
	if err := check.Workflow(wf); err != nil {
		return err
	}
	wfKey := s.key("wf", wf.ID)
	// The lock recorded with the stored version; the script re-checks the
	// version, so a concurrent change of the lock turns into a conflict.
	cur, err := s.rdb.HMGet(ctx, wfKey, "v", "lock").Result()
	if err != nil {
		return wrap(err)
	}
	if cur[0] == nil {
		return fmt.Errorf("%w: workflow %s", store.ErrNotFound, wf.ID)
	}
	if v, _ := cur[0].(string); v != strconv.FormatInt(wf.Version, 10) {
		return fmt.Errorf("%w: workflow %s is at version %s, update was based on %d", store.ErrConflict, wf.ID, v, wf.Version)
	}
	oldLock, _ := cur[1].(string)

	rec := *wf
	rec.Version = wf.Version + 1
	rec.UpdatedAt = check.Now()
	data, err := json.Marshal(&rec)
	if err != nil {
		return fmt.Errorf("redisstore: encode workflow %s: %w", rec.ID, err)
	}
	newLock := ""
	if takesLock(&rec) {
		newLock = rec.LockKey
	}
	res, err := updateWorkflowScript.Run(ctx, s.rdb,
		[]string{wfKey, s.key("wflock", oldLock), s.key("wflock", newLock)},
		strconv.FormatInt(wf.Version, 10), data, rec.ID, flag(oldLock != ""), flag(newLock != ""), newLock).Text()
	if err != nil {
		return wrap(err)
	}
	switch {
	case res == "notfound":
		return fmt.Errorf("%w: workflow %s", store.ErrNotFound, wf.ID)
	case strings.HasPrefix(res, "conflict:"):
		return fmt.Errorf("%w: workflow %s is at version %s, update was based on %d", store.ErrConflict, wf.ID, strings.TrimPrefix(res, "conflict:"), wf.Version)
	case strings.HasPrefix(res, "locked:"):
		return fmt.Errorf("%w: lock %s is held by open workflow %s", store.ErrExists, newLock, strings.TrimPrefix(res, "locked:"))
	}
	*wf = rec
	return nil
}

// ListWorkflows implements store.Store.
func (s *Store) ListWorkflows(ctx context.Context, f store.WorkflowFilter) ([]*store.Workflow, error) {
	ids, err := s.rdb.ZRange(ctx, s.key("wfidx"), 0, -1).Result()
	if err != nil {
		return nil, wrap(err)
	}
	var out []*store.Workflow
	for start := 0; start < len(ids); start += 256 {
		batch := ids[start:min(start+256, len(ids))]
		cmds := make([]*redis.StringCmd, len(batch))
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range batch {
				cmds[i] = p.HGet(ctx, s.key("wf", id), "json")
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, wrap(err)
		}
		for i, cmd := range cmds {
			data, err := cmd.Bytes()
			if errors.Is(err, redis.Nil) {
				continue
			}
			if err != nil {
				return nil, wrap(err)
			}
			wf, err := decodeWorkflow(batch[i], data)
			if err != nil {
				return nil, err
			}
			if check.MatchWorkflow(wf, f) {
				out = append(out, wf)
			}
		}
	}
	check.SortWorkflows(out)
	return out, nil
}

// FindOpenWorkflow implements store.Store.
func (s *Store) FindOpenWorkflow(ctx context.Context, lockKey string) (*store.Workflow, error) {
	if err := check.Key("lock key", lockKey); err != nil {
		return nil, err
	}
	notFound := fmt.Errorf("%w: no open workflow holds %s", store.ErrNotFound, lockKey)
	id, err := s.rdb.Get(ctx, s.key("wflock", lockKey)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, notFound
	}
	if err != nil {
		return nil, wrap(err)
	}
	wf, err := s.GetWorkflow(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	if wf.Done || wf.LockKey != lockKey {
		return nil, notFound
	}
	return wf, nil
}

// Timers: timers is a sorted set id -> visible-at (micros: Due, or the
// claim expiry while claimed); timerbody holds the JSON (without Claim);
// timerclaim holds the current claim of claimed timers.
var claimScript = redis.NewScript(luaGone + `
local max = tonumber(ARGV[3])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, max)
if #ids < max then
  -- Timers claimed by a gone owner are free at once.
  local taken = {}
  for _, id in ipairs(ids) do taken[id] = true end
  local claims = redis.call('HGETALL', KEYS[3])
  for i = 1, #claims, 2 do
    if #ids >= max then break end
    local id, owner = claims[i], string.match(claims[i + 1], '^(.*)/[^/]*$')
    if not taken[id] and owner and gone(KEYS[4], owner) then
      table.insert(ids, id)
      taken[id] = true
    end
  end
end
local out = {}
for _, id in ipairs(ids) do
  local body = redis.call('HGET', KEYS[2], id)
  if body then
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    redis.call('HSET', KEYS[3], id, ARGV[4])
    table.insert(out, body)
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[3], id)
  end
end
return out`)

var completeScript = redis.NewScript(`
if redis.call('HGET', KEYS[3], ARGV[1]) == ARGV[2] then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  return 1
end
return 0`)

func (s *Store) timerKeys() []string {
	return []string{s.key("timers"), s.key("timerbody"), s.key("timerclaim")}
}

// ScheduleTimer implements store.Store. Replacing a timer drops any claim
// on it, so a stale CompleteTimer keeps the new one.
func (s *Store) ScheduleTimer(ctx context.Context, t store.Timer) error {
	if err := check.Timer(t); err != nil {
		return err
	}
	t.Claim = ""
	t.Due = t.Due.UTC()
	data, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("redisstore: encode timer %s: %w", t.ID, err)
	}
	k := s.timerKeys()
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, k[1], t.ID, data)
		p.ZAdd(ctx, k[0], redis.Z{Score: float64(micros(t.Due)), Member: t.ID})
		p.HDel(ctx, k[2], t.ID)
		return nil
	})
	return wrap(err)
}

// CancelTimer implements store.Store.
func (s *Store) CancelTimer(ctx context.Context, id string) error {
	if err := check.Key("timer id", id); err != nil {
		return err
	}
	k := s.timerKeys()
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, k[0], id)
		p.HDel(ctx, k[1], id)
		p.HDel(ctx, k[2], id)
		return nil
	})
	return wrap(err)
}

// ClaimDueTimers implements store.Store.
func (s *Store) ClaimDueTimers(ctx context.Context, now time.Time, owner string, claimTTL time.Duration, max int) ([]store.Timer, error) {
	if err := check.Claim(owner, claimTTL, max); err != nil {
		return nil, err
	}
	claim, err := check.ClaimToken(owner)
	if err != nil {
		return nil, err
	}
	bodies, err := claimScript.Run(ctx, s.rdb, append(s.timerKeys(), s.key("replicas")),
		micros(now), micros(now.Add(claimTTL)), max, claim).StringSlice()
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]store.Timer, 0, len(bodies))
	for _, b := range bodies {
		var t store.Timer
		if err := json.Unmarshal([]byte(b), &t); err != nil {
			return nil, fmt.Errorf("redisstore: timer: %w", err)
		}
		t.Claim = claim
		out = append(out, t)
	}
	return out, nil
}

// CompleteTimer implements store.Store. A timer whose claim is not t.Claim
// (completed, re-claimed after expiry, or rescheduled) is left alone.
func (s *Store) CompleteTimer(ctx context.Context, t store.Timer) error {
	if err := errors.Join(check.Key("timer id", t.ID), check.Key("timer claim", t.Claim)); err != nil {
		return err
	}
	return wrap(completeScript.Run(ctx, s.rdb, s.timerKeys(), t.ID, t.Claim).Err())
}

// AppendAudit implements store.Store. The audit log is a sorted set scored
// by a sequence from INCR, so its order is the append order.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	if err := errors.Join(check.Key("audit actor", e.Actor), check.Key("audit action", e.Action)); err != nil {
		return err
	}
	if e.Time.IsZero() {
		e.Time = check.Now()
	}
	seq, err := s.rdb.Incr(ctx, s.key("audit", "seq")).Result()
	if err != nil {
		return wrap(err)
	}
	if e.Seq == 0 {
		e.Seq = seq
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("redisstore: encode audit entry: %w", err)
	}
	return wrap(s.rdb.ZAdd(ctx, s.key("audit", "log"), redis.Z{Score: float64(seq), Member: data}).Err())
}

// ListAudit implements store.Store.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	const chunk = 256
	var out []store.AuditEntry
	for start := int64(0); ; start += chunk {
		raw, err := s.rdb.ZRevRange(ctx, s.key("audit", "log"), start, start+chunk-1).Result()
		if err != nil {
			return nil, wrap(err)
		}
		for _, r := range raw {
			var e store.AuditEntry
			if err := json.Unmarshal([]byte(r), &e); err != nil {
				return nil, fmt.Errorf("redisstore: audit entry: %w", err)
			}
			if !check.MatchAudit(e, f) {
				continue
			}
			out = append(out, e)
			if f.Limit > 0 && len(out) >= f.Limit {
				return out, nil
			}
		}
		if len(raw) < chunk {
			return out, nil
		}
	}
}

var appendTimelineScript = redis.NewScript(`
if ARGV[1] ~= '' and redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[2])
return 1`)

// AppendTimeline implements store.Store.
func (s *Store) AppendTimeline(ctx context.Context, incidentID string, e store.TimelineEntry) error {
	if err := check.Key("incident id", incidentID); err != nil {
		return err
	}
	if e.Time.IsZero() {
		e.Time = check.Now()
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("redisstore: encode timeline entry: %w", err)
	}
	return wrap(appendTimelineScript.Run(ctx, s.rdb,
		[]string{s.key("tl", incidentID), s.key("tlkeys", incidentID)}, e.Key, data).Err())
}

// ListTimeline implements store.Store.
func (s *Store) ListTimeline(ctx context.Context, incidentID string) ([]store.TimelineEntry, error) {
	raw, err := s.rdb.LRange(ctx, s.key("tl", incidentID), 0, -1).Result()
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]store.TimelineEntry, 0, len(raw))
	for _, r := range raw {
		var e store.TimelineEntry
		if err := json.Unmarshal([]byte(r), &e); err != nil {
			return nil, fmt.Errorf("redisstore: timeline %s: %w", incidentID, err)
		}
		out = append(out, e)
	}
	check.SortTimeline(out)
	return out, nil
}

// PutDoc implements store.Store; a collection is one hash.
func (s *Store) PutDoc(ctx context.Context, collection, id string, doc any) error {
	if err := check.Doc(collection, id); err != nil {
		return err
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("redisstore: encode %s/%s: %w", collection, id, err)
	}
	return wrap(s.rdb.HSet(ctx, s.key("doc", collection), id, data).Err())
}

// GetDoc implements store.Store.
func (s *Store) GetDoc(ctx context.Context, collection, id string, out any) error {
	data, err := s.rdb.HGet(ctx, s.key("doc", collection), id).Bytes()
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("%w: %s/%s", store.ErrNotFound, collection, id)
	}
	if err != nil {
		return wrap(err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("redisstore: decode %s/%s: %w", collection, id, err)
	}
	return nil
}

// ListDocs implements store.Store.
func (s *Store) ListDocs(ctx context.Context, collection string) ([]store.Doc, error) {
	all, err := s.rdb.HGetAll(ctx, s.key("doc", collection)).Result()
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]store.Doc, 0, len(all))
	for id, data := range all {
		out = append(out, store.Doc{ID: id, Data: json.RawMessage(data)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// DeleteDoc implements store.Store.
func (s *Store) DeleteDoc(ctx context.Context, collection, id string) error {
	if err := check.Doc(collection, id); err != nil {
		return err
	}
	return wrap(s.rdb.HDel(ctx, s.key("doc", collection), id).Err())
}
