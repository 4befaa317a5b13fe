// Package store is nexo's persistence: de-duplication keys, leases with
// fencing tokens, versioned workflow records, timers, the audit log, incident
// timelines and generic JSON documents (deployments, incidents, settings).
//
// Two implementations share one contract test suite: bbolt (embedded, one
// file, the default) and Redis (several replicas).
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

var (
	// ErrNotFound is returned when a record does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrExists is returned by Create when the record already exists.
	ErrExists = errors.New("store: already exists")
	// ErrConflict is returned by a compare-and-swap whose version is stale.
	ErrConflict = errors.New("store: version conflict")
	// ErrLeaseLost is returned when a lease is held by someone else or its
	// fencing token is stale.
	ErrLeaseLost = errors.New("store: lease lost")
	// ErrUnavailable wraps backend connectivity failures, so callers can say
	// "state store unavailable, nothing was changed".
	ErrUnavailable = errors.New("store: unavailable")
)

// Store is the one persistence interface of nexo.
type Store interface {
	// Dedupe sets key if absent, for ttl. It returns true when this call set
	// it (first delivery) and false when it already existed (a duplicate).
	Dedupe(ctx context.Context, key string, ttl time.Duration) (bool, error)

	// AcquireLease takes the named lease for owner, for ttl, atomically (SET
	// NX PX semantics). The returned Lease carries a fencing token that grows
	// strictly with every successful acquisition of that name, across owners.
	// ok is false (and err nil) when another owner holds it.
	AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (lease Lease, ok bool, err error)
	// RenewLease extends a held lease; ErrLeaseLost if it is no longer ours.
	RenewLease(ctx context.Context, lease Lease, ttl time.Duration) error
	// ReleaseLease gives a lease up if it is still ours (no error otherwise).
	ReleaseLease(ctx context.Context, lease Lease) error

	// Heartbeat records that owner (one replica) is alive until ttl from now
	// on the store's clock. While an owner's heartbeat is current, its
	// leases and timer claims hold as their TTLs say; once the heartbeat
	// has expired or the owner retired, they are free at once: AcquireLease
	// by another owner takes its leases (after which the old owner's
	// RenewLease fails), ClaimDueTimers hands its claimed timers to the next
	// claimer. An owner that never sent a heartbeat is bound by the TTLs
	// alone.
	Heartbeat(ctx context.Context, owner string, ttl time.Duration) error
	// Retire ends owner's heartbeat now (a clean shutdown), which frees its
	// leases and timer claims at once. No error if owner never beat.
	Retire(ctx context.Context, owner string) error
	// Replicas lists the owners whose heartbeat is current, by owner name.
	Replicas(ctx context.Context) ([]Replica, error)

	// CreateWorkflow stores a new workflow with Version 1; ErrExists if the
	// id is taken. It sets wf.Version, CreatedAt and UpdatedAt.
	CreateWorkflow(ctx context.Context, wf *Workflow) error
	// GetWorkflow loads one workflow; ErrNotFound if absent.
	GetWorkflow(ctx context.Context, id string) (*Workflow, error)
	// UpdateWorkflow writes wf if the stored version equals wf.Version, then
	// increments wf.Version and sets UpdatedAt; ErrConflict otherwise.
	UpdateWorkflow(ctx context.Context, wf *Workflow) error
	// ListWorkflows returns workflows matching the filter, oldest first.
	ListWorkflows(ctx context.Context, f WorkflowFilter) ([]*Workflow, error)
	// FindOpenWorkflow returns the open (not Done) workflow holding the lock
	// key (e.g. "promote/nexo-be/production"), or ErrNotFound.
	FindOpenWorkflow(ctx context.Context, lockKey string) (*Workflow, error)

	// ScheduleTimer adds or replaces the timer with t.ID (idempotent).
	ScheduleTimer(ctx context.Context, t Timer) error
	// CancelTimer removes a timer; no error if absent.
	CancelTimer(ctx context.Context, id string) error
	// ClaimDueTimers atomically claims up to max timers whose Due <= now and
	// returns them; a claimed timer is hidden from other claimers for
	// claimTTL (on the clock of now), after which it becomes claimable again
	// unless completed, and at once when its claimer's heartbeat has expired
	// or the claimer retired (see Heartbeat). Exactly one concurrent caller
	// gets each timer.
	ClaimDueTimers(ctx context.Context, now time.Time, owner string, claimTTL time.Duration, max int) ([]Timer, error)
	// CompleteTimer deletes a claimed timer, only if the claim is still
	// owner's (a timer rescheduled since the claim is kept).
	CompleteTimer(ctx context.Context, t Timer) error

	// AppendAudit appends one entry (Seq and Time set when zero).
	AppendAudit(ctx context.Context, e AuditEntry) error
	// ListAudit lists entries matching the filter, newest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)

	// AppendTimeline appends an entry to an incident's timeline; an entry
	// whose Key is non-empty and already present is ignored (idempotent).
	AppendTimeline(ctx context.Context, incidentID string, e TimelineEntry) error
	// ListTimeline returns an incident's timeline ordered by Time.
	ListTimeline(ctx context.Context, incidentID string) ([]TimelineEntry, error)

	// PutDoc stores a JSON document in a collection (upsert).
	PutDoc(ctx context.Context, collection, id string, doc any) error
	// GetDoc loads a document into out; ErrNotFound if absent.
	GetDoc(ctx context.Context, collection, id string, out any) error
	// ListDocs returns every document of a collection, ordered by id.
	ListDocs(ctx context.Context, collection string) ([]Doc, error)
	// DeleteDoc removes a document; no error if absent.
	DeleteDoc(ctx context.Context, collection, id string) error

	// Ping checks the backend is reachable.
	Ping(ctx context.Context) error
	// Close releases the backend.
	Close() error
}

