package commands

import (
	"context"
	"errors"

	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

// LockKey is the lock every workflow acting on one service in one env
// (its Argo CD application) takes.
func LockKey(service, env string) string { return "deploy/" + service + "/" + env }

// StartLocked starts wf, which holds its LockKey; a lock held by an open
// workflow is a refusal naming it.
func StartLocked(ctx context.Context, d *Deps, wf *store.Workflow, service, env string) error {
	err := d.Engine.Start(ctx, wf)
	var locked *workflow.ErrLocked
	if errors.As(err, &locked) {
		return Refusalf("A change of %s in %s is already open: %s. Finish or reject it first.", service, env, ThreadLink(ctx, d, locked.Open))
	}
	return err
}
