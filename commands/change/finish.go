package change

import (
	"context"
	"errors"
	"fmt"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

func (f *Flow) rejected(ctx context.Context, wf *store.Workflow, c *Change) (workflow.Outcome, error) {
	d := f.D
	if c.PR > 0 {
		if err := d.GitHub.ClosePR(ctx, c.PR, fmt.Sprintf("Rejected in Slack by %s: %s", c.RejectedBy, c.RejectWhy)); err != nil { //i18n:verbatim git text (a PR comment)
			return workflow.Outcome{}, err
		}
	}
	if err := d.GitOps.DeleteBranch(ctx, c.Branch); err != nil {
		return workflow.Outcome{}, err
	}
	now := f.now()
	c.FinishedAt = &now
	c.Result = "rejected"
	c.Note = d.T(wf.Channel).S("change.note.rejected", "By", chat.Mention(c.RejectedBy), "Why", c.RejectWhy, "Branch", c.Branch)
	f.reply(ctx, wf, c, "rejected", ":x: "+c.Note)
	return workflow.Outcome{Done: true, Next: Rejected}, nil
}

func (f *Flow) finish(ctx context.Context, wf *store.Workflow, c *Change, result string) (workflow.Outcome, error) {
	now := f.now()
	c.FinishedAt = &now
	c.Result = result
	next := Done
	if result == records.ResultFailed {
		next = Failed
	}
	if result == records.ResultSuccess && c.Flavor != records.KindHotfix { // a hotfix said it when Healthy
		f.reply(ctx, wf, c, "done", f.D.T(wf.Channel).S("change.live", "Service", c.Service, "Tag", c.Tag, "Env", c.Env))
	}
	return workflow.Outcome{Next: next, Done: true}, nil
}

// Failed implements workflow.Failer.
func (f *Flow) Failed(ctx context.Context, wf *store.Workflow, err error) {
	c, derr := workflow.Decode[Change](wf)
	if derr != nil {
		return
	}
	now := f.now()
	c.FinishedAt = &now
	c.Result = records.ResultFailed
	var ref *commands.Refusal
	if errors.As(err, &ref) {
		c.Note = ref.In(f.D.T(wf.Channel))
	} else {
		ref := commands.NewRef()
		f.D.Log.Error("change failed", "workflow", wf.ID, "state", wf.State, "ref", ref, "err", err)
		c.Note = f.D.T(wf.Channel).S("change.note.failed", "Ref", ref)
	}
	_ = workflow.Encode(wf, c)
	f.refreshCard(ctx, wf, &c, Failed)
	f.reply(ctx, wf, &c, "failed", ":x: "+c.Note)
	_ = f.record(ctx, wf, &c)
	_ = f.D.Store.UpdateWorkflow(ctx, wf)
	f.finished(ctx, wf, &c)
}

// finished tells whoever waits for a change's end: the hotfix's recovery
// figures and Backfill buttons, the incident it names, and the
// DeployFinished listeners (open incidents of the service).
func (f *Flow) finished(ctx context.Context, wf *store.Workflow, c *Change) {
	hotfixFinished(ctx, f.D, wf, c)
	f.D.TellDeployFinished(ctx, commands.DeployFinished{
		WorkflowID: wf.ID, Flavor: c.Flavor, Service: c.Service, Env: c.Env, Tag: c.Tag,
		Result: c.Result, Actor: c.Requester, Incident: c.Incident,
	})
}

// Retrying implements workflow.Retrier: say in the thread what we wait for.
func (f *Flow) Retrying(ctx context.Context, wf *store.Workflow, attempt int, err error) {
	if attempt != 3 {
		return
	}
	c, derr := workflow.Decode[Change](wf)
	if derr != nil {
		return
	}
	ref := commands.NewRef()
	f.D.Log.Warn("change step retrying", "workflow", wf.ID, "state", wf.State, "attempt", attempt, "ref", ref, "err", err)
	f.reply(ctx, wf, &c, "retry-"+wf.State, f.D.T(wf.Channel).S("change.retrying", "Step", stateVerb(wf.State), "Ref", ref))
}

// stateVerb is what a step does, for "Still trying to …".
func stateVerb(s string) i18n.Msg {
	switch s {
	case PR:
		return i18n.M("change.step.pr")
	case Merge:
		return i18n.M("change.step.merge")
	case Sync, Rollout:
		return i18n.M("change.step.argocd")
	case Watch:
		return i18n.M("change.step.watch")
	}
	return i18n.M("change.step.state", "State", s)
}

func (f *Flow) refreshCard(ctx context.Context, wf *store.Workflow, c *Change, state string) {
	if wf.CardTS == "" {
		return
	}
	f.D.Cards().Update(wf.Channel, wf.CardTS, RenderCard(f.D.T(wf.Channel), wf.ID, c, state))
}

func (f *Flow) reply(ctx context.Context, wf *store.Workflow, c *Change, key, text string) {
	f.replyMsg(ctx, wf, c, key, chat.Message{Text: text})
}

// replyMsg posts a thread reply once per key.
func (f *Flow) replyMsg(ctx context.Context, wf *store.Workflow, c *Change, key string, m chat.Message) {
	commands.ThreadReply(ctx, f.D, wf, key, m)
}

// record writes the deployment record (DORA's memory).
func (f *Flow) record(ctx context.Context, wf *store.Workflow, c *Change) error {
	kind := c.Flavor
	if kind == "backfill" {
		kind = records.KindPromote
	}
	result := c.Result
	if result == "" {
		result = records.ResultPending
	}
	var approvers []string
	for _, a := range c.Approvals {
		approvers = append(approvers, a.User)
	}
	dep := records.Deployment{
		ID: wf.ID, Service: c.Service, Env: c.Env, Tag: c.Tag, Previous: c.Previous, Kind: kind, Result: result,
		GitOpsSHA: c.MergeSHA, CommitSHAs: c.CommitSHAs, FirstCommitAt: c.FirstCommitAt, PR: c.PR, Incident: c.Incident,
		Requester: c.Requester, Approvers: approvers, RequestedAt: c.RequestedAt, ApprovedAt: c.ApprovedAt,
		MergedAt: c.MergedAt, HealthyAt: c.HealthyAt, FinishedAt: c.FinishedAt,
	}
	return f.D.Store.PutDoc(ctx, records.DeploymentsCollection, wf.ID, dep)
}