// Lease is a held lease and its fencing token.
type Lease struct {
	Name  string `json:"name"`
	Owner string `json:"owner"`
	Token uint64 `json:"token"`
}

// Replica is one live heartbeat.
type Replica struct {
	Owner   string    `json:"owner"`
	Expires time.Time `json:"expires"`
}

// HeartbeatRetention is how long the record of an expired or retired
// heartbeat is kept, so that its owner's leases and claims keep counting as
// free; after that the owner is unknown again (bound by TTLs alone, which
// have long run out).
const HeartbeatRetention = 24 * time.Hour

// Workflow is a persisted state machine: a promotion, hotfix, rollback,
// incident or rotation.
type Workflow struct {
	ID   string `json:"id"`
	Kind string `json:"kind"` // "promote", "hotfix", "rollback", "incident", "rotate", ...
	// LockKey is unique among open workflows (e.g. "promote/nexo-be/production");
	// empty means no lock.
	LockKey string `json:"lock_key,omitempty"`
	State   string `json:"state"`
	Done    bool   `json:"done"`
	// Version is the compare-and-swap counter, managed by the store.
	Version int64 `json:"version"`
	// Fence is the lease fencing token of the last writer (informational).
	Fence uint64 `json:"fence,omitempty"`
	// Data is the kind-specific JSON payload.
	Data json.RawMessage `json:"data,omitempty"`
	// Steps is the append-only step log.
	Steps []StepLog `json:"steps,omitempty"`
	// Channel and ThreadTS locate the workflow's Slack thread; CardTS is the
	// status card (the thread parent) edited in place.
	Channel   string    `json:"channel,omitempty"`
	ThreadTS  string    `json:"thread_ts,omitempty"`
	CardTS    string    `json:"card_ts,omitempty"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// StepLog is one line of a workflow's step log.
type StepLog struct {
	Time   time.Time `json:"time"`
	State  string    `json:"state"`
	Result string    `json:"result"` // "ok", "wait", "error", "refused"
	Detail string    `json:"detail,omitempty"`
}

// WorkflowFilter selects workflows; zero fields match everything.
type WorkflowFilter struct {
	Kind     string
	OpenOnly bool
}

// Timer is a due item: a soak end, a reminder, an SLA, an auto-promotion.
type Timer struct {
	ID      string          `json:"id"`
	Due     time.Time       `json:"due"`
	Kind    string          `json:"kind"`
	Payload json.RawMessage `json:"payload,omitempty"`
	// Claim is set by ClaimDueTimers: "<owner>/<nonce>"; CompleteTimer uses it.
	Claim string `json:"claim,omitempty"`
}

// AuditEntry is one line of the append-only audit log: who did what, when.
type AuditEntry struct {
	Seq      int64             `json:"seq"`
	Time     time.Time         `json:"time"`
	Actor    string            `json:"actor"`  // Slack user id, "nexo" for the bot itself
	Action   string            `json:"action"` // e.g. "promote.approve", "rollback.refused"
	Service  string            `json:"service,omitempty"`
	Env      string            `json:"env,omitempty"`
	Target   string            `json:"target,omitempty"` // workflow id, PR number, ...
	Outcome  string            `json:"outcome"`          // "ok", "refused", "error"
	Detail   string            `json:"detail,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// AuditFilter selects audit entries; zero fields match everything.
type AuditFilter struct {
	Service string
	Actor   string
	Since   time.Time
	Limit   int // 0 = no limit
}

// TimelineEntry is one event of an incident's timeline.
type TimelineEntry struct {
	// Key makes appends idempotent (e.g. the Slack message ts of a pin).
	Key       string    `json:"key,omitempty"`
	Time      time.Time `json:"time"`
	Kind      string    `json:"kind"` // "declared", "update", "status", "deploy", "rollback", "pin", ...
	Actor     string    `json:"actor,omitempty"`
	Text      string    `json:"text"`
	Permalink string    `json:"permalink,omitempty"`
}

// Doc is a stored JSON document.
type Doc struct {
	ID   string          `json:"id"`
	Data json.RawMessage `json:"data"`
}

// Decode unmarshals a document's data.
func (d Doc) Decode(out any) error { return json.Unmarshal(d.Data, out) }
