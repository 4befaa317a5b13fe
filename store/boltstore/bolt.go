// Package boltstore is the embedded store.Store backend: one bbolt file,
// safe for one process (bbolt takes an exclusive file lock). Every mutation
// is one serialized read-write transaction, which gives the atomicity the
// contract asks for; fencing counters live in the file and so survive
// restarts.
package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/store/internal/check"
)

// Bucket names.
var (
	bDedupe    = []byte("dedupe")    // key -> expiry (unix nanos, 8 bytes)
	bLeases    = []byte("leases")    // name -> leaseRecord JSON
	bFences    = []byte("fences")    // name -> last fencing token (8 bytes)
	bWorkflows = []byte("workflows") // id -> Workflow JSON
	bLocks     = []byte("wflocks")   // lock key -> workflow id (open workflows only)
	bTimers    = []byte("timers")    // id -> timerRecord JSON
	bTimerDue  = []byte("timerdue")  // sortable time (8 bytes) + id -> nothing
	bAudit     = []byte("audit")     // append sequence (8 bytes) -> AuditEntry JSON
	bTimelines = []byte("timelines") // incident id -> {e: seq -> entry, k: key -> nothing}
	bDocs      = []byte("docs")      // collection -> id -> JSON
	bReplicas  = []byte("replicas")  // owner -> heartbeat expiry (unix nanos, 8 bytes)

	bTLEntries = []byte("e")
	bTLKeys    = []byte("k")
)

// SweepInterval is how often expired dedupe keys and leases are purged in
// the background (they are treated as absent as soon as they expire).
const SweepInterval = time.Minute

// ErrLocked is wrapped (with store.ErrUnavailable) by Open when another
// process, such as a running bot, holds the file.
var ErrLocked = errors.New("locked by another process")

// lockTimeout bounds the wait for the file lock held by another process.
const lockTimeout = 2 * time.Second

// Store is the bbolt implementation of store.Store.
type Store struct {
	db        *bolt.DB
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

type leaseRecord struct {
	Owner   string `json:"owner"`
	Token   uint64 `json:"token"`
	Expires int64  `json:"expires"` // unix nanos
}

type timerRecord struct {
	Timer      store.Timer `json:"timer"`
	ClaimUntil int64       `json:"claim_until,omitempty"` // unix nanos; 0 = not claimed
}

// Open opens (creating if needed) the bbolt file at path and starts the
// background sweep. The parent directory is created with mode 0700.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("boltstore: path is required")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("boltstore: create directory: %w", err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("%w: boltstore: %s is %w", store.ErrUnavailable, path, ErrLocked)
		}
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bDedupe, bLeases, bFences, bWorkflows, bLocks, bTimers, bTimerDue, bAudit, bTimelines, bDocs, bReplicas} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltstore: init %s: %w", path, err)
	}
	s := &Store{db: db, stop: make(chan struct{}), done: make(chan struct{})}
	go s.sweepLoop()
	return s, nil
}

// Close stops the sweep and closes the file. Calling it again is a no-op.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// Ping checks the file is open.
func (s *Store) Ping(ctx context.Context) error {
	return s.view(ctx, func(*bolt.Tx) error { return nil })
}

func (s *Store) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return wrap(s.db.View(fn))
}

func (s *Store) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return wrap(s.db.Update(fn))
}

// wrap maps a closed database to store.ErrUnavailable.
func wrap(err error) error {
	if errors.Is(err, bolt.ErrDatabaseNotOpen) || errors.Is(err, bolt.ErrDatabaseReadOnly) {
		return fmt.Errorf("%w: boltstore: %w", store.ErrUnavailable, err)
	}
	return err
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// sortable encodes unix nanos so byte order equals time order.
func sortable(nanos int64) []byte { return u64(uint64(nanos) ^ (1 << 63)) }

func now() int64 { return time.Now().UnixNano() }

// Dedupe implements store.Store.
func (s *Store) Dedupe(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := errors.Join(check.Key("dedupe key", key), check.TTL("dedupe ttl", ttl)); err != nil {
		return false, err
	}
	first := false
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bDedupe)
		t := now()
		if v := b.Get([]byte(key)); len(v) == 8 && int64(binary.BigEndian.Uint64(v)) > t {
			return nil
		}
		first = true
		return b.Put([]byte(key), u64(uint64(t+int64(ttl))))
	})
	return first, err
}

