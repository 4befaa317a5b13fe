package workflow_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

// gated is a two-step workflow whose first step (a) blocks until released;
// b is recorded with the engine owner that ran it.
type gated struct {
	mu      sync.Mutex
	release chan struct{}
	started chan string // owner that entered a
	ranA    map[string]int
	ranB    map[string]int
}

func newGated() *gated {
	return &gated{release: make(chan struct{}), started: make(chan string, 8), ranA: map[string]int{}, ranB: map[string]int{}}
}

func (g *gated) Kind() string { return "gated" }

func (g *gated) Step(ctx context.Context, wf *store.Workflow) (workflow.Outcome, error) {
	owner, _ := ctx.Value(ownerKey{}).(string)
	switch wf.State {
	case "a":
		g.mu.Lock()
		g.ranA[owner]++
		g.mu.Unlock()
		g.started <- owner
		select {
		case <-g.release:
		case <-ctx.Done():
			return workflow.Outcome{}, ctx.Err()
		}
		return workflow.Outcome{Next: "b"}, nil
	case "b":
		g.mu.Lock()
		g.ranB[owner]++
		g.mu.Unlock()
		return workflow.Outcome{Next: "end", Done: true}, nil
	}
	return workflow.Outcome{}, workflow.Permanent(context.Canceled)
}

type ownerKey struct{}

// ownedDef runs def with the engine's owner in the context (for the test's
// bookkeeping only).
type ownedDef struct {
	workflow.Definition
	owner string
}

func (d ownedDef) Step(ctx context.Context, wf *store.Workflow) (workflow.Outcome, error) {
	return d.Definition.Step(context.WithValue(ctx, ownerKey{}, d.owner), wf)
}

func replica(t *testing.T, st store.Store, def workflow.Definition, owner string, lease time.Duration) *workflow.Engine {
	e := workflow.New(st, nil, nil, owner)
	e.Register(ownedDef{Definition: def, owner: owner})
	e.LeaseTTL = lease
	e.PollInterval = 10 * time.Millisecond
	return e
}

func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// A replica dies in the middle of a step (its heartbeat stops; its lease
// would last much longer): the survivor sees it gone and takes the
// workflow over within the heartbeat TTL plus one beat, and re-runs the
// interrupted step.
func TestDeadReplicasWorkflowIsTakenOverWithinTheHeartbeat(t *testing.T) {
	st := openStore(t)
	def := newGated()
	const lease = 1500 * time.Millisecond // heartbeat every 250ms, gone after 750ms
	a := replica(t, st, def, "replica-a", lease)
	b := replica(t, st, def, "replica-b", lease)
	actx, killA := context.WithCancel(context.Background())
	bctx, stopB := context.WithCancel(context.Background())
	defer stopB()
	a.Run(actx)
	b.Run(bctx)
	waitFor(t, "both replicas to see each other", 3*time.Second, func() bool { return len(a.Peers()) == 2 && len(b.Peers()) == 2 })

	wf := &store.Workflow{Kind: "gated", State: "a"}
	if err := a.Start(context.Background(), wf); err != nil {
		t.Fatal(err)
	}
	if got := <-def.started; got != "replica-a" {
		t.Fatalf("step a started on %s", got)
	}
	// replica-a dies: no more heartbeats, no retire, its step hangs.
	killA()
	took := waitFor(t, "replica-b to take step a over", 5*time.Second, func() bool {
		select {
		case o := <-def.started:
			return o == "replica-b"
		default:
			return false
		}
	})
	close(def.release)
	waitState(t, st, wf.ID, "end")
	b.Wait()
	def.mu.Lock()
	defer def.mu.Unlock()
	if def.ranB["replica-b"] != 1 || def.ranB["replica-a"] != 0 {
		t.Fatalf("step b ran %v", def.ranB)
	}
	got, _ := st.GetWorkflow(context.Background(), wf.ID)
	t.Logf("takeover of a dead replica's step: %s (lease %s, heartbeat every %s, expires after %s)", took.Round(time.Millisecond), lease, a.HeartbeatEvery(), a.HeartbeatTTL())
	if took > lease+time.Second {
		t.Fatalf("takeover took %s, more than the lease TTL %s plus a poll", took, lease)
	}
	if !got.Done {
		t.Fatalf("workflow not done: %s", got.State)
	}
}

