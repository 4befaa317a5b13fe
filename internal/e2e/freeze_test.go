package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands/change"
	"github.com/nexo-org/nexo-bot/commands/rollback"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopstest"
	"github.com/nexo-org/nexo-bot/store"
)

// withAdmin makes Alice an admin (the example config has none).
func withAdmin(more func(c *config.Config)) func(c *config.Config) {
	return func(c *config.Config) {
		c.Admins = []string{Alice}
		if more != nil {
			more(c)
		}
	}
}

// nothingChanged checks that no change reached git or GitHub.
func nothingChanged(t *testing.T, e *Env, env string) {
	t.Helper()
	if n := len(e.GitHub.PullRequests()); n != 0 {
		t.Fatalf("%d PRs opened during the freeze", n)
	}
	if got := e.Remote.File(t, "main", gitopstest.PlaybookValuesPath("nexo-be", env)); got != gitopstest.PlaybookValues("nexo-be", env, gitopstest.PlaybookTag("nexo-be", env)) {
		t.Fatalf("values of %s changed:\n%s", env, got)
	}
	if branches := gitopstest.GitOut(t, e.Remote.Path, nil, "branch", "--list", "promote/*"); strings.TrimSpace(branches) != "" {
		t.Fatalf("branches pushed: %s", branches)
	}
}

// An admin freezes staging: a promotion into it is refused with the
// window and the reason and changes nothing; with --when-open it waits on
// a timer and opens its PR when the freeze ends. The status card shows
// the freeze meanwhile.
func TestFreezePromotionRefusedThenWaitsWhenOpen(t *testing.T) {
	EachLocale(t, func(t *testing.T, locale string) {
		e := New(t, Options{Locale: locale, Mutate: withAdmin(nil)})
		e.Command(Carol, `freeze staging 2h --reason "release train"`)
		e.Ephemeral(Carol, e.Words("freeze.admins_only", "Command", "freeze")...)
		e.Command(Alice, `freeze staging 2h --reason "release train"`)
		end := Start.Add(2 * time.Hour)
		e.WaitFind(e.Words("freeze.set", "User", "<@"+Alice+">", "Env", "staging", "Until", i18n.Moment(end), "Reason", "release train")...)

		e.Command(Carol, "promote nexo-be staging")
		why := i18n.M("freeze.frozen", "Env", "staging", "Until", i18n.Moment(end), "Reason", "release train")
		e.Ephemeral(Carol, e.Words("freeze.refused_when_open", "Why", why)...)
		nothingChanged(t, e, "staging")
		if n := len(e.Workflows(change.Kind)); n != 0 {
			t.Fatalf("%d change workflows after a refusal", n)
		}

		e.Command(Carol, "status nexo-be")
		e.WaitFind(e.Words("freeze.status", "Until", i18n.Moment(end), "Reason", "release train")...)

		e.Command(Carol, "promote nexo-be staging --when-open")
		e.WaitFind(e.Words("freeze.waiting", "Why", why)...)
		wf := onlyChange(t, e, "nexo-be", "staging")
		// It waits: the clock moves within the freeze and nothing reaches git.
		for i := 0; i < 11; i++ {
			e.Clock.Advance(10 * time.Minute)
			e.settle(func() bool { return false })
		}
		if st, c := changeState(t, e, wf.ID); st != change.PR || c.PR != 0 {
			t.Fatalf("during the freeze: state %s, PR %d", st, c.PR)
		}
		nothingChanged(t, e, "staging")
		// The freeze ends: the PR opens by itself.
		e.Eventually("the PR after the freeze", 5*time.Minute, 6, func() bool { _, c := changeState(t, e, wf.ID); return c.PR != 0 })
		if now := e.Clock.Now(); now.Before(end) {
			t.Fatalf("PR opened at %s, before the freeze's end %s", now, end)
		}
		if prs := e.GitHub.PullRequests(); len(prs) != 1 || !strings.HasPrefix(prs[0].Title, "promote(nexo-be): staging → 2026.02.17") {
			t.Fatalf("PRs: %+v", prs)
		}
	})
}

// A hotfix passes a freeze of production from the config and says so on
// its card; a promotion into production is refused.
func TestFreezeHotfixPasses(t *testing.T) {
	EachLocale(t, func(t *testing.T, locale string) {
		e := New(t, Options{Locale: locale, Mutate: func(c *config.Config) {
			c.Freezes = []config.Freeze{{Env: "prod", Reason: "quarter close", From: "2026-02-17", Until: "2026-02-20 18:00"}}
		}})
		// 2026-02-20 18:00 in São Paulo (the config's timezone) is 21:00 UTC.
		end := time.Date(2026, 2, 20, 21, 0, 0, 0, time.UTC)
		e.Command(Carol, "promote nexo-be production 2026.02.17")
		e.Ephemeral(Carol, e.Words("freeze.refused_when_open", "Why", i18n.M("freeze.frozen", "Env", "production", "Until", i18n.Moment(end), "Reason", "quarter close"))...)
		nothingChanged(t, e, "production")

		e.Command(Carol, `hotfix nexo-be 2026.02.17-hotfix --incident 456 --reason "connection pool exhaustion"`)
		e.WaitFind(e.Words("freeze.passing", "Reason", "quarter close", "Until", i18n.Moment(end))...)
		wf := onlyChange(t, e, "nexo-be", "production")
		e.Eventually("the hotfix PR", time.Second, 20, func() bool { st, c := changeState(t, e, wf.ID); return st == change.Approval && c.PR != 0 })
	})
}

