package commands

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

// Results a workflow ends with when someone else ends it.
const (
	// ResultSuperseded: a hotfix or a rollback took its place.
	ResultSuperseded = records.ResultSuperseded
	// ResultCancelled: someone cancelled it.
	ResultCancelled = records.ResultCancelled
)

// Lifecycle is what the core asks of each workflow kind, so that any open
// workflow can be described, superseded or cancelled the same way. Each
// scenario with a workflow registers one (Deps.HandleKind).
type Lifecycle interface {
	// Describe says what an open workflow is.
	Describe(wf *store.Workflow) (Described, error)
	// End ends wf at its current step, cleanly: a PR not merged is closed
	// (with a comment saying why) and its branch deleted, its timers are
	// dropped, its record keeps e.Result, its card is edited and its thread
	// told what was done. The caller holds wf's lease (no step of it runs
	// meanwhile); End saves wf with Done set. A workflow that cannot stop
	// where it is (a rotation that changed the database) finishes or
	// undoes its step first, and End says so in the thread.
	End(ctx context.Context, wf *store.Workflow, e Ending) error
}

// Described is what an open workflow is, for the sentences and the rules
// of preemption and cancel.
type Described struct {
	Service, Env string
	// What names it for people: "promotion of nexo-fe to production `2026.02.12`".
	What i18n.Msg
	// Requester asked for it; ApproverGroup approves it (may cancel it).
	Requester, ApproverGroup string
	// Emergency is true for hotfixes and rollbacks: they are never
	// superseded, and a second one on the same target is refused.
	Emergency bool
	// Merged is true once the change reached the cluster's source of truth
	// (merged, synced or acting on Argo CD / the Ingress): superseding it
	// needs no one's consent.
	Merged bool
}

// Ending is how a workflow is ended by someone else.
type Ending struct {
	Result string // ResultSuperseded or ResultCancelled
	By     string // the user
	// By is superseded by this emergency (Result ResultSuperseded).
	Successor *Successor
}

// Successor is the hotfix or rollback that supersedes a change.
type Successor struct {
	ID   string   // its workflow id
	What i18n.Msg // "hotfix of nexo-fe `2026.02.13-hotfix`"
	URL  string   // its thread's permalink ("" when unknown)
}

// Sentence says in Slack how the workflow ended: "superseded by <link|the
// hotfix …>, asked by @carol" or "cancelled by @carol".
func (e Ending) Sentence(t i18n.T) string {
	if e.Successor == nil {
		return t.S("core.ended.cancelled", "By", chat.Mention(e.By))
	}
	what := t.Msg(e.Successor.What)
	if e.Successor.URL != "" {
		what = "<" + e.Successor.URL + "|" + what + ">"
	} else {
		what += " (`" + e.Successor.ID + "`)"
	}
	return t.S("core.ended.superseded", "What", what, "By", chat.Mention(e.By))
}

// Markdown says the same for a GitHub comment, in English whatever the
// channel's locale: git texts keep one form.
//
//i18n:verbatim GitHub comments keep one form in every locale.
func (e Ending) Markdown() string {
	if e.Successor == nil {
		return "Cancelled in Slack by " + e.By + ". nexo closed this pull request and deleted its branch."
	}
	en := English()
	what := en.Msg(e.Successor.What) + " (nexo workflow `" + e.Successor.ID + "`)"
	if e.Successor.URL != "" {
		what = "[" + en.Msg(e.Successor.What) + "](" + e.Successor.URL + ") (nexo workflow `" + e.Successor.ID + "`)"
	}
	return "Superseded in Slack by the " + what + ", asked by " + e.By + ". nexo closed this pull request and deleted its branch."
}

// HandleKind registers the lifecycle of a workflow kind.
func (d *Deps) HandleKind(kind string, l Lifecycle) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.kinds == nil {
		d.kinds = map[string]Lifecycle{}
	}
	d.kinds[kind] = l
}

func (d *Deps) lifecycle(kind string) (Lifecycle, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, ok := d.kinds[kind]
	return l, ok
}

// Describe says what an open workflow is.
func Describe(d *Deps, wf *store.Workflow) (Described, error) {
	l, ok := d.lifecycle(wf.Kind)
	if !ok {
		return Described{}, fmt.Errorf("no lifecycle for workflow kind %q", wf.Kind)
	}
	return l.Describe(wf)
}

// EndWait bounds how long ending a workflow waits for a step of it that
// is running (on this replica or another) to finish.
const EndWait = 45 * time.Second

// EndWorkflow ends workflow id through its kind's Lifecycle, holding its
// lease so that no step of it is left halfway. An ended workflow is a
// refusal naming its state.
func EndWorkflow(ctx context.Context, d *Deps, id string, e Ending) error {
	err := d.Engine.Hold(ctx, id, EndWait, func(wf *store.Workflow) error {
		if wf.Done {
			return Refuse("cancel.ended", "ID", wf.ID, "State", wf.State)
		}
		l, ok := d.lifecycle(wf.Kind)
		if !ok {
			return Refuse("cancel.cannot", "Kind", wf.Kind)
		}
		return l.End(ctx, wf, e)
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Refuse("cancel.no_workflow", "ID", Clip(id, 60))
	case errors.Is(err, workflow.ErrBusy):
		return Refuse("cancel.busy", "ID", Clip(id, 60))
	}
	return err
}

// SaveEnded writes wf as ended by e (state e.Result, Done); mark records
// the ending in wf's payload. See SaveWorkflow.
func SaveEnded(ctx context.Context, d *Deps, wf *store.Workflow, e Ending, mark func(wf *store.Workflow) error) error {
	return SaveWorkflow(ctx, d, wf, func(wf *store.Workflow) error {
		before := wf.State
		if err := mark(wf); err != nil {
			return err
		}
		wf.State, wf.Done = e.Result, true
		wf.Steps = append(wf.Steps, store.StepLog{Time: d.Clock().Now(), State: before, Result: "ok", Detail: e.Result})
		return nil
	})
}

// SaveWorkflow writes the change mark makes to wf with compare-and-swap;
// on a conflict (a click changed it meanwhile) the workflow is read again
// and mark applied to the fresh copy. Under Engine.Hold only clicks race.
func SaveWorkflow(ctx context.Context, d *Deps, wf *store.Workflow, mark func(wf *store.Workflow) error) error {
	for attempt := 0; attempt < 10; attempt++ {
		if err := mark(wf); err != nil {
			return err
		}
		err := d.Store.UpdateWorkflow(ctx, wf)
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
		fresh, gerr := d.Store.GetWorkflow(ctx, wf.ID)
		if gerr != nil {
			return gerr
		}
		*wf = *fresh
	}
	return fmt.Errorf("workflow %s is busy; try again", wf.ID)
}
