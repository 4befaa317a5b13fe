package change

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/policy"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/github"
	"github.com/nexo-org/nexo-bot/integrations/gitops"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

// Flow runs change workflows.
type Flow struct {
	D *commands.Deps
}

// Kind implements workflow.Definition.
func (f *Flow) Kind() string { return Kind }

// Step implements workflow.Definition.
func (f *Flow) Step(ctx context.Context, wf *store.Workflow) (workflow.Outcome, error) {
	c, err := workflow.Decode[Change](wf)
	if err != nil {
		return workflow.Outcome{}, workflow.Permanent(err)
	}
	var out workflow.Outcome
	switch wf.State {
	case Card:
		out, err = f.card(ctx, wf, &c)
	case PR:
		out, err = f.pr(ctx, wf, &c)
	case Approval:
		out, err = f.approval(ctx, wf, &c)
	case Merge:
		out, err = f.merge(ctx, wf, &c)
	case Sync:
		out, err = f.sync(ctx, wf, &c)
	case Rollout:
		out, err = f.rollout(ctx, wf, &c)
	case Watch:
		out, err = f.watch(ctx, wf, &c)
	case Rejected:
		out, err = f.rejected(ctx, wf, &c)
	default:
		return workflow.Outcome{}, workflow.Permanent(fmt.Errorf("unknown state %q", wf.State))
	}
	if encErr := workflow.Encode(wf, c); encErr != nil {
		return out, workflow.Permanent(encErr)
	}
	if err == nil && (out.Next != "" || out.Done) {
		next := wf.State
		if out.Next != "" {
			next = out.Next
		}
		f.refreshCard(ctx, wf, &c, next)
		if err := f.record(ctx, wf, &c); err != nil {
			return out, err
		}
	}
	if err == nil && out.Done {
		f.finished(ctx, wf, &c)
	}
	return out, err
}

func (f *Flow) now() time.Time { return f.D.Clock().Now() }

func (f *Flow) poll() time.Duration { return f.D.Poll(10 * time.Second) }

// card posts the status card (the thread parent).
func (f *Flow) card(ctx context.Context, wf *store.Workflow, c *Change) (workflow.Outcome, error) {
	if wf.CardTS == "" {
		ts, err := commands.PostOnce(ctx, f.D, wf.ID, "card", wf.Channel, "", RenderCard(f.D.T(wf.Channel), wf.ID, c, PR))
		if err != nil {
			return workflow.Outcome{}, err
		}
		wf.CardTS, wf.ThreadTS = ts, ts
	}
	return workflow.Outcome{Next: PR}, nil
}

// pr pushes the branch with the values edit and ensures the PR.
func (f *Flow) pr(ctx context.Context, wf *store.Workflow, c *Change) (workflow.Outcome, error) {
	if out, wait, err := f.frozen(ctx, wf, c); wait || err != nil {
		return out, err
	}
	d := f.D
	if err := d.GitOps.Sync(ctx); err != nil {
		return workflow.Outcome{}, err
	}
	files := map[string][]byte{}
	if len(c.Files) > 0 {
		for p, b := range c.Files {
			files[p] = []byte(b)
		}
	} else {
		path := d.Config.ValuesPath(c.Service, c.Env)
		doc, err := d.GitOps.ReadFile(ctx, path)
		if err != nil {
			return workflow.Outcome{}, err
		}
		cur, err := gitops.GetTag(doc, d.Config.GitOps.TagKey)
		if err != nil {
			return workflow.Outcome{}, workflow.Permanent(fmt.Errorf("%s: %w", path, err))
		}
		if cur == c.Tag && c.PR == 0 {
			return workflow.Outcome{}, workflow.Permanent(commands.Refuse("change.note.already_in_git", "Service", c.Service, "Env", c.Env, "Tag", c.Tag))
		}
		edited, err := gitops.SetTag(doc, d.Config.GitOps.TagKey, c.Tag)
		if err != nil {
			return workflow.Outcome{}, workflow.Permanent(fmt.Errorf("%s: %w", path, err))
		}
		files[path] = edited
	}
	msg := c.Subject
	if c.Body != "" {
		msg += "\n\n" + c.Body
	}
	sha, err := d.GitOps.PushBranch(ctx, c.Branch, files, msg)
	if err != nil {
		return workflow.Outcome{}, err
	}
	c.HeadSHA = sha
	pr, err := d.GitHub.EnsurePR(ctx, github.PRSpec{
		Head: c.Branch, Base: d.Config.GitOps.Branch, Title: c.Subject, Body: c.Body,
		Labels: c.Labels, Reviewers: c.Reviewers, TeamReviewers: c.Teams,
	})
	if err != nil {
		return workflow.Outcome{}, err
	}
	c.PR, c.PRURL = pr.Number, pr.URL
	c.Note = d.T(wf.Channel).S("change.note.pr_opened", "URL", pr.URL, "Number", pr.Number)
	return workflow.Outcome{Next: Approval, Detail: fmt.Sprintf("PR #%d", pr.Number)}, nil
}