// Ad-hoc freezes are admins', idempotent, audited, listed, and survive a
// restart, on both stores; unfreeze lifts them once.
func TestFreezeAdHocLifecycle(t *testing.T) {
	for _, redis := range []bool{false, true} {
		name := map[bool]string{false: "bolt", true: "redis"}[redis]
		t.Run(name, func(t *testing.T) { adHocLifecycle(t, redis) })
	}
}

func adHocLifecycle(t *testing.T, redis bool) {
	e := New(t, Options{Redis: redis, Mutate: withAdmin(nil)})
	e.Command(Carol, "freeze")
	e.Ephemeral(Carol, e.Words("freeze.none", "Command", "/nexo")...)
	e.Command(Alice, "freeze production soon --reason x")
	e.Ephemeral(Alice, e.Words("freeze.bad_end", "Value", "soon")...)
	e.Command(Alice, "freeze production 4h")
	e.Ephemeral(Alice, e.Words("freeze.needs_reason", "Command", "/nexo", "Env", "production")...)
	e.Command(Alice, `freeze prod "2026-02-19 18:00" --reason "DB migration"`)
	end := time.Date(2026, 2, 19, 21, 0, 0, 0, time.UTC) // 18:00 in São Paulo
	e.WaitFind(e.Words("freeze.set", "User", "<@"+Alice+">", "Env", "production", "Until", i18n.Moment(end), "Reason", "DB migration")...)
	e.Command(Alice, `freeze production "2026-02-19 18:00" --reason "DB migration"`)
	e.Ephemeral(Alice, e.Words("freeze.already", "Env", "production", "Until", i18n.Moment(end), "Reason", "DB migration")...)

	e.StopBot()
	e.StartBot()
	e.Command(Carol, "freeze")
	e.Ephemeral(Carol, e.Words("freeze.line_active", "Env", "production", "Until", i18n.Moment(end), "Reason", "DB migration")...)
	e.Command(Carol, "promote nexo-be production 2026.02.17")
	e.Ephemeral(Carol, e.Words("freeze.frozen", "Env", "production", "Until", i18n.Moment(end), "Reason", "DB migration")...)

	e.Command(Carol, "unfreeze production")
	e.Ephemeral(Carol, e.Words("freeze.admins_only", "Command", "unfreeze")...)
	e.Command(Alice, "unfreeze production")
	e.WaitFind(e.Words("freeze.lifted", "User", "<@"+Alice+">", "Env", "production")...)
	e.Command(Alice, "unfreeze production")
	e.Ephemeral(Alice, e.Words("freeze.not_frozen", "Env", "production")...)

	audit, err := e.Store.ListAudit(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range audit {
		if strings.HasPrefix(a.Action, "freeze") || strings.HasPrefix(a.Action, "unfreeze") {
			got = append(got, a.Action+" "+a.Outcome+" "+a.Actor)
		}
	}
	// Newest first; the refused and repeated requests changed nothing but
	// the refusal is audited.
	want := []string{"freeze.lift ok " + Alice, "unfreeze.authz refused " + Carol, "freeze.set ok " + Alice}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("audit:\n got %q\nwant %q", got, want)
	}
}