// AcquireLease implements store.Store.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (store.Lease, bool, error) {
	if err := check.Lease(name, owner, ttl); err != nil {
		return store.Lease{}, false, err
	}
	var lease store.Lease
	ok := false
	err := s.update(ctx, func(tx *bolt.Tx) error {
		t := now()
		if cur, found, err := getLease(tx, name); err != nil {
			return err
		} else if found && cur.Expires > t && !gone(tx, cur.Owner, t) {
			return nil
		}
		fences := tx.Bucket(bFences)
		var token uint64 = 1
		if v := fences.Get([]byte(name)); len(v) == 8 {
			token = binary.BigEndian.Uint64(v) + 1
		}
		if err := fences.Put([]byte(name), u64(token)); err != nil {
			return err
		}
		if err := putJSON(tx.Bucket(bLeases), name, leaseRecord{Owner: owner, Token: token, Expires: t + int64(ttl)}); err != nil {
			return err
		}
		lease = store.Lease{Name: name, Owner: owner, Token: token}
		ok = true
		return nil
	})
	if err != nil {
		return store.Lease{}, false, err
	}
	return lease, ok, nil
}

func getLease(tx *bolt.Tx, name string) (leaseRecord, bool, error) {
	var rec leaseRecord
	v := tx.Bucket(bLeases).Get([]byte(name))
	if v == nil {
		return rec, false, nil
	}
	if err := json.Unmarshal(v, &rec); err != nil {
		return rec, false, fmt.Errorf("boltstore: lease %s: %w", name, err)
	}
	return rec, true, nil
}

func heldBy(rec leaseRecord, found bool, l store.Lease, t int64) bool {
	return found && rec.Expires > t && rec.Owner == l.Owner && rec.Token == l.Token
}

// gone reports whether owner's heartbeat has expired or the owner retired;
// an owner without a heartbeat record is not gone.
func gone(tx *bolt.Tx, owner string, t int64) bool {
	v := tx.Bucket(bReplicas).Get([]byte(owner))
	return len(v) == 8 && int64(binary.BigEndian.Uint64(v)) <= t
}

// anyGone reports whether some owner's heartbeat has expired or retired
// (and is still on record).
func anyGone(tx *bolt.Tx, t int64) bool {
	c := tx.Bucket(bReplicas).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(v) == 8 && int64(binary.BigEndian.Uint64(v)) <= t {
			return true
		}
	}
	return false
}

// Heartbeat implements store.Store. Records expired longer than
// store.HeartbeatRetention are dropped in the same transaction.
func (s *Store) Heartbeat(ctx context.Context, owner string, ttl time.Duration) error {
	if err := check.Heartbeat(owner, ttl); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		t := now()
		b := tx.Bucket(bReplicas)
		var stale [][]byte
		err := b.ForEach(func(k, v []byte) error {
			if len(v) != 8 || int64(binary.BigEndian.Uint64(v)) < t-int64(store.HeartbeatRetention) {
				stale = append(stale, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range stale {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return b.Put([]byte(owner), u64(uint64(t+int64(ttl))))
	})
}

// Retire implements store.Store.
func (s *Store) Retire(ctx context.Context, owner string) error {
	if err := check.Key("replica owner", owner); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bReplicas).Put([]byte(owner), u64(uint64(now())))
	})
}

// Replicas implements store.Store.
func (s *Store) Replicas(ctx context.Context) ([]store.Replica, error) {
	var out []store.Replica
	err := s.view(ctx, func(tx *bolt.Tx) error {
		t := now()
		return tx.Bucket(bReplicas).ForEach(func(k, v []byte) error {
			if len(v) == 8 {
				if exp := int64(binary.BigEndian.Uint64(v)); exp > t {
					out = append(out, store.Replica{Owner: string(k), Expires: time.Unix(0, exp).UTC()})
				}
			}
			return nil
		})
	})
	return out, err
}

