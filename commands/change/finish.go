package change

import (
	"context"
	"errors"
	"fmt"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

func (f *Flow) rejected(ctx context.Context, wf *store.Workflow, c *Change) (workflow.Outcome, error) {
	d := f.D
	if c.PR > 0 {
		if err := d.GitHub.ClosePR(ctx, c.PR, fmt.Sprintf("Rejected in Slack by %s: %s", c.RejectedBy, c.RejectWhy)); err != nil {
			return workflow.Outcome{}, err
		}
	}
	if err := d.GitOps.DeleteBranch(ctx, c.Branch); err != nil {
		return workflow.Outcome{}, err
	}
	now := f.now()
	c.FinishedAt = &now
	c.Result = "rejected"
	c.Note = fmt.Sprintf("rejected by %s: %s — PR closed, branch `%s` deleted", chat.Mention(c.RejectedBy), c.RejectWhy, c.Branch)
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
		f.reply(ctx, wf, c, "done", fmt.Sprintf(":white_check_mark: %s `%s` is live in %s.", c.Service, c.Tag, c.Env))
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
		c.Note = "failed: " + commands.Clip(err.Error(), 300)
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
	f.reply(ctx, wf, &c, "retry-"+wf.State, fmt.Sprintf(":hourglass_flowing_sand: Still trying to %s: %s. nexo keeps retrying.", stateVerb(wf.State), commands.Clip(err.Error(), 200)))
}

func stateVerb(s string) string {
	switch s {
	case PR:
		return "open the pull request"
	case Merge:
		return "merge the pull request"
	case Sync, Rollout:
		return "reach Argo CD"
	case Watch:
		return "read the error rate"
	}
	return s
}

func (f *Flow) refreshCard(ctx context.Context, wf *store.Workflow, c *Change, state string) {
	if wf.CardTS == "" {
		return
	}
	f.D.Cards().Update(wf.Channel, wf.CardTS, RenderCard(f.D, wf.ID, c, state))
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
