// Package workflow runs nexo's persisted state machines: promotions,
// hotfixes, rollbacks, incidents, rotations. A workflow is a store record
// with a state, a JSON payload and a step log. A replica takes the
// workflow's lease (with a fencing token) before it runs a step; every step
// is idempotent, so a crash or a second replica never doubles an action and a
// restart resumes where it stopped. Waits are timers in the store.
package workflow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nexo-org/nexo-bot/store"
)

// Outcome is what a step decided.
type Outcome struct {
	// Next is the next state; empty keeps the current one.
	Next string
	// Wait re-runs the workflow after this long (a poll or a soak).
	Wait time.Duration
	// Until re-runs the workflow at this time (wins over Wait when later).
	Until time.Time
	// Park stops running until an outside event (a click) wakes it.
	Park bool
	// Done ends the workflow.
	Done bool
	// Detail is written to the step log.
	Detail string
}

// Definition is one kind of workflow.
type Definition interface {
	// Kind is the workflow kind (store.Workflow.Kind).
	Kind() string
	// Step performs the work of wf.State, idempotently, and may change
	// wf.Data (persisted with the outcome).
	Step(ctx context.Context, wf *store.Workflow) (Outcome, error)
}

// PermanentError ends a workflow as failed instead of retrying.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// Failer is implemented by definitions that want to react to a permanent
// failure (post in the thread, record the deployment as failed).
type Failer interface {
	Failed(ctx context.Context, wf *store.Workflow, err error)
}

// Retrier is implemented by definitions that want to say in the thread what
// they are waiting for when a step keeps failing transiently.
type Retrier interface {
	Retrying(ctx context.Context, wf *store.Workflow, attempt int, err error)
}

// ErrCrash is returned by a BeforeStep hook to simulate a crash.
var ErrCrash = errors.New("workflow: simulated crash")

// Clock tells the time; tests use a manual one.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now is time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// TimerFunc handles a due timer of a given kind.
type TimerFunc func(ctx context.Context, t store.Timer) error

// Timer kinds owned by the engine.
const timerWorkflow = "workflow"

// Engine runs workflows.
type Engine struct {
	st     store.Store
	clock  Clock
	log    *slog.Logger
	owner  string
	defs   map[string]Definition
	timers map[string]TimerFunc

	// LeaseTTL bounds how long a crashed replica blocks a workflow. The
	// replica's heartbeat is renewed every LeaseTTL/6 and expires after
	// LeaseTTL/2, so a dead replica's work moves to the survivors within
	// about two thirds of it (see RunHeartbeat).
	LeaseTTL time.Duration
	// MaxSteps bounds steps per Advance (guards against a loop).
	MaxSteps int
	// MaxRetryDelay caps the back-off of transient errors.
	MaxRetryDelay time.Duration
	// PollInterval is how often RunTimers looks for due timers.
	PollInterval time.Duration
	// BeforeStep, when set, runs before every step; returning ErrCrash
	// stops this replica's advance as a crash would (the lease is kept
	// until it expires). Tests use it to kill nexo between steps.
	BeforeStep func(wf *store.Workflow) error

	mu      sync.Mutex
	running map[string]bool // workflows being advanced by this replica
	peers   []store.Replica // the live replicas at the last heartbeat
	wg      sync.WaitGroup  // advances started by Kick
	loops   sync.WaitGroup  // RunTimers and RunHeartbeat
	// stopping is set by Shutdown: no new step starts on this replica.
	stopping atomic.Bool
	// runCtx is Run's context: once it ends (SIGTERM) no new step starts
	// either, even before Shutdown is called.
	runCtx atomic.Pointer[context.Context]
}

// halting reports whether this replica starts no new step: Shutdown was
// called or Run's context has ended.
func (e *Engine) halting() bool {
	if e.stopping.Load() {
		return true
	}
	if ctx := e.runCtx.Load(); ctx != nil && (*ctx).Err() != nil {
		return true
	}
	return false
}