// RenewLease implements store.Store.
func (s *Store) RenewLease(ctx context.Context, l store.Lease, ttl time.Duration) error {
	if err := errors.Join(check.HeldLease(l), check.TTL("lease ttl", ttl)); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		t := now()
		rec, found, err := getLease(tx, l.Name)
		if err != nil {
			return err
		}
		if !heldBy(rec, found, l, t) {
			return fmt.Errorf("%w: %s (token %d)", store.ErrLeaseLost, l.Name, l.Token)
		}
		rec.Expires = t + int64(ttl)
		return putJSON(tx.Bucket(bLeases), l.Name, rec)
	})
}

// ReleaseLease implements store.Store.
func (s *Store) ReleaseLease(ctx context.Context, l store.Lease) error {
	if err := check.HeldLease(l); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		rec, found, err := getLease(tx, l.Name)
		if err != nil {
			return err
		}
		if !heldBy(rec, found, l, now()) {
			return nil
		}
		return tx.Bucket(bLeases).Delete([]byte(l.Name))
	})
}

func putJSON(b *bolt.Bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("boltstore: encode %s: %w", key, err)
	}
	return b.Put([]byte(key), data)
}

func getWorkflow(tx *bolt.Tx, id string) (*store.Workflow, error) {
	v := tx.Bucket(bWorkflows).Get([]byte(id))
	if v == nil {
		return nil, fmt.Errorf("%w: workflow %s", store.ErrNotFound, id)
	}
	var wf store.Workflow
	if err := json.Unmarshal(v, &wf); err != nil {
		return nil, fmt.Errorf("boltstore: workflow %s: %w", id, err)
	}
	return &wf, nil
}

// lockHolder returns the id of the open workflow holding lockKey, or "".
func lockHolder(tx *bolt.Tx, lockKey string) string {
	if lockKey == "" {
		return ""
	}
	return string(tx.Bucket(bLocks).Get([]byte(lockKey)))
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
	err := s.update(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bWorkflows).Get([]byte(rec.ID)) != nil {
			return fmt.Errorf("%w: workflow %s", store.ErrExists, rec.ID)
		}
		if rec.LockKey != "" && !rec.Done {
			if holder := lockHolder(tx, rec.LockKey); holder != "" {
				return fmt.Errorf("%w: lock %s is held by open workflow %s", store.ErrExists, rec.LockKey, holder)
			}
			if err := tx.Bucket(bLocks).Put([]byte(rec.LockKey), []byte(rec.ID)); err != nil {
				return err
			}
		}
		return putJSON(tx.Bucket(bWorkflows), rec.ID, &rec)
	})
	if err != nil {
		return err
	}
	*wf = rec
	return nil
}

// GetWorkflow implements store.Store.
func (s *Store) GetWorkflow(ctx context.Context, id string) (*store.Workflow, error) {
	var wf *store.Workflow
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		wf, err = getWorkflow(tx, id)
		return err
	})
	return wf, err
}

// UpdateWorkflow implements store.Store. Done releases the lock key; a
// changed LockKey moves it (ErrExists if another open workflow holds it).
func (s *Store) UpdateWorkflow(ctx context.Context, wf *store.Workflow) error {
	if err := check.Workflow(wf); err != nil {
		return err
	}
	rec := *wf
	rec.Version = wf.Version + 1
	rec.UpdatedAt = check.Now()
	err := s.update(ctx, func(tx *bolt.Tx) error {
		cur, err := getWorkflow(tx, rec.ID)
		if err != nil {
			return err
		}
		if cur.Version != wf.Version {
			return fmt.Errorf("%w: workflow %s is at version %d, update was based on %d", store.ErrConflict, rec.ID, cur.Version, wf.Version)
		}
		locks := tx.Bucket(bLocks)
		if rec.LockKey != "" && !rec.Done {
			if holder := lockHolder(tx, rec.LockKey); holder != "" && holder != rec.ID {
				return fmt.Errorf("%w: lock %s is held by open workflow %s", store.ErrExists, rec.LockKey, holder)
			}
		}
		if cur.LockKey != "" && lockHolder(tx, cur.LockKey) == rec.ID {
			if err := locks.Delete([]byte(cur.LockKey)); err != nil {
				return err
			}
		}
		if rec.LockKey != "" && !rec.Done {
			if err := locks.Put([]byte(rec.LockKey), []byte(rec.ID)); err != nil {
				return err
			}
		}
		return putJSON(tx.Bucket(bWorkflows), rec.ID, &rec)
	})
	if err != nil {
		return err
	}
	*wf = rec
	return nil
}