// A replica shutting down cleanly finishes its running step, leaves the
// next one to the others at once and retires: a survivor continues within
// one poll, not after the lease.
func TestShutdownHandsOverAtOnce(t *testing.T) {
	st := openStore(t)
	def := newGated()
	const lease = 30 * time.Second // the default: a hand-over must not wait for it
	a := replica(t, st, def, "replica-a", lease)
	b := replica(t, st, def, "replica-b", lease)
	actx, stopA := context.WithCancel(context.Background())
	bctx, stopB := context.WithCancel(context.Background())
	defer stopB()
	a.Run(actx)
	b.Run(bctx)
	wf := &store.Workflow{Kind: "gated", State: "a"}
	if err := a.Start(context.Background(), wf); err != nil {
		t.Fatal(err)
	}
	<-def.started
	stopA() // SIGTERM
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- a.Shutdown(ctx)
	}()
	start := time.Now()
	close(def.release) // the running step finishes
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	waitState(t, st, wf.ID, "end")
	took := time.Since(start)
	b.Wait()
	def.mu.Lock()
	defer def.mu.Unlock()
	if def.ranA["replica-a"] != 1 || def.ranA["replica-b"] != 0 {
		t.Fatalf("step a ran %v; the finished step must not run again", def.ranA)
	}
	if def.ranB["replica-b"] != 1 || def.ranB["replica-a"] != 0 {
		t.Fatalf("step b ran %v, want once on replica-b", def.ranB)
	}
	t.Logf("hand-over on clean shutdown: %s (lease %s)", took.Round(time.Millisecond), lease)
	if took > 5*time.Second {
		t.Fatalf("hand-over took %s", took)
	}
	rs, err := st.Replicas(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Owner == "replica-a" {
			t.Fatal("replica-a still listed after it retired")
		}
	}
}

// A timer claimed by a replica that dies in its handler is handled by a
// survivor once the dead one's heartbeat expires, not after the claim TTL.
func TestDeadReplicasTimerClaimIsTakenOver(t *testing.T) {
	st := openStore(t)
	const lease = 1500 * time.Millisecond
	var handledBy sync.Map
	hang := make(chan struct{})
	defer close(hang)
	var entered atomic.Int32
	a := replica(t, st, newGated(), "replica-a", lease)
	b := replica(t, st, newGated(), "replica-b", lease)
	a.HandleTimer("sla", func(ctx context.Context, tm store.Timer) error {
		entered.Add(1)
		<-hang // replica-a dies in the handler
		return nil
	})
	b.HandleTimer("sla", func(ctx context.Context, tm store.Timer) error {
		handledBy.Store(tm.ID, "replica-b")
		return nil
	})
	actx, killA := context.WithCancel(context.Background())
	a.Run(actx)
	waitFor(t, "replica-a's first heartbeat", 3*time.Second, func() bool { return len(a.Peers()) == 1 })
	raw, _ := json.Marshal("hotfix-1")
	if err := st.ScheduleTimer(context.Background(), store.Timer{ID: "sla/hotfix-1", Due: time.Now(), Kind: "sla", Payload: raw}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replica-a to claim the timer", 3*time.Second, func() bool { return entered.Load() == 1 })
	killA()
	bctx, stopB := context.WithCancel(context.Background())
	defer stopB()
	start := time.Now()
	b.Run(bctx)
	took := waitFor(t, "replica-b to handle the dead replica's timer", 10*time.Second, func() bool {
		_, ok := handledBy.Load("sla/hotfix-1")
		return ok
	})
	t.Logf("takeover of a dead replica's timer claim: %s after the survivor started (claim TTL %s)", time.Since(start).Round(time.Millisecond), workflow.TimerClaimTTL)
	if took > lease+time.Second {
		t.Fatalf("took %s", took)
	}
}