// approval waits for the approvals and the soak gate.
func (f *Flow) approval(ctx context.Context, wf *store.Workflow, c *Change) (workflow.Outcome, error) {
	now := f.now()
	dec := policy.Evaluate(c.Need, c.Approvals)
	gateOpen, opensAt := true, time.Time{}
	c.Gate, c.GateOpensAt = "", nil
	if c.Soak > 0 && c.FromEnv != "" && !c.SkipSoak {
		since, err := HealthySince(ctx, f.D, c.Service, c.FromEnv, c.Tag)
		if err != nil {
			return workflow.Outcome{}, err
		}
		g := policy.Gate{Env: c.FromEnv, Tag: c.Tag, Soak: c.Soak, HealthySince: since}
		var why i18n.Msg
		gateOpen, opensAt, why = g.Open(now)
		if !gateOpen {
			c.Gate = f.D.T(wf.Channel).Msg(why)
			if !opensAt.IsZero() {
				c.GateOpensAt = &opensAt
			}
		}
	}
	if !dec.Satisfied || !gateOpen {
		before := c.Note
		c.Note = waitingNote(f.D.T(wf.Channel), dec, c.Gate)
		if before != c.Note {
			f.refreshCard(ctx, wf, c, Approval)
		}
		switch {
		case !gateOpen && !opensAt.IsZero():
			return workflow.Outcome{Until: opensAt, Detail: c.Note}, nil
		case !gateOpen:
			return workflow.Outcome{Wait: time.Minute, Detail: c.Note}, nil
		}
		return workflow.Outcome{Park: true, Detail: c.Note}, nil
	}
	if out, wait, err := f.frozen(ctx, wf, c); wait || err != nil {
		return out, err
	}
	if c.ApprovedAt == nil {
		c.ApprovedAt = &now
	}
	if len(dec.Counted) > 0 {
		c.Note = f.D.T(wf.Channel).S("change.note.approved_by", "Who", commands.Mentions(dec.Counted))
	}
	return workflow.Outcome{Next: Merge}, nil
}

func waitingNote(t i18n.T, dec policy.Decision, gate string) string {
	var parts []string
	if !dec.Satisfied {
		parts = append(parts, t.S("change.waiting", "Missing", dec.Missing))
	}
	if gate != "" {
		parts = append(parts, t.S("change.gate", "Why", gate))
	}
	return strings.Join(parts, " · ")
}

func (f *Flow) merge(ctx context.Context, wf *store.Workflow, c *Change) (workflow.Outcome, error) {
	d := f.D
	sha, err := d.GitHub.MergePR(ctx, c.PR, d.Config.GitHub.MergeMethod, c.Subject, MergeMessage(c), c.HeadSHA)
	var blocked *github.MergeBlockedError
	if errors.As(err, &blocked) {
		c.Note = d.T(wf.Channel).S("change.note.merge_blocked", "Why", strconv.Quote(blocked.Message), "URL", c.PRURL, "Number", c.PR)
		f.reply(ctx, wf, c, "merge-blocked", ":warning: "+c.Note)
		pr, gerr := d.GitHub.GetPR(ctx, c.PR)
		if gerr == nil && pr.Merged {
			sha, err = pr.MergeSHA, nil
		} else {
			return workflow.Outcome{Wait: time.Minute, Detail: c.Note}, nil
		}
	}
	if err != nil {
		return workflow.Outcome{}, err
	}
	now := f.now()
	c.MergeSHA = sha
	c.MergedAt = &now
	c.Note = d.T(wf.Channel).S("change.note.merged_as", "SHA", commands.ShortSHA(sha))
	_ = d.GitOps.DeleteBranch(ctx, c.Branch)
	return workflow.Outcome{Next: Sync}, nil
}

