package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands/policy"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/github"
	"github.com/nexo-org/nexo-bot/integrations/gitops"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

// ChangeKind is the workflow kind of every GitOps change: promotions,
// hotfixes, fix-tag PRs, GitOps rollbacks and backfills share one pipeline.
const ChangeKind = "change"

// Change states, in order.
const (
	StCard     = "card"     // post the status card
	StPR       = "pr"       // push the branch, open the PR
	StApproval = "approval" // wait for approvals and gates
	StMerge    = "merge"
	StSync     = "sync"
	StRollout  = "rollout" // follow Argo CD until Synced+Healthy
	StWatch    = "watch"   // error rate after the deploy
	StDone     = "done"
	StRejected = "rejected"
	StFailed   = "failed"
)

// Change is the payload of a change workflow.
type Change struct {
	Flavor   string `json:"flavor"` // records.KindPromote, KindHotfix, KindFix, KindRollback, "backfill"
	Service  string `json:"service"`
	Env      string `json:"env"`
	Tag      string `json:"tag"`
	Previous string `json:"previous"` // the tag running before
	FromEnv  string `json:"from_env,omitempty"`
	Auto     bool   `json:"auto,omitempty"`
	Incident string `json:"incident,omitempty"`
	Reason   string `json:"reason,omitempty"`

	Branch    string   `json:"branch"`
	Subject   string   `json:"subject"` // commit subject = PR title
	Body      string   `json:"body"`    // commit body = PR body
	Labels    []string `json:"labels,omitempty"`
	Reviewers []string `json:"reviewers,omitempty"`
	Teams     []string `json:"teams,omitempty"`
	// Files overrides the values edit (e.g. a revert restores whole bytes).
	Files map[string]string `json:"files,omitempty"`

	Requester  string             `json:"requester"`
	Need       policy.Requirement `json:"need"`
	Approvals  []policy.Approval  `json:"approvals,omitempty"`
	SkipSoak   bool               `json:"skip_soak,omitempty"`
	Soak       time.Duration      `json:"soak,omitempty"` // gate in FromEnv
	AdminMerge bool               `json:"admin_merge,omitempty"`

	Changelog     []string   `json:"changelog,omitempty"`
	CommitSHAs    []string   `json:"commit_shas,omitempty"`
	FirstCommitAt *time.Time `json:"first_commit_at,omitempty"`

	PR       int    `json:"pr,omitempty"`
	PRURL    string `json:"pr_url,omitempty"`
	HeadSHA  string `json:"head_sha,omitempty"`
	MergeSHA string `json:"merge_sha,omitempty"`

	Gate        string     `json:"gate,omitempty"` // sentence for the card
	RequestedAt time.Time  `json:"requested_at"`
	ApprovedAt  *time.Time `json:"approved_at,omitempty"`
	MergedAt    *time.Time `json:"merged_at,omitempty"`
	SyncedAt    *time.Time `json:"synced_at,omitempty"`
	HealthyAt   *time.Time `json:"healthy_at,omitempty"`
	FinishedAt  *time.Time `json:"finished_at,omitempty"`
	WatchUntil  time.Time  `json:"watch_until,omitempty"`
	ErrorRate   *float64   `json:"error_rate,omitempty"`
	Breach      bool       `json:"breach,omitempty"`
	Health      string     `json:"health,omitempty"`
	Note        string     `json:"note,omitempty"` // last notable event, for the card
	RejectedBy  string     `json:"rejected_by,omitempty"`
	RejectWhy   string     `json:"reject_why,omitempty"`
	Result      string     `json:"result,omitempty"`
}

// ChangeFlow runs change workflows.
type ChangeFlow struct {
	D *Deps
	// PollEvery is how often Argo CD and Prometheus are polled.
	PollEvery time.Duration
	// OnFinished is called once when a change reaches a final state (hooks:
	// post-hotfix backfill buttons, incident timelines).
	OnFinished []func(ctx context.Context, wf *store.Workflow, c *Change)
}

// Kind implements workflow.Definition.
func (f *ChangeFlow) Kind() string { return ChangeKind }