// ListWorkflows implements store.Store.
func (s *Store) ListWorkflows(ctx context.Context, f store.WorkflowFilter) ([]*store.Workflow, error) {
	var out []*store.Workflow
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bWorkflows).ForEach(func(k, v []byte) error {
			var wf store.Workflow
			if err := json.Unmarshal(v, &wf); err != nil {
				return fmt.Errorf("boltstore: workflow %s: %w", k, err)
			}
			if check.MatchWorkflow(&wf, f) {
				out = append(out, &wf)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	check.SortWorkflows(out)
	return out, nil
}

// FindOpenWorkflow implements store.Store.
func (s *Store) FindOpenWorkflow(ctx context.Context, lockKey string) (*store.Workflow, error) {
	if err := check.Key("lock key", lockKey); err != nil {
		return nil, err
	}
	var wf *store.Workflow
	err := s.view(ctx, func(tx *bolt.Tx) error {
		notFound := fmt.Errorf("%w: no open workflow holds %s", store.ErrNotFound, lockKey)
		id := lockHolder(tx, lockKey)
		if id == "" {
			return notFound
		}
		got, err := getWorkflow(tx, id)
		if errors.Is(err, store.ErrNotFound) {
			return notFound
		}
		if err != nil {
			return err
		}
		if got.Done || got.LockKey != lockKey {
			return notFound
		}
		wf = got
		return nil
	})
	return wf, err
}

func dueKey(nanos int64, id string) []byte {
	return append(sortable(nanos), id...)
}

func getTimer(tx *bolt.Tx, id string) (*timerRecord, error) {
	v := tx.Bucket(bTimers).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	var rec timerRecord
	if err := json.Unmarshal(v, &rec); err != nil {
		return nil, fmt.Errorf("boltstore: timer %s: %w", id, err)
	}
	return &rec, nil
}

// visibleAt is when a timer record can next be claimed.
func (r *timerRecord) visibleAt() int64 {
	if r.ClaimUntil != 0 {
		return r.ClaimUntil
	}
	return r.Timer.Due.UnixNano()
}

func removeTimer(tx *bolt.Tx, id string) error {
	rec, err := getTimer(tx, id)
	if err != nil || rec == nil {
		return err
	}
	if err := tx.Bucket(bTimerDue).Delete(dueKey(rec.visibleAt(), id)); err != nil {
		return err
	}
	return tx.Bucket(bTimers).Delete([]byte(id))
}

// ScheduleTimer implements store.Store. Replacing a timer drops any claim
// on it, so a stale CompleteTimer keeps the new one.
func (s *Store) ScheduleTimer(ctx context.Context, t store.Timer) error {
	if err := check.Timer(t); err != nil {
		return err
	}
	t.Claim = ""
	t.Due = t.Due.UTC()
	return s.update(ctx, func(tx *bolt.Tx) error {
		if err := removeTimer(tx, t.ID); err != nil {
			return err
		}
		if err := tx.Bucket(bTimerDue).Put(dueKey(t.Due.UnixNano(), t.ID), nil); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bTimers), t.ID, timerRecord{Timer: t})
	})
}

// CancelTimer implements store.Store.
func (s *Store) CancelTimer(ctx context.Context, id string) error {
	if err := check.Key("timer id", id); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error { return removeTimer(tx, id) })
}

