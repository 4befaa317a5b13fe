package change

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/policy"
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
		ts, err := commands.PostOnce(ctx, f.D, wf.ID, "card", wf.Channel, "", RenderCard(f.D, wf.ID, c, PR))
		if err != nil {
			return workflow.Outcome{}, err
		}
		wf.CardTS, wf.ThreadTS = ts, ts
	}
	return workflow.Outcome{Next: PR}, nil
}

// pr pushes the branch with the values edit and ensures the PR.
func (f *Flow) pr(ctx context.Context, wf *store.Workflow, c *Change) (workflow.Outcome, error) {
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
			return workflow.Outcome{}, workflow.Permanent(commands.Refusalf("%s in %s already runs `%s` in git; nothing to change.", c.Service, c.Env, c.Tag))
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
	return workflow.Outcome{Next: Approval, Detail: fmt.Sprintf("PR #%d", pr.Number)}, nil
}

// approval waits for the approvals and the soak gate.
func (f *Flow) approval(ctx context.Context, wf *store.Workflow, c *Change) (workflow.Outcome, error) {
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
	if c.ApprovedAt == nil {
		c.ApprovedAt = &now
	}
	if len(dec.Counted) > 0 {
		c.Note = "approved by " + commands.Mentions(dec.Counted)
	}
	return workflow.Outcome{Next: Merge}, nil
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

func (f *Flow) merge(ctx context.Context, wf *store.Workflow, c *Change) (workflow.Outcome, error) {
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
	c.Note = fmt.Sprintf("merged as `%s`", commands.ShortSHA(sha))
	_ = d.GitOps.DeleteBranch(ctx, c.Branch)
	return workflow.Outcome{Next: Sync}, nil
}
