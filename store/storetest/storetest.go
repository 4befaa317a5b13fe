// Package storetest is the contract test suite every store.Store backend
// must pass, plus shared benchmarks. A backend's test calls Run with an
// opener that returns a fresh, empty store and registers its cleanup.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/store"
)

// Run runs the whole contract suite. open must return a fresh, empty store
// for each subtest and register its cleanup with t.Cleanup; Close may be
// called twice (the suite closes one store itself).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Ping", testPing},
		{"Dedupe", testDedupe},
		{"DedupeTTLExpiry", testDedupeTTL},
		{"DedupeConcurrent", testDedupeConcurrent},
		{"DedupeBadInput", testDedupeBadInput},
		{"LeaseAcquireRenewRelease", testLease},
		{"LeaseExpiry", testLeaseExpiry},
		{"LeaseRace", testLeaseRace},
		{"LeaseTokensStrictlyIncrease", testLeaseTokens},
		{"LeaseBadInput", testLeaseBadInput},
		{"HeartbeatReplicas", testHeartbeatReplicas},
		{"HeartbeatBadInput", testHeartbeatBadInput},
		{"LeaseOfRetiredOwnerIsFree", testLeaseRetiredOwner},
		{"LeaseOfExpiredHeartbeatIsFree", testLeaseExpiredHeartbeat},
		{"LeaseOfLiveOwnerHolds", testLeaseLiveOwner},
		{"TimerClaimOfGoneOwnerIsFree", testTimerClaimGoneOwner},
		{"WorkflowCRUD", testWorkflowCRUD},
		{"WorkflowConflict", testWorkflowConflict},
		{"WorkflowConcurrentCAS", testWorkflowConcurrentCAS},
		{"WorkflowList", testWorkflowList},
		{"WorkflowLockKey", testWorkflowLockKey},
		{"WorkflowBadInput", testWorkflowBadInput},
		{"TimerClaimComplete", testTimerClaimComplete},
		{"TimerClaimExpiry", testTimerClaimExpiry},
		{"TimerStaleClaimKeepsRescheduled", testTimerStaleClaim},
		{"TimerCancelAndMax", testTimerCancelAndMax},
		{"TimerConcurrentClaim", testTimerConcurrentClaim},
		{"TimerBadInput", testTimerBadInput},
		{"AuditFilterOrder", testAudit},
		{"Timeline", testTimeline},
		{"Docs", testDocs},
		{"ClosedStoreIsUnavailable", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}

// eventually polls cond every 20ms until it is true or 5s passed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testPing(t *testing.T, s store.Store) {
	must(t, s.Ping(ctxT(t)))
}

func testDedupe(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	first, err := s.Dedupe(ctx, "evt/1", time.Hour)
	must(t, err)
	if !first {
		t.Fatal("first Dedupe of a key returned false")
	}
	again, err := s.Dedupe(ctx, "evt/1", time.Hour)
	must(t, err)
	if again {
		t.Fatal("second Dedupe of the same key returned true")
	}
	other, err := s.Dedupe(ctx, "evt/2", time.Hour)
	must(t, err)
	if !other {
		t.Fatal("Dedupe of a different key returned false")
	}
}

func testDedupeTTL(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	first, err := s.Dedupe(ctx, "short", 150*time.Millisecond)
	must(t, err)
	if !first {
		t.Fatal("first Dedupe returned false")
	}
	long, err := s.Dedupe(ctx, "long", time.Hour)
	must(t, err)
	if !long {
		t.Fatal("first Dedupe of long key returned false")
	}
	eventually(t, "the short dedupe key to expire", func() bool {
		ok, err := s.Dedupe(ctx, "short", 150*time.Millisecond)
		must(t, err)
		return ok
	})
	dup, err := s.Dedupe(ctx, "long", time.Hour)
	must(t, err)
	if dup {
		t.Fatal("the key with a one hour TTL expired together with the short one")
	}
}

