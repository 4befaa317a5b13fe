package dora

import (
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/i18n"
)

// en is the catalog in English, what the tests read.
var en = i18n.Default().In(i18n.English)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr(t time.Time) *time.Time { return &t }

// deploy is a successful production deployment of nexo-be finished at when,
// whose first commit was lead earlier (lead 0: no commit data).
func deploy(id, when string, lead time.Duration) records.Deployment {
	t := at(when)
	d := records.Deployment{ID: id, Service: "nexo-be", Env: "production", Tag: "2026.01." + id,
		Kind: records.KindPromote, Result: records.ResultSuccess, RequestedAt: t.Add(-time.Minute), FinishedAt: ptr(t)}
	if lead > 0 {
		d.FirstCommitAt = ptr(t.Add(-lead))
	}
	return d
}

func kind(d records.Deployment, k string) records.Deployment { d.Kind = k; return d }

func incident(id, declared string, restore time.Duration) records.Incident {
	i := records.Incident{ID: id, Service: "nexo-be", Env: "production", DeclaredAt: at(declared), Status: records.StatusInvestigating}
	if restore > 0 {
		i.ResolvedAt = ptr(at(declared).Add(restore))
		i.Status = records.StatusResolved
	}
	return i
}

// fixture is two whole ISO weeks (2026-01-05 → 2026-01-18, UTC), hand
// computed in the comments.
func fixture() Input {
	m := time.Minute
	stg := deploy("s1", "2026-01-06T10:00:00Z", 5*m)
	stg.Env = "staging"
	failed := deploy("f1", "2026-01-06T11:00:00Z", 5*m)
	failed.Result = records.ResultFailed
	other := deploy("o1", "2026-01-06T12:00:00Z", 5*m)
	other.Service = "nexo-fe"
	return Input{
		Service: "nexo-be",
		Since:   at("2026-01-05T00:00:00Z"),
		Until:   at("2026-01-19T00:00:00Z"),
		Deployments: []records.Deployment{
			deploy("d0", "2026-01-02T10:00:00Z", 5*m), // before the period
			deploy("d1", "2026-01-05T10:00:00Z", 60*m),
			deploy("d2", "2026-01-06T10:00:00Z", 30*m),
			deploy("d3", "2026-01-07T10:00:00Z", 120*m), // incident i1 → failed
			deploy("d4", "2026-01-08T10:00:00Z", 45*m),
			deploy("d5", "2026-01-09T10:00:00Z", 20*m),                // rolled back by d6 → failed
			kind(deploy("d6", "2026-01-09T15:00:00Z", 0), "rollback"), // no lead time
			deploy("d7", "2026-01-12T10:00:00Z", 10*m),
			deploy("d8", "2026-01-13T10:00:00Z", 50*m),                 // hotfixed by d9 → failed
			kind(deploy("d9", "2026-01-14T10:00:00Z", 15*m), "hotfix"), // incident i3 → failed
			stg, failed, other,
		},
		Incidents: []records.Incident{
			incident("i0", "2026-01-05T09:00:00Z", 40*m), // attaches to d0 (outside the period)
			incident("i1", "2026-01-07T11:00:00Z", 20*m),
			incident("i2", "2026-01-13T12:00:00Z", 2*time.Hour), // d8, already failed
			incident("i3", "2026-01-15T09:00:00Z", 0),           // unresolved, attaches to d9
		},
	}
}

func mustCompute(t *testing.T, in Input) Report {
	t.Helper()
	r, err := Compute(in)
	if err != nil {
		t.Fatalf("Compute: %v", err)
	}
	return r
}

