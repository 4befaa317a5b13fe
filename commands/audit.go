package commands

import (
	"context"

	"github.com/nexo-org/nexo-bot/store"
)

// Audit appends to the audit log; a failure is logged, never fatal.
func Audit(ctx context.Context, d *Deps, actor, action, service, env, target, outcome, detail string) {
	err := d.Store.AppendAudit(ctx, store.AuditEntry{Time: d.Clock().Now(), Actor: actor, Action: action, Service: service, Env: env, Target: target, Outcome: outcome, Detail: detail})
	if err != nil {
		d.Log.Error("audit", "action", action, "err", err)
	}
}