func testDedupeConcurrent(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	var wg sync.WaitGroup
	results := make(chan bool, 8)
	for range 8 {
		wg.Go(func() {
			ok, err := s.Dedupe(ctx, "race", time.Hour)
			if err != nil {
				t.Error(err)
			}
			results <- ok
		})
	}
	wg.Wait()
	close(results)
	n := 0
	for ok := range results {
		if ok {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d concurrent Dedupe calls returned true, want exactly 1", n)
	}
}

func testDedupeBadInput(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	if _, err := s.Dedupe(ctx, "", time.Hour); err == nil {
		t.Fatal("empty key accepted")
	}
	if _, err := s.Dedupe(ctx, "k", 0); err == nil {
		t.Fatal("zero TTL accepted")
	}
	ok, err := s.Dedupe(ctx, "k", time.Hour)
	must(t, err)
	if !ok {
		t.Fatal("rejected call changed state: key k already present")
	}
}

func testLease(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, ok, err := s.AcquireLease(ctx, "wf/1", "replica-a", time.Minute)
	must(t, err)
	if !ok || a.Token == 0 || a.Name != "wf/1" || a.Owner != "replica-a" {
		t.Fatalf("AcquireLease = %+v, %v; want held with a token", a, ok)
	}
	if _, ok, err := s.AcquireLease(ctx, "wf/1", "replica-b", time.Minute); err != nil || ok {
		t.Fatalf("second owner acquired a held lease: ok=%v err=%v", ok, err)
	}
	must(t, s.RenewLease(ctx, a, time.Minute))

	// A release with a stale token or another owner leaves the lease alone.
	must(t, s.ReleaseLease(ctx, store.Lease{Name: a.Name, Owner: a.Owner, Token: a.Token + 100}))
	must(t, s.ReleaseLease(ctx, store.Lease{Name: a.Name, Owner: "replica-b", Token: a.Token}))
	if _, ok, _ := s.AcquireLease(ctx, "wf/1", "replica-b", time.Minute); ok {
		t.Fatal("lease released by a stale token")
	}
	wantErr(t, s.RenewLease(ctx, store.Lease{Name: a.Name, Owner: a.Owner, Token: a.Token + 1}, time.Minute), store.ErrLeaseLost)
	wantErr(t, s.RenewLease(ctx, store.Lease{Name: a.Name, Owner: "replica-b", Token: a.Token}, time.Minute), store.ErrLeaseLost)

	must(t, s.ReleaseLease(ctx, a))
	b, ok, err := s.AcquireLease(ctx, "wf/1", "replica-b", time.Minute)
	must(t, err)
	if !ok {
		t.Fatal("lease not free after release")
	}
	if b.Token <= a.Token {
		t.Fatalf("fencing token did not grow: %d then %d", a.Token, b.Token)
	}
	wantErr(t, s.RenewLease(ctx, a, time.Minute), store.ErrLeaseLost)
	must(t, s.ReleaseLease(ctx, a)) // not ours any more: no error, no effect
	must(t, s.RenewLease(ctx, b, time.Minute))

	// Names are independent.
	if _, ok, err := s.AcquireLease(ctx, "wf/2", "replica-a", time.Minute); err != nil || !ok {
		t.Fatalf("independent lease name not acquirable: ok=%v err=%v", ok, err)
	}
	// Releasing a lease that never existed is fine.
	must(t, s.ReleaseLease(ctx, store.Lease{Name: "never", Owner: "x", Token: 1}))
	wantErr(t, s.RenewLease(ctx, store.Lease{Name: "never", Owner: "x", Token: 1}, time.Minute), store.ErrLeaseLost)
}

func testLeaseExpiry(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, ok, err := s.AcquireLease(ctx, "short", "replica-a", 150*time.Millisecond)
	must(t, err)
	if !ok {
		t.Fatal("lease not acquired")
	}
	var b store.Lease
	eventually(t, "the lease to expire", func() bool {
		var err error
		b, ok, err = s.AcquireLease(ctx, "short", "replica-b", time.Minute)
		must(t, err)
		return ok
	})
	if b.Token <= a.Token {
		t.Fatalf("token after expiry %d not greater than %d", b.Token, a.Token)
	}
	wantErr(t, s.RenewLease(ctx, a, time.Minute), store.ErrLeaseLost)
	must(t, s.ReleaseLease(ctx, a))
	must(t, s.RenewLease(ctx, b, time.Minute))
}

func testLeaseRace(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	var wg sync.WaitGroup
	won := make(chan store.Lease, 8)
	for i := range 8 {
		wg.Go(func() {
			l, ok, err := s.AcquireLease(ctx, "contended", fmt.Sprintf("owner-%d", i), time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				won <- l
			}
		})
	}
	wg.Wait()
	close(won)
	var winners []store.Lease
	for l := range won {
		winners = append(winners, l)
	}
	if len(winners) != 1 {
		t.Fatalf("%d of 8 racing owners got the lease, want exactly 1: %+v", len(winners), winners)
	}
}

func testLeaseTokens(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	var last uint64
	for i := range 20 {
		l, ok, err := s.AcquireLease(ctx, "seq", fmt.Sprintf("owner-%d", i%3), time.Minute)
		must(t, err)
		if !ok {
			t.Fatalf("acquisition %d failed", i)
		}
		if l.Token <= last {
			t.Fatalf("acquisition %d: token %d not greater than %d", i, l.Token, last)
		}
		last = l.Token
		must(t, s.ReleaseLease(ctx, l))
	}
	// Concurrent acquire/release cycles still hand out distinct, growing tokens.
	var mu sync.Mutex
	seen := map[uint64]bool{}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for n := 0; n < 10; {
				l, ok, err := s.AcquireLease(ctx, "seq", fmt.Sprintf("c-%d", i), time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if !ok {
					time.Sleep(time.Millisecond)
					continue
				}
				mu.Lock()
				if seen[l.Token] || l.Token <= last {
					t.Errorf("token %d repeated or not above %d", l.Token, last)
				}
				seen[l.Token] = true
				mu.Unlock()
				if err := s.ReleaseLease(ctx, l); err != nil {
					t.Error(err)
				}
				n++
			}
		})
	}
	wg.Wait()
	if len(seen) != 40 {
		t.Fatalf("got %d distinct tokens, want 40", len(seen))
	}
}

func testLeaseBadInput(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	for _, tc := range []struct {
		name, owner string
		ttl         time.Duration
	}{{"", "o", time.Minute}, {"n", "", time.Minute}, {"n", "o", 0}, {"n", "o", -time.Second}} {
		if _, ok, err := s.AcquireLease(ctx, tc.name, tc.owner, tc.ttl); err == nil || ok {
			t.Errorf("AcquireLease(%q, %q, %s) accepted", tc.name, tc.owner, tc.ttl)
		}
	}
	if err := s.RenewLease(ctx, store.Lease{Name: "n", Owner: "o", Token: 1}, 0); err == nil {
		t.Error("RenewLease with zero TTL accepted")
	}
	if _, ok, err := s.AcquireLease(ctx, "n", "o", time.Minute); err != nil || !ok {
		t.Fatalf("lease n not free after rejected calls: ok=%v err=%v", ok, err)
	}
}

func replicaNames(rs []store.Replica) string {
	var names []string
	for _, r := range rs {
		names = append(names, r.Owner)
	}
	return strings.Join(names, ",")
}

func testHeartbeatReplicas(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	rs, err := s.Replicas(ctx)
	must(t, err)
	if len(rs) != 0 {
		t.Fatalf("fresh store lists replicas %q", replicaNames(rs))
	}
	before := time.Now()
	must(t, s.Heartbeat(ctx, "replica-b", time.Minute))
	must(t, s.Heartbeat(ctx, "replica-a", time.Minute))
	must(t, s.Heartbeat(ctx, "replica-a", time.Minute)) // renewal
	must(t, s.Heartbeat(ctx, "replica-c", 150*time.Millisecond))
	rs, err = s.Replicas(ctx)
	must(t, err)
	if replicaNames(rs) != "replica-a,replica-b,replica-c" {
		t.Fatalf("Replicas = %q, want a, b, c by name", replicaNames(rs))
	}
	if exp := rs[0].Expires; exp.Before(before.Add(50*time.Second)) || exp.After(time.Now().Add(70*time.Second)) {
		t.Fatalf("replica-a expires %v, want about a minute from now", exp)
	}
	eventually(t, "replica-c's heartbeat to expire", func() bool {
		rs, err := s.Replicas(ctx)
		must(t, err)
		return replicaNames(rs) == "replica-a,replica-b"
	})
	must(t, s.Retire(ctx, "replica-b"))
	must(t, s.Retire(ctx, "never-beat")) // no error
	rs, err = s.Replicas(ctx)
	must(t, err)
	if replicaNames(rs) != "replica-a" {
		t.Fatalf("after replica-b retired Replicas = %q, want replica-a", replicaNames(rs))
	}
	// A retired owner that beats again is alive again.
	must(t, s.Heartbeat(ctx, "replica-b", time.Minute))
	rs, err = s.Replicas(ctx)
	must(t, err)
	if replicaNames(rs) != "replica-a,replica-b" {
		t.Fatalf("after replica-b beat again Replicas = %q", replicaNames(rs))
	}
}

