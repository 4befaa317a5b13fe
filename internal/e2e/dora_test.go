package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/bot/slackfake"
	"github.com/nexo-org/nexo-bot/commands/change"
	"github.com/nexo-org/nexo-bot/commands/dora"
	"github.com/nexo-org/nexo-bot/commands/incident"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/commands/rollback"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/internal/dorametrics"
	dto "github.com/prometheus/client_model/go"
)

// gaugesOf reads the DORA gauges of one service and environment from a
// scrape.
type doraGauges struct {
	deployments, perDay, daysPerWeek float64
	lead, cfr, restore               *float64 // nil when the series is absent
	bands                            map[string]float64
}

func gaugesOf(t *testing.T, fams map[string]*dto.MetricFamily, service, env string) doraGauges {
	t.Helper()
	labels := map[string]string{"service": service, "env": env}
	must := func(name string) float64 {
		v, ok := Sample(fams[name], labels)
		if !ok {
			t.Fatalf("no %s{service=%q, env=%q} on /metrics", name, service, env)
		}
		return v
	}
	maybe := func(name string) *float64 {
		if v, ok := Sample(fams[name], labels); ok {
			return &v
		}
		return nil
	}
	g := doraGauges{deployments: must(dorametrics.Deployments), perDay: must(dorametrics.DeploymentFrequency), daysPerWeek: must(dorametrics.DeployDaysPerWeek),
		lead: maybe(dorametrics.LeadTime), cfr: maybe(dorametrics.ChangeFailureRate), restore: maybe(dorametrics.TimeToRestore), bands: map[string]float64{}}
	for _, m := range []string{dorametrics.BandDeploymentFrequency, dorametrics.BandLeadTime, dorametrics.BandChangeFailureRate, dorametrics.BandTimeToRestore, dorametrics.BandOverall} {
		v, ok := Sample(fams[dorametrics.Band], map[string]string{"service": service, "env": env, "metric": m})
		if !ok {
			t.Fatalf("no band %s for %s %s", m, service, env)
		}
		g.bands[m] = v
	}
	return g
}

// sameFigures compares the gauges with the report `/nexo dora` makes.
func sameFigures(t *testing.T, where string, g doraGauges, r dora.Report) {
	t.Helper()
	opt := func(present bool, v time.Duration) *float64 {
		if !present {
			return nil
		}
		s := v.Seconds()
		return &s
	}
	eq := func(name string, got, want *float64) {
		switch {
		case (got == nil) != (want == nil):
			t.Errorf("%s %s: gauge present %v, report has a value %v", where, name, got != nil, want != nil)
		case got != nil && *got != *want:
			t.Errorf("%s %s: gauge %v, report %v", where, name, *got, *want)
		}
	}
	if g.deployments != float64(r.DeploymentFrequency.Deployments) || g.perDay != r.DeploymentFrequency.PerDay || g.daysPerWeek != float64(r.DeploymentFrequency.MedianDaysPerWeek) {
		t.Errorf("%s frequency: gauges %v deployments, %v/day, %v days/week; report %+v", where, g.deployments, g.perDay, g.daysPerWeek, r.DeploymentFrequency)
	}
	eq("lead time", g.lead, opt(r.LeadTime.Samples > 0, r.LeadTime.Median))
	eq("time to restore", g.restore, opt(r.TimeToRestore.Resolved > 0, r.TimeToRestore.Median))
	var rate *float64
	if r.ChangeFailureRate.Deployments > 0 {
		rate = &r.ChangeFailureRate.Rate
	}
	eq("change failure rate", g.cfr, rate)
	for metric, want := range map[string]dora.Band{
		dorametrics.BandDeploymentFrequency: r.DeploymentFrequency.Band, dorametrics.BandLeadTime: r.LeadTime.Band,
		dorametrics.BandChangeFailureRate: r.ChangeFailureRate.Band, dorametrics.BandTimeToRestore: r.TimeToRestore.Band, dorametrics.BandOverall: r.Overall,
	} {
		if g.bands[metric] != float64(want) {
			t.Errorf("%s band %s: gauge %v, report %d (%s)", where, metric, g.bands[metric], want, want)
		}
	}
}

// TestDORAGaugesEqualTheDoraReport: a promotion to qa, its rollback through
// Argo CD and an incident declared and resolved; the /metrics gauges of
// every service and environment then equal what `/nexo dora <service>
// <env>` reports for the same 30 days (the playbook's GitOps history
// included), and the card posted in Slack says the same counts.
func TestDORAGaugesEqualTheDoraReport(t *testing.T) {
	EachLocale(t, func(t *testing.T, locale string) { gaugesEqualTheReport(t, locale) })
}

