package workflow_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/store/boltstore"
	"github.com/nexo-org/nexo-bot/workflow"
)

// counter is a workflow that counts side effects per state: a, b (waits
// 10m), c (parks until data.go), done.
type counter struct {
	mu      sync.Mutex
	effects map[string]int
	fail    map[string]int // transient failures to inject per state
	perm    string         // state that fails permanently
	crashAt string         // state whose step panics the "process" before persisting
}

type payload struct {
	Go bool `json:"go"`
}

func (c *counter) Kind() string { return "counter" }

func (c *counter) Step(ctx context.Context, wf *store.Workflow) (workflow.Outcome, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail[wf.State] > 0 {
		c.fail[wf.State]--
		return workflow.Outcome{}, errors.New("upstream timeout")
	}
	if wf.State == c.perm {
		return workflow.Outcome{}, workflow.Permanent(errors.New("refused for good"))
	}
	c.effects[wf.State]++
	c.effects[wf.ID+"/"+wf.State]++
	switch wf.State {
	case "a":
		return workflow.Outcome{Next: "b"}, nil
	case "b":
		if c.effects[wf.ID+"/b"] == 1 {
			return workflow.Outcome{Wait: 10 * time.Minute}, nil
		}
		return workflow.Outcome{Next: "c"}, nil
	case "c":
		p, _ := workflow.Decode[payload](wf)
		if !p.Go {
			return workflow.Outcome{Park: true}, nil
		}
		return workflow.Outcome{Next: "end", Done: true}, nil
	}
	return workflow.Outcome{}, workflow.Permanent(errors.New("bad state"))
}

func newEngine(t *testing.T, st store.Store, clock workflow.Clock, def workflow.Definition, owner string) *workflow.Engine {
	e := workflow.New(st, clock, nil, owner)
	e.Register(def)
	return e
}

func openStore(t *testing.T) store.Store {
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "nexo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func waitState(t *testing.T, st store.Store, id, state string) *store.Workflow {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		wf, err := st.GetWorkflow(context.Background(), id)
		if err == nil && wf.State == state {
			return wf
		}
		time.Sleep(10 * time.Millisecond)
	}
	wf, _ := st.GetWorkflow(context.Background(), id)
	t.Fatalf("workflow %s never reached %q (now %q)", id, state, wf.State)
	return nil
}

func TestWaitParkMutateDone(t *testing.T) {
	st := openStore(t)
	clock := workflow.NewManualClock(time.Date(2026, 2, 17, 10, 0, 0, 0, time.UTC))
	def := &counter{effects: map[string]int{}, fail: map[string]int{}}
	e := newEngine(t, st, clock, def, "r1")
	ctx := context.Background()
	wf := &store.Workflow{Kind: "counter", State: "a", LockKey: "counter/x"}
	if err := e.Start(ctx, wf); err != nil {
		t.Fatal(err)
	}
	e.Wait()
	waitState(t, st, wf.ID, "b")
	// A second workflow with the same lock key is refused while open.
	err := e.Start(ctx, &store.Workflow{Kind: "counter", State: "a", LockKey: "counter/x"})
	var locked *workflow.ErrLocked
	if !errors.As(err, &locked) || locked.Open.ID != wf.ID {
		t.Fatalf("want ErrLocked naming %s, got %v", wf.ID, err)
	}
	// Nothing fires before the wait is over.
	if n := e.FireDue(ctx); n != 0 {
		t.Fatalf("fired %d timers early", n)
	}
	clock.Advance(10 * time.Minute)
	if n := e.FireDue(ctx); n != 1 {
		t.Fatalf("fired %d timers, want 1", n)
	}
	e.Wait()
	waitState(t, st, wf.ID, "c")
	if _, err := e.Mutate(ctx, wf.ID, func(wf *store.Workflow) error { return workflow.Encode(wf, payload{Go: true}) }); err != nil {
		t.Fatal(err)
	}
	e.Wait()
	got := waitState(t, st, wf.ID, "end")
	if !got.Done {
		t.Fatal("not done")
	}
	if def.effects["a"] != 1 || def.effects["b"] != 2 {
		t.Fatalf("side effects: %v", def.effects)
	}
	// The lock is free again.
	if err := e.Start(ctx, &store.Workflow{Kind: "counter", State: "a", LockKey: "counter/x"}); err != nil {
		t.Fatal(err)
	}
	e.Wait()
}