// An Argo CD deny window on the app's project holds promotions; without
// manualSync it refuses a hotfix too (Argo CD would refuse its sync); with
// manualSync the hotfix goes through, to the sync.
func TestFreezeArgoCDSyncWindow(t *testing.T) {
	EachLocale(t, func(t *testing.T, locale string) {
		e := New(t, Options{Locale: locale})
		// 06:00–10:00 in São Paulo: Start (10:00 UTC) is 07:00 there.
		deny := argocd.SyncWindow{Kind: "deny", Schedule: "0 6 * * *", Duration: "4h", TimeZone: "America/Sao_Paulo", Applications: []string{"*-production"}}
		e.Argo.SetSyncWindows("default", deny)
		opens := time.Date(2026, 2, 18, 13, 0, 0, 0, time.UTC)
		window := i18n.M("freeze.window_deny", "Schedule", "0 6 * * *", "Duration", "4h", "Project", "default")

		e.Command(Carol, "promote nexo-be production 2026.02.17")
		e.Ephemeral(Carol, e.Words("freeze.refused_when_open", "Why", i18n.M("freeze.window_closed", "Env", "production", "App", "nexo-be-production", "Until", i18n.Moment(opens), "Window", window))...)
		nothingChanged(t, e, "production")

		e.Command(Carol, `hotfix nexo-be 2026.02.17-hotfix --incident 456 --reason "connection pool exhaustion"`)
		e.Ephemeral(Carol, e.Words("freeze.window_blocks_emergency", "Window", window, "App", "nexo-be-production", "Until", i18n.Moment(opens))...)
		if n := len(e.Workflows(change.Kind)); n != 0 {
			t.Fatalf("%d workflows after the refusal", n)
		}

		deny.ManualSync = true
		e.Argo.SetSyncWindows("default", deny)
		e.Command(Carol, "promote nexo-be production 2026.02.17")
		e.Ephemeral(Carol, e.Words("freeze.window_closed", "Env", "production", "App", "nexo-be-production", "Until", i18n.Moment(opens), "Window", window)...)
		e.Command(Carol, `hotfix nexo-be 2026.02.17-hotfix --incident 456 --reason "connection pool exhaustion"`)
		card := e.WaitFind(e.Words("freeze.passing_window", "Window", window)...)
		wf := onlyChange(t, e, "nexo-be", "production")
		e.Eventually("the hotfix PR", time.Second, 20, func() bool { st, c := changeState(t, e, wf.ID); return st == change.Approval && c.PR != 0 })
		e.Click(Alice, card, "change.approve")
		e.Click(Bob, card, "change.approve")
		e.Eventually("the sync through the window", time.Second, 60, func() bool { return e.Argo.OperationsStarted("nexo-be-production") > 0 })
		if e.Clock.Now().After(opens) {
			t.Fatalf("synced at %s, after the window", e.Clock.Now())
		}
	})
}

// A rollback passes an admin's freeze and says so on its card; a
// promotion into the same env is refused meanwhile.
func TestFreezeRollbackPasses(t *testing.T) {
	EachLocale(t, func(t *testing.T, locale string) {
		e := New(t, Options{Locale: locale, Mutate: withAdmin(nil)})
		e.Command(Carol, "promote nexo-be qa 2026.02.18")
		bad := onlyChange(t, e, "nexo-be", "qa")
		e.Eventually("qa deploy", 10*time.Second, 60, func() bool { st, _ := changeState(t, e, bad.ID); return st == change.Done })

		e.Command(Alice, `freeze qa 1d --reason "load test"`)
		end := e.Clock.Now().Add(24 * time.Hour).Truncate(time.Minute)
		e.WaitFind(e.Words("freeze.set", "User", "<@"+Alice+">", "Env", "qa", "Until", i18n.Moment(end), "Reason", "load test")...)
		e.Command(Carol, "promote nexo-be qa 2026.02.17")
		e.Ephemeral(Carol, e.Words("freeze.frozen", "Env", "qa", "Until", i18n.Moment(end), "Reason", "load test")...)

		e.Command(Alice, "rollback nexo-be qa")
		menu := e.WaitFind(append(e.Words("rollback.menu.title", "Service", "nexo-be", "Env", "qa"), append(e.Words("rollback.menu.stable"), "2026.02.17")...)...)
		e.Click(Alice, menu, "rollback.run")
		rb := rollbackOf(t, e)
		e.WaitFind(e.Words("freeze.passing", "Reason", "load test", "Until", i18n.Moment(end))...)
		e.Eventually("the rollback", 5*time.Second, 60, func() bool { st, _ := rollbackState(t, e, rb.ID); return st == rollback.Done })
		if n := e.Argo.CallCount("POST", "/api/v1/applications/nexo-be-qa/rollback"); n != 1 {
			t.Fatalf("%d rollback calls", n)
		}
	})
}

// The board shows an admin's freeze on its environment's rows, with its
// end and reason, in every locale.
func TestFreezeShowsOnTheBoard(t *testing.T) {
	EachLocale(t, func(t *testing.T, locale string) {
		e := New(t, Options{Locale: locale, Mutate: withAdmin(nil)})
		e.openHome(Platf)
		e.Command(Alice, `freeze qa 1d --reason "load test"`)
		end := e.Clock.Now().Add(24 * time.Hour).Truncate(time.Minute)
		e.WaitFind(e.Words("freeze.set", "User", "<@"+Alice+">", "Env", "qa", "Until", i18n.Moment(end), "Reason", "load test")...)
		want := e.Words("board.env.frozen_until", "Until", i18n.Moment(end), "Reason", "load test")
		h := e.openHome(Platf)
		if !containsAll(homeText(h), want) {
			t.Fatalf("the board does not show the freeze %q:\n%s", want, homeText(h))
		}
		// Every service has its qa row frozen, and no other environment.
		if n := strings.Count(homeText(h), want[len(want)-1]); n != len(e.Config.Services) {
			t.Fatalf("%d rows show the freeze, want one per service (%d):\n%s", n, len(e.Config.Services), homeText(h))
		}
	})
}