// TimerClaimTTL is how long a claimed timer stays hidden from the other
// replicas while its claimer lives; a claimer whose heartbeat expires or
// that shuts down frees it at once (store.Store.Heartbeat). It only bounds
// a handler stuck on a live replica.
const TimerClaimTTL = 5 * time.Minute

// TimerHandlerTimeout bounds one timer handler.
const TimerHandlerTimeout = 2 * time.Minute

// New builds an engine. owner identifies this replica in leases.
func New(st store.Store, clock Clock, log *slog.Logger, owner string) *Engine {
	if clock == nil {
		clock = SystemClock{}
	}
	if log == nil {
		log = slog.Default()
	}
	if owner == "" {
		owner = randomID("replica-")
	}
	return &Engine{
		st: st, clock: clock, log: log, owner: owner,
		defs: map[string]Definition{}, timers: map[string]TimerFunc{},
		LeaseTTL: 30 * time.Second, MaxSteps: 64, MaxRetryDelay: time.Minute,
		PollInterval: 250 * time.Millisecond,
		running:      map[string]bool{},
	}
}

// Owner is this replica's lease owner name.
func (e *Engine) Owner() string { return e.owner }

// Clock is the engine's clock.
func (e *Engine) Clock() Clock { return e.clock }

// Store is the engine's store.
func (e *Engine) Store() store.Store { return e.st }

// Register adds a workflow definition.
func (e *Engine) Register(d Definition) { e.defs[d.Kind()] = d }

// HandleTimer registers the handler of a timer kind.
func (e *Engine) HandleTimer(kind string, fn TimerFunc) { e.timers[kind] = fn }

// ErrLocked is returned by Start when an open workflow holds the lock key.
type ErrLocked struct{ Open *store.Workflow }

func (e *ErrLocked) Error() string {
	return fmt.Sprintf("workflow %s is already open for %s", e.Open.ID, e.Open.LockKey)
}

