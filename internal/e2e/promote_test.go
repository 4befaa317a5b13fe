package e2e

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/bot/slackfake"
	"github.com/nexo-org/nexo-bot/commands/change"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopstest"
	"github.com/nexo-org/nexo-bot/integrations/promfake"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

func changeState(t testing.TB, e *Env, id string) (string, change.Change) {
	wf, err := e.Store.GetWorkflow(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var c change.Change
	Decode(t, wf, &c)
	return wf.State, c
}

func onlyChange(t testing.TB, e *Env, service, env string) *store.Workflow {
	t.Helper()
	var found *store.Workflow
	ok := e.Slack.WaitFor(func() bool {
		for _, wf := range e.Workflows(change.Kind) {
			var c change.Change
			Decode(t, wf, &c)
			if c.Service == service && c.Env == env {
				found = wf
				return true
			}
		}
		return false
	}, 10*time.Second)
	if !ok {
		t.Fatalf("no change workflow for %s/%s", service, env)
	}
	return found
}

// promoteStaging walks the playbook's step 13–15: promote nexo-be to
// staging, platform-team approval, 30 min soak in qa, merge, sync, Healthy.
func promoteStaging(t *testing.T, e *Env) {
	e.Command(Carol, "promote nexo-be stg")
	card := e.WaitFind(promoteCardWords(e, "staging", "2026.02.17")...)
	wf := onlyChange(t, e, "nexo-be", "staging")
	e.Eventually("the PR", time.Second, 20, func() bool { st, _ := changeState(t, e, wf.ID); return st == change.Approval })

	// The requester's own approval does not count.
	e.Click(Carol, card, "change.approve")
	e.Ephemeral(Carol, e.Words("policy.own_approval")...)
	// An SRE is not platform-team: refused, naming who can approve.
	e.Click(Alice, card, "change.approve")
	e.Ephemeral(Alice, e.Words("policy.only_members_of", "Group", "platform-team")...)
	e.Click(Platf, card, "change.approve")
	e.Click(Platf, card, "change.approve") // counts once
	// qa has run 2026.02.17 since the start: the 30m soak gate opens at +30m.
	e.Eventually("the qa soak gate", time.Minute, 60, func() bool { st, _ := changeState(t, e, wf.ID); return st != change.Approval })
	e.Eventually("staging Healthy", 10*time.Second, 100, func() bool {
		st, c := changeState(t, e, wf.ID)
		return st == change.Done && c.Result == records.ResultSuccess
	})
	_, c := changeState(t, e, wf.ID)
	if len(c.Approvals) != 1 || c.HealthyAt == nil || c.ApprovedAt == nil || c.ApprovedAt.Sub(Start) < 30*time.Minute {
		t.Fatalf("approvals %d, healthy %v, approved %v", len(c.Approvals), c.HealthyAt, c.ApprovedAt)
	}
	if got := e.Remote.File(t, "main", "helm/nexo-be/values-staging.yaml"); got != gitopstest.PlaybookValues("nexo-be", "staging", "2026.02.17") {
		t.Fatalf("values-staging.yaml after merge:\n%s", got)
	}
}

// Playbook scenario 1 through the thread, in each locale: the card, the
// approvals and the gate speak the channel's language, the git texts keep
// the playbook's form.
func TestPromoteToProductionThroughTheThread(t *testing.T) {
	EachLocale(t, promoteToProductionThroughTheThread)
}

func promoteToProductionThroughTheThread(t *testing.T, locale string) {
	prom := promfake.New()
	defer prom.Close()
	prom.Set(0.002)
	e := New(t, Options{PrometheusURL: prom.URL(), Locale: locale})
	before := e.Remote.File(t, "main", "helm/nexo-be/values-prod.yaml")

	promoteStaging(t, e)

	// Production: 2 sre-team approvals, and 24h Healthy in staging.
	slackBefore, ghBefore, argoBefore := slackCallCounts(e), len(e.GitHub.Calls()), len(e.Argo.Calls())
	e.Command(Carol, "promote nexo-be production")
	card := e.WaitFind(promoteCardWords(e, "production", "2026.02.17")...)
	wf := onlyChange(t, e, "nexo-be", "production")
	e.Eventually("the PR", time.Second, 20, func() bool { st, _ := changeState(t, e, wf.ID); return st == change.Approval })
	e.Click(Carol, card, "change.approve")
	e.Ephemeral(Carol, e.Words("policy.own_approval")...)
	e.Click(Alice, card, "change.approve")
	e.Click(Bob, card, "change.approve")
	// Approved, but the gate is closed: staging has been Healthy for minutes.
	e.Eventually("the gate sentence", time.Second, 10, func() bool {
		m, _ := e.Slack.Message(card.Channel, card.TS)
		return containsAll(Content(m), e.Words("policy.gate.closed", "Tag", "2026.02.17", "Env", "staging"))
	})
	if st, _ := changeState(t, e, wf.ID); st != change.Approval {
		t.Fatalf("merged before the soak: %s", st)
	}
	// A day later the gate opens; then merge, sync, Healthy, 30 min watch.
	e.Eventually("the soak gate", time.Hour, 30, func() bool { st, _ := changeState(t, e, wf.ID); return st != change.Approval })
	if now := e.Clock.Now(); now.Before(Start.Add(24 * time.Hour)) {
		t.Fatalf("merged at %s, before staging's 24h soak", now)
	}
	e.Eventually("production done", 30*time.Second, 200, func() bool { st, _ := changeState(t, e, wf.ID); return st == change.Done })

	_, c := changeState(t, e, wf.ID)
	after := e.Remote.File(t, "main", "helm/nexo-be/values-prod.yaml")
	want := strings.Replace(before, `tag: "2026.02.10"`, `tag: "2026.02.17"`, 1)
	if after != want || after == before {
		t.Fatalf("values-prod.yaml bytes:\n%s\nwant:\n%s", after, want)
	}
	pr := e.PR(c.PR)
	if !pr.Merged || !has(pr.Labels, "production-deploy") || !has(pr.Teams, "nexo-sre-team") {
		t.Fatalf("PR: %+v", pr)
	}
	if pr.Title != "promote(nexo-be): production → 2026.02.17" || !strings.Contains(pr.Body, "## Rollback Plan") || !strings.Contains(pr.Body, "Previous version: 2026.02.10") ||
		!strings.Contains(pr.Body, "## Changelog\n- feat(nexo-be): adiciona webhook de pagamentos\n- fix: Validação de signature\n- perf: Otimização de queries\n") ||
		!strings.Contains(pr.Body, "## Validation\n- ✅ Staging stable for 24h") {
		t.Fatalf("PR title/body: %q\n%s", pr.Title, pr.Body)
	}
	// The body tells the config's timezone (America/Sao_Paulo), in every locale.
	if !regexp.MustCompile(`\nRequested-by: ` + regexp.QuoteMeta(Carol) + ` via nexo at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-03:00\n`).MatchString(pr.Body) {
		t.Fatalf("PR body's time is not in the config's timezone:\n%s", pr.Body)
	}
	var final slackfake.Message
	e.Slack.WaitFor(func() bool {
		final, _ = e.Slack.Message(card.Channel, card.TS)
		return containsAll(Content(final), e.Words("change.card.status.done"))
	}, 5*time.Second)
	text := Content(final)
	// The error rate with the locale's decimal separator: 0.20% / 0,20%.
	for _, w := range append(append(e.Words("change.card.status.done"), e.Words("change.card.error_rate", "Rate", e.Cat.Decimal(0.2, 2))...), "2/2", "<@U0ALICE01>", "<@U0BOB0001>") {
		if !strings.Contains(text, w) {
			t.Errorf("final card lacks %q:\n%s", w, text)
		}
	}
	if strings.Contains(text, "change.approve") {
		t.Error("the final card still has the Approve button")
	}
	var dep records.Deployment
	if err := e.Store.GetDoc(context.Background(), records.DeploymentsCollection, wf.ID, &dep); err != nil {
		t.Fatal(err)
	}
	if dep.Tag != "2026.02.17" || dep.Previous != "2026.02.10" || dep.Result != records.ResultSuccess || dep.Requester != Carol ||
		len(dep.Approvers) != 2 || len(dep.CommitSHAs) != 3 || dep.FirstCommitAt == nil || dep.MergedAt == nil || dep.HealthyAt == nil || dep.GitOpsSHA == "" || dep.ApprovedAt == nil {
		t.Fatalf("deployment record: %+v", dep)
	}
	qs := prom.Queries()
	if len(qs) == 0 || !strings.Contains(qs[len(qs)-1], `service="nexo-be"`) || !strings.Contains(qs[len(qs)-1], `namespace="nexo-production"`) {
		t.Fatalf("PromQL: %q", prom.Queries())
	}
	// The audit log has the request and every approval and refusal.
	audit, _ := e.Store.ListAudit(context.Background(), store.AuditFilter{Service: "nexo-be"})
	refused := 0
	for _, a := range audit {
		if a.Outcome == "refused" {
			refused++
		}
	}
	if len(audit) < 6 || refused < 3 {
		t.Fatalf("audit: %+v", audit)
	}
	slackAfter := slackCallCounts(e)
	for m := range slackAfter {
		slackAfter[m] -= slackBefore[m]
	}
	var gh []string
	for _, c := range e.GitHub.Calls()[ghBefore:] {
		gh = append(gh, c.Method+" "+c.Path)
	}
	t.Logf("one production promotion: Slack %v; GitHub %d: %v; Argo CD %d", slackAfter, len(gh), gh, len(e.Argo.Calls())-argoBefore)
}

func TestSecondPromotionOfTheSameEnvGetsALink(t *testing.T) {
	EachLocale(t, secondPromotionOfTheSameEnvGetsALink)
}

func secondPromotionOfTheSameEnvGetsALink(t *testing.T, locale string) {
	e := New(t, Options{Locale: locale})
	e.Command(Carol, "promote nexo-be staging")
	e.WaitFind(promoteCardWords(e, "staging", "2026.02.17")...)
	e.Command(Platf, "promote nexo-be staging 2026.02.18")
	e.Ephemeral(Platf, e.Words("core.start.locked", "Service", "nexo-be", "Env", "staging")...)
	// Another service proceeds in parallel.
	e.Command(Carol, "promote nexo-fe staging")
	e.WaitFind(e.Words("change.card.title.promotion", "Service", "nexo-fe", "Env", "staging")...)
	// Bad input changes nothing.
	e.Command(Carol, "promote nexo-bee staging")
	e.Ephemeral(Carol, append(e.Words("core.resolve.unknown_service", "Name", "nexo-bee"), "`nexo-be`")...)
	e.Command(Carol, "promote nexo-be production 2026.13.01")
	e.Ephemeral(Carol, e.Words("core.resolve.bad_tag", "Tag", "2026.13.01")...)
	e.Command(Carol, "promote nexo-be production 2026.03.01")
	e.Ephemeral(Carol, e.Words("core.no_such_image", "Tag", "2026.03.01")...)
	e.Command(Carol, "promote nexo-be qa 2026.02.17")
	e.Ephemeral(Carol, e.Words("change.promote.already_runs", "Service", "nexo-be", "Tag", "2026.02.17", "Env", "qa")...)
	if n := len(e.Workflows(change.Kind)); n != 2 {
		t.Fatalf("%d change workflows, want 2", n)
	}
}

// Kill the bot before every step of a promotion (the replica dies holding
// the workflow's lease): a new one resumes from the store once the lease
// expires, and nexo never opens a second PR, merges or syncs twice.
func TestPromotionSurvivesACrashBeforeEveryStep(t *testing.T) {
	e := New(t, Options{})
	var mu sync.Mutex
	crashedAt := map[string]bool{}
	crash := make(chan string, 16)
	e.BeforeStep = func(wf *store.Workflow) error {
		mu.Lock()
		defer mu.Unlock()
		if wf.Kind != change.Kind || crashedAt[wf.State] {
			return nil
		}
		crashedAt[wf.State] = true
		crash <- wf.State
		return workflow.ErrCrash
	}
	e.StopBot()
	e.StartBot()
	e.Command(Carol, "promote nexo-be qa 2026.02.18")
	wf := onlyChange(t, e, "nexo-be", "qa")
	var order []string
	e.Eventually("qa done", 2*time.Second, 300, func() bool {
		select {
		case st := <-crash:
			order = append(order, st)
			e.StopBot()
			e.StartBot()
		default:
		}
		st, _ := changeState(t, e, wf.ID)
		return st == change.Done
	})
	_, c := changeState(t, e, wf.ID)
	want := []string{change.Card, change.PR, change.Approval, change.Merge, change.Sync, change.Rollout}
	if strings.Join(order, ",") != strings.Join(want, ",") || c.Result != records.ResultSuccess {
		t.Fatalf("crashed before %v, result %q", order, c.Result)
	}
	if n := e.GitHub.Count("POST", "/repos/nexo-org/nexo-gitops/pulls"); n != 1 {
		t.Fatalf("%d PRs created", n)
	}
	if n := e.GitHub.Count("PUT", "/repos/nexo-org/nexo-gitops/pulls/1/merge"); n != 1 {
		t.Fatalf("%d merges", n)
	}
	if n := e.Argo.CallCount("POST", "/api/v1/applications/nexo-be-qa/sync"); n != 1 {
		t.Fatalf("%d syncs", n)
	}
	cards := 0
	for _, m := range e.Slack.Messages(Channel) {
		if m.ThreadTS == "" && strings.Contains(m.Text, "nexo-be → qa") {
			cards++
		}
	}
	if cards != 1 {
		t.Fatalf("%d cards posted", cards)
	}
	if got := e.Remote.File(t, "main", "helm/nexo-be/values-qa.yaml"); !strings.Contains(got, `tag: "2026.02.18"`) {
		t.Fatalf("values-qa.yaml:\n%s", got)
	}
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func slackCallCounts(e *Env) map[string]int {
	out := map[string]int{}
	for _, c := range e.Slack.Calls() {
		out[c.Method]++
	}
	return out
}

// Playbook step 18: the error rate after a deploy is watched; above the
// threshold nexo says so in the thread, mentions on-call and offers the
// rollback, whose button opens the rollback menu.
func TestWatchAfterDeployOffersRollbackOnBreach(t *testing.T) {
	EachLocale(t, watchAfterDeployOffersRollbackOnBreach)
}

func watchAfterDeployOffersRollbackOnBreach(t *testing.T, locale string) {
	prom := promfake.New()
	defer prom.Close()
	prom.Set(0.05)
	e := New(t, Options{PrometheusURL: prom.URL(), Locale: locale})
	e.Command(Carol, "promote nexo-be qa 2026.02.18")
	wf := onlyChange(t, e, "nexo-be", "qa")
	e.Eventually("the breach", 10*time.Second, 60, func() bool { st, _ := changeState(t, e, wf.ID); return st == change.Failed })
	_, c := changeState(t, e, wf.ID)
	if !c.Breach || c.Result != records.ResultFailed || c.ErrorRate == nil || *c.ErrorRate != 0.05 {
		t.Fatalf("change: %+v", c)
	}
	// Rate and threshold with the locale's decimal separator.
	alert := e.WaitFind(append(e.Words("change.breach", "Service", "nexo-be", "Env", "qa", "Rate", e.Cat.Decimal(5, 2), "Tag", "2026.02.18",
		"Threshold", e.Cat.Decimal(1, 2)), "<!subteam^S0SREONCALL>", e.Cat.S("change.breach_rollback", "Tag", "2026.02.17"))...)
	e.Click(Alice, alert, "rollback.start")
	e.Ephemeral(Alice, append(e.Words("rollback.menu.title", "Service", "nexo-be", "Env", "qa"), "2026.02.17")...)
	var dep records.Deployment
	if err := e.Store.GetDoc(context.Background(), records.DeploymentsCollection, wf.ID, &dep); err != nil || dep.Result != records.ResultFailed {
		t.Fatalf("deployment: %+v %v", dep, err)
	}
}

// Playbook step 11: develop Healthy on a new tag for 5 minutes is promoted
// to qa by nexo itself, once.
func TestAutoPromotionDevelopToQA(t *testing.T) {
	EachLocale(t, autoPromotionDevelopToQA)
}

func autoPromotionDevelopToQA(t *testing.T, locale string) {
	e := New(t, Options{Locale: locale})
	e.Command(Carol, "promote nexo-be dev 2026.02.18")
	dev := onlyChange(t, e, "nexo-be", "develop")
	e.Eventually("develop live", 10*time.Second, 60, func() bool { st, _ := changeState(t, e, dev.ID); return st == change.Done })
	liveAt := e.Clock.Now()
	var auto *store.Workflow
	e.Eventually("the auto-promotion", 30*time.Second, 40, func() bool {
		for _, wf := range e.Workflows(change.Kind) {
			var c change.Change
			Decode(t, wf, &c)
			if c.Env == "qa" && c.Auto {
				auto = wf
				return true
			}
		}
		return false
	})
	if waited := e.Clock.Now().Sub(liveAt); waited < 5*time.Minute {
		t.Fatalf("auto-promoted after %s, before develop's 5 minutes", waited)
	}
	e.Eventually("qa live", 10*time.Second, 60, func() bool { st, _ := changeState(t, e, auto.ID); return st == change.Done })
	_, c := changeState(t, e, auto.ID)
	if c.Tag != "2026.02.18" || c.Requester != "nexo" || c.Result != records.ResultSuccess {
		t.Fatalf("auto-promotion: %+v", c)
	}
	e.WaitFind(e.Words("change.auto.promoting", "Service", "nexo-be", "Tag", "2026.02.18", "From", "develop", "To", "qa", "ID", auto.ID)...)
	// Once: more scans change nothing.
	e.Eventually("more scans", time.Minute, 30, func() bool { return e.Clock.Now().Sub(liveAt) > 20*time.Minute })
	n := 0
	for _, wf := range e.Workflows(change.Kind) {
		var x change.Change
		Decode(t, wf, &x)
		if x.Env == "qa" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d qa promotions", n)
	}
}