func TestTransientErrorsRetryWithBackoffAndPermanentFails(t *testing.T) {
	st := openStore(t)
	clock := workflow.NewManualClock(time.Date(2026, 2, 17, 10, 0, 0, 0, time.UTC))
	def := &counter{effects: map[string]int{}, fail: map[string]int{"a": 2}, perm: "c"}
	e := newEngine(t, st, clock, def, "r1")
	ctx := context.Background()
	wf := &store.Workflow{Kind: "counter", State: "a"}
	if err := e.Start(ctx, wf); err != nil {
		t.Fatal(err)
	}
	e.Wait()
	for i := 0; i < 2; i++ { // two retries: 1s then 2s
		clock.Advance(2 * time.Second)
		e.FireDue(ctx)
		e.Wait()
	}
	got := waitState(t, st, wf.ID, "b")
	retries := 0
	for _, s := range got.Steps {
		if s.Result == "retry" {
			retries++
		}
	}
	if retries != 2 {
		t.Fatalf("want 2 retries in the step log, got %d: %+v", retries, got.Steps)
	}
	clock.Advance(10 * time.Minute)
	e.FireDue(ctx)
	e.Wait()
	got = waitState(t, st, wf.ID, "failed")
	if !got.Done {
		t.Fatal("a permanent error must end the workflow")
	}
}

// Two replicas racing on one store: each side effect happens once.
func TestTwoReplicasNeverDoubleAStep(t *testing.T) {
	st := openStore(t)
	clock := workflow.NewManualClock(time.Date(2026, 2, 17, 10, 0, 0, 0, time.UTC))
	def := &counter{effects: map[string]int{}, fail: map[string]int{}}
	e1 := newEngine(t, st, clock, def, "r1")
	e2 := newEngine(t, st, clock, def, "r2")
	ctx := context.Background()
	var ids []string
	for i := 0; i < 20; i++ {
		wf := &store.Workflow{ID: workflow.NewID("counter"), Kind: "counter", State: "a"}
		if err := st.CreateWorkflow(ctx, wf); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, wf.ID)
	}
	var wg sync.WaitGroup
	var errs atomic.Int32
	for _, id := range ids {
		for _, e := range []*workflow.Engine{e1, e2} {
			wg.Add(1)
			go func(e *workflow.Engine, id string) {
				defer wg.Done()
				if err := e.Advance(ctx, id); err != nil {
					errs.Add(1)
				}
			}(e, id)
		}
	}
	wg.Wait()
	clock.Advance(11 * time.Minute)
	for e1.FireDue(ctx)+e2.FireDue(ctx) > 0 {
	}
	e1.Wait()
	e2.Wait()
	if errs.Load() != 0 {
		t.Fatalf("%d advances failed", errs.Load())
	}
	if def.effects["a"] != 20 || def.effects["b"] != 40 || def.effects["c"] != 20 {
		t.Fatalf("side effects doubled or lost: %v", def.effects)
	}
}

// slow is a one-step workflow whose step outlasts the lease TTL.
type slow struct {
	runs atomic.Int32
}

func (s *slow) Kind() string { return "slow" }

func (s *slow) Step(ctx context.Context, wf *store.Workflow) (workflow.Outcome, error) {
	s.runs.Add(1)
	select {
	case <-time.After(900 * time.Millisecond):
	case <-ctx.Done():
		return workflow.Outcome{}, ctx.Err()
	}
	return workflow.Outcome{Next: "end", Done: true}, nil
}

// A step slower than the lease keeps its lease by heartbeat: a second
// replica trying meanwhile does not run it again.
func TestLeaseIsRenewedDuringASlowStep(t *testing.T) {
	st := openStore(t)
	def := &slow{}
	e1 := newEngine(t, st, nil, def, "r1")
	e2 := newEngine(t, st, nil, def, "r2")
	e1.LeaseTTL, e2.LeaseTTL = 300*time.Millisecond, 300*time.Millisecond
	ctx := context.Background()
	wf := &store.Workflow{ID: workflow.NewID("slow"), Kind: "slow", State: "a"}
	if err := st.CreateWorkflow(ctx, wf); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e1.Advance(ctx, wf.ID) }()
	time.Sleep(600 * time.Millisecond) // past the TTL: only a renewal keeps it
	if err := e2.Advance(ctx, wf.ID); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := def.runs.Load(); n != 1 {
		t.Fatalf("the slow step ran %d times", n)
	}
	got, _ := st.GetWorkflow(ctx, wf.ID)
	if !got.Done {
		t.Fatalf("state %s", got.State)
	}
}