func TestComputeFixture(t *testing.T) {
	in := fixture()
	r := mustCompute(t, in)
	df := r.DeploymentFrequency
	// d1..d9: 9 deployments in 14 days; 5 deploy days in week 1, 3 in week 2.
	if df.Deployments != 9 || df.DeployDays != 8 || df.PeriodDays != 14 {
		t.Errorf("frequency = %+v, want 9 deployments on 8 days over 14", df)
	}
	if df.PerDay != 9.0/14 {
		t.Errorf("per day = %v, want %v", df.PerDay, 9.0/14)
	}
	// Lower median of [5, 3] is 3: High (≥1, <5). No whole month: January
	// as touched has 8 deploy days.
	if df.MedianDaysPerWeek != 3 || df.MedianDaysPerMonth != 8 || df.Band != High {
		t.Errorf("median days/week %d, /month %d, band %s; want 3, 8, High", df.MedianDaysPerWeek, df.MedianDaysPerMonth, df.Band)
	}
	// Leads 10,15,20,30,45,50,60,120 min → lower median 30 min, Elite.
	if r.LeadTime.Samples != 8 || r.LeadTime.Median != 30*time.Minute || r.LeadTime.Band != Elite {
		t.Errorf("lead time = %+v, want 8 samples, 30m, Elite", r.LeadTime)
	}
	// Declared in the period: i0 40m, i1 20m, i2 2h, i3 unresolved → 40m.
	ttr := r.TimeToRestore
	if ttr.Resolved != 3 || ttr.Unresolved != 1 || ttr.Median != 40*time.Minute || ttr.Band != Elite {
		t.Errorf("time to restore = %+v, want 3 resolved, 1 unresolved, 40m, Elite", ttr)
	}
	// d3 incident, d5 rolled back, d8 hotfixed, d9 incident: 4/9 = 44.4 %.
	c := r.ChangeFailureRate
	if c.Failed != 4 || c.Deployments != 9 || c.RolledBack != 1 || c.Hotfixed != 1 || c.Incidents != 2 || c.Band != Low {
		t.Errorf("change failure = %+v, want 4/9 (1 rollback, 1 hotfix, 2 incidents), Low", c)
	}
	// Bands High, Elite, Elite, Low → sorted Low, High, Elite, Elite → High.
	if r.Overall != High {
		t.Errorf("overall = %s, want High", r.Overall)
	}
	var ids []string
	for _, f := range r.Fastest {
		ids = append(ids, f.ID+"="+f.LeadTime.String())
	}
	if got, want := strings.Join(ids, " "), "d7=10m0s d9=15m0s d5=20m0s d2=30m0s d4=45m0s"; got != want {
		t.Errorf("fastest = %s, want %s", got, want)
	}
	if len(r.Weeks) != 2 {
		t.Fatalf("weeks = %+v, want 2", r.Weeks)
	}
	w1, w2 := r.Weeks[0], r.Weeks[1]
	if !w1.Start.Equal(at("2026-01-05T00:00:00Z")) || w1.Deployments != 6 || w1.DeployDays != 5 || w1.MedianLeadTime != 45*time.Minute || !w1.Whole {
		t.Errorf("week 1 = %+v, want 01-05, 6 deployments, 5 days, 45m, whole", w1)
	}
	if !w2.Start.Equal(at("2026-01-12T00:00:00Z")) || w2.Deployments != 3 || w2.DeployDays != 3 || w2.MedianLeadTime != 15*time.Minute || w2.LeadSamples != 3 {
		t.Errorf("week 2 = %+v, want 01-12, 3 deployments, 3 days, 15m", w2)
	}
	// The input is left as it was.
	if in.Deployments[2].ID != "d2" || in.Deployments[0].ID != "d0" {
		t.Error("Compute reordered its input")
	}
}

func TestComputeAllServices(t *testing.T) {
	in := fixture()
	in.Service = "all"
	r := mustCompute(t, in)
	// nexo-fe's o1 joins: 10 deployments, still 8 deploy days.
	if r.Service != "all" || r.DeploymentFrequency.Deployments != 10 || r.DeploymentFrequency.DeployDays != 8 {
		t.Errorf("all = %s %+v, want 10 deployments on 8 days", r.Service, r.DeploymentFrequency)
	}
}