// LockKey is the lock shared by every change of one service and env.
func LockKey(service, env string) string { return "deploy/" + service + "/" + env }

// Step implements workflow.Definition.
func (f *ChangeFlow) Step(ctx context.Context, wf *store.Workflow) (workflow.Outcome, error) {
	c, err := workflow.Decode[Change](wf)
	if err != nil {
		return workflow.Outcome{}, workflow.Permanent(err)
	}
	var out workflow.Outcome
	switch wf.State {
	case StCard:
		out, err = f.card(ctx, wf, &c)
	case StPR:
		out, err = f.pr(ctx, wf, &c)
	case StApproval:
		out, err = f.approval(ctx, wf, &c)
	case StMerge:
		out, err = f.merge(ctx, wf, &c)
	case StSync:
		out, err = f.sync(ctx, wf, &c)
	case StRollout:
		out, err = f.rollout(ctx, wf, &c)
	case StWatch:
		out, err = f.watch(ctx, wf, &c)
	case StRejected:
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
		for _, h := range f.OnFinished {
			h(ctx, wf, &c)
		}
	}
	return out, err
}

func (f *ChangeFlow) now() time.Time { return f.D.Clock().Now() }

func (f *ChangeFlow) poll() time.Duration {
	if f.PollEvery > 0 {
		return f.PollEvery
	}
	return 10 * time.Second
}

// card posts the status card (the thread parent).
func (f *ChangeFlow) card(ctx context.Context, wf *store.Workflow, c *Change) (workflow.Outcome, error) {
	if wf.CardTS == "" {
		ts, err := PostOnce(ctx, f.D, wf.ID, "card", wf.Channel, "", ChangeCard(f.D, wf.ID, c, StPR))
		if err != nil {
			return workflow.Outcome{}, err
		}
		wf.CardTS, wf.ThreadTS = ts, ts
	}
	return workflow.Outcome{Next: StPR}, nil
}

// pr pushes the branch with the values edit and ensures the PR.
func (f *ChangeFlow) pr(ctx context.Context, wf *store.Workflow, c *Change) (workflow.Outcome, error) {
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
			return workflow.Outcome{}, workflow.Permanent(Refusalf("%s in %s already runs `%s` in git; nothing to change.", c.Service, c.Env, c.Tag))
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
	c.Note = fmt.Sprintf("PR <%s|#%d> opened", pr.URL, pr.Number)
	return workflow.Outcome{Next: StApproval, Detail: fmt.Sprintf("PR #%d", pr.Number)}, nil
}

// approval waits for the approvals and the soak gate.
func (f *ChangeFlow) approval(ctx context.Context, wf *store.Workflow, c *Change) (workflow.Outcome, error) {
	now := f.now()
	dec := policy.Evaluate(c.Need, c.Approvals)
	gateOpen, opensAt := true, time.Time{}
	c.Gate = ""
	if c.Soak > 0 && c.FromEnv != "" && !c.SkipSoak {
		since, err := HealthySince(ctx, f.D, c.Service, c.FromEnv, c.Tag)
		if err != nil {
			return workflow.Outcome{}, err
		}
		g := policy.Gate{Env: c.FromEnv, Tag: c.Tag, Soak: c.Soak, HealthySince: since}
		var why string
		gateOpen, opensAt, why = g.Open(now)
		if !gateOpen {
			c.Gate = why
		}
	}
	if !dec.Satisfied || !gateOpen {
		before := c.Note
		c.Note = waitingNote(dec, c.Gate)
		if before != c.Note {
			f.refreshCard(ctx, wf, c, StApproval)
		}
		switch {
		case !gateOpen && !opensAt.IsZero():
			return workflow.Outcome{Until: opensAt, Detail: c.Note}, nil
		case !gateOpen:
			return workflow.Outcome{Wait: time.Minute, Detail: c.Note}, nil
		}
		return workflow.Outcome{Park: true, Detail: c.Note}, nil
	}
	if c.ApprovedAt == nil {
		c.ApprovedAt = &now
	}
	if len(dec.Counted) > 0 {
		c.Note = "approved by " + mentions(dec.Counted)
	}
	return workflow.Outcome{Next: StMerge}, nil
}

