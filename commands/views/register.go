// Package views is the cheat sheet's read-only views: status, history,
// diff, pods, logs and the audit log.
package views

import "github.com/nexo-org/nexo-bot/commands"

// Register adds the read-only views.
func Register(r *commands.Router, d *commands.Deps) {
	r.Register(StatusSpec(d))
	r.Register(HistorySpec(d))
	r.Register(DiffSpec(d))
	r.Register(PodsSpec(d))
	r.Register(LogsSpec(d))
	r.Register(AuditSpec(d))
}
