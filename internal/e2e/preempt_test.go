package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/bot/slackfake"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/change"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/argocdfake"
	"github.com/nexo-org/nexo-bot/integrations/promfake"
	"github.com/nexo-org/nexo-bot/store"
)

// Issue 14: emergencies come first. Each test runs on both stores, in
// each locale.

var stores = []struct {
	name  string
	redis bool
}{{"bolt", false}, {"redis", true}}

// noProductionSoak lets a production promotion merge as soon as it is
// approved, so the tests can reach its later states.
func noProductionSoak(c *config.Config) {
	for i := range c.Environments {
		if c.Environments[i].Name == "production" {
			c.Environments[i].Policy.Soak = 0
		}
	}
}

// promoteProductionTo starts promote nexo-be production 2026.02.17,
// approves it (Alice, Bob) and waits until it reaches state.
func promoteProductionTo(t *testing.T, e *Env, state string) *store.Workflow {
	t.Helper()
	e.Command(Carol, "promote nexo-be production 2026.02.17")
	card := e.WaitFind(promoteCardWords(e, "production", "2026.02.17")...)
	wf := onlyChange(t, e, "nexo-be", "production")
	e.Eventually("the PR", time.Second, 20, func() bool { st, _ := changeState(t, e, wf.ID); return st == change.Approval })
	if state == change.Approval {
		return wf
	}
	e.Click(Alice, card, "change.approve")
	e.Click(Bob, card, "change.approve")
	e.Eventually("the promotion in "+state, time.Second, 120, func() bool { st, _ := changeState(t, e, wf.ID); return st == state })
	return wf
}

// promoteCardWords are the title of the card of a promotion of nexo-be.
func promoteCardWords(e *Env, env, tag string) []string {
	return e.Words("change.card.title.promotion", "Service", "nexo-be", "Env", env, "Tag", tag)
}

// whatOf names a change of nexo-be as the catalog does (change.what.<noun>).
func whatOf(noun, env, tag string) i18n.Msg {
	return i18n.M("change.what."+noun, "Service", "nexo-be", "Env", env, "Tag", tag)
}

// hotfixOf is the open hotfix workflow of nexo-be.
func hotfixOf(t *testing.T, e *Env) (*store.Workflow, change.Change) {
	t.Helper()
	var wf *store.Workflow
	var c change.Change
	ok := e.Slack.WaitFor(func() bool {
		for _, w := range e.Workflows(change.Kind) {
			Decode(t, w, &c)
			if c.Flavor == records.KindHotfix {
				wf = w
				return true
			}
		}
		return false
	}, 10*time.Second)
	if !ok {
		t.Fatalf("no hotfix workflow:\n%s", e.Dump())
	}
	return wf, c
}

// A hotfix arriving while a production promotion is syncing, rolling out
// or in its watch window supersedes it at once and starts.
func TestHotfixSupersedesAChangePastItsMerge(t *testing.T) {
	EachLocale(t, func(t *testing.T, locale string) {
		for _, st := range stores {
			for _, at := range []string{change.Sync, change.Rollout, change.Watch} {
				t.Run(st.name+"/"+at, func(t *testing.T) { hotfixSupersedesAChangePastItsMerge(t, locale, st.redis, at) })
			}
		}
	})
}

