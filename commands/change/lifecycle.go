package change

import (
	"context"
	"fmt"
	"slices"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

// lifecycle is commands.Lifecycle for changes: how a promotion, hotfix,
// fix, backfill or GitOps revert is described, superseded and cancelled.
type lifecycle struct{ f *Flow }

// Describe implements commands.Lifecycle.
func (l lifecycle) Describe(wf *store.Workflow) (commands.Described, error) {
	c, err := workflow.Decode[Change](wf)
	if err != nil {
		return commands.Described{}, err
	}
	return commands.Described{
		Service: c.Service, Env: c.Env, What: What(&c),
		Requester: c.Requester, ApproverGroup: c.Need.Group,
		Emergency: c.Flavor == records.KindHotfix || c.Flavor == records.KindRollback,
		Merged:    c.MergedAt != nil || slices.Contains([]string{Sync, Rollout, Watch}, wf.State),
	}, nil
}

// What names a change for people: "promotion of nexo-fe to production `2026.02.12`".
func What(c *Change) i18n.Msg {
	return i18n.M("change.what."+noun(c.Flavor), "Service", c.Service, "Env", c.Env, "Tag", c.Tag)
}

// noun is a flavour's word in the catalog's ids (change.what.<noun>,
// change.card.title.<noun>, change.flavor.<noun>).
func noun(flavor string) string {
	switch flavor {
	case records.KindHotfix, records.KindRollback, records.KindFix, "backfill":
		return flavor
	}
	return "promotion"
}

// End implements commands.Lifecycle. A change not merged has its PR
// closed with a comment saying why and its branch deleted; one whose merge
// step merged on GitHub but stopped before saving it counts as merged. A
// merged change just stops being followed: its watch and SLA timers are
// dropped, its record keeps the result, its card and thread say so.
func (l lifecycle) End(ctx context.Context, wf *store.Workflow, e commands.Ending) error {
	f, d := l.f, l.f.D
	c, err := workflow.Decode[Change](wf)
	if err != nil {
		return err
	}
	if c.MergedAt == nil && wf.State == Merge && c.PR > 0 && d.GitHub != nil {
		if pr, err := d.GitHub.GetPR(ctx, c.PR); err == nil && pr.Merged {
			now := f.now()
			c.MergeSHA, c.MergedAt = pr.MergeSHA, &now
		}
	}
	t := d.T(wf.Channel)
	done := t.S("change.note.nothing_deployed")
	if c.MergedAt != nil {
		done = t.S("change.note.merged_stays", "Tag", c.Tag, "SHA", commands.ShortSHA(c.MergeSHA))
	} else {
		if c.PR > 0 && d.GitHub != nil {
			if err := d.GitHub.ClosePR(ctx, c.PR, e.Markdown()); err != nil {
				return err
			}
			done = t.S("change.note.pr_closed", "URL", c.PRURL, "Number", c.PR, "Branch", c.Branch)
		}
		if d.GitOps != nil {
			if err := d.GitOps.DeleteBranch(ctx, c.Branch); err != nil {
				return err
			}
		}
	}
	for i := range d.Config.Hotfix.Reminders {
		_ = d.Store.CancelTimer(ctx, fmt.Sprintf("%s/remind/%d", wf.ID, i))
	}
	_ = d.Store.CancelTimer(ctx, wf.ID+"/page")
	now := f.now()
	c.Result, c.FinishedAt = e.Result, &now
	c.Note = e.Sentence(t) + " — " + done
	if err := commands.SaveEnded(ctx, d, wf, e, func(wf *store.Workflow) error { return workflow.Encode(wf, c) }); err != nil {
		return err
	}
	if err := f.record(ctx, wf, &c); err != nil {
		return err
	}
	f.refreshCard(ctx, wf, &c, wf.State)
	icon := ":fast_forward:"
	if e.Result == commands.ResultCancelled {
		icon = ":stop_sign:"
	}
	f.reply(ctx, wf, &c, "ended", icon+" "+commands.TitleCase(c.Note))
	f.finished(ctx, wf, &c)
	return nil
}
