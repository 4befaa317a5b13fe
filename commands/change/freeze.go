package change

import (
	"context"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

// The hook into the freeze gate (commands.Freezes, commands/freeze):
// an ordinary change into a frozen env is refused at its start unless it
// waits (--when-open; auto-promotions always wait), and is held before its
// PR and before its merge while the freeze lasts; an emergency is refused
// only where a sync window refuses manual syncs, and its card says when
// it passes a freeze.

// emergency reports whether the change is a hotfix or a GitOps revert.
func (c *Change) emergency() bool {
	return c.Flavor == records.KindHotfix || c.Flavor == records.KindRollback
}

// checkFreeze is the gate at a change's start.
func checkFreeze(ctx context.Context, d *commands.Deps, c *Change, channel string) error {
	g, err := commands.CheckFreeze(ctx, d, c.Service, c.Env, c.emergency())
	switch {
	case err != nil:
		return err
	case c.emergency() && g.Blocked:
		return &commands.Refusal{Msg: g.Why}
	case c.emergency() && g.Freeze != nil:
		c.Freeze = d.T(channel).Msg(g.Why)
	case g.Blocked && !c.WhenOpen && !c.Auto:
		if c.Flavor == records.KindPromote {
			return commands.Refuse("freeze.refused_when_open", "Why", g.Why)
		}
		return commands.Refuse("freeze.refused", "Why", g.Why)
	}
	return nil
}

// frozen holds an ordinary change while its env is frozen, looking again
// every minute (an admin may lift the freeze) and at its end.
func (f *Flow) frozen(ctx context.Context, wf *store.Workflow, c *Change) (workflow.Outcome, bool, error) {
	if c.emergency() {
		return workflow.Outcome{}, false, nil
	}
	g, err := commands.HeldByFreeze(ctx, f.D, c.Service, c.Env)
	if err != nil || !g.Blocked {
		return workflow.Outcome{}, false, err
	}
	note := f.D.T(wf.Channel).S("freeze.waiting", "Why", g.Why)
	if c.Note != note {
		c.Note = note
		f.refreshCard(ctx, wf, c, wf.State)
	}
	until := f.now().Add(time.Minute)
	if !g.Until.IsZero() && g.Until.Before(until) {
		until = g.Until
	}
	return workflow.Outcome{Until: until, Detail: commands.English().S("freeze.waiting", "Why", g.Why)}, true, nil
}