func hotfixSupersedesAChangePastItsMerge(t *testing.T, locale string, redis bool, at string) {
	prom := promfake.New()
	defer prom.Close()
	prom.Set(0.002)
	e := New(t, Options{Redis: redis, PrometheusURL: prom.URL(), Mutate: noProductionSoak, Locale: locale})
	switch at {
	case change.Sync: // Argo CD keeps answering that another operation runs
		e.Argo.AddFault(argocdfake.Fault{Method: http.MethodPost, Path: "/api/v1/applications/nexo-be-production/sync",
			Status: http.StatusBadRequest, Code: 9, Message: "another operation is already in progress", Times: 1000})
	case change.Rollout: // the new pods never become ready
		e.Argo.SetNextOutcome("nexo-be-production", argocdfake.Outcome{Health: "Progressing", Message: "Waiting for rollout to finish"})
	}
	old := promoteProductionTo(t, e, at)
	oldCard := e.WaitFind(promoteCardWords(e, "production", "2026.02.17")...)

	start := time.Now()
	e.Command(Carol, "hotfix nexo-be 2026.02.17-hotfix --incident 456 --reason pool")
	hf, _ := hotfixOf(t, e)
	var c change.Change
	ok := e.Slack.WaitFor(func() bool { _, c = changeState(t, e, hf.ID); return c.PR > 0 }, 10*time.Second)
	if !ok {
		t.Fatalf("the hotfix opened no PR:\n%s", e.Dump())
	}
	t.Logf("hotfix command → its PR while the promotion was in %s: %s", at, time.Since(start).Round(time.Millisecond))

	state, oc := changeState(t, e, old.ID)
	if state != commands.ResultSuperseded || oc.Result != records.ResultSuperseded || oc.FinishedAt == nil {
		t.Fatalf("the promotion: state %s, result %s", state, oc.Result)
	}
	if w, _ := e.Store.GetWorkflow(context.Background(), old.ID); !w.Done {
		t.Fatal("the superseded promotion is still open")
	}
	var dep records.Deployment
	if err := e.Store.GetDoc(context.Background(), records.DeploymentsCollection, old.ID, &dep); err != nil || dep.Result != records.ResultSuperseded || dep.MergedAt == nil {
		t.Fatalf("the promotion's record: %+v %v", dep, err)
	}
	e.Slack.WaitFor(func() bool {
		m, _ := e.Slack.Message(oldCard.Channel, oldCard.TS)
		return containsAll(Content(m), append(e.Words("change.card.status.superseded"), e.Words("core.ended.superseded")...))
	}, 5*time.Second)
	m, _ := e.Slack.Message(oldCard.Channel, oldCard.TS)
	if text := Content(m); !containsAll(text, append(e.Words("change.card.status.superseded"), e.Words("core.ended.superseded")...)) ||
		!strings.Contains(text, e.Cat.Msg(whatOf("hotfix", "production", "2026.02.17-hotfix"))) || !strings.Contains(text, "/archives/") || strings.Contains(text, commands.ActionCancel) {
		t.Fatalf("the superseded card:\n%s", text)
	}
	audit, _ := e.Store.ListAudit(context.Background(), store.AuditFilter{Service: "nexo-be"})
	if !hasAudit(audit, "workflow.supersede", old.ID) {
		t.Fatalf("no supersede in the audit log: %+v", audit)
	}
	// Its timers are gone: an hour later it has not moved, and its
	// thread says nothing more than the supersede.
	steps := len(mustWorkflow(t, e, old.ID).Steps)
	for i := 0; i < 6; i++ {
		e.Clock.Advance(10 * time.Minute)
		e.settle(func() bool { return false })
	}
	if n := len(mustWorkflow(t, e, old.ID).Steps); n != steps {
		t.Fatalf("the superseded promotion ran %d more steps", n-steps)
	}
	if n := threadReplies(e, oldCard.TS, e.Words("change.live", "Service", "nexo-be", "Tag", "2026.02.17", "Env", "production")...); n != 0 {
		t.Fatalf("the superseded promotion said it is live")
	}
}

func hasAudit(entries []store.AuditEntry, action, target string) bool {
	for _, a := range entries {
		if a.Action == action && a.Target == target && a.Outcome == "ok" {
			return true
		}
	}
	return false
}

