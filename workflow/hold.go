package workflow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nexo-org/nexo-bot/store"
)

// ErrBusy is returned by Hold when another replica kept the workflow's
// lease for the whole wait (a step that runs long, or a replica that died
// holding it).
var ErrBusy = errors.New("workflow: busy")

// Hold runs fn on the stored workflow id while this replica holds its
// lease, so no step of it runs halfway beside fn: fn sees the state the
// last step left. It waits up to wait for a running step to end. fn saves
// its own changes (UpdateWorkflow); when it ends the workflow, nothing of
// it runs afterwards.
func (e *Engine) Hold(ctx context.Context, id string, wait time.Duration, fn func(wf *store.Workflow) error) error {
	deadline := time.Now().Add(wait)
	for {
		lease, ok, err := e.acquire(ctx, "wf:"+id, e.LeaseTTL)
		if err != nil {
			return err
		}
		if ok {
			defer e.st.ReleaseLease(context.WithoutCancel(ctx), lease)
			wf, err := e.st.GetWorkflow(ctx, id)
			if err != nil {
				return err
			}
			wf.Fence = lease.Token
			if err := fn(wf); err != nil {
				return err
			}
			if wf.Done {
				_ = e.st.CancelTimer(ctx, "wf:"+id)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s is being worked on by another replica", ErrBusy, id)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