// Start creates a workflow (refusing when its LockKey is held by an open
// one) and advances it in the background.
func (e *Engine) Start(ctx context.Context, wf *store.Workflow) error {
	if wf.ID == "" {
		wf.ID = NewID(wf.Kind)
	}
	if wf.LockKey != "" {
		// Another replica may be creating a workflow for the same key right
		// now (it holds the lock for milliseconds): wait for it, then find
		// its workflow below.
		var lease store.Lease
		ok := false
		for attempt := 0; !ok && attempt < 30; attempt++ {
			var err error
			if lease, ok, err = e.acquire(ctx, "lock:"+wf.LockKey, 10*time.Second); err != nil {
				return err
			}
			if !ok {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
		if !ok {
			return fmt.Errorf("another request for %s is being created; try again in a moment", wf.LockKey)
		}
		defer e.st.ReleaseLease(context.WithoutCancel(ctx), lease)
		open, err := e.st.FindOpenWorkflow(ctx, wf.LockKey)
		if err == nil {
			return &ErrLocked{Open: open}
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if err := e.st.CreateWorkflow(ctx, wf); err != nil {
		// The store enforces lock keys too (another replica won the race).
		if errors.Is(err, store.ErrExists) && wf.LockKey != "" {
			if open, ferr := e.st.FindOpenWorkflow(ctx, wf.LockKey); ferr == nil {
				return &ErrLocked{Open: open}
			}
		}
		return err
	}
	e.Kick(wf.ID)
	return nil
}

// Kick advances a workflow in the background. While the replica shuts
// down it only makes the workflow due, for the other replicas.
func (e *Engine) Kick(id string) {
	e.mu.Lock()
	if e.stopping.Load() {
		e.mu.Unlock()
		_ = e.wakeAt(context.Background(), id, e.clock.Now())
		return
	}
	if e.running[id] {
		e.mu.Unlock()
		// Someone is on it; make sure it is looked at again soon in case
		// the running advance already passed the point this kick is for.
		_ = e.wakeAt(context.Background(), id, e.clock.Now())
		return
	}
	e.running[id] = true
	e.wg.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.wg.Done()
		defer func() {
			e.mu.Lock()
			delete(e.running, id)
			e.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := e.Advance(ctx, id); err != nil && !errors.Is(err, ErrCrash) {
			e.log.Warn("workflow advance", "workflow", id, "err", err)
			// Look again once any lease this replica held has expired.
			rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = e.wakeAt(rctx, id, e.clock.Now().Add(e.LeaseTTL))
			rcancel()
		}
	}()
}

// Wait blocks until background advances started by Kick have finished.
func (e *Engine) Wait() { e.wg.Wait() }

// Advance runs a workflow's steps until it waits, parks or ends. It is safe
// to call from any replica at any time: the lease makes one of them run it.
func (e *Engine) Advance(ctx context.Context, id string) error {
	lease, ok, err := e.acquire(ctx, "wf:"+id, e.LeaseTTL)
	if err != nil {
		return err
	}
	if !ok {
		// Another replica holds it: it will schedule what comes next, and
		// if it crashed its lease expires; look again after that.
		return e.wakeAt(ctx, id, e.clock.Now().Add(e.LeaseTTL))
	}
	crashed := false
	defer func() {
		if !crashed {
			e.st.ReleaseLease(context.WithoutCancel(ctx), lease)
		}
	}()
	for i := 0; i < e.MaxSteps; i++ {
		if e.halting() {
			// Shutting down: leave the next step to a live replica, now.
			return e.wakeAt(ctx, id, e.clock.Now())
		}
		again, err := e.stepOnce(ctx, lease, id)
		if errors.Is(err, ErrCrash) {
			crashed = true
			return err
		}
		if !again {
			return err
		}
	}
	// Too many steps in a row: yield and come back.
	return e.wakeAt(ctx, id, e.clock.Now().Add(time.Second))
}

// stepOnce runs the workflow's current step under the held lease and
// persists its outcome. again is true when the next step should run now
// (a transition, or a write that lost a version race and must re-read).
func (e *Engine) stepOnce(ctx context.Context, lease store.Lease, id string) (again bool, err error) {
	wf, err := e.st.GetWorkflow(ctx, id)
	if err != nil {
		return false, err
	}
	if wf.Done {
		_ = e.st.CancelTimer(ctx, "wf:"+id)
		return false, nil
	}
	def, ok := e.defs[wf.Kind]
	if !ok {
		return false, fmt.Errorf("workflow %s: no definition for kind %q", id, wf.Kind)
	}
	if err := e.st.RenewLease(ctx, lease, e.LeaseTTL); err != nil {
		return false, err
	}
	if e.BeforeStep != nil {
		if err := e.BeforeStep(wf); errors.Is(err, ErrCrash) {
			return false, err
		}
	}
	before := wf.State
	out, stepErr := e.heartbeatStep(ctx, lease, def, wf)
	wf.Fence = lease.Token
	var perm *PermanentError
	switch {
	case stepErr == nil:
		return e.applyOutcome(ctx, wf, before, out)
	case errors.As(stepErr, &perm):
		return e.fail(ctx, def, wf, before, stepErr)
	default:
		return e.retryLater(ctx, def, wf, before, stepErr)
	}
}

// save writes wf; a version conflict (someone changed it meanwhile, e.g. a
// click) is not an error: the caller re-reads and steps again.
func (e *Engine) save(ctx context.Context, wf *store.Workflow) (conflict bool, err error) {
	err = e.st.UpdateWorkflow(ctx, wf)
	if errors.Is(err, store.ErrConflict) {
		return true, nil
	}
	return false, err
}

// fail ends the workflow after a permanent error and tells its definition.
func (e *Engine) fail(ctx context.Context, def Definition, wf *store.Workflow, before string, stepErr error) (bool, error) {
	wf.Steps = append(wf.Steps, store.StepLog{Time: e.clock.Now(), State: before, Result: "error", Detail: stepErr.Error()})
	wf.State = "failed"
	wf.Done = true
	if conflict, err := e.save(ctx, wf); conflict || err != nil {
		return conflict, err
	}
	if f, ok := def.(Failer); ok {
		f.Failed(ctx, wf, stepErr)
	}
	_ = e.st.CancelTimer(ctx, "wf:"+wf.ID)
	return false, nil
}

// retryLater logs a transient error and runs the step again after a
// back-off.
func (e *Engine) retryLater(ctx context.Context, def Definition, wf *store.Workflow, before string, stepErr error) (bool, error) {
	now := e.clock.Now()
	attempt := retries(wf, before) + 1
	wf.Steps = append(wf.Steps, store.StepLog{Time: now, State: before, Result: "retry", Detail: stepErr.Error()})
	if conflict, err := e.save(ctx, wf); conflict || err != nil {
		return conflict, err
	}
	if r, ok := def.(Retrier); ok {
		r.Retrying(ctx, wf, attempt, stepErr)
	}
	return false, e.wakeAt(ctx, wf.ID, now.Add(backoff(attempt, e.MaxRetryDelay)))
}

// applyOutcome persists a successful step: the transition, the step log
// line, and what wakes the workflow next.
func (e *Engine) applyOutcome(ctx context.Context, wf *store.Workflow, before string, out Outcome) (bool, error) {
	now := e.clock.Now()
	if out.Next != "" {
		wf.State = out.Next
	}
	if out.Done {
		wf.Done = true
	}
	result := "ok"
	if out.Wait > 0 || !out.Until.IsZero() || out.Park {
		result = "wait"
	}
	// Log transitions and notable waits, not every poll.
	if wf.State != before || out.Done || (out.Detail != "" && lastDetail(wf) != out.Detail) {
		wf.Steps = append(wf.Steps, store.StepLog{Time: now, State: before, Result: result, Detail: out.Detail})
	}
	if conflict, err := e.save(ctx, wf); conflict || err != nil {
		return conflict, err
	}
	if wf.Done {
		_ = e.st.CancelTimer(ctx, "wf:"+wf.ID)
		return false, nil
	}
	if due := out.due(now); !due.IsZero() {
		return false, e.wakeAt(ctx, wf.ID, due)
	}
	if out.Park {
		_ = e.st.CancelTimer(ctx, "wf:"+wf.ID)
		return false, nil
	}
	return true, nil
}

// due is when the outcome wants the workflow run again: the later of now +
// Wait and Until; zero when neither is set.
func (o Outcome) due(now time.Time) time.Time {
	var due time.Time
	if o.Wait > 0 {
		due = now.Add(o.Wait)
	}
	if o.Until.After(due) {
		due = o.Until
	}
	return due
}

// wakeAt schedules the workflow's own timer (one per workflow: "wf:<id>").
func (e *Engine) wakeAt(ctx context.Context, id string, due time.Time) error {
	return e.st.ScheduleTimer(ctx, store.Timer{ID: "wf:" + id, Due: due, Kind: timerWorkflow, Payload: mustJSON(id)})
}

// heartbeatStep runs a step while renewing the lease every third of its
// TTL; if a renewal fails (the lease was lost) the step's context is
// cancelled, so a slow step never runs beside another replica's.
func (e *Engine) heartbeatStep(ctx context.Context, lease store.Lease, def Definition, wf *store.Workflow) (Outcome, error) {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(e.LeaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := e.st.RenewLease(sctx, lease, e.LeaseTTL); err != nil {
					cancel(fmt.Errorf("lease lost during step %s: %w", wf.State, err))
					return
				}
			}
		}
	}()
	out, err := e.safeStep(sctx, def, wf)
	if cause := context.Cause(sctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return out, cause
	}
	return out, err
}

func (e *Engine) safeStep(ctx context.Context, def Definition, wf *store.Workflow) (out Outcome, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Permanent(fmt.Errorf("internal error in step %s: %v", wf.State, r))
		}
	}()
	return def.Step(ctx, wf)
}

