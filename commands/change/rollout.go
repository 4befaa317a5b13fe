package change

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/gitops"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

func (f *Flow) sync(ctx context.Context, wf *store.Workflow, c *Change) (workflow.Outcome, error) {
	d := f.D
	if d.ArgoCD == nil {
		c.Note = "merged; Argo CD is not configured, so nexo does not follow the rollout"
		return f.finish(ctx, wf, c, records.ResultSuccess)
	}
	app := d.Config.AppName(c.Service, c.Env)
	cur, err := d.ArgoCD.GetApp(ctx, app, "normal")
	if err != nil {
		return workflow.Outcome{}, err
	}
	running := cur.Status.OperationState != nil && cur.Status.OperationState.Phase == "Running"
	already := f.carriesChange(ctx, c, cur.Status.Sync.Revision) ||
		(running && cur.Status.OperationState.SyncResult != nil && f.carriesChange(ctx, c, cur.Status.OperationState.SyncResult.Revision))
	if !already {
		// With automated sync on, Argo CD refuses a sync to a pinned
		// revision ("auto-sync currently set to HEAD"): sync the target
		// revision, which now carries the merge.
		req := argocd.SyncRequest{Revision: c.MergeSHA}
		if cur.AutoSyncEnabled() {
			req.Revision = ""
		}
		if _, err := d.ArgoCD.Sync(ctx, app, req); err != nil {
			var apiErr *argocd.APIError
			if errors.As(err, &apiErr) && strings.Contains(apiErr.Message, "another operation is already in progress") {
				c.Note = "waiting: Argo CD is running another operation on " + app
				return workflow.Outcome{Wait: f.poll(), Detail: c.Note}, nil
			}
			return workflow.Outcome{}, err
		}
	}
	now := f.now()
	c.SyncedAt = &now
	c.Note = "syncing " + app
	return workflow.Outcome{Next: Rollout, Wait: f.poll()}, nil
}

// carriesChange reports whether a GitOps revision deploys this change: it is
// the merge commit, or a later one whose values file has the change's tag.
func (f *Flow) carriesChange(ctx context.Context, c *Change, rev string) bool {
	if rev == "" {
		return false
	}
	if rev == c.MergeSHA {
		return true
	}
	doc, err := f.D.GitOps.ShowFile(ctx, rev, f.D.Config.ValuesPath(c.Service, c.Env))
	if err != nil {
		return false
	}
	tag, err := gitops.GetTag(doc, f.D.Config.GitOps.TagKey)
	return err == nil && tag == c.Tag && len(c.Files) == 0
}

func (f *Flow) rollout(ctx context.Context, wf *store.Workflow, c *Change) (workflow.Outcome, error) {
	d := f.D
	app, err := d.ArgoCD.GetApp(ctx, d.Config.AppName(c.Service, c.Env), "")
	if err != nil {
		return workflow.Outcome{}, err
	}
	c.Health = app.Status.Health.Status
	onRevision := f.carriesChange(ctx, c, app.Status.Sync.Revision)
	switch {
	case onRevision && app.Status.Sync.Status == "Synced" && app.Status.Health.Status == "Healthy":
		now := f.now()
		c.HealthyAt = &now
		c.Note = "Synced and Healthy"
		if d.Prom != nil {
			if e, ok := d.Config.Env(c.Env); ok && e.WatchWindow > 0 {
				c.WatchUntil = now.Add(e.WatchWindow.D())
				return workflow.Outcome{Next: Watch, Wait: f.poll()}, nil
			}
		}
		return f.finish(ctx, wf, c, records.ResultSuccess)
	case onRevision && app.Status.Health.Status == "Degraded",
		app.Status.OperationState != nil && (app.Status.OperationState.Phase == "Failed" || app.Status.OperationState.Phase == "Error"):
		msg := app.Status.Health.Message
		if app.Status.OperationState != nil && app.Status.OperationState.Message != "" {
			msg = app.Status.OperationState.Message
		}
		c.Note = fmt.Sprintf("%s is %s: %s", d.Config.AppName(c.Service, c.Env), app.Status.Health.Status, msg)
		f.reply(ctx, wf, c, "degraded", ":red_circle: "+c.Note+fmt.Sprintf("\nRun `%s diagnose %s %s` to find the cause.", d.Config.Slack.Command, c.Service, c.Env))
		return f.finish(ctx, wf, c, records.ResultFailed)
	}
	if c.SyncedAt != nil && f.now().Sub(*c.SyncedAt) > d.Config.ArgoCD.SyncTimeout.D() {
		c.Note = fmt.Sprintf("timed out after %s waiting for Synced+Healthy (now %s/%s)", d.Config.ArgoCD.SyncTimeout, app.Status.Sync.Status, app.Status.Health.Status)
		f.reply(ctx, wf, c, "timeout", ":hourglass: "+c.Note)
		return f.finish(ctx, wf, c, records.ResultFailed)
	}
	note := fmt.Sprintf("rolling out: %s / %s", app.Status.Sync.Status, app.Status.Health.Status)
	if note != c.Note {
		c.Note = note
		f.refreshCard(ctx, wf, c, Rollout)
	}
	return workflow.Outcome{Wait: f.poll(), Detail: note}, nil
}