func testHeartbeatBadInput(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	if err := s.Heartbeat(ctx, "", time.Minute); err == nil {
		t.Error("Heartbeat without owner accepted")
	}
	if err := s.Heartbeat(ctx, "a", 0); err == nil {
		t.Error("Heartbeat with zero TTL accepted")
	}
	if err := s.Retire(ctx, ""); err == nil {
		t.Error("Retire without owner accepted")
	}
	rs, err := s.Replicas(ctx)
	must(t, err)
	if len(rs) != 0 {
		t.Fatalf("rejected heartbeats listed replicas %q", replicaNames(rs))
	}
}

func testLeaseRetiredOwner(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	must(t, s.Heartbeat(ctx, "replica-a", time.Minute))
	a, ok, err := s.AcquireLease(ctx, "wf/handover", "replica-a", time.Hour)
	must(t, err)
	if !ok {
		t.Fatal("lease not acquired")
	}
	must(t, s.Retire(ctx, "replica-a"))
	b, ok, err := s.AcquireLease(ctx, "wf/handover", "replica-b", time.Hour)
	must(t, err)
	if !ok {
		t.Fatal("the lease of a retired owner was not free at once")
	}
	if b.Token <= a.Token {
		t.Fatalf("token after hand-over %d not greater than %d", b.Token, a.Token)
	}
	wantErr(t, s.RenewLease(ctx, a, time.Hour), store.ErrLeaseLost)
	must(t, s.ReleaseLease(ctx, a)) // not ours: no effect
	must(t, s.RenewLease(ctx, b, time.Hour))
	if _, ok, _ := s.AcquireLease(ctx, "wf/handover", "replica-c", time.Hour); ok {
		t.Fatal("the new holder's lease was taken")
	}
}

func testLeaseExpiredHeartbeat(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	must(t, s.Heartbeat(ctx, "replica-a", 150*time.Millisecond))
	a, ok, err := s.AcquireLease(ctx, "wf/dead", "replica-a", time.Hour)
	must(t, err)
	if !ok {
		t.Fatal("lease not acquired")
	}
	var b store.Lease
	eventually(t, "the dead owner's lease to be free", func() bool {
		var err error
		b, ok, err = s.AcquireLease(ctx, "wf/dead", "replica-b", time.Hour)
		must(t, err)
		return ok
	})
	if b.Token <= a.Token {
		t.Fatalf("token %d not greater than %d", b.Token, a.Token)
	}
	// Until someone takes it, the late owner may still renew its lease (a
	// replica whose heartbeat lapsed under load keeps its work while nobody
	// else wants it); once taken, its renewal fails.
	c, ok, err := s.AcquireLease(ctx, "wf/dead-2", "replica-a", time.Hour)
	must(t, err)
	if !ok {
		t.Fatal("lease not acquired")
	}
	must(t, s.RenewLease(ctx, c, time.Hour))
	d, ok, err := s.AcquireLease(ctx, "wf/dead-2", "replica-b", time.Hour)
	must(t, err)
	if !ok || d.Token <= c.Token {
		t.Fatalf("the dead owner's renewed lease was not free: %+v %v", d, ok)
	}
	wantErr(t, s.RenewLease(ctx, c, time.Hour), store.ErrLeaseLost)
}

func testLeaseLiveOwner(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	must(t, s.Heartbeat(ctx, "replica-a", time.Minute))
	must(t, s.Heartbeat(ctx, "replica-b", 150*time.Millisecond))
	a, ok, err := s.AcquireLease(ctx, "wf/live", "replica-a", time.Hour)
	must(t, err)
	if !ok {
		t.Fatal("lease not acquired")
	}
	// Another owner's heartbeat expiring frees nothing of a's.
	eventually(t, "replica-b's heartbeat to expire", func() bool {
		rs, err := s.Replicas(ctx)
		must(t, err)
		return replicaNames(rs) == "replica-a"
	})
	if _, ok, _ := s.AcquireLease(ctx, "wf/live", "replica-b", time.Hour); ok {
		t.Fatal("a live owner's lease was taken")
	}
	must(t, s.RenewLease(ctx, a, time.Hour))
}