// Mutate applies fn to the stored workflow with compare-and-swap, retrying
// on conflicts, then advances it. fn returns a refusal (shown to the user)
// or an error. fn must be a pure function of the workflow.
func (e *Engine) Mutate(ctx context.Context, id string, fn func(wf *store.Workflow) error) (*store.Workflow, error) {
	for attempt := 0; attempt < 20; attempt++ {
		wf, err := e.st.GetWorkflow(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := fn(wf); err != nil {
			return wf, err
		}
		err = e.st.UpdateWorkflow(ctx, wf)
		if errors.Is(err, store.ErrConflict) {
			time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
			continue
		}
		if err != nil {
			return nil, err
		}
		e.Kick(id)
		return wf, nil
	}
	return nil, fmt.Errorf("workflow %s is busy; try again", id)
}

// Schedule adds a timer handled by the TimerFunc registered for kind.
func (e *Engine) Schedule(ctx context.Context, id string, due time.Time, kind string, payload any) error {
	raw, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	return e.st.ScheduleTimer(ctx, store.Timer{ID: id, Due: due, Kind: kind, Payload: raw})
}

// Resume advances every open workflow (on start, after a crash).
func (e *Engine) Resume(ctx context.Context) error {
	wfs, err := e.st.ListWorkflows(ctx, store.WorkflowFilter{OpenOnly: true})
	if err != nil {
		return err
	}
	for _, wf := range wfs {
		e.Kick(wf.ID)
	}
	return nil
}

// Run starts the timer loop (RunTimers) and the heartbeat (RunHeartbeat)
// in the background until ctx ends; Shutdown waits for both.
func (e *Engine) Run(ctx context.Context) {
	e.runCtx.Store(&ctx)
	e.loops.Add(2)
	go func() {
		defer e.loops.Done()
		e.RunTimers(ctx)
	}()
	go func() {
		defer e.loops.Done()
		e.RunHeartbeat(ctx)
	}()
}

// RunTimers claims due timers and handles them until ctx ends.
func (e *Engine) RunTimers(ctx context.Context) {
	t := time.NewTicker(e.PollInterval)
	defer t.Stop()
	for {
		e.FireDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// FireDue handles the timers due now once (tests call it after moving a
// manual clock).
func (e *Engine) FireDue(ctx context.Context) int {
	if e.stopping.Load() {
		return 0
	}
	due, err := e.st.ClaimDueTimers(ctx, e.clock.Now(), e.owner, TimerClaimTTL, 64)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("claim timers", "err", err)
		}
		return 0
	}
	for _, t := range due {
		switch t.Kind {
		case timerWorkflow:
			var id string
			_ = json.Unmarshal(t.Payload, &id)
			// Complete first: Advance may schedule the same timer id again.
			_ = e.st.CompleteTimer(ctx, t)
			e.Kick(id)
		default:
			fn, ok := e.timers[t.Kind]
			if !ok {
				e.log.Warn("timer without handler", "kind", t.Kind, "id", t.ID)
				_ = e.st.CompleteTimer(ctx, t)
				continue
			}
			hctx, cancel := context.WithTimeout(ctx, TimerHandlerTimeout)
			err := fn(hctx, t)
			cancel()
			if err != nil {
				e.log.Warn("timer", "kind", t.Kind, "id", t.ID, "err", err)
				continue // claim expires, retried later
			}
			_ = e.st.CompleteTimer(ctx, t)
		}
	}
	return len(due)
}

// HeartbeatEvery is how often RunHeartbeat renews this replica's heartbeat.
func (e *Engine) HeartbeatEvery() time.Duration { return max(e.LeaseTTL/6, 10*time.Millisecond) }

// HeartbeatTTL is how long a heartbeat lasts without renewal: three missed
// beats and the replica counts as gone.
func (e *Engine) HeartbeatTTL() time.Duration { return max(e.LeaseTTL/2, 30*time.Millisecond) }

// RunHeartbeat publishes this replica's heartbeat every HeartbeatEvery
// until ctx ends and watches the others': when a replica seen at the last
// beat is gone (its heartbeat expired, or it shut down and retired), every
// open workflow is resumed here, and the store hands over the gone
// replica's leases and timer claims at once. A replica killed with SIGKILL
// is so taken over within HeartbeatTTL + HeartbeatEvery (two thirds of the
// lease TTL), one that shut down cleanly within HeartbeatEvery.
func (e *Engine) RunHeartbeat(ctx context.Context) {
	t := time.NewTicker(e.HeartbeatEvery())
	defer t.Stop()
	for {
		e.Beat(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Beat renews the heartbeat once, refreshes Peers and resumes the open
// workflows when a peer is gone. It reports the replicas that went away.
func (e *Engine) Beat(ctx context.Context) []string {
	if e.stopping.Load() {
		return nil
	}
	bctx, cancel := context.WithTimeout(ctx, max(e.HeartbeatEvery(), time.Second))
	defer cancel()
	if err := e.st.Heartbeat(bctx, e.owner, e.HeartbeatTTL()); err != nil {
		if ctx.Err() == nil {
			e.log.Warn("heartbeat", "err", err)
		}
		return nil
	}
	peers, err := e.st.Replicas(bctx)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("heartbeat: list replicas", "err", err)
		}
		return nil
	}
	e.mu.Lock()
	prev := e.peers
	e.peers = peers
	e.mu.Unlock()
	lost := goneSince(prev, peers, e.owner)
	if len(lost) > 0 {
		e.log.Info("replicas gone; taking over their work", "replicas", strings.Join(lost, ","))
		if err := e.Resume(bctx); err != nil {
			e.log.Warn("resume after replicas went away", "err", err)
		}
	}
	return lost
}

// goneSince lists the owners in prev missing from now, other than self.
func goneSince(prev, now []store.Replica, self string) []string {
	alive := map[string]bool{}
	for _, r := range now {
		alive[r.Owner] = true
	}
	var lost []string
	for _, r := range prev {
		if r.Owner != self && !alive[r.Owner] {
			lost = append(lost, r.Owner)
		}
	}
	sort.Strings(lost)
	return lost
}

// Peers is the list of live replicas (this one included) seen at the last
// heartbeat, by owner name.
func (e *Engine) Peers() []store.Replica {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]store.Replica(nil), e.peers...)
}

