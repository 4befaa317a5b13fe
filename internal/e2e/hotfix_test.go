package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands/change"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopstest"
	"github.com/nexo-org/nexo-bot/integrations/promfake"
)

func threadReplies(e *Env, parentTS string, words ...string) int {
	n := 0
	for _, m := range e.Slack.Messages(Channel) {
		if m.ThreadTS == parentTS && m.TS != parentTS && containsAll(Content(m), words) {
			n++
		}
	}
	return n
}

// Scenario 2: straight to production, SRE approvals under a 15-minute SLA,
// a merge blocked by branch protection, recovery figures, backfill; in
// each locale.
func TestHotfixFastTrack(t *testing.T) {
	EachLocale(t, hotfixFastTrack)
}

func hotfixFastTrack(t *testing.T, locale string) {
	prom := promfake.New()
	defer prom.Close()
	prom.Set(0.001)
	e := New(t, Options{PrometheusURL: prom.URL(), Locale: locale})
	const tag = "2026.02.17-hotfix"
	e.Command(Carol, `hotfix nexo-be 2026.02.17-hotfix --reason "connection pool exhaustion"`)
	e.Ephemeral(Carol, e.Words("change.hotfix.needs_incident")...)
	e.Command(Carol, `hotfix nexo-be 2026.02.17-hotfix --incident 456 --reason "connection pool exhaustion"`)
	card := e.WaitFind(e.Words("change.card.title.hotfix", "Service", "nexo-be", "Env", "production", "Tag", tag)...)
	wf := onlyChange(t, e, "nexo-be", "production")
	e.Eventually("the PR", time.Second, 20, func() bool { st, _ := changeState(t, e, wf.ID); return st == change.Approval })
	_, c := changeState(t, e, wf.ID)
	pr := e.PR(c.PR)
	if pr.Head != "hotfix/prod-2026.02.17-hotfix" || strings.Join(pr.Labels, ",") != "hotfix,P0" ||
		!strings.HasPrefix(pr.Title, "hotfix(nexo-be): production → 2026.02.17-hotfix") || !strings.Contains(pr.Body, "URGENT: P0 incident #456") {
		t.Fatalf("hotfix PR: %+v", pr)
	}
	// The SLA: reminders at 5 and 10 minutes, then on-call at 15.
	waited := e.Words("change.hotfix.remind", "Service", "nexo-be", "Tag", tag)
	e.Eventually("first reminder", time.Minute, 6, func() bool { return threadReplies(e, card.TS, waited...) == 1 })
	e.Eventually("second reminder", time.Minute, 6, func() bool { return threadReplies(e, card.TS, waited...) == 2 })
	past := e.Words("change.hotfix.past_sla", "Service", "nexo-be", "Tag", tag, "SLA", e.Cat.Duration(15*time.Minute))
	e.Eventually("the SLA page", time.Minute, 6, func() bool { return threadReplies(e, card.TS, past...) == 1 })

	// Branch protection refuses the merge: the thread quotes GitHub.
	e.GitHub.BlockMerges(405, "At least 2 approving reviews are required by reviewers with write access.")
	e.Click(Alice, card, "change.approve")
	e.Click(Bob, card, "change.approve")
	e.Eventually("the refusal in the thread", time.Second, 20, func() bool {
		return threadReplies(e, card.TS, append(e.Words("change.note.merge_blocked", "Number", c.PR), "At least 2 approving reviews")...) == 1
	})
	e.GitHub.BlockMerges(0, "")
	e.Eventually("hotfix live", 30*time.Second, 150, func() bool { st, _ := changeState(t, e, wf.ID); return st == change.Done })
	if got := e.Remote.File(t, "main", "helm/nexo-be/values-prod.yaml"); !strings.Contains(got, `tag: "2026.02.17-hotfix"`) {
		t.Fatalf("values-prod.yaml:\n%s", got)
	}
	msg := gitopstest.GitOut(t, e.Remote.Path, nil, "log", "-1", "--format=%B", "main")
	if !strings.HasPrefix(msg, "hotfix(nexo-be): production → 2026.02.17-hotfix (connection pool exhaustion)") ||
		!strings.Contains(msg, "URGENT: P0 incident #456") || !strings.Contains(msg, "Approved by: @U0") || !strings.Contains(msg, "@U0ALICE01") || !strings.Contains(msg, "@U0BOB0001") {
		t.Fatalf("merge commit message:\n%s", msg)
	}
	backfill := e.WaitFind(append(append(e.Words("change.hotfix.live", "Tag", tag, "Env", "production"), e.Words("change.hotfix.recovery_error_rate")...),
		e.Words("change.hotfix.backfill_button", "Env", "staging")...)...)
	var dep records.Deployment
	if err := e.Store.GetDoc(context.Background(), records.DeploymentsCollection, wf.ID, &dep); err != nil || dep.Kind != records.KindHotfix || dep.Incident != "456" {
		t.Fatalf("hotfix deployment: %+v %v", dep, err)
	}
	// No more reminders once approved.
	if n := threadReplies(e, card.TS, waited...); n != 2 {
		t.Fatalf("%d reminders", n)
	}
	// Backfill staging: an ordinary promotion of the same tag, no soak gate.
	e.Click(Carol, backfill, "hotfix.backfill")
	e.Ephemeral(Carol, e.Words("change.hotfix.backfill_started", "Tag", tag, "Env", "staging")...)
	bf := onlyChange(t, e, "nexo-be", "staging")
	var b change.Change
	Decode(t, bf, &b)
	if b.Flavor != "backfill" || b.Tag != "2026.02.17-hotfix" || b.Soak != 0 || b.Need.Approvals != 1 {
		t.Fatalf("backfill: %+v", b)
	}
}
