//go:build integration

package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/store/redisstore"
	"github.com/nexo-org/nexo-bot/store/redisstore/redistest"
	"github.com/nexo-org/nexo-bot/store/storetest"
)

// openHA opens a store under a fresh prefix on a throwaway topology (its
// servers go away with the test, so no key cleanup).
func openHA(t *testing.T, url string) store.Store {
	t.Helper()
	s, err := redisstore.OpenURL(url, randomPrefix())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// The whole store contract against a real Sentinel setup: a primary, a
// replica and three sentinels, through redis+sentinel://.
func TestContractOnSentinel(t *testing.T) {
	start := time.Now()
	sen := redistest.StartSentinel(t)
	t.Logf("sentinel topology up in %s: %s", time.Since(start).Round(time.Millisecond), sen.URL())
	storetest.Run(t, func(t *testing.T) store.Store { return openHA(t, sen.URL()) })
}

// The whole store contract against a real three-primary Redis Cluster,
// through redis+cluster:// (every key in the one hash slot of its prefix).
func TestContractOnCluster(t *testing.T) {
	start := time.Now()
	cl := redistest.StartCluster(t)
	t.Logf("cluster up in %s: %s", time.Since(start).Round(time.Millisecond), cl.URL())
	storetest.Run(t, func(t *testing.T) store.Store { return openHA(t, cl.URL()) })
}

// The primary dies: while no primary is elected every call fails fast with
// store.ErrUnavailable; after the sentinels promote the replica, the
// replicated workflow, lease fence and timer are there, the version CAS and
// the fencing counter go on from where they were.
func TestSentinelFailoverKeepsReplicatedState(t *testing.T) {
	sen := redistest.StartSentinel(t)
	s := openHA(t, sen.URL())
	ctx := context.Background()
	wf := &store.Workflow{ID: "wf-failover", Kind: "change", State: "approval", LockKey: "deploy/nexo-be/production"}
	if err := s.CreateWorkflow(ctx, wf); err != nil {
		t.Fatal(err)
	}
	lease, ok, err := s.AcquireLease(ctx, "wf:wf-failover", "replica-a", time.Minute)
	if err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	if err := s.ReleaseLease(ctx, lease); err != nil {
		t.Fatal(err)
	}
	due := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.ScheduleTimer(ctx, store.Timer{ID: "sla/wf-failover", Due: due, Kind: "sla"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !sen.InSync() {
		if time.Now().After(deadline) {
			t.Fatal("replica never caught up")
		}
		time.Sleep(20 * time.Millisecond)
	}

	killed := time.Now()
	old := sen.KillPrimary()
	var answers []time.Duration
	var unavailable int
	newPrimary := ""
	done := make(chan string, 1)
	go func() { done <- sen.WaitNewPrimary(old, 60*time.Second) }()
wait:
	for {
		select {
		case newPrimary = <-done:
			break wait
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		t0 := time.Now()
		_, err := s.Dedupe(cctx, "during-failover-"+t0.Format(time.RFC3339Nano), time.Minute)
		cancel()
		answers = append(answers, time.Since(t0))
		if err != nil {
			if !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("during the failover: %v, want store.ErrUnavailable", err)
			}
			unavailable++
		}
		time.Sleep(100 * time.Millisecond)
	}
	elected := time.Since(killed)
	var worst time.Duration
	for _, a := range answers {
		worst = max(worst, a)
	}
	if worst > 3*time.Second {
		t.Fatalf("a call took %s while no primary was elected", worst)
	}
	// go-redis follows the sentinels to the new primary.
	var got *store.Workflow
	deadline = time.Now().Add(15 * time.Second)
	for {
		got, err = s.GetWorkflow(ctx, "wf-failover")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store did not come back after the failover: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	back := time.Since(killed)
	if got.State != "approval" || got.Version != wf.Version {
		t.Fatalf("workflow after failover: %+v", got)
	}
	got.State = "merge"
	if err := s.UpdateWorkflow(ctx, got); err != nil {
		t.Fatalf("CAS after failover: %v", err)
	}
	l2, ok, err := s.AcquireLease(ctx, "wf:wf-failover", "replica-b", time.Minute)
	if err != nil || !ok || l2.Token <= lease.Token {
		t.Fatalf("lease after failover: %+v %v %v (before: token %d)", l2, ok, err, lease.Token)
	}
	timers, err := s.ClaimDueTimers(ctx, due, "replica-b", time.Minute, 10)
	if err != nil || len(timers) != 1 {
		t.Fatalf("timer after failover: %v %v", timers, err)
	}
	if open, err := s.FindOpenWorkflow(ctx, "deploy/nexo-be/production"); err != nil || open.ID != "wf-failover" {
		t.Fatalf("lock key after failover: %v %v", open, err)
	}
	t.Logf("primary %s killed: new primary %s elected after %s; store answering again after %s; %d calls meanwhile, %d ErrUnavailable, slowest %s",
		old, newPrimary, elected.Round(time.Millisecond), back.Round(time.Millisecond), len(answers), unavailable, worst.Round(time.Millisecond))
}