func waitingNote(dec policy.Decision, gate string) string {
	var parts []string
	if !dec.Satisfied {
		parts = append(parts, "waiting for "+dec.Missing)
	}
	if gate != "" {
		parts = append(parts, "gate: "+gate)
	}
	return strings.Join(parts, " · ")
}

func (f *ChangeFlow) merge(ctx context.Context, wf *store.Workflow, c *Change) (workflow.Outcome, error) {
	d := f.D
	sha, err := d.GitHub.MergePR(ctx, c.PR, d.Config.GitHub.MergeMethod, c.Subject, MergeMessage(c), c.HeadSHA)
	var blocked *github.MergeBlockedError
	if errors.As(err, &blocked) {
		c.Note = fmt.Sprintf("GitHub refused the merge: %q. Fix the branch protection or merge <%s|#%d> by hand; nexo continues once it is merged.", blocked.Message, c.PRURL, c.PR)
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
	c.Note = fmt.Sprintf("merged as `%s`", short(sha))
	_ = d.GitOps.DeleteBranch(ctx, c.Branch)
	return workflow.Outcome{Next: StSync}, nil
}

func (f *ChangeFlow) sync(ctx context.Context, wf *store.Workflow, c *Change) (workflow.Outcome, error) {
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
	// status.sync.revision is the git revision Argo CD compared with (the
	// target's), deployed or not: only Synced means it runs.
	already := (cur.Status.Sync.Status == "Synced" && f.carriesChange(ctx, c, cur.Status.Sync.Revision)) ||
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
	return workflow.Outcome{Next: StRollout, Wait: f.poll()}, nil
}

// carriesChange reports whether a GitOps revision deploys this change: it is
// the merge commit, or a later one whose values file has the change's tag.
func (f *ChangeFlow) carriesChange(ctx context.Context, c *Change, rev string) bool {
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

func (f *ChangeFlow) rollout(ctx context.Context, wf *store.Workflow, c *Change) (workflow.Outcome, error) {
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
				return workflow.Outcome{Next: StWatch, Wait: f.poll()}, nil
			}
		}
		return f.finish(ctx, wf, c, records.ResultSuccess)
	case onRevision && app.Status.Health.Status == "Degraded",
		app.Status.OperationState != nil && (app.Status.OperationState.Phase == "Failed" || app.Status.OperationState.Phase == "Error"):
		msg := app.HealthMessage()
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
		f.refreshCard(ctx, wf, c, StRollout)
	}
	return workflow.Outcome{Wait: f.poll(), Detail: note}, nil
}

func (f *ChangeFlow) watch(ctx context.Context, wf *store.Workflow, c *Change) (workflow.Outcome, error) {
	d := f.D
	before := c.Note
	ns := d.Config.Namespace(c.Service, c.Env)
	q := strings.NewReplacer("{service}", c.Service, "{namespace}", ns, "{env}", c.Env).Replace(d.Config.Prometheus.ErrorRateQuery)
	v, ok, err := d.Prom.Scalar(ctx, q, f.now())
	if err != nil {
		c.Note = "monitoring: Prometheus did not answer (" + clip(err.Error(), 80) + ")"
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
		f.refreshCard(ctx, wf, c, StWatch)
	}
	return workflow.Outcome{Wait: min(f.poll()*3, time.Until(c.WatchUntil)+time.Second), Detail: "monitoring"}, nil
}

func (f *ChangeFlow) breach(ctx context.Context, wf *store.Workflow, c *Change, v float64) {
	d := f.D
	oncall := d.Members.Mentions(ctx, d.Config.Incidents.OnCallGroup)
	text := fmt.Sprintf(":rotating_light: %s error rate in %s is *%.2f%%* after `%s` (threshold %.2f%%). %s",
		c.Service, c.Env, v*100, c.Tag, d.Config.Prometheus.ErrorRateThreshold*100, oncall)
	m := chat.Message{Text: text, Blocks: []chat.Block{
		{Section: &chat.Section{Text: text}},
	}}
	if c.Previous != "" {
		m.Blocks = append(m.Blocks, chat.Block{Actions: []chat.Button{{
			Text: "Roll back to " + c.Previous, Action: "rollback.start", Style: chat.StyleDanger,
			Value: c.Service + "|" + c.Env + "|" + c.Previous, Confirm: "Roll " + c.Service + " in " + c.Env + " back to " + c.Previous + "?",
		}}})
	}
	f.replyMsg(ctx, wf, c, "breach", m)
}