func mustWorkflow(t *testing.T, e *Env, id string) *store.Workflow {
	t.Helper()
	wf, err := e.Store.GetWorkflow(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return wf
}

// Before its merge a change is not superseded without consent: the reply
// names it and offers Supersede; on it the PR is closed with a comment
// linking the hotfix, the branch deleted, and the hotfix starts.
func TestHotfixOffersSupersedeBeforeTheMerge(t *testing.T) {
	EachLocale(t, func(t *testing.T, locale string) {
		for _, st := range stores {
			t.Run(st.name, func(t *testing.T) {
				e := New(t, Options{Locale: locale, Redis: st.redis, Mutate: noProductionSoak})
				old := promoteProductionTo(t, e, change.Approval)
				_, oc := changeState(t, e, old.ID)

				e.Command(Carol, "hotfix nexo-be 2026.02.17-hotfix --incident 456")
				offer := e.Ephemeral(Carol, append(e.Words("core.start.offer_supersede", "What", whatOf("promotion", "production", "2026.02.17"),
					"Emergency", whatOf("hotfix", "production", "2026.02.17-hotfix")), e.Cat.S("change.hotfix.supersede"))...)
				if n := len(e.Workflows(change.Kind)); n != 1 {
					t.Fatalf("%d change workflows before Supersede, want 1", n)
				}
				e.ClickEphemeral(Carol, offer, "hotfix.supersede")
				e.Ephemeral(Carol, e.Words("change.hotfix.superseded", "Old", old.ID)...)
				hf, _ := hotfixOf(t, e)
				e.Slack.WaitFor(func() bool { _, c := changeState(t, e, hf.ID); return c.PR > 0 }, 10*time.Second)

				if state, _ := changeState(t, e, old.ID); state != commands.ResultSuperseded {
					t.Fatalf("the promotion: %s", state)
				}
				pr := e.PR(oc.PR)
				if pr.State != "closed" || pr.Merged || len(pr.Comments) == 0 || !strings.Contains(pr.Comments[len(pr.Comments)-1], hf.ID) ||
					!strings.Contains(pr.Comments[len(pr.Comments)-1], "/archives/") {
					t.Fatalf("the promotion's PR: %+v", pr)
				}
				if e.Remote.HasBranch(t, oc.Branch) {
					t.Fatalf("branch %s still exists", oc.Branch)
				}
				var dep records.Deployment
				if err := e.Store.GetDoc(context.Background(), records.DeploymentsCollection, old.ID, &dep); err != nil || dep.Result != records.ResultSuperseded || dep.MergedAt != nil {
					t.Fatalf("the promotion's record: %+v %v", dep, err)
				}
			})
		}
	})
}

// One emergency at a time on a target: a second gets a link to the first.
// Promotions still wait for each other, and for emergencies.
func TestASecondEmergencyGetsALinkToTheFirst(t *testing.T) {
	EachLocale(t, func(t *testing.T, locale string) {
		for _, st := range stores {
			t.Run(st.name, func(t *testing.T) {
				e := New(t, Options{Locale: locale, Redis: st.redis})
				e.Command(Carol, "hotfix nexo-be 2026.02.17-hotfix --incident 456")
				hf, _ := hotfixOf(t, e)
				e.Command(Alice, "rollback nexo-be production --via gitops --to 2026.02.03")
				e.Ephemeral(Alice, e.Words("core.start.emergency_open", "What", whatOf("hotfix", "production", "2026.02.17-hotfix"), "Service", "nexo-be", "Env", "production", "ID", hf.ID)...)
				e.Command(Platf, "promote nexo-be production 2026.02.17")
				e.Ephemeral(Platf, e.Words("core.start.locked", "Service", "nexo-be", "Env", "production")...)
				if n := len(e.Workflows(change.Kind)); n != 1 {
					t.Fatalf("%d change workflows, want the hotfix only", n)
				}
			})
		}
	})
}

// /nexo cancel by id or by service and env, and the card's Cancel button:
// for the requester, the approver group and admins; audited.
func TestCancelEndsAnOpenWorkflowCleanly(t *testing.T) {
	EachLocale(t, func(t *testing.T, locale string) {
		for _, st := range stores {
			t.Run(st.name, func(t *testing.T) {
				prom := promfake.New()
				defer prom.Close()
				prom.Set(0.002)
				e := New(t, Options{Locale: locale, Redis: st.redis, PrometheusURL: prom.URL()})
				// Before the merge: the PR is closed and the branch deleted.
				e.Command(Carol, "promote nexo-be staging 2026.02.17")
				wf := onlyChange(t, e, "nexo-be", "staging")
				e.Eventually("the PR", time.Second, 20, func() bool { st, _ := changeState(t, e, wf.ID); return st == change.Approval })
				_, c := changeState(t, e, wf.ID)
				e.Command(Alice, "cancel "+wf.ID) // sre-team is not staging's approver group
				e.Ephemeral(Alice, e.Words("cancel.who", "Group", "platform-team", "What", whatOf("promotion", "staging", "2026.02.17"))...)
				e.Command(Carol, "cancel nexo-be stg")
				e.Ephemeral(Carol, e.Words("cancel.done", "What", whatOf("promotion", "staging", "2026.02.17"), "ID", wf.ID)...)
				if state, _ := changeState(t, e, wf.ID); state != commands.ResultCancelled {
					t.Fatalf("state %s", state)
				}
				if pr := e.PR(c.PR); pr.State != "closed" || !strings.Contains(strings.Join(pr.Comments, "\n"), "Cancelled in Slack by "+Carol) {
					t.Fatalf("PR %+v", pr)
				}
				if e.Remote.HasBranch(t, c.Branch) {
					t.Fatal("branch left behind")
				}
				card := e.WaitFind(append(promoteCardWords(e, "staging", "2026.02.17"), e.Words("change.card.status.cancelled")...)...)
				said := append([]string{commands.TitleCase(e.Cat.S("core.ended.cancelled", "By", "<@"+Carol+">"))}, e.Words("change.note.pr_closed", "Number", c.PR, "Branch", c.Branch)...)
				if threadReplies(e, card.TS, said...) != 1 {
					t.Fatalf("the thread does not say what was done:\n%s", e.Dump())
				}
				e.Command(Carol, "cancel "+wf.ID)
				e.Ephemeral(Carol, e.Words("cancel.ended", "ID", wf.ID, "State", commands.ResultCancelled)...)

				// After the merge, from the card's button, by the approver group:
				// nexo stops watching; what was deployed stays.
				e.Command(Carol, "promote nexo-be qa 2026.02.18")
				qa := onlyChange(t, e, "nexo-be", "qa")
				e.Eventually("qa's watch", time.Second, 40, func() bool { st, _ := changeState(t, e, qa.ID); return st == change.Watch || st == change.Done })
				if st, _ := changeState(t, e, qa.ID); st == change.Watch {
					qaCard := e.WaitFind(promoteCardWords(e, "qa", "2026.02.18")...)
					e.Click(Carol, qaCard, commands.ActionCancel)
					e.Ephemeral(Carol, e.Words("cancel.done", "What", whatOf("promotion", "qa", "2026.02.18"), "ID", qa.ID)...)
					state, qc := changeState(t, e, qa.ID)
					if state != commands.ResultCancelled || qc.MergedAt == nil || !containsAll(qc.Note, e.Words("change.note.merged_stays", "Tag", "2026.02.18")) {
						t.Fatalf("qa after cancel: %s %+v", state, qc.Note)
					}
				}
				audit, _ := e.Store.ListAudit(context.Background(), store.AuditFilter{Service: "nexo-be"})
				if !hasAudit(audit, "workflow.cancel", wf.ID) {
					t.Fatalf("no cancel in the audit log: %+v", audit)
				}
				refused := false
				for _, a := range audit {
					refused = refused || (a.Action == "workflow.cancel" && a.Outcome == "refused" && a.Actor == Alice)
				}
				if !refused {
					t.Fatal("the refused cancel is not audited")
				}
			})
		}
	})
}

// policy.requesters: who may ask is not who approves.
func TestRequestersArePolicy(t *testing.T) {
	EachLocale(t, func(t *testing.T, locale string) {
		for _, st := range stores {
			t.Run(st.name, func(t *testing.T) {
				e := New(t, Options{Locale: locale, Redis: st.redis, Mutate: func(c *config.Config) {
					for i := range c.Environments {
						if c.Environments[i].Name == "staging" {
							c.Environments[i].Policy.Requesters = []string{"platform-team"}
						}
					}
					c.Hotfix.Requesters = []string{"sre-team"}
				}})
				e.Command(Carol, "promote nexo-be staging 2026.02.17")
				e.Ephemeral(Carol, append(e.Words("core.request.who", "What", i18n.M("change.request.promotion", "Env", "staging")), "platform-team (")...)
				e.Command(Carol, "hotfix nexo-be 2026.02.17-hotfix --incident 456")
				e.Ephemeral(Carol, append(e.Words("core.request.who", "What", i18n.M("change.request.hotfix")), "sre-team (")...)
				if n := len(e.Workflows(change.Kind)); n != 0 {
					t.Fatalf("%d workflows started", n)
				}
				// Carol still asks where the policy lets her (qa: any group).
				e.Command(Carol, "promote nexo-be qa 2026.02.18")
				onlyChange(t, e, "nexo-be", "qa")
				e.Command(Platf, "promote nexo-be staging 2026.02.17")
				onlyChange(t, e, "nexo-be", "staging")
			})
		}
	})
}

// A hotfix says "live" with its recovery figures and Backfill buttons as
// soon as it is Synced and Healthy; the watch goes on after it.
func TestHotfixIsLiveWhenHealthy(t *testing.T) {
	EachLocale(t, func(t *testing.T, locale string) {
		for _, st := range stores {
			t.Run(st.name, func(t *testing.T) {
				prom := promfake.New()
				defer prom.Close()
				prom.Set(0.001)
				e := New(t, Options{Locale: locale, Redis: st.redis, PrometheusURL: prom.URL()})
				e.Command(Carol, "hotfix nexo-be 2026.02.17-hotfix --incident 456")
				hf, _ := hotfixOf(t, e)
				card := e.WaitFind(e.Words("change.card.title.hotfix", "Service", "nexo-be", "Env", "production", "Tag", "2026.02.17-hotfix")...)
				e.Eventually("the PR", time.Second, 20, func() bool { st, _ := changeState(t, e, hf.ID); return st == change.Approval })
				e.Click(Alice, card, "change.approve")
				e.Click(Bob, card, "change.approve")
				e.Eventually("the watch", time.Second, 40, func() bool { st, _ := changeState(t, e, hf.ID); return st == change.Watch })
				liveWords := e.Words("change.hotfix.live", "Tag", "2026.02.17-hotfix", "Env", "production")
				live := e.WaitFind(append(append(liveWords, e.Words("change.hotfix.recovery")...), e.Words("change.hotfix.backfill_button", "Env", "staging")...)...)
				if st, _ := changeState(t, e, hf.ID); st != change.Watch {
					t.Fatalf("the hotfix left its watch: %s", st)
				}
				// Backfill works while the watch goes on.
				e.Click(Carol, live, "hotfix.backfill")
				e.Ephemeral(Carol, e.Words("change.hotfix.backfill_started", "Tag", "2026.02.17-hotfix", "Env", "staging")...)
				// A breach during the watch still alerts.
				prom.Set(0.05)
				e.Eventually("the breach", time.Minute, 10, func() bool { st, _ := changeState(t, e, hf.ID); return st == change.Failed })
				// The rate with the locale's decimal separator: 5.00 / 5,00.
				e.WaitFind(e.Words("change.breach", "Service", "nexo-be", "Env", "production", "Rate", e.Cat.Decimal(5, 2), "Tag", "2026.02.17-hotfix")...)
				if n := threadReplies(e, card.TS, liveWords...); n != 1 {
					t.Fatalf("%d live messages, want 1", n)
				}
			})
		}
	})
}

// ClickEphemeral presses a button of an ephemeral message, as user.
func (e *Env) ClickEphemeral(user string, m slackfake.Ephemeral, action string) {
	e.T.Helper()
	id, err := e.Slack.ClickButton(user, m.Channel, m.TS, action, "")
	if err != nil {
		e.T.Fatal(err)
	}
	if _, err := e.Slack.WaitAck(id, 3*time.Second); err != nil {
		e.T.Fatal(err)
	}
}
