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
	"github.com/nexo-org/nexo-bot/commands"
)

// Register adds freeze and unfreeze and installs the gate.
func Register(r *commands.Router, d *commands.Deps) {
	d.Freezes = &Gate{D: d}
	r.Register(FreezeSpec(d))
	r.Register(UnfreezeSpec(d))
}