func (f *Flow) sync(ctx context.Context, wf *store.Workflow, c *Change) (workflow.Outcome, error) {
	d := f.D
	if d.ArgoCD == nil {
		c.Note = d.T(wf.Channel).S("change.note.no_argocd")
		return f.finish(ctx, wf, c, records.ResultSuccess)
	}
	app := d.Config.AppName(c.Service, c.Env)
	cur, err := d.ArgoCD.GetApp(ctx, app, "normal")
	if err != nil {
		return workflow.Outcome{}, err
	}
	// A replica that died with the sync request in flight, or whose answer
	// was lost, finds the operation it asked for running or done: that
	// counts as synced, and no second sync is sent. Another operation
	// running is waited out without asking (Argo CD would refuse).
	running := cur.Operation != nil || (cur.Status.OperationState != nil && cur.Status.OperationState.Phase == "Running")
	already := (cur.Status.Sync.Status == "Synced" && f.carriesChange(ctx, c, cur.Status.Sync.Revision)) ||
		f.carriesChange(ctx, c, operationRevision(cur))
	if running && !already {
		return f.syncBusy(wf, c, app), nil
	}
	if !already {
		// With automated sync on, Argo CD refuses a sync to a pinned
		// revision ("auto-sync currently set to HEAD"): sync the target
		// revision, which now carries the merge.
		req := argocd.SyncRequest{Revision: c.MergeSHA}
		if cur.AutoSyncEnabled() {
			req.Revision = ""
		}
		if _, err := d.ArgoCD.Sync(ctx, app, req); err != nil {
			if argocd.IsOperationInProgress(err) {
				return f.syncBusy(wf, c, app), nil
			}
			return workflow.Outcome{}, err
		}
	}
	now := f.now()
	c.SyncedAt = &now
	c.Note = d.T(wf.Channel).S("change.note.syncing", "App", app)
	return workflow.Outcome{Next: Rollout, Wait: f.poll()}, nil
}

// syncBusy waits for another Argo CD operation on app to end.
func (f *Flow) syncBusy(wf *store.Workflow, c *Change, app string) workflow.Outcome {
	c.Note = f.D.T(wf.Channel).S("change.note.sync_busy", "App", app)
	return workflow.Outcome{Wait: f.poll(), Detail: c.Note}
}