func (f *ChangeFlow) rejected(ctx context.Context, wf *store.Workflow, c *Change) (workflow.Outcome, error) {
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
	return workflow.Outcome{Done: true, Next: StRejected}, nil
}

func (f *ChangeFlow) finish(ctx context.Context, wf *store.Workflow, c *Change, result string) (workflow.Outcome, error) {
	now := f.now()
	c.FinishedAt = &now
	c.Result = result
	next := StDone
	if result == records.ResultFailed {
		next = StFailed
	}
	if result == records.ResultSuccess {
		f.reply(ctx, wf, c, "done", fmt.Sprintf(":white_check_mark: %s `%s` is live in %s.", c.Service, c.Tag, c.Env))
	}
	return workflow.Outcome{Next: next, Done: true}, nil
}

// Failed implements workflow.Failer.
func (f *ChangeFlow) Failed(ctx context.Context, wf *store.Workflow, err error) {
	c, derr := workflow.Decode[Change](wf)
	if derr != nil {
		return
	}
	now := f.now()
	c.FinishedAt = &now
	c.Result = records.ResultFailed
	var ref *RefusalError
	if errors.As(err, &ref) {
		c.Note = ref.Text
	} else {
		c.Note = "failed: " + clip(err.Error(), 300)
	}
	_ = workflow.Encode(wf, c)
	f.refreshCard(ctx, wf, &c, StFailed)
	f.reply(ctx, wf, &c, "failed", ":x: "+c.Note)
	_ = f.record(ctx, wf, &c)
	_ = f.D.Store.UpdateWorkflow(ctx, wf)
	for _, h := range f.OnFinished {
		h(ctx, wf, &c)
	}
}

// Retrying implements workflow.Retrier: say in the thread what we wait for.
func (f *ChangeFlow) Retrying(ctx context.Context, wf *store.Workflow, attempt int, err error) {
	if attempt != 3 {
		return
	}
	c, derr := workflow.Decode[Change](wf)
	if derr != nil {
		return
	}
	f.reply(ctx, wf, &c, "retry-"+wf.State, fmt.Sprintf(":hourglass_flowing_sand: Still trying to %s: %s. nexo keeps retrying.", stateVerb(wf.State), clip(err.Error(), 200)))
}

func stateVerb(s string) string {
	switch s {
	case StPR:
		return "open the pull request"
	case StMerge:
		return "merge the pull request"
	case StSync, StRollout:
		return "reach Argo CD"
	case StWatch:
		return "read the error rate"
	}
	return s
}

func (f *ChangeFlow) refreshCard(ctx context.Context, wf *store.Workflow, c *Change, state string) {
	if wf.CardTS == "" {
		return
	}
	f.D.Cards().Update(wf.Channel, wf.CardTS, ChangeCard(f.D, wf.ID, c, state))
}

func (f *ChangeFlow) reply(ctx context.Context, wf *store.Workflow, c *Change, key, text string) {
	f.replyMsg(ctx, wf, c, key, chat.Message{Text: text})
}

// replyMsg posts a thread reply once per key.
func (f *ChangeFlow) replyMsg(ctx context.Context, wf *store.Workflow, c *Change, key string, m chat.Message) {
	ThreadReply(ctx, f.D, wf, key, m)
}

// ThreadReply posts a reply in a workflow's thread once per key, however
// often the step that posts it runs.
func ThreadReply(ctx context.Context, d *Deps, wf *store.Workflow, key string, m chat.Message) {
	if _, err := PostOnce(ctx, d, wf.ID, "reply-"+key, wf.Channel, wf.ThreadTS, m); err != nil {
		d.Log.Warn("thread reply", "workflow", wf.ID, "err", err)
	}
}