func testTimerClaimGoneOwner(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	now := time.Date(2030, 8, 1, 0, 0, 0, 0, time.UTC)
	must(t, s.Heartbeat(ctx, "replica-a", time.Minute))
	must(t, s.Heartbeat(ctx, "replica-c", 150*time.Millisecond))
	must(t, s.Heartbeat(ctx, "replica-b", time.Minute))
	for _, id := range []string{"sla/1", "sla/2", "sla/3"} {
		must(t, s.ScheduleTimer(ctx, store.Timer{ID: id, Due: now, Kind: "sla"}))
	}
	byA, err := s.ClaimDueTimers(ctx, now, "replica-a", time.Hour, 1)
	must(t, err)
	byC, err := s.ClaimDueTimers(ctx, now, "replica-c", time.Hour, 1)
	must(t, err)
	byB, err := s.ClaimDueTimers(ctx, now, "replica-b", time.Hour, 1)
	must(t, err)
	if len(byA) != 1 || len(byB) != 1 || len(byC) != 1 {
		t.Fatalf("claims a=%q b=%q c=%q, want one each", claimIDs(byA), claimIDs(byB), claimIDs(byC))
	}
	// c's heartbeat (150ms) expires: its claim is free, the live ones stay
	// hidden for their claim TTL.
	eventually(t, "replica-c's heartbeat to expire", func() bool {
		rs, err := s.Replicas(ctx)
		must(t, err)
		return replicaNames(rs) == "replica-a,replica-b"
	})
	got, err := s.ClaimDueTimers(ctx, now.Add(time.Minute), "replica-b", time.Hour, 10)
	must(t, err)
	if claimIDs(got) != byC[0].ID {
		t.Fatalf("claimed %q, want only the dead replica-c's %q", claimIDs(got), byC[0].ID)
	}
	must(t, s.CompleteTimer(ctx, got[0]))
	none, err := s.ClaimDueTimers(ctx, now.Add(time.Minute), "replica-b", time.Hour, 10)
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("live claims taken: %q", claimIDs(none))
	}
	// a retires: its claim is free at once, within the claim TTL.
	must(t, s.Retire(ctx, "replica-a"))
	got, err = s.ClaimDueTimers(ctx, now.Add(time.Minute), "replica-b", time.Hour, 10)
	must(t, err)
	if claimIDs(got) != byA[0].ID {
		t.Fatalf("after replica-a retired claimed %q, want %q", claimIDs(got), byA[0].ID)
	}
	if !strings.HasPrefix(got[0].Claim, "replica-b/") {
		t.Fatalf("re-claim = %q", got[0].Claim)
	}
	// The retired claimer's completion no longer counts; the new one does.
	must(t, s.CompleteTimer(ctx, byA[0]))
	again, err := s.ClaimDueTimers(ctx, now.Add(2*time.Hour), "replica-b", time.Hour, 10)
	must(t, err)
	if !strings.Contains(claimIDs(again), byA[0].ID) {
		t.Fatalf("a stale completion by the retired claimer removed %s (claimed %q)", byA[0].ID, claimIDs(again))
	}
	for _, tm := range append(again, byB...) {
		must(t, s.CompleteTimer(ctx, tm))
	}
	left, err := s.ClaimDueTimers(ctx, now.Add(3*time.Hour), "replica-b", time.Hour, 10)
	must(t, err)
	if len(left) != 0 {
		t.Fatalf("timers left after completion: %q", claimIDs(left))
	}
}

func newWorkflow(id, kind, lock string) *store.Workflow {
	return &store.Workflow{
		ID: id, Kind: kind, LockKey: lock, State: "start",
		Data:      json.RawMessage(`{"service":"nexo-be","env":"production"}`),
		Channel:   "C123",
		CreatedBy: "U1",
	}
}

func testWorkflowCRUD(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	before := time.Now().Add(-time.Second)
	wf := newWorkflow("wf-1", "promote", "promote/nexo-be/production")
	must(t, s.CreateWorkflow(ctx, wf))
	if wf.Version != 1 || wf.CreatedAt.Before(before) || wf.UpdatedAt.IsZero() {
		t.Fatalf("CreateWorkflow set Version=%d CreatedAt=%v UpdatedAt=%v", wf.Version, wf.CreatedAt, wf.UpdatedAt)
	}
	wantErr(t, s.CreateWorkflow(ctx, newWorkflow("wf-1", "hotfix", "")), store.ErrExists)

	got, err := s.GetWorkflow(ctx, "wf-1")
	must(t, err)
	if got.Kind != "promote" || got.Version != 1 || got.LockKey != wf.LockKey || got.Channel != "C123" ||
		got.CreatedBy != "U1" || !got.CreatedAt.Equal(wf.CreatedAt) || string(got.Data) != string(wf.Data) {
		t.Fatalf("GetWorkflow = %+v, want %+v", got, wf)
	}
	_, err = s.GetWorkflow(ctx, "missing")
	wantErr(t, err, store.ErrNotFound)

	got.State = "pr_open"
	got.Fence = 7
	got.Steps = append(got.Steps, store.StepLog{Time: time.Now().UTC(), State: "pr_open", Result: "ok", Detail: "PR #42"})
	prevUpdated := got.UpdatedAt
	must(t, s.UpdateWorkflow(ctx, got))
	if got.Version != 2 || got.UpdatedAt.Before(prevUpdated) {
		t.Fatalf("UpdateWorkflow set Version=%d UpdatedAt=%v", got.Version, got.UpdatedAt)
	}
	again, err := s.GetWorkflow(ctx, "wf-1")
	must(t, err)
	if again.Version != 2 || again.State != "pr_open" || again.Fence != 7 || len(again.Steps) != 1 ||
		again.Steps[0].Detail != "PR #42" || !again.CreatedAt.Equal(wf.CreatedAt) {
		t.Fatalf("after update GetWorkflow = %+v", again)
	}

	missing := newWorkflow("nope", "promote", "")
	missing.Version = 1
	wantErr(t, s.UpdateWorkflow(ctx, missing), store.ErrNotFound)
}

func testWorkflowConflict(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	wf := newWorkflow("wf-c", "rollback", "")
	must(t, s.CreateWorkflow(ctx, wf))
	a, err := s.GetWorkflow(ctx, "wf-c")
	must(t, err)
	b, err := s.GetWorkflow(ctx, "wf-c")
	must(t, err)
	a.State = "from-a"
	must(t, s.UpdateWorkflow(ctx, a))
	b.State = "from-b"
	wantErr(t, s.UpdateWorkflow(ctx, b), store.ErrConflict)
	if b.Version != 1 {
		t.Fatalf("a failed update changed wf.Version to %d", b.Version)
	}
	got, err := s.GetWorkflow(ctx, "wf-c")
	must(t, err)
	if got.State != "from-a" || got.Version != 2 {
		t.Fatalf("stale update was written: %+v", got)
	}
}

func testWorkflowConcurrentCAS(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	must(t, s.CreateWorkflow(ctx, newWorkflow("wf-race", "promote", "promote/x/staging")))
	for round := range 5 {
		base, err := s.GetWorkflow(ctx, "wf-race")
		must(t, err)
		errs := make(chan error, 2)
		var wg sync.WaitGroup
		for i := range 2 {
			wf := *base
			wf.State = fmt.Sprintf("round-%d-writer-%d", round, i)
			wg.Go(func() { errs <- s.UpdateWorkflow(ctx, &wf) })
		}
		wg.Wait()
		close(errs)
		var ok, conflicts int
		for err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, store.ErrConflict):
				conflicts++
			default:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if ok != 1 || conflicts != 1 {
			t.Fatalf("round %d: %d writes succeeded and %d conflicted, want 1 and 1", round, ok, conflicts)
		}
		got, err := s.GetWorkflow(ctx, "wf-race")
		must(t, err)
		if got.Version != base.Version+1 {
			t.Fatalf("round %d: version %d, want %d", round, got.Version, base.Version+1)
		}
	}
}