func TestComputeEmptyPeriod(t *testing.T) {
	in := fixture()
	in.Since, in.Until = at("2026-03-01T00:00:00Z"), at("2026-04-01T00:00:00Z")
	r := mustCompute(t, in)
	if !r.NoDeployments || r.DeploymentFrequency.Band != NA || r.ChangeFailureRate.Band != NA || r.LeadTime.Band != NA {
		t.Errorf("empty period = %+v, want NoDeployments and N/A bands", r)
	}
	if r.ChangeFailureRate.Rate != 0 || r.DeploymentFrequency.PerDay != 0 || r.Overall != NA {
		t.Errorf("empty period rates = %v %v, overall %s; want 0, 0, N/A", r.ChangeFailureRate.Rate, r.DeploymentFrequency.PerDay, r.Overall)
	}
	if len(r.Weeks) != 6 { // 2026-02-23 … 2026-03-30
		t.Errorf("weeks = %d, want 6", len(r.Weeks))
	}
	text := RenderText(r)
	if !strings.Contains(text, "no deployments") || strings.Contains(text, "NaN") || strings.Contains(text, "Top") {
		t.Errorf("text:\n%s", text)
	}
}

func TestComputeServiceWithoutIncidents(t *testing.T) {
	in := fixture()
	in.Incidents = nil
	in.Deployments = []records.Deployment{
		deploy("a", "2026-01-05T10:00:00Z", time.Hour),
		deploy("b", "2026-01-12T10:00:00Z", 3*time.Hour),
	}
	r := mustCompute(t, in)
	if r.TimeToRestore.Band != NA || r.TimeToRestore.Resolved != 0 || RestoreText(en, r) != "no incidents" {
		t.Errorf("restore = %+v (%q), want N/A, no incidents", r.TimeToRestore, RestoreText(en, r))
	}
	if r.ChangeFailureRate.Failed != 0 || r.ChangeFailureRate.Band != Elite {
		t.Errorf("failure = %+v, want 0 failed, Elite", r.ChangeFailureRate)
	}
	// Bands: frequency High (1 day/week), lead Elite (lower median 1h), CFR
	// Elite → sorted High, Elite, Elite → Elite.
	if r.DeploymentFrequency.Band != High || r.LeadTime.Median != time.Hour || r.Overall != Elite {
		t.Errorf("bands %s %s overall %s, want High, 1h, Elite", r.DeploymentFrequency.Band, r.LeadTime.Median, r.Overall)
	}
}

func TestComputeTimeZones(t *testing.T) {
	sp, err := time.LoadLocation("America/Sao_Paulo")
	if err != nil {
		t.Skip("no tzdata: ", err) // never expected on a Go toolchain with time/tzdata
	}
	// Sunday 2026-01-11 23:30 in São Paulo is Monday 02:30 UTC.
	d := deploy("late", "2026-01-12T02:30:00Z", time.Hour)
	in := Input{Service: "nexo-be", Deployments: []records.Deployment{d},
		Since: time.Date(2026, 1, 5, 0, 0, 0, 0, sp), Until: time.Date(2026, 1, 19, 0, 0, 0, 0, sp), Location: sp}
	r := mustCompute(t, in)
	if len(r.Weeks) != 2 || r.Weeks[0].Deployments != 1 || r.Weeks[1].Deployments != 0 {
		t.Fatalf("São Paulo weeks = %+v, want the deploy in the week of 01-05", r.Weeks)
	}
	if !r.Weeks[0].Start.Equal(time.Date(2026, 1, 5, 0, 0, 0, 0, sp)) {
		t.Errorf("week start = %s, want Monday 00:00 in São Paulo", r.Weeks[0].Start)
	}
	in.Location = time.UTC
	in.Since, in.Until = at("2026-01-05T00:00:00Z"), at("2026-01-19T00:00:00Z")
	r = mustCompute(t, in)
	if r.Weeks[0].Deployments != 0 || r.Weeks[1].Deployments != 1 {
		t.Errorf("UTC weeks = %+v, want the deploy in the week of 01-12", r.Weeks)
	}
	// Deploy days: two deploys on the same São Paulo evening are one day
	// there, two days in UTC.
	early := deploy("early", "2026-01-11T22:00:00Z", time.Hour) // 19:00 in São Paulo
	in.Deployments = []records.Deployment{d, early}
	if got := mustCompute(t, in).DeploymentFrequency.DeployDays; got != 2 {
		t.Errorf("UTC deploy days = %d, want 2", got)
	}
	in.Location = sp
	if got := mustCompute(t, in).DeploymentFrequency.DeployDays; got != 1 {
		t.Errorf("São Paulo deploy days = %d, want 1", got)
	}
}