// record writes the deployment record (DORA's memory).
func (f *ChangeFlow) record(ctx context.Context, wf *store.Workflow, c *Change) error {
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

// HealthySince is when tag became Healthy in env: from nexo's deployment
// records first, else from Argo CD (the app runs the tag and is Healthy since
// its last deploy). Zero when it is not Healthy there on that tag.
func HealthySince(ctx context.Context, d *Deps, service, env, tag string) (time.Time, error) {
	var since time.Time
	docs, err := d.Store.ListDocs(ctx, records.DeploymentsCollection)
	if err != nil {
		return since, err
	}
	var latest *records.Deployment
	for _, doc := range docs {
		var dep records.Deployment
		if doc.Decode(&dep) != nil || dep.Service != service || dep.Env != env || dep.Result != records.ResultSuccess {
			continue
		}
		if latest == nil || dep.DeployedAt().After(latest.DeployedAt()) {
			dd := dep
			latest = &dd
		}
	}
	if d.ArgoCD == nil {
		if latest != nil && latest.Tag == tag && latest.HealthyAt != nil {
			return *latest.HealthyAt, nil
		}
		return since, nil
	}
	app, err := d.ArgoCD.GetApp(ctx, d.Config.AppName(service, env), "")
	if err != nil {
		return since, err
	}
	if app.Status.Health.Status != "Healthy" || !runsTag(app, tag) {
		return since, nil
	}
	if latest != nil && latest.Tag == tag && latest.HealthyAt != nil {
		return *latest.HealthyAt, nil
	}
	if h := LastHistory(app); h != nil {
		return h.DeployedAt, nil
	}
	return since, nil
}

// runsTag reports whether an app's images carry tag (any image ending in :tag).
func runsTag(app *argocd.Application, tag string) bool {
	for _, img := range app.Status.Summary.Images {
		if strings.HasSuffix(img, ":"+tag) {
			return true
		}
	}
	return false
}

func mentions(users []string) string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = chat.Mention(u)
	}
	return strings.Join(out, ", ")
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// startChange encodes a change as a workflow of the change pipeline (id
// prefix idKind) on the service/env lock and starts it; a held lock is a
// refusal naming the open change.
func startChange(ctx context.Context, d *Deps, idKind string, c Change, channel string) (*store.Workflow, error) {
	if channel == "" {
		channel = d.Config.ServiceChannel(c.Service)
	}
	wf := &store.Workflow{ID: workflow.NewID(idKind), Kind: ChangeKind, LockKey: LockKey(c.Service, c.Env), State: StCard, Channel: channel, CreatedBy: c.Requester}
	if err := workflow.Encode(wf, c); err != nil {
		return nil, err
	}
	if err := startLocked(ctx, d, wf, c.Service, c.Env); err != nil {
		return nil, err
	}
	return wf, nil
}

// RequireImage refuses a tag that does not exist in the service's image
// repository (HEAD /v2/<repo>/manifests/<tag>). Without a registry
// configured it lets the tag through.
func RequireImage(ctx context.Context, d *Deps, service, tag string) error {
	if d.Registry == nil {
		return nil
	}
	repo := d.Config.ImageRepository(service)
	ok, err := d.Registry.TagExists(ctx, repo, tag)
	if err != nil {
		return fmt.Errorf("asking the registry about %s:%s: %w", repo, tag, err)
	}
	if !ok {
		return Refusalf("The image `%s:%s` does not exist in the registry.", repo, tag)
	}
	return nil
}

// MergeMessage is the merge commit's body: the PR body with the approvers
// filled in, as the playbook's "Approved by:" / "Reviewed-by:" lines.
func MergeMessage(c *Change) string {
	var who []string
	for _, a := range policy.Evaluate(c.Need, c.Approvals).Counted {
		who = append(who, "@"+a)
	}
	approved := "Approved by: " + strings.Join(who, " ") + " (Slack)"
	if len(who) == 0 {
		approved = "Approved by: not required in " + c.Env
	}
	const placeholder = "Approved by: (filled in when approved in Slack)"
	if strings.Contains(c.Body, placeholder) {
		return strings.Replace(c.Body, placeholder, approved, 1)
	}
	return strings.TrimRight(c.Body, "\n") + "\n\n" + approved + "\n"
}