func testWorkflowList(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	ids := []struct{ id, kind string }{{"w-c", "promote"}, {"w-a", "hotfix"}, {"w-b", "promote"}, {"w-d", "incident"}}
	for _, x := range ids {
		must(t, s.CreateWorkflow(ctx, newWorkflow(x.id, x.kind, "")))
		time.Sleep(2 * time.Millisecond) // distinct CreatedAt
	}
	done, err := s.GetWorkflow(ctx, "w-b")
	must(t, err)
	done.Done = true
	must(t, s.UpdateWorkflow(ctx, done))

	listIDs := func(f store.WorkflowFilter) string {
		wfs, err := s.ListWorkflows(ctx, f)
		must(t, err)
		var out []string
		for _, wf := range wfs {
			out = append(out, wf.ID)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		f    store.WorkflowFilter
		want string
	}{
		{store.WorkflowFilter{}, "w-c,w-a,w-b,w-d"},
		{store.WorkflowFilter{Kind: "promote"}, "w-c,w-b"},
		{store.WorkflowFilter{OpenOnly: true}, "w-c,w-a,w-d"},
		{store.WorkflowFilter{Kind: "promote", OpenOnly: true}, "w-c"},
		{store.WorkflowFilter{Kind: "rotate"}, ""},
	} {
		if got := listIDs(tc.f); got != tc.want {
			t.Errorf("ListWorkflows(%+v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}

func testWorkflowLockKey(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	const lock = "promote/nexo-be/production"
	_, err := s.FindOpenWorkflow(ctx, lock)
	wantErr(t, err, store.ErrNotFound)

	wf := newWorkflow("wf-l1", "promote", lock)
	must(t, s.CreateWorkflow(ctx, wf))
	got, err := s.FindOpenWorkflow(ctx, lock)
	must(t, err)
	if got.ID != "wf-l1" {
		t.Fatalf("FindOpenWorkflow = %s, want wf-l1", got.ID)
	}
	// The lock key is unique among open workflows.
	wantErr(t, s.CreateWorkflow(ctx, newWorkflow("wf-l2", "promote", lock)), store.ErrExists)
	_, err = s.GetWorkflow(ctx, "wf-l2")
	wantErr(t, err, store.ErrNotFound)

	// Updating without finishing keeps the lock.
	wf.State = "waiting"
	must(t, s.UpdateWorkflow(ctx, wf))
	got, err = s.FindOpenWorkflow(ctx, lock)
	must(t, err)
	if got.State != "waiting" {
		t.Fatalf("FindOpenWorkflow returned a stale copy: %+v", got)
	}

	wf.Done = true
	wf.State = "done"
	must(t, s.UpdateWorkflow(ctx, wf))
	_, err = s.FindOpenWorkflow(ctx, lock)
	wantErr(t, err, store.ErrNotFound)

	must(t, s.CreateWorkflow(ctx, newWorkflow("wf-l2", "promote", lock)))
	got, err = s.FindOpenWorkflow(ctx, lock)
	must(t, err)
	if got.ID != "wf-l2" {
		t.Fatalf("FindOpenWorkflow after Done = %s, want wf-l2", got.ID)
	}
	// Changing the lock key of an open workflow moves the lock.
	got.LockKey = "promote/nexo-be/staging"
	must(t, s.UpdateWorkflow(ctx, got))
	_, err = s.FindOpenWorkflow(ctx, lock)
	wantErr(t, err, store.ErrNotFound)
	moved, err := s.FindOpenWorkflow(ctx, "promote/nexo-be/staging")
	must(t, err)
	if moved.ID != "wf-l2" {
		t.Fatalf("moved lock found %s", moved.ID)
	}
	// A workflow created already Done takes no lock.
	fin := newWorkflow("wf-l3", "promote", lock)
	fin.Done = true
	must(t, s.CreateWorkflow(ctx, fin))
	_, err = s.FindOpenWorkflow(ctx, lock)
	wantErr(t, err, store.ErrNotFound)
}

func testWorkflowBadInput(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	if err := s.CreateWorkflow(ctx, nil); err == nil {
		t.Error("nil workflow accepted")
	}
	if err := s.CreateWorkflow(ctx, &store.Workflow{Kind: "promote"}); err == nil {
		t.Error("workflow without id accepted")
	}
	bad := newWorkflow("bad-data", "promote", "")
	bad.Data = json.RawMessage(`{not json`)
	if err := s.CreateWorkflow(ctx, bad); err == nil {
		t.Error("invalid JSON data accepted")
	}
	if bad.Version != 0 {
		t.Error("rejected create changed wf.Version")
	}
	_, err := s.GetWorkflow(ctx, "bad-data")
	wantErr(t, err, store.ErrNotFound)
	wfs, err := s.ListWorkflows(ctx, store.WorkflowFilter{})
	must(t, err)
	if len(wfs) != 0 {
		t.Fatalf("rejected creates left %d workflows", len(wfs))
	}
}

func claimIDs(ts []store.Timer) string {
	var ids []string
	for _, t := range ts {
		ids = append(ids, t.ID)
	}
	return strings.Join(ids, ",")
}

func testTimerClaimComplete(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	must(t, s.ScheduleTimer(ctx, store.Timer{ID: "soak/wf-1", Due: base.Add(time.Minute), Kind: "soak", Payload: json.RawMessage(`{"wf":"wf-1"}`)}))
	must(t, s.ScheduleTimer(ctx, store.Timer{ID: "remind/inc-1", Due: base, Kind: "reminder"}))
	must(t, s.ScheduleTimer(ctx, store.Timer{ID: "later", Due: base.Add(time.Hour), Kind: "sla"}))

	got, err := s.ClaimDueTimers(ctx, base.Add(-time.Second), "a", time.Minute, 10)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("claimed timers before they were due: %s", claimIDs(got))
	}
	got, err = s.ClaimDueTimers(ctx, base.Add(time.Minute), "a", 10*time.Minute, 10)
	must(t, err)
	if claimIDs(got) != "remind/inc-1,soak/wf-1" {
		t.Fatalf("claimed %q, want the two due timers, earliest first", claimIDs(got))
	}
	soak := got[1]
	if !strings.HasPrefix(soak.Claim, "a/") || len(soak.Claim) <= 2 || soak.Kind != "soak" ||
		string(soak.Payload) != `{"wf":"wf-1"}` || !soak.Due.Equal(base.Add(time.Minute)) {
		t.Fatalf("claimed timer = %+v", soak)
	}
	if got[0].Claim == "" {
		t.Fatal("claimed timer without Claim")
	}
	// Claimed timers are hidden from other claimers.
	other, err := s.ClaimDueTimers(ctx, base.Add(2*time.Minute), "b", time.Minute, 10)
	must(t, err)
	if len(other) != 0 {
		t.Fatalf("claimed timers claimed again: %s", claimIDs(other))
	}
	// A forged claim does not complete.
	forged := soak
	forged.Claim = "b/forged"
	must(t, s.CompleteTimer(ctx, forged))
	// After the claims expire (claimed at +1m for 10m) both are back.
	again, err := s.ClaimDueTimers(ctx, base.Add(12*time.Minute), "b", 10*time.Minute, 10)
	must(t, err)
	if claimIDs(again) != "remind/inc-1,soak/wf-1" {
		t.Fatalf("after claim expiry claimed %q; a forged claim completed a timer?", claimIDs(again))
	}
	must(t, s.CompleteTimer(ctx, soak)) // a's claim expired: no effect
	must(t, s.CompleteTimer(ctx, again[0]))
	must(t, s.CompleteTimer(ctx, again[1]))
	must(t, s.CompleteTimer(ctx, again[1])) // already gone: no error

	left, err := s.ClaimDueTimers(ctx, base.Add(24*time.Hour), "b", time.Minute, 10)
	must(t, err)
	if claimIDs(left) != "later" {
		t.Fatalf("after completion claimed %q, want only later", claimIDs(left))
	}
}

func testTimerClaimExpiry(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	now := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	must(t, s.ScheduleTimer(ctx, store.Timer{ID: "t1", Due: now.Add(-time.Minute), Kind: "soak"}))
	first, err := s.ClaimDueTimers(ctx, now, "a", 30*time.Second, 10)
	must(t, err)
	if len(first) != 1 {
		t.Fatalf("claimed %d timers, want 1", len(first))
	}
	hidden, err := s.ClaimDueTimers(ctx, now.Add(29*time.Second), "b", 30*time.Second, 10)
	must(t, err)
	if len(hidden) != 0 {
		t.Fatal("timer claimable again before the claim expired")
	}
	second, err := s.ClaimDueTimers(ctx, now.Add(31*time.Second), "b", 30*time.Second, 10)
	must(t, err)
	if len(second) != 1 || second[0].ID != "t1" {
		t.Fatalf("after claim expiry claimed %q, want t1", claimIDs(second))
	}
	if second[0].Claim == first[0].Claim || !strings.HasPrefix(second[0].Claim, "b/") {
		t.Fatalf("re-claim kept claim %q (first %q)", second[0].Claim, first[0].Claim)
	}
	if !second[0].Due.Equal(now.Add(-time.Minute)) {
		t.Fatalf("claiming changed Due to %v", second[0].Due)
	}
	// The first, expired claimer can no longer complete it.
	must(t, s.CompleteTimer(ctx, first[0]))
	third, err := s.ClaimDueTimers(ctx, now.Add(2*time.Minute), "c", 30*time.Second, 10)
	must(t, err)
	if len(third) != 1 {
		t.Fatal("an expired claim completed the timer")
	}
	must(t, s.CompleteTimer(ctx, third[0]))
	gone, err := s.ClaimDueTimers(ctx, now.Add(time.Hour), "c", 30*time.Second, 10)
	must(t, err)
	if len(gone) != 0 {
		t.Fatal("completed timer still claimable")
	}
}

func testTimerStaleClaim(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	now := time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
	must(t, s.ScheduleTimer(ctx, store.Timer{ID: "remind", Due: now, Kind: "reminder"}))
	claimed, err := s.ClaimDueTimers(ctx, now, "a", time.Hour, 1)
	must(t, err)
	if len(claimed) != 1 {
		t.Fatal("timer not claimed")
	}
	// While it runs, someone reschedules the reminder (idempotent replace).
	next := store.Timer{ID: "remind", Due: now.Add(30 * time.Minute), Kind: "reminder", Payload: json.RawMessage(`{"n":2}`)}
	must(t, s.ScheduleTimer(ctx, next))
	must(t, s.ScheduleTimer(ctx, next))
	must(t, s.CompleteTimer(ctx, claimed[0]))

	early, err := s.ClaimDueTimers(ctx, now.Add(29*time.Minute), "b", time.Minute, 10)
	must(t, err)
	if len(early) != 0 {
		t.Fatal("rescheduled timer claimable before its new due time")
	}
	got, err := s.ClaimDueTimers(ctx, now.Add(30*time.Minute), "b", time.Minute, 10)
	must(t, err)
	if len(got) != 1 || string(got[0].Payload) != `{"n":2}` || !got[0].Due.Equal(next.Due) {
		t.Fatalf("stale completion dropped the rescheduled timer: %+v", got)
	}
}

func testTimerCancelAndMax(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	now := time.Date(2030, 7, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		must(t, s.ScheduleTimer(ctx, store.Timer{ID: fmt.Sprintf("t%d", i), Due: now.Add(time.Duration(i) * time.Second), Kind: "k"}))
	}
	must(t, s.CancelTimer(ctx, "t0"))
	must(t, s.CancelTimer(ctx, "t0"))
	must(t, s.CancelTimer(ctx, "never-existed"))
	got, err := s.ClaimDueTimers(ctx, now.Add(time.Hour), "a", time.Minute, 2)
	must(t, err)
	if claimIDs(got) != "t1,t2" {
		t.Fatalf("max=2 claimed %q, want t1,t2", claimIDs(got))
	}
	// Cancelling a claimed timer removes it too.
	must(t, s.CancelTimer(ctx, "t1"))
	rest, err := s.ClaimDueTimers(ctx, now.Add(2*time.Hour), "b", time.Minute, 10)
	must(t, err)
	// t2's expired claim makes it visible after t3 and t4: compare as a set.
	sort.Slice(rest, func(i, j int) bool { return rest[i].ID < rest[j].ID })
	if claimIDs(rest) != "t2,t3,t4" {
		t.Fatalf("claimed %q, want t2,t3,t4", claimIDs(rest))
	}
}

func testTimerConcurrentClaim(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	now := time.Date(2030, 8, 1, 0, 0, 0, 0, time.UTC)
	const n = 200
	for i := range n {
		must(t, s.ScheduleTimer(ctx, store.Timer{ID: fmt.Sprintf("due-%03d", i), Due: now.Add(-time.Duration(i) * time.Millisecond), Kind: "k"}))
	}
	var mu sync.Mutex
	count := map[string]int{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for {
				got, err := s.ClaimDueTimers(ctx, now, fmt.Sprintf("worker-%d", w), time.Hour, 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, tm := range got {
					count[tm.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(count) != n {
		t.Fatalf("claimed %d distinct timers, want %d", len(count), n)
	}
	for id, c := range count {
		if c != 1 {
			t.Errorf("timer %s claimed %d times", id, c)
		}
	}
}

func testTimerBadInput(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	now := time.Date(2030, 9, 1, 0, 0, 0, 0, time.UTC)
	for _, tm := range []store.Timer{
		{Due: now, Kind: "k"},
		{ID: "no-due", Kind: "k"},
		{ID: "bad-payload", Due: now, Payload: json.RawMessage(`{`)},
	} {
		if err := s.ScheduleTimer(ctx, tm); err == nil {
			t.Errorf("ScheduleTimer(%+v) accepted", tm)
		}
	}
	if _, err := s.ClaimDueTimers(ctx, now, "", time.Minute, 1); err == nil {
		t.Error("claim without owner accepted")
	}
	if _, err := s.ClaimDueTimers(ctx, now, "a", 0, 1); err == nil {
		t.Error("claim with zero TTL accepted")
	}
	if _, err := s.ClaimDueTimers(ctx, now, "a", time.Minute, 0); err == nil {
		t.Error("claim with max 0 accepted")
	}
	got, err := s.ClaimDueTimers(ctx, now.Add(time.Hour), "a", time.Minute, 10)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("rejected timers were stored: %s", claimIDs(got))
	}
}

func testAudit(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	t0 := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
	entries := []store.AuditEntry{
		{Time: t0, Actor: "U1", Action: "promote.request", Service: "nexo-be", Env: "production", Outcome: "ok"},
		{Time: t0.Add(time.Minute), Actor: "U2", Action: "promote.approve", Service: "nexo-be", Env: "production", Outcome: "ok", Metadata: map[string]string{"pr": "42"}},
		{Time: t0.Add(2 * time.Minute), Actor: "U1", Action: "rollback.refused", Service: "nexo-fe", Outcome: "refused", Detail: "no previous tag"},
		{Time: t0.Add(3 * time.Minute), Actor: "nexo", Action: "soak.done", Service: "nexo-be", Outcome: "ok"},
	}
	for _, e := range entries {
		must(t, s.AppendAudit(ctx, e))
	}
	must(t, s.AppendAudit(ctx, store.AuditEntry{Actor: "U3", Action: "settings.change", Outcome: "ok"}))

	all, err := s.ListAudit(ctx, store.AuditFilter{})
	must(t, err)
	if len(all) != 5 {
		t.Fatalf("ListAudit returned %d entries, want 5", len(all))
	}
	if all[0].Actor != "U3" || all[4].Action != "promote.request" {
		t.Fatalf("ListAudit not newest first: %+v", all)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq <= 0 || all[i].Seq >= all[i-1].Seq {
			t.Fatalf("Seq not assigned increasing: %d after %d", all[i].Seq, all[i-1].Seq)
		}
	}
	if all[0].Time.IsZero() || time.Since(all[0].Time) > time.Minute {
		t.Fatalf("Time not set on append: %v", all[0].Time)
	}
	if all[3].Metadata["pr"] != "42" || all[2].Detail != "no previous tag" {
		t.Fatalf("fields lost: %+v", all)
	}

	actions := func(es []store.AuditEntry) string {
		var out []string
		for _, e := range es {
			out = append(out, e.Action)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		f    store.AuditFilter
		want string
	}{
		{store.AuditFilter{Service: "nexo-be"}, "soak.done,promote.approve,promote.request"},
		{store.AuditFilter{Actor: "U1"}, "rollback.refused,promote.request"},
		{store.AuditFilter{Service: "nexo-be", Actor: "U2"}, "promote.approve"},
		{store.AuditFilter{Service: "nexo-be", Since: t0.Add(time.Minute)}, "soak.done,promote.approve"},
		{store.AuditFilter{Limit: 2}, "settings.change,soak.done"},
		{store.AuditFilter{Service: "nexo-be", Limit: 1}, "soak.done"},
		{store.AuditFilter{Service: "unknown"}, ""},
	} {
		got, err := s.ListAudit(ctx, tc.f)
		must(t, err)
		if actions(got) != tc.want {
			t.Errorf("ListAudit(%+v) = %q, want %q", tc.f, actions(got), tc.want)
		}
	}
}

func testTimeline(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	t0 := time.Date(2030, 2, 1, 9, 0, 0, 0, time.UTC)
	empty, err := s.ListTimeline(ctx, "inc-none")
	must(t, err)
	if len(empty) != 0 {
		t.Fatalf("unknown incident has %d entries", len(empty))
	}
	add := func(inc string, e store.TimelineEntry) { must(t, s.AppendTimeline(ctx, inc, e)) }
	add("inc-1", store.TimelineEntry{Time: t0, Kind: "declared", Actor: "U1", Text: "SEV2 declared"})
	add("inc-1", store.TimelineEntry{Key: "1700000000.000100", Time: t0.Add(10 * time.Minute), Kind: "pin", Text: "error rate 12%", Permalink: "https://example.slack.com/p1"})
	add("inc-1", store.TimelineEntry{Time: t0.Add(5 * time.Minute), Kind: "deploy", Text: "nexo-be v1.4.2"})
	// Slack redelivers the pin: ignored.
	add("inc-1", store.TimelineEntry{Key: "1700000000.000100", Time: t0.Add(11 * time.Minute), Kind: "pin", Text: "dup"})
	// Entries without a key are never deduplicated.
	add("inc-1", store.TimelineEntry{Time: t0.Add(20 * time.Minute), Kind: "update", Text: "mitigated"})
	add("inc-1", store.TimelineEntry{Time: t0.Add(20 * time.Minute), Kind: "update", Text: "mitigated"})
	add("inc-2", store.TimelineEntry{Key: "1700000000.000100", Time: t0, Kind: "pin", Text: "other incident"})

	got, err := s.ListTimeline(ctx, "inc-1")
	must(t, err)
	var kinds []string
	for _, e := range got {
		kinds = append(kinds, e.Kind)
	}
	if strings.Join(kinds, ",") != "declared,deploy,pin,update,update" {
		t.Fatalf("timeline kinds = %v", kinds)
	}
	if got[2].Text != "error rate 12%" || got[2].Permalink == "" || got[0].Actor != "U1" {
		t.Fatalf("timeline entries = %+v", got)
	}
	other, err := s.ListTimeline(ctx, "inc-2")
	must(t, err)
	if len(other) != 1 || other[0].Text != "other incident" {
		t.Fatalf("inc-2 timeline = %+v (keys must be per incident)", other)
	}
	if err := s.AppendTimeline(ctx, "", store.TimelineEntry{Time: t0, Kind: "x"}); err == nil {
		t.Fatal("empty incident id accepted")
	}
}

type settingsDoc struct {
	Name  string   `json:"name"`
	Count int      `json:"count"`
	Tags  []string `json:"tags,omitempty"`
}

func testDocs(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	var out settingsDoc
	wantErr(t, s.GetDoc(ctx, "settings", "missing", &out), store.ErrNotFound)
	docs, err := s.ListDocs(ctx, "settings")
	must(t, err)
	if len(docs) != 0 {
		t.Fatalf("empty collection lists %d docs", len(docs))
	}

	must(t, s.PutDoc(ctx, "settings", "b", settingsDoc{Name: "b", Count: 1}))
	must(t, s.PutDoc(ctx, "settings", "a", settingsDoc{Name: "a", Count: 2, Tags: []string{"x"}}))
	must(t, s.PutDoc(ctx, "settings", "c", settingsDoc{Name: "c"}))
	must(t, s.PutDoc(ctx, "deployments", "a", map[string]string{"service": "nexo-be"}))
	must(t, s.PutDoc(ctx, "settings", "b", settingsDoc{Name: "b", Count: 10})) // upsert

	must(t, s.GetDoc(ctx, "settings", "b", &out))
	if out.Count != 10 {
		t.Fatalf("upsert not applied: %+v", out)
	}
	docs, err = s.ListDocs(ctx, "settings")
	must(t, err)
	var ids []string
	for _, d := range docs {
		ids = append(ids, d.ID)
	}
	if strings.Join(ids, ",") != "a,b,c" {
		t.Fatalf("ListDocs ids = %v, want a,b,c", ids)
	}
	var first settingsDoc
	must(t, docs[0].Decode(&first))
	if first.Count != 2 || len(first.Tags) != 1 {
		t.Fatalf("decoded doc = %+v", first)
	}
	var dep map[string]string
	must(t, s.GetDoc(ctx, "deployments", "a", &dep))
	if dep["service"] != "nexo-be" {
		t.Fatalf("collections mixed up: %+v", dep)
	}

	must(t, s.DeleteDoc(ctx, "settings", "a"))
	must(t, s.DeleteDoc(ctx, "settings", "a"))
	must(t, s.DeleteDoc(ctx, "nothing-here", "a"))
	wantErr(t, s.GetDoc(ctx, "settings", "a", &out), store.ErrNotFound)
	docs, err = s.ListDocs(ctx, "settings")
	must(t, err)
	if len(docs) != 2 {
		t.Fatalf("after delete %d docs, want 2", len(docs))
	}

	if err := s.PutDoc(ctx, "settings", "bad", make(chan int)); err == nil {
		t.Fatal("unencodable doc accepted")
	}
	if err := s.PutDoc(ctx, "", "x", 1); err == nil {
		t.Fatal("empty collection accepted")
	}
	if err := s.PutDoc(ctx, "settings", "", 1); err == nil {
		t.Fatal("empty id accepted")
	}
	wantErr(t, s.GetDoc(ctx, "settings", "bad", &out), store.ErrNotFound)
}

func testClosed(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	must(t, s.Close())
	_, err := s.Dedupe(ctx, "after-close", time.Minute)
	wantErr(t, err, store.ErrUnavailable)
	wantErr(t, s.Ping(ctx), store.ErrUnavailable)
	_, err = s.GetWorkflow(ctx, "x")
	wantErr(t, err, store.ErrUnavailable)
}

// BenchDedupe measures Dedupe of distinct keys (the first-delivery path),
// run in parallel.
func BenchDedupe(b *testing.B, s store.Store) {
	ctx := context.Background()
	var n sync.Mutex
	seq := 0
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n.Lock()
			seq++
			key := fmt.Sprintf("bench/%d", seq)
			n.Unlock()
			if _, err := s.Dedupe(ctx, key, time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchClaimTimers measures scheduling, claiming (batches of 16) and
// completing timers; one op is one timer through its whole life.
func BenchClaimTimers(b *testing.B, s store.Store) {
	ctx := context.Background()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ResetTimer()
	for done := 0; done < b.N; {
		batch := min(16, b.N-done)
		for i := range batch {
			if err := s.ScheduleTimer(ctx, store.Timer{ID: fmt.Sprintf("bench-%d", done+i), Due: now, Kind: "bench"}); err != nil {
				b.Fatal(err)
			}
		}
		got, err := s.ClaimDueTimers(ctx, now, "bench", time.Minute, 16)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != batch {
			b.Fatalf("claimed %d, want %d", len(got), batch)
		}
		for _, tm := range got {
			if err := s.CompleteTimer(ctx, tm); err != nil {
				b.Fatal(err)
			}
		}
		done += batch
	}
}