// Shutdown hands this replica's work over to the others: no new step
// starts (a workflow about to step is made due at once, for a live
// replica), the steps running now finish, the timer and heartbeat loops
// started by Run (whose ctx the caller has cancelled) stop, and then the heartbeat is
// retired, which frees every lease and timer claim still in this replica's
// name at once. If the steps do not finish before ctx ends, the heartbeat
// is left to expire instead (HeartbeatTTL), so no step ever runs twice at
// the same time.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	e.stopping.Store(true)
	e.mu.Unlock()
	done := make(chan struct{})
	go func() {
		e.wg.Wait()
		e.loops.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("steps still running at shutdown; this replica's heartbeat expires in %s instead", e.HeartbeatTTL())
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return e.st.Retire(rctx, e.owner)
}

func (e *Engine) acquire(ctx context.Context, name string, ttl time.Duration) (store.Lease, bool, error) {
	return e.st.AcquireLease(ctx, name, e.owner, ttl)
}

func retries(wf *store.Workflow, state string) int {
	n := 0
	for i := len(wf.Steps) - 1; i >= 0; i-- {
		s := wf.Steps[i]
		if s.State != state || s.Result != "retry" {
			break
		}
		n++
	}
	return n
}

func lastDetail(wf *store.Workflow) string {
	if len(wf.Steps) == 0 {
		return ""
	}
	return wf.Steps[len(wf.Steps)-1].Detail
}

func backoff(attempt int, max time.Duration) time.Duration {
	d := time.Second << min(attempt-1, 10)
	if d > max {
		d = max
	}
	return d
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// NewID returns a short unique workflow id with a kind prefix.
func NewID(kind string) string { return randomID(kind + "-") }

func randomID(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// Decode reads a workflow's payload into T.
func Decode[T any](wf *store.Workflow) (T, error) {
	var v T
	if len(wf.Data) == 0 {
		return v, nil
	}
	err := json.Unmarshal(wf.Data, &v)
	return v, err
}

// Encode writes v as a workflow's payload.
func Encode(wf *store.Workflow, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	wf.Data = b
	return nil
}
