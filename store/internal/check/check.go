// Package check holds the input validation and ordering rules shared by the
// store backends, so both reject the same bad input with the same message.
package check

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/store"
)

// Key rejects an empty key-like argument.
func Key(what, v string) error {
	if v == "" {
		return fmt.Errorf("store: %s is required", what)
	}
	return nil
}

// TTL rejects a non-positive duration.
func TTL(what string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("store: %s must be positive, got %s", what, d)
	}
	return nil
}

// Lease validates the arguments of AcquireLease.
func Lease(name, owner string, ttl time.Duration) error {
	return errors.Join(Key("lease name", name), Key("lease owner", owner), TTL("lease ttl", ttl))
}

// HeldLease validates a lease passed to RenewLease or ReleaseLease.
func HeldLease(l store.Lease) error {
	if err := errors.Join(Key("lease name", l.Name), Key("lease owner", l.Owner)); err != nil {
		return err
	}
	if l.Token == 0 {
		return errors.New("store: lease token is required")
	}
	return nil
}

// Heartbeat validates the arguments of Heartbeat.
func Heartbeat(owner string, ttl time.Duration) error {
	return errors.Join(Key("replica owner", owner), TTL("heartbeat ttl", ttl))
}

// ClaimOwner is the owner part of a Timer.Claim ("<owner>/<nonce>").
func ClaimOwner(claim string) string {
	if i := strings.LastIndexByte(claim, '/'); i >= 0 {
		return claim[:i]
	}
	return ""
}

// Workflow validates a workflow passed to CreateWorkflow or UpdateWorkflow.
func Workflow(wf *store.Workflow) error {
	if wf == nil {
		return errors.New("store: workflow is nil")
	}
	if err := Key("workflow id", wf.ID); err != nil {
		return err
	}
	if len(wf.Data) > 0 && !jsonValid(wf.Data) {
		return fmt.Errorf("store: workflow %s: data is not valid JSON", wf.ID)
	}
	return nil
}

// Timer validates a timer passed to ScheduleTimer.
func Timer(t store.Timer) error {
	if err := Key("timer id", t.ID); err != nil {
		return err
	}
	if t.Due.IsZero() {
		return fmt.Errorf("store: timer %s: due time is required", t.ID)
	}
	if len(t.Payload) > 0 && !jsonValid(t.Payload) {
		return fmt.Errorf("store: timer %s: payload is not valid JSON", t.ID)
	}
	return nil
}

// Claim validates the arguments of ClaimDueTimers.
func Claim(owner string, claimTTL time.Duration, max int) error {
	if err := errors.Join(Key("claim owner", owner), TTL("claim ttl", claimTTL)); err != nil {
		return err
	}
	if max <= 0 {
		return fmt.Errorf("store: claim max must be positive, got %d", max)
	}
	return nil
}

// Doc validates a collection and id pair.
func Doc(collection, id string) error {
	return errors.Join(Key("collection", collection), Key("document id", id))
}

// ClaimToken returns "<owner>/<random nonce>", the value of Timer.Claim.
func ClaimToken(owner string) (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("store: claim nonce: %w", err)
	}
	return owner + "/" + hex.EncodeToString(b[:]), nil
}

// SortWorkflows orders workflows oldest first (CreatedAt, then ID).
func SortWorkflows(wfs []*store.Workflow) {
	sort.SliceStable(wfs, func(i, j int) bool {
		a, b := wfs[i], wfs[j]
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.ID < b.ID
	})
}

// MatchWorkflow reports whether wf passes the filter.
func MatchWorkflow(wf *store.Workflow, f store.WorkflowFilter) bool {
	if f.Kind != "" && wf.Kind != f.Kind {
		return false
	}
	return !f.OpenOnly || !wf.Done
}

// MatchAudit reports whether e passes the filter (Limit aside).
func MatchAudit(e store.AuditEntry, f store.AuditFilter) bool {
	if f.Service != "" && e.Service != f.Service {
		return false
	}
	if f.Actor != "" && e.Actor != f.Actor {
		return false
	}
	return f.Since.IsZero() || !e.Time.Before(f.Since)
}

// SortTimeline orders entries by Time, keeping append order for equal times.
func SortTimeline(es []store.TimelineEntry) {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Time.Before(es[j].Time) })
}

// Now is the store's clock: wall time in UTC without a monotonic reading,
// so it round-trips through JSON unchanged.
func Now() time.Time { return time.Now().UTC().Round(0) }

func jsonValid(b []byte) bool { return json.Valid(b) }
