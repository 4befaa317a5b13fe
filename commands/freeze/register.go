// Package freeze is change freezes: `freezes:` in the config (dated
// ranges or cron windows per environment), ad-hoc ones that admins set
// with `/nexo freeze <env> <duration|until> --reason "…"` and lift with
// `/nexo unfreeze <env>`, and the Argo CD sync windows of each app's
// project. Its Gate is the core's commands.Freezes: the change pipeline
// asks it before an ordinary change starts and before it merges (refused,
// or waiting with --when-open), hotfixes and rollbacks ask it too (they
// pass and say so, unless a sync window refuses manual syncs), and status
// cards and the board show what it says is in force.
package freeze

import (
	"context"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
)

// Register adds freeze and unfreeze and installs the gate.
func Register(r *commands.Router, d *commands.Deps) {
	d.Freezes = &Gate{D: d}
	r.Register(FreezeSpec(d))
	r.Register(UnfreezeSpec(d))
}

// Check is the gate's answer for an ordinary change of service into env
// at now: the freeze that holds it, whether it is blocked and until when.
func Check(ctx context.Context, d *commands.Deps, service, env string, now time.Time) (commands.FreezeGate, error) {
	return gateOf(d).Gate(ctx, service, env, false, now)
}

// Active is the freeze in force in env at now (nil: none); with a
// service, its app's sync windows count too. The read API of status
// cards and the board (which reach it through commands.ActiveFreeze).
func Active(ctx context.Context, d *commands.Deps, service, env string, now time.Time) (*commands.Freeze, error) {
	return gateOf(d).Active(ctx, service, env, now)
}

// gateOf is the registered gate (one per nexo), or a new one.
func gateOf(d *commands.Deps) *Gate {
	if g, ok := d.Freezes.(*Gate); ok {
		return g
	}
	return &Gate{D: d}
}