// ClaimDueTimers implements store.Store.
func (s *Store) ClaimDueTimers(ctx context.Context, at time.Time, owner string, claimTTL time.Duration, max int) ([]store.Timer, error) {
	if err := check.Claim(owner, claimTTL, max); err != nil {
		return nil, err
	}
	claim, err := check.ClaimToken(owner)
	if err != nil {
		return nil, err
	}
	var out []store.Timer
	err = s.update(ctx, func(tx *bolt.Tx) error {
		out = out[:0]
		limit := sortable(at.UnixNano())
		var ids []string
		taken := map[string]bool{}
		c := tx.Bucket(bTimerDue).Cursor()
		for k, _ := c.First(); k != nil && len(ids) < max; k, _ = c.Next() {
			if bytes.Compare(k[:8], limit) > 0 {
				break
			}
			ids = append(ids, string(k[8:]))
			taken[string(k[8:])] = true
		}
		// Timers claimed by a gone owner are free at once.
		if t := now(); len(ids) < max && anyGone(tx, t) {
			err := tx.Bucket(bTimers).ForEach(func(k, v []byte) error {
				if len(ids) >= max || taken[string(k)] {
					return nil
				}
				var rec timerRecord
				if err := json.Unmarshal(v, &rec); err != nil {
					return fmt.Errorf("boltstore: timer %s: %w", k, err)
				}
				if rec.ClaimUntil != 0 && gone(tx, check.ClaimOwner(rec.Timer.Claim), t) {
					ids = append(ids, string(k))
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		until := at.Add(claimTTL).UnixNano()
		for _, id := range ids {
			rec, err := getTimer(tx, id)
			if err != nil {
				return err
			}
			if rec == nil {
				continue
			}
			if err := tx.Bucket(bTimerDue).Delete(dueKey(rec.visibleAt(), id)); err != nil {
				return err
			}
			rec.ClaimUntil = until
			rec.Timer.Claim = claim
			if err := tx.Bucket(bTimerDue).Put(dueKey(until, id), nil); err != nil {
				return err
			}
			if err := putJSON(tx.Bucket(bTimers), id, rec); err != nil {
				return err
			}
			out = append(out, rec.Timer)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CompleteTimer implements store.Store. A timer whose claim is not t.Claim
// (completed, re-claimed after expiry, or rescheduled) is left alone.
func (s *Store) CompleteTimer(ctx context.Context, t store.Timer) error {
	if err := errors.Join(check.Key("timer id", t.ID), check.Key("timer claim", t.Claim)); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		rec, err := getTimer(tx, t.ID)
		if err != nil || rec == nil || rec.Timer.Claim != t.Claim {
			return err
		}
		return removeTimer(tx, t.ID)
	})
}

// AppendAudit implements store.Store.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	if err := errors.Join(check.Key("audit actor", e.Actor), check.Key("audit action", e.Action)); err != nil {
		return err
	}
	if e.Time.IsZero() {
		e.Time = check.Now()
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bAudit)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if e.Seq == 0 {
			e.Seq = int64(seq)
		}
		data, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("boltstore: encode audit entry: %w", err)
		}
		return b.Put(u64(seq), data)
	})
}

// ListAudit implements store.Store.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	var out []store.AuditEntry
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bAudit).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			var e store.AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("boltstore: audit entry %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if !check.MatchAudit(e, f) {
				continue
			}
			out = append(out, e)
			if f.Limit > 0 && len(out) >= f.Limit {
				break
			}
		}
		return nil
	})
	return out, err
}

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
		return fmt.Errorf("boltstore: encode timeline entry: %w", err)
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		inc, err := tx.Bucket(bTimelines).CreateBucketIfNotExists([]byte(incidentID))
		if err != nil {
			return err
		}
		entries, err := inc.CreateBucketIfNotExists(bTLEntries)
		if err != nil {
			return err
		}
		keys, err := inc.CreateBucketIfNotExists(bTLKeys)
		if err != nil {
			return err
		}
		if e.Key != "" {
			if keys.Get([]byte(e.Key)) != nil {
				return nil
			}
			if err := keys.Put([]byte(e.Key), []byte{1}); err != nil {
				return err
			}
		}
		seq, err := entries.NextSequence()
		if err != nil {
			return err
		}
		return entries.Put(u64(seq), data)
	})
}

