// Package scenarios is the one ordered list of nexo's scenarios: every
// command, button, modal, workflow and timer comes from a Register call
// here, in the order `/nexo help` lists them. To add a scenario, write its
// package under commands/ with a Register(r, d) and add it to the list.
package scenarios

import (
	"context"

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
	change.Register,   // 1 promote (and auto-promotion), 2 hotfix, 4's fix PR
	rollback.Register, // 3 rollback
	diagnose.Register, // 4 diagnose a failed deploy
	incident.Register, // 5 incidents
	rotation.Register, // 6 rotate a secret
	dora.Register,     // 7 DORA
	digest.Register,   // 7 the weekly DORA digest
	views.Register,    // the cheat sheet's read-only views
	cancel.Register,   // end any open workflow where it stands
	freeze.Register,   // change freezes and Argo CD sync windows
	board.Register,    // the release board in the App Home tab
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