func TestRollbackAndHotfixAttribution(t *testing.T) {
	in := fixture()
	in.Incidents = nil
	in.Deployments = []records.Deployment{
		deploy("a", "2026-01-05T10:00:00Z", time.Hour),
		kind(deploy("rb", "2026-01-05T11:00:00Z", 0), records.KindRollback),       // a failed
		kind(deploy("hf", "2026-01-05T12:00:00Z", time.Hour), records.KindHotfix), // a again: not twice
		deploy("b", "2026-01-06T10:00:00Z", time.Hour),
		kind(deploy("fx", "2026-01-06T11:00:00Z", time.Hour), records.KindFix), // a fix is an ordinary change
		deploy("c", "2026-01-07T10:00:00Z", time.Hour),
	}
	in.Deployments[5].RolledBackBy = "wf-123" // recorded by the rollback workflow
	r := mustCompute(t, in)
	c := r.ChangeFailureRate
	if c.Deployments != 6 || c.Failed != 2 || c.RolledBack != 2 || c.Hotfixed != 0 {
		t.Errorf("failure = %+v, want 6 deployments, 2 rolled back (a, c)", c)
	}
	// 2/6 = 33 % → Low in 2023, Low in 2021 (> 30 %).
	if c.Band != Low {
		t.Errorf("band = %s, want Low", c.Band)
	}
	// The rollback has no lead time; hf, b, fx, c, a do.
	if r.LeadTime.Samples != 5 {
		t.Errorf("lead samples = %d, want 5", r.LeadTime.Samples)
	}
}