func (f *Flow) watch(ctx context.Context, wf *store.Workflow, c *Change) (workflow.Outcome, error) {
	d := f.D
	before := c.Note
	ns := d.Config.Namespace(c.Service, c.Env)
	q := strings.NewReplacer("{service}", c.Service, "{namespace}", ns, "{env}", c.Env).Replace(d.Config.Prometheus.ErrorRateQuery)
	v, ok, err := d.Prom.Scalar(ctx, q, f.now())
	if err != nil {
		c.Note = "monitoring: Prometheus did not answer (" + commands.Clip(err.Error(), 80) + ")"
	} else if ok {
		c.ErrorRate = &v
		if v > d.Config.Prometheus.ErrorRateThreshold && !c.Breach {
			c.Breach = true
			c.Note = fmt.Sprintf("error rate %.2f%% is above %.2f%%", v*100, d.Config.Prometheus.ErrorRateThreshold*100)
			f.breach(ctx, wf, c, v)
			return f.finish(ctx, wf, c, records.ResultFailed)
		}
		c.Note = fmt.Sprintf("monitoring: error rate %.2f%%", v*100)
	}
	if !f.now().Before(c.WatchUntil) {
		return f.finish(ctx, wf, c, records.ResultSuccess)
	}
	if c.Note != before {
		f.refreshCard(ctx, wf, c, Watch)
	}
	return workflow.Outcome{Wait: min(f.poll()*3, time.Until(c.WatchUntil)+time.Second), Detail: "monitoring"}, nil
}

func (f *Flow) breach(ctx context.Context, wf *store.Workflow, c *Change, v float64) {
	d := f.D
	oncall := d.Members.Mentions(ctx, d.Config.Incidents.OnCallGroup)
	text := fmt.Sprintf(":rotating_light: %s error rate in %s is *%.2f%%* after `%s` (threshold %.2f%%). %s",
		c.Service, c.Env, v*100, c.Tag, d.Config.Prometheus.ErrorRateThreshold*100, oncall)
	m := chat.Message{Text: text, Blocks: []chat.Block{
		{Section: &chat.Section{Text: text}},
	}}
	if c.Previous != "" {
		m.Blocks = append(m.Blocks, chat.Block{Actions: []chat.Button{{
			Text: "Roll back to " + c.Previous, Action: commands.ActionRollbackStart, Style: chat.StyleDanger,
			Value: c.Service + "|" + c.Env + "|" + c.Previous, Confirm: "Roll " + c.Service + " in " + c.Env + " back to " + c.Previous + "?",
		}}})
	}
	f.replyMsg(ctx, wf, c, "breach", m)
}