// operationRevision is the commit of the application's running or last
// sync operation: the one it resolved, else the one requested when that is
// a commit (a branch name says nothing about which commit it was).
func operationRevision(a *argocd.Application) string {
	if st := a.Status.OperationState; st != nil {
		if st.SyncResult != nil && st.SyncResult.Revision != "" {
			return st.SyncResult.Revision
		}
		if st.Operation != nil && st.Operation.Sync != nil && isCommit(st.Operation.Sync.Revision) {
			return st.Operation.Sync.Revision
		}
	}
	if a.Operation != nil && a.Operation.Sync != nil && isCommit(a.Operation.Sync.Revision) {
		return a.Operation.Sync.Revision
	}
	return ""
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
	t := d.T(wf.Channel)
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
		c.Note = t.S("change.note.healthy")
		hotfixLive(ctx, d, wf, c)
		if d.Prom != nil {
			if e, ok := d.Config.Env(c.Env); ok && e.WatchWindow > 0 {
				c.WatchUntil = now.Add(e.WatchWindow.D())
				return workflow.Outcome{Next: Watch, Wait: f.poll()}, nil
			}
		}
		return f.finish(ctx, wf, c, records.ResultSuccess)
	case onRevision && app.Status.Health.Status == "Degraded",
		app.Status.OperationState != nil && (app.Status.OperationState.Phase == "Failed" || app.Status.OperationState.Phase == "Error"):
		msg := app.HealthMessage()
		if app.Status.OperationState != nil && app.Status.OperationState.Message != "" {
			msg = app.Status.OperationState.Message
		}
		c.Note = t.S("change.note.degraded", "App", d.Config.AppName(c.Service, c.Env), "Health", app.Status.Health.Status, "Message", msg)
		f.reply(ctx, wf, c, "degraded", ":red_circle: "+c.Note+"\n"+t.S("change.note.diagnose_hint", "Command", d.Config.Slack.Command, "Service", c.Service, "Env", c.Env))
		return f.finish(ctx, wf, c, records.ResultFailed)
	}
	if c.SyncedAt != nil && f.now().Sub(*c.SyncedAt) > d.Config.ArgoCD.SyncTimeout.D() {
		c.Note = t.S("change.note.timed_out", "Timeout", i18n.Span(d.Config.ArgoCD.SyncTimeout.D()), "Sync", app.Status.Sync.Status, "Health", app.Status.Health.Status)
		f.reply(ctx, wf, c, "timeout", ":hourglass: "+c.Note)
		return f.finish(ctx, wf, c, records.ResultFailed)
	}
	note := t.S("change.note.rolling_out", "Sync", app.Status.Sync.Status, "Health", app.Status.Health.Status)
	if note != c.Note {
		c.Note = note
		f.refreshCard(ctx, wf, c, Rollout)
	}
	return workflow.Outcome{Wait: f.poll(), Detail: note}, nil
}

func (f *Flow) watch(ctx context.Context, wf *store.Workflow, c *Change) (workflow.Outcome, error) {
	d := f.D
	t := d.T(wf.Channel)
	before := c.Note
	ns := d.Config.Namespace(c.Service, c.Env)
	q := strings.NewReplacer("{service}", c.Service, "{namespace}", ns, "{env}", c.Env).Replace(d.Config.Prometheus.ErrorRateQuery)
	v, ok, err := d.Prom.Scalar(ctx, q, f.now())
	if err != nil {
		ref := commands.NewRef()
		d.Log.Warn("watch: Prometheus did not answer", "workflow", wf.ID, "ref", ref, "err", err)
		c.Note = t.S("change.note.prom_down", "Ref", ref)
	} else if ok {
		c.ErrorRate = &v
		if v > d.Config.Prometheus.ErrorRateThreshold && !c.Breach {
			c.Breach = true
			c.Note = t.S("change.note.breach", "Rate", t.Decimal(v*100, 2), "Threshold", t.Decimal(d.Config.Prometheus.ErrorRateThreshold*100, 2))
			f.breach(ctx, wf, c, v)
			return f.finish(ctx, wf, c, records.ResultFailed)
		}
		c.Note = t.S("change.note.monitoring", "Rate", t.Decimal(v*100, 2))
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
	t := d.T(wf.Channel)
	oncall := d.Members.Mentions(ctx, d.Config.Incidents.OnCallGroup)
	text := t.S("change.breach", "Service", c.Service, "Env", c.Env, "Rate", t.Decimal(v*100, 2), "Tag", c.Tag,
		"Threshold", t.Decimal(d.Config.Prometheus.ErrorRateThreshold*100, 2), "OnCall", oncall)
	m := chat.Message{Text: text, Blocks: []chat.Block{
		{Section: &chat.Section{Text: text}},
	}}
	if c.Previous != "" {
		m.Blocks = append(m.Blocks, chat.Block{Actions: []chat.Button{{
			Text: t.S("change.breach_rollback", "Tag", c.Previous), Action: commands.ActionRollbackStart, Style: chat.StyleDanger,
			Value: c.Service + "|" + c.Env + "|" + c.Previous, Confirm: t.S("change.breach_rollback_confirm", "Service", c.Service, "Env", c.Env, "Tag", c.Previous),
		}}})
	}
	f.replyMsg(ctx, wf, c, "breach", m)
}

// isCommit reports whether rev is a full git commit id (SHA-1 or SHA-256).
func isCommit(rev string) bool {
	if len(rev) != 40 && len(rev) != 64 {
		return false
	}
	for _, r := range rev {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}