func TestIncidentAttachment(t *testing.T) {
	base := func() Input {
		in := fixture()
		in.Deployments = []records.Deployment{
			deploy("a", "2026-01-05T10:00:00Z", time.Hour),
			deploy("b", "2026-01-06T10:00:00Z", time.Hour),
			deploy("c", "2026-01-07T10:00:00Z", time.Hour),
		}
		in.Deployments[0].GitOpsSHA = "abc123"
		return in
	}
	failedIDs := func(in Input) string {
		// Read each deployment's verdict through a one-deployment window.
		var out []string
		for _, d := range in.Deployments {
			one := in
			one.Since, one.Until = d.DeployedAt(), d.DeployedAt().Add(time.Second)
			if mustCompute(t, one).ChangeFailureRate.Failed == 1 {
				out = append(out, d.ID)
			}
		}
		return strings.Join(out, ",")
	}
	cases := []struct {
		name string
		inc  records.Incident
		want string
	}{
		{"last deploy before", incident("x", "2026-01-06T18:00:00Z", time.Hour), "b"},
		{"declared exactly at a deploy goes to the one before", incident("x", "2026-01-07T10:00:00Z", time.Hour), "b"},
		{"before any deploy attaches to nothing", incident("x", "2026-01-01T10:00:00Z", time.Hour), ""},
		{"explicit deployment wins", func() records.Incident {
			i := incident("x", "2026-01-07T18:00:00Z", time.Hour)
			i.Deployment = "a"
			return i
		}(), "a"},
		{"explicit git sha maps to the recorded deployment", func() records.Incident {
			i := incident("x", "2026-01-07T18:00:00Z", time.Hour)
			i.Deployment = "git:abc123"
			return i
		}(), "a"},
		{"unknown explicit deployment falls back to the rule", func() records.Incident {
			i := incident("x", "2026-01-07T18:00:00Z", time.Hour)
			i.Deployment = "wf-gone"
			return i
		}(), "c"},
		{"staging incident is ignored", func() records.Incident {
			i := incident("x", "2026-01-07T18:00:00Z", time.Hour)
			i.Env = "staging"
			return i
		}(), ""},
		{"other service is ignored", func() records.Incident {
			i := incident("x", "2026-01-07T18:00:00Z", time.Hour)
			i.Service = "nexo-fe"
			return i
		}(), ""},
		{"no env means the measured env", func() records.Incident {
			i := incident("x", "2026-01-07T18:00:00Z", time.Hour)
			i.Env = ""
			return i
		}(), "c"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			in.Incidents = []records.Incident{tc.inc}
			if got := failedIDs(in); got != tc.want {
				t.Errorf("failed = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestComputeRejectsBadInput(t *testing.T) {
	in := fixture()
	cases := map[string]func(*Input){
		"end before start": func(i *Input) { i.Since, i.Until = i.Until, i.Since },
		"empty period":     func(i *Input) { i.Until = i.Since },
		"no start":         func(i *Input) { i.Since = time.Time{} },
		"unknown bands":    func(i *Input) { i.Bands = "2019" },
		"century":          func(i *Input) { i.Until = i.Since.AddDate(101, 0, 0) },
	}
	for name, mod := range cases {
		bad := in
		mod(&bad)
		if _, err := Compute(bad); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestComputeDefaults(t *testing.T) {
	in := fixture()
	in.Env, in.Bands, in.Location = "", "", nil
	r := mustCompute(t, in)
	if r.Env != "production" || r.Bands != "2023" || r.Location != "UTC" {
		t.Errorf("defaults = %s %s %s", r.Env, r.Bands, r.Location)
	}
}

// A change superseded by a hotfix or a rollback after its merge is a
// deployment that failed, as a rollback of it would make it; one
// superseded before its merge never deployed.
func TestSupersededChangesFail(t *testing.T) {
	in := fixture()
	in.Incidents = nil
	merged := deploy("merged", "2026-01-05T10:00:00Z", time.Hour)
	merged.Result = records.ResultSuperseded
	merged.HealthyAt = nil
	mergedAt := at("2026-01-05T10:00:00Z")
	merged.MergedAt, merged.FinishedAt = &mergedAt, &mergedAt
	unmerged := deploy("unmerged", "2026-01-06T09:00:00Z", time.Hour)
	unmerged.Result, unmerged.HealthyAt, unmerged.MergedAt = records.ResultSuperseded, nil, nil
	cancelled := deploy("cancelled", "2026-01-06T10:00:00Z", time.Hour)
	cancelled.Result, cancelled.HealthyAt = records.ResultCancelled, ptr(at("2026-01-06T10:00:00Z")) // after it was Healthy: a deployment
	in.Deployments = []records.Deployment{
		merged,
		kind(deploy("hf", "2026-01-05T10:20:00Z", time.Hour), records.KindHotfix), // blames "merged" once
		unmerged,
		cancelled,
	}
	r := mustCompute(t, in)
	c := r.ChangeFailureRate
	if c.Deployments != 3 || c.Failed != 1 || c.Superseded != 1 || c.Hotfixed != 0 {
		t.Errorf("failure = %+v, want 3 deployments (merged, hf, cancelled), 1 failed: superseded", c)
	}
	if !strings.Contains(RenderText(r), "1 failed (1 superseded, 0 rolled back") {
		t.Errorf("text report:\n%s", RenderText(r))
	}
}