// ListTimeline implements store.Store.
func (s *Store) ListTimeline(ctx context.Context, incidentID string) ([]store.TimelineEntry, error) {
	var out []store.TimelineEntry
	err := s.view(ctx, func(tx *bolt.Tx) error {
		inc := tx.Bucket(bTimelines).Bucket([]byte(incidentID))
		if inc == nil {
			return nil
		}
		entries := inc.Bucket(bTLEntries)
		if entries == nil {
			return nil
		}
		return entries.ForEach(func(_, v []byte) error {
			var e store.TimelineEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("boltstore: timeline %s: %w", incidentID, err)
			}
			out = append(out, e)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	check.SortTimeline(out)
	return out, nil
}

// PutDoc implements store.Store.
func (s *Store) PutDoc(ctx context.Context, collection, id string, doc any) error {
	if err := check.Doc(collection, id); err != nil {
		return err
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("boltstore: encode %s/%s: %w", collection, id, err)
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bDocs).CreateBucketIfNotExists([]byte(collection))
		if err != nil {
			return err
		}
		return b.Put([]byte(id), data)
	})
}

// PutDocs stores many documents of one collection in one transaction (one
// disk sync instead of one per document): bulk loads such as the DORA
// benchmarks' years of records. Not part of store.Store.
func (s *Store) PutDocs(ctx context.Context, collection string, docs map[string]any) error {
	data := make(map[string][]byte, len(docs))
	for id, doc := range docs {
		if err := check.Doc(collection, id); err != nil {
			return err
		}
		b, err := json.Marshal(doc)
		if err != nil {
			return fmt.Errorf("boltstore: encode %s/%s: %w", collection, id, err)
		}
		data[id] = b
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bDocs).CreateBucketIfNotExists([]byte(collection))
		if err != nil {
			return err
		}
		for id, v := range data {
			if err := b.Put([]byte(id), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// GetDoc implements store.Store.
func (s *Store) GetDoc(ctx context.Context, collection, id string, out any) error {
	var data []byte
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if b := tx.Bucket(bDocs).Bucket([]byte(collection)); b != nil {
			if v := b.Get([]byte(id)); v != nil {
				data = bytes.Clone(v)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if data == nil {
		return fmt.Errorf("%w: %s/%s", store.ErrNotFound, collection, id)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("boltstore: decode %s/%s: %w", collection, id, err)
	}
	return nil
}

// ListDocs implements store.Store.
func (s *Store) ListDocs(ctx context.Context, collection string) ([]store.Doc, error) {
	var out []store.Doc
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bDocs).Bucket([]byte(collection))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out = append(out, store.Doc{ID: string(k), Data: bytes.Clone(v)})
			return nil
		})
	})
	return out, err
}

// DeleteDoc implements store.Store.
func (s *Store) DeleteDoc(ctx context.Context, collection, id string) error {
	if err := check.Doc(collection, id); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) error {
		if b := tx.Bucket(bDocs).Bucket([]byte(collection)); b != nil {
			return b.Delete([]byte(id))
		}
		return nil
	})
}

// Sweep deletes expired dedupe keys and leases now and reports how many
// records it removed. It runs every SweepInterval in the background; expired
// records are ignored by reads either way.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	removed := 0
	err := s.update(ctx, func(tx *bolt.Tx) error {
		t := now()
		var stale [][]byte
		err := tx.Bucket(bDedupe).ForEach(func(k, v []byte) error {
			if len(v) != 8 || int64(binary.BigEndian.Uint64(v)) <= t {
				stale = append(stale, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range stale {
			if err := tx.Bucket(bDedupe).Delete(k); err != nil {
				return err
			}
		}
		removed += len(stale)
		stale = stale[:0]
		err = tx.Bucket(bLeases).ForEach(func(k, v []byte) error {
			var rec leaseRecord
			if json.Unmarshal(v, &rec) != nil || rec.Expires <= t {
				stale = append(stale, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range stale {
			if err := tx.Bucket(bLeases).Delete(k); err != nil {
				return err
			}
		}
		removed += len(stale)
		return nil
	})
	return removed, err
}

func (s *Store) sweepLoop() {
	defer close(s.done)
	tick := time.NewTicker(SweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, _ = s.Sweep(ctx) // best effort: reads ignore expired records anyway
			cancel()
		}
	}
}