func gaugesEqualTheReport(t *testing.T, locale string) {
	e := New(t, Options{Locale: locale})
	ctx := context.Background()
	qa := func() doraGauges { return gaugesOf(t, e.Scrape(), "nexo-be", "qa") }
	if !e.Slack.WaitFor(func() bool { return e.Runtime.DORA.Snapshot() != nil }, 20*time.Second) {
		t.Fatal("the DORA gauges were never computed")
	}
	before := qa()
	if before.deployments == 0 {
		t.Fatal("the playbook's history has no qa deployment of nexo-be in the last 30 days")
	}

	// A finished change tells the gauges: no refresh is asked for here.
	e.Command(Carol, "promote nexo-be qa 2026.02.18")
	wf := onlyChange(t, e, "nexo-be", "qa")
	e.Eventually("qa deploy", 10*time.Second, 60, func() bool { st, _ := changeState(t, e, wf.ID); return st == change.Done })
	if !e.Slack.WaitFor(func() bool { return qa().deployments == before.deployments+1 }, 20*time.Second) {
		t.Fatalf("after the promotion the gauge still says %v deployments (before %v)", qa().deployments, before.deployments)
	}

	// Rolled back through Argo CD: the promotion failed.
	e.Command(Alice, "rollback nexo-be qa")
	menu := e.WaitFind(append(e.Words("rollback.menu.title", "Service", "nexo-be", "Env", "qa"), append(e.Words("rollback.menu.stable"), "2026.02.17")...)...)
	e.Click(Alice, menu, "rollback.run")
	rb := rollbackOf(t, e)
	e.Eventually("argo rollback", 5*time.Second, 60, func() bool { st, _ := rollbackState(t, e, rb.ID); return st == rollback.Done })

	// An incident of nexo-be in qa, resolved 25 minutes later.
	e.Command(Alice, "incident declare nexo-be qa Checkout errors --sev P3")
	var incCh slackfake.Channel
	if !e.Slack.WaitFor(func() bool {
		for _, ch := range e.Slack.Channels() {
			if strings.HasSuffix(ch.Name, "-checkout-errors") {
				incCh = ch
				return true
			}
		}
		return false
	}, 10*time.Second) {
		t.Fatalf("no incident channel: %+v", e.Slack.Channels())
	}
	// Resolve once the declaration has posted its card.
	if !e.Slack.WaitFor(func() bool {
		var inc incident.State
		return e.Store.GetDoc(ctx, records.IncidentsCollection, incCh.Name, &inc) == nil && inc.CardTS != ""
	}, 10*time.Second) {
		t.Fatal("the incident's card was never recorded")
	}
	e.Clock.Advance(25 * time.Minute)
	commandIn(t, e, Alice, incCh.ID, "incident resolve Rolled back")
	if !e.Slack.WaitFor(func() bool {
		var inc records.Incident
		return e.Store.GetDoc(ctx, records.IncidentsCollection, incCh.Name, &inc) == nil && inc.ResolvedAt != nil
	}, 10*time.Second) {
		for _, m := range e.Slack.Messages(incCh.ID) {
			t.Logf("in %s: %s", incCh.Name, clip(Content(m), 300))
		}
		t.Fatal("the incident was not resolved")
	}

	// Rollbacks and incidents are read at the next refresh (every minute);
	// this test asks for it instead of waiting.
	if err := e.Runtime.DORA.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	fams := e.Scrape()
	now := e.Clock.Now()
	for _, svc := range e.Config.ServiceNames() {
		for _, env := range e.Config.Environments {
			q, err := dora.ParseQuery(e.Config, []string{svc, env.Name}, "", "", "", now)
			if err != nil {
				t.Fatal(err)
			}
			res, err := dora.Measure(ctx, e.Runtime.Deps, q)
			if err != nil {
				t.Fatal(err)
			}
			sameFigures(t, svc+" "+env.Name, gaugesOf(t, fams, svc, env.Name), res.Report)

		}
	}
	g := gaugesOf(t, fams, "nexo-be", "qa")
	if g.deployments != before.deployments+2 || g.cfr == nil || *g.cfr == 0 || g.restore == nil || *g.restore != (25*time.Minute).Seconds() {
		t.Fatalf("nexo-be qa after the promotion, the rollback and the incident: %+v (cfr %v, restore %v)", g, g.cfr, g.restore)
	}

	// The card `/nexo dora nexo-be qa` posts says the same.
	e.Command(Carol, "dora nexo-be qa")
	failed := int(*g.cfr*g.deployments + 0.5)
	words := e.Words("dora.title", "Service", "nexo-be", "Env", "qa")
	words = append(words, e.Words("dora.summary_line", "Deployments", i18n.M("dora.deployments", "Count", int(g.deployments)),
		"Failed", failed, "Resolved", i18n.M("dora.incidents", "Count", 1))...)
	card := e.WaitFind(words...)
	if !strings.Contains(Content(card), dora.HumanDuration(e.Cat, 25*time.Minute)) {
		t.Fatalf("the card's time to restore:\n%s", Content(card))
	}
}
