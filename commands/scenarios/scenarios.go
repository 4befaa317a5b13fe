// Package scenarios is the one ordered list of nexo's scenarios: every
// command, button, modal, workflow and timer comes from a Register call
// here, in the order `/nexo help` lists them. To add a scenario, write its
// package under commands/ with a Register(r, d) and add it to the list.
package scenarios

import (
	"context"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/board"
	"github.com/nexo-org/nexo-bot/commands/cancel"
	"github.com/nexo-org/nexo-bot/commands/change"
	"github.com/nexo-org/nexo-bot/commands/diagnose"
	"github.com/nexo-org/nexo-bot/commands/dora"
	"github.com/nexo-org/nexo-bot/commands/dora/digest"
	"github.com/nexo-org/nexo-bot/commands/freeze"
	"github.com/nexo-org/nexo-bot/commands/incident"
	"github.com/nexo-org/nexo-bot/commands/rollback"
	"github.com/nexo-org/nexo-bot/commands/rotation"
	"github.com/nexo-org/nexo-bot/commands/views"
)

// All is every scenario, in the playbook's order.
var All = []func(r *commands.Router, d *commands.Deps){
	change.Register,                  // 1 promote (and auto-promotion), 2 hotfix, 4's fix PR
	rollback.Register,                // 3 rollback
	diagnose.Register,                // 4 diagnose a failed deploy
	incident.Register,                // 5 incidents
	rotation.Register,                // 6 rotate a secret
	dora.Register,                    // 7 DORA
	digest.Register,                  // 7 the weekly DORA digest
	views.Register,                   // the cheat sheet's read-only views
	cancel.Register,                  // end any open workflow where it stands
	freeze.Register,                  // change freezes and Argo CD sync windows
	board.RegisterWith(boardFreezes), // the release board in the App Home tab
}

// boardFreezes shows the board the freezes nexo keeps (config and ad-hoc)
// per environment; Argo CD's sync windows, per application, would cost
// the board an Application read per row and show on the status card.
func boardFreezes(d *commands.Deps) board.FreezeReader { return envFreezes{d} }

type envFreezes struct{ d *commands.Deps }

func (f envFreezes) Frozen(ctx context.Context, env string, at time.Time) (bool, string, time.Time) {
	if f.d.Freezes == nil {
		return false, "", time.Time{}
	}
	fz, err := f.d.Freezes.Active(ctx, "", env, at)
	if err != nil || fz == nil {
		return false, "", time.Time{}
	}
	return true, fz.Reason, fz.End
}

// Setup builds the router with every scenario registered, refuses a name,
// alias, button prefix or modal registered twice, and runs the scenarios'
// start work (their recurring timers).
func Setup(ctx context.Context, d *commands.Deps) (*commands.Router, error) {
	r := commands.New(d)
	for _, register := range All {
		register(r, d)
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if err := r.Start(ctx); err != nil {
		return nil, err
	}
	return r, nil
}
