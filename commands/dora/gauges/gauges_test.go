package gauges

import (
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/dora"
	"github.com/nexo-org/nexo-bot/commands/dora/doratest"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/integrations/gitops"
	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopstest"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

// countingRepo counts the history reads of a real repository.
type countingRepo struct {
	gitops.Repo
	histories atomic.Int32
	failSync  atomic.Bool
}

func (r *countingRepo) FileHistory(ctx context.Context, path string) ([]gitops.Version, error) {
	r.histories.Add(1)
	return r.Repo.FileHistory(ctx, path)
}

func (r *countingRepo) Sync(ctx context.Context) error {
	if r.failSync.Load() {
		return store.ErrUnavailable // any error: the remote is unreachable
	}
	return r.Repo.Sync(ctx)
}

// The fixtures the DORA packages share (commands/dora/doratest).
var (
	doraTime       = doratest.Time
	doraPtr        = doratest.Ptr
	doraDeps       = doratest.Deps
	putDoraRecords = doratest.PutRecords
	putDoc         = doratest.PutDoc
)

// trackerNow is the tests' clock: the period is 2026-01-20 → 2026-02-19.
var trackerNow = doraTime("2026-02-18T10:00:00Z")

// trackerDeps is doraDeps with a manual clock, GitHub's compare API and a
// counting repository; the remote is returned for new commits.
func trackerDeps(t *testing.T) (*commands.Deps, *workflow.ManualClock, *countingRepo, *doratest.CompareServer) {
	t.Helper()
	d, _ := doraDeps(t)
	clock := workflow.NewManualClock(trackerNow)
	d.Engine = workflow.New(d.Store, clock, slog.Default(), "test")
	repo := &countingRepo{Repo: d.GitOps}
	d.GitOps = repo
	gh := doratest.WithGitHub(t, d)
	return d, clock, repo, gh
}

// sameAsReports checks every row of the tracker's snapshot against the
// report `/nexo dora <service> <env>` makes at the clock's time.
func sameAsReports(t *testing.T, ctx context.Context, d *commands.Deps, snap *Snapshot) {
	t.Helper()
	if snap == nil || len(snap.Rows) != len(d.Config.ServiceNames())*len(d.Config.Environments) {
		t.Fatalf("snapshot: %+v", snap)
	}
	for _, row := range snap.Rows {
		q, err := dora.ParseQuery(d.Config, []string{row.Service, row.Env}, "", "", "", d.Clock().Now())
		if err != nil {
			t.Fatal(err)
		}
		res, err := dora.Measure(ctx, d, q)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(row.Report, res.Report) {
			got, _ := json.Marshal(row.Report)
			want, _ := json.Marshal(res.Report)
			t.Errorf("%s %s:\n tracker %s\n  report %s", row.Service, row.Env, got, want)
		}
	}
}

func row(t *testing.T, snap *Snapshot, service, env string) dora.Report {
	t.Helper()
	for _, r := range snap.Rows {
		if r.Service == service && r.Env == env {
			return r.Report
		}
	}
	t.Fatalf("no row for %s %s", service, env)
	return dora.Report{}
}

// moreRecords adds, besides putDoraRecords: a rollback of nexo-fe in
// staging, an incident of nexo-fe with no environment (every environment)
// still open, a pending promotion and a record of a service that is no
// longer configured.
func moreRecords(t *testing.T, st store.Store) {
	t.Helper()
	putDoc(t, st, records.DeploymentsCollection, "rollback-fe-stg", records.Deployment{ID: "rollback-fe-stg", Service: "nexo-fe", Env: "staging",
		Tag: "2026.02.03", Previous: "2026.02.10", Kind: records.KindRollback, Result: records.ResultSuccess,
		RequestedAt: doraTime("2026-02-12T09:00:00Z"), FinishedAt: doraPtr(doraTime("2026-02-12T09:10:00Z")), HealthyAt: doraPtr(doraTime("2026-02-12T09:10:00Z"))})
	putDoc(t, st, records.DeploymentsCollection, "promote-pending", records.Deployment{ID: "promote-pending", Service: "nexo-be", Env: "qa",
		Tag: "2026.02.18", Kind: records.KindPromote, Result: records.ResultPending, RequestedAt: doraTime("2026-02-18T09:00:00Z")})
	putDoc(t, st, records.DeploymentsCollection, "promote-gone", records.Deployment{ID: "promote-gone", Service: "retired", Env: "production",
		Tag: "2026.02.01", Kind: records.KindPromote, Result: records.ResultSuccess, RequestedAt: doraTime("2026-02-02T09:00:00Z"),
		FinishedAt: doraPtr(doraTime("2026-02-02T10:00:00Z"))})
	putDoc(t, st, records.IncidentsCollection, "inc-fe-open", records.Incident{ID: "inc-fe-open", Service: "nexo-fe",
		Status: records.StatusInvestigating, DeclaredAt: doraTime("2026-02-16T08:00:00Z")})
	putDoc(t, st, records.DeploymentsCollection, "broken", json.RawMessage(`{"id": 7}`))
}

func TestTrackerEqualsTheReportOfEveryServiceAndEnv(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, _, _, gh := trackerDeps(t)
	putDoraRecords(t, ctx, d.Store)
	moreRecords(t, d.Store)
	tr := NewTracker(d, Options{})
	if tr.Snapshot() != nil {
		t.Fatal("a snapshot before the first refresh")
	}
	if err := tr.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	snap := tr.Snapshot()
	if !snap.Since.Equal(doraTime("2026-01-20T00:00:00Z")) || !snap.Until.Equal(doraTime("2026-02-19T00:00:00Z")) || snap.Computed != 8 || snap.Bands != "2023" {
		t.Fatalf("snapshot period %s → %s, computed %d, bands %s", snap.Since, snap.Until, snap.Computed, snap.Bands)
	}
	calls := gh.Calls.Load()
	if calls == 0 {
		t.Fatal("no lead time was looked up for the imported deployments")
	}
	// The figures the comparison rests on are not empty ones.
	prod := row(t, snap, "nexo-be", "production")
	if prod.ChangeFailureRate.Deployments < 3 || prod.ChangeFailureRate.Failed != 1 || prod.TimeToRestore.Resolved != 1 || prod.LeadTime.Samples < 2 {
		t.Fatalf("nexo-be production: %+v %+v %+v", prod.ChangeFailureRate, prod.TimeToRestore, prod.LeadTime)
	}
	if stg := row(t, snap, "nexo-fe", "staging"); stg.ChangeFailureRate.RolledBack != 1 || stg.TimeToRestore.Unresolved != 1 {
		t.Fatalf("nexo-fe staging: %+v %+v", stg.ChangeFailureRate, stg.TimeToRestore)
	}
	if dev := row(t, snap, "nexo-fe", "develop"); dev.TimeToRestore.Unresolved != 1 {
		t.Fatalf("an incident with no environment counts in every one: %+v", dev.TimeToRestore)
	}
	sameAsReports(t, ctx, d, snap)
	if gh.Calls.Load() != calls {
		t.Fatalf("the reports made %d compare calls the tracker had cached", gh.Calls.Load()-calls)
	}
}

func TestTrackerRefreshDoesOnlyWhatChanged(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, clock, repo, _ := trackerDeps(t)
	putDoraRecords(t, ctx, d.Store)
	tr := NewTracker(d, Options{})
	refresh := func(wantComputed int, what string) *Snapshot {
		t.Helper()
		if err := tr.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		s := tr.Snapshot()
		if s.Computed != wantComputed {
			t.Fatalf("%s: computed %d reports, want %d", what, s.Computed, wantComputed)
		}
		return s
	}
	refresh(8, "first")
	if n := repo.histories.Load(); n != 8 {
		t.Fatalf("first refresh read %d histories, want 8", n)
	}
	refresh(0, "nothing changed")
	if n := repo.histories.Load(); n != 8 {
		t.Fatalf("an unchanged head read %d histories again", n-8)
	}

	// A new record: its service and environment only.
	qaBefore := row(t, tr.Snapshot(), "nexo-fe", "qa").ChangeFailureRate.Deployments
	hotfix := records.Deployment{ID: "hotfix-fe-qa", Service: "nexo-fe", Env: "qa", Tag: "2026.02.17-hotfix", Previous: "2026.02.17",
		Kind: records.KindHotfix, Result: records.ResultSuccess, RequestedAt: doraTime("2026-02-18T08:00:00Z"),
		FinishedAt: doraPtr(doraTime("2026-02-18T08:20:00Z")), FirstCommitAt: doraPtr(doraTime("2026-02-18T07:00:00Z"))}
	putDoc(t, d.Store, records.DeploymentsCollection, hotfix.ID, hotfix)
	s := refresh(1, "one record")
	if qa := row(t, s, "nexo-fe", "qa"); qa.ChangeFailureRate.Deployments != qaBefore+1 || qa.ChangeFailureRate.Hotfixed != 1 {
		t.Fatalf("after the hotfix: %+v (before %d)", qa.ChangeFailureRate, qaBefore)
	}
	putDoc(t, d.Store, records.DeploymentsCollection, hotfix.ID, hotfix)
	refresh(0, "the same bytes again")

	// An incident with no environment: the service's four.
	putDoc(t, d.Store, records.IncidentsCollection, "inc-be-all", records.Incident{ID: "inc-be-all", Service: "nexo-be",
		Status: records.StatusResolved, DeclaredAt: doraTime("2026-02-17T08:00:00Z"), ResolvedAt: doraPtr(doraTime("2026-02-17T09:00:00Z"))})
	refresh(4, "an incident of every environment")

	// A commit to one values file: that file's history only.
	remote := gitopstest.Remote{URL: d.Config.GitOps.RepoURL, Path: d.Config.GitOps.RepoURL[len("file://"):]}
	remote.Commit(t, map[string]string{gitopstest.PlaybookValuesPath("nexo-be", "staging"): gitopstest.PlaybookValues("nexo-be", "staging", "2026.02.17")},
		"chore: staging by hand", doraTime("2026-02-18T09:30:00Z"))
	stgBefore := row(t, tr.Snapshot(), "nexo-be", "staging").ChangeFailureRate.Deployments
	s = refresh(1, "a commit to one file")
	if n := repo.histories.Load(); n != 9 {
		t.Fatalf("a commit to one file read %d histories, want 1", n-8)
	}
	if stg := row(t, s, "nexo-be", "staging"); stg.ChangeFailureRate.Deployments != stgBefore+1 {
		t.Fatalf("the hand-made deployment: %d deployments, before %d", stg.ChangeFailureRate.Deployments, stgBefore)
	}

	// A record of that commit: the same deployment, counted once.
	head := remote.Head(t, "main")
	putDoc(t, d.Store, records.DeploymentsCollection, "promote-stg", records.Deployment{ID: "promote-stg", Service: "nexo-be", Env: "staging",
		Tag: "2026.02.17", Previous: "2026.02.10", Kind: records.KindPromote, Result: records.ResultSuccess, GitOpsSHA: head,
		RequestedAt: doraTime("2026-02-18T09:00:00Z"), MergedAt: doraPtr(doraTime("2026-02-18T09:30:00Z"))})
	s = refresh(1, "the commit's record")
	if stg := row(t, s, "nexo-be", "staging"); stg.ChangeFailureRate.Deployments != stgBefore+1 {
		t.Fatalf("the recorded commit counted twice: %d, before %d", stg.ChangeFailureRate.Deployments, stgBefore)
	}

	// A deleted record.
	if err := d.Store.DeleteDoc(ctx, records.DeploymentsCollection, hotfix.ID); err != nil {
		t.Fatal(err)
	}
	s = refresh(1, "a deleted record")
	if qa := row(t, s, "nexo-fe", "qa"); qa.ChangeFailureRate.Deployments != qaBefore {
		t.Fatalf("after the deletion: %d deployments, want %d", qa.ChangeFailureRate.Deployments, qaBefore)
	}
	sameAsReports(t, ctx, d, s)

	// Midnight moves the period: every report.
	clock.Set(doraTime("2026-02-19T00:00:01Z"))
	s = refresh(8, "a new day")
	if !s.Since.Equal(doraTime("2026-01-21T00:00:00Z")) {
		t.Fatalf("period since %s", s.Since)
	}
	sameAsReports(t, ctx, d, s)
}

func TestTrackersOfTwoReplicasReadTheSharedStore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, _, _, _ := trackerDeps(t)
	d.GitOps, d.GitHub = nil, nil
	other := &commands.Deps{Config: d.Config, Store: d.Store, Engine: d.Engine}
	a, b := NewTracker(d, Options{}), NewTracker(other, Options{})
	for _, tr := range []*Tracker{a, b} {
		if err := tr.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Written by a third replica: neither tracker was told.
	putDoraRecords(t, ctx, d.Store)
	for i, tr := range []*Tracker{a, b} {
		if err := tr.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if r := row(t, tr.Snapshot(), "nexo-be", "production"); r.ChangeFailureRate.Deployments != 1 || r.TimeToRestore.Resolved != 1 {
			t.Fatalf("replica %d: %+v %+v", i, r.ChangeFailureRate, r.TimeToRestore)
		}
	}
}

// downStore fails every read while down is set.
type downStore struct {
	store.Store
	down atomic.Bool
}

func (s *downStore) ListDocs(ctx context.Context, collection string) ([]store.Doc, error) {
	if s.down.Load() {
		return nil, store.ErrUnavailable
	}
	return s.Store.ListDocs(ctx, collection)
}

func TestTrackerKeepsItsFiguresWhenASourceFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, _, repo, _ := trackerDeps(t)
	st := &downStore{Store: d.Store}
	d.Store = st
	putDoraRecords(t, ctx, d.Store)
	tr := NewTracker(d, Options{})
	if err := tr.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	before := tr.Snapshot()

	st.down.Store(true)
	if err := tr.Refresh(ctx); err == nil {
		t.Fatal("a refresh with the store down reported no error")
	}
	if tr.Snapshot() != before {
		t.Fatal("the snapshot changed while the store was down")
	}
	st.down.Store(false)

	// The remote unreachable: the records still count, the history read
	// before stays.
	repo.failSync.Store(true)
	putDoc(t, d.Store, records.DeploymentsCollection, "hotfix-be-prod", records.Deployment{ID: "hotfix-be-prod", Service: "nexo-be", Env: "production",
		Tag: "2026.02.10-hotfix", Kind: records.KindHotfix, Result: records.ResultSuccess, RequestedAt: doraTime("2026-02-17T08:00:00Z"),
		FinishedAt: doraPtr(doraTime("2026-02-17T08:20:00Z"))})
	if err := tr.Refresh(ctx); err == nil {
		t.Fatal("a refresh with the remote down reported no error")
	}
	after := tr.Snapshot()
	if after == before || row(t, after, "nexo-be", "production").ChangeFailureRate.Deployments != row(t, before, "nexo-be", "production").ChangeFailureRate.Deployments+1 {
		t.Fatalf("with the remote down: %+v", row(t, after, "nexo-be", "production").ChangeFailureRate)
	}
	if s, g := tr.Errors(); s != 1 || g != 1 {
		t.Fatalf("errors: store %d, gitops %d", s, g)
	}
}

func TestTrackerRunRefreshesWhenNudged(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d, _, _, _ := trackerDeps(t)
	d.GitOps, d.GitHub = nil, nil
	tr := NewTracker(d, Options{Refresh: time.Hour})
	d.OnDeployFinished(tr.OnDeployFinished)
	done := make(chan struct{})
	go func() { tr.Run(ctx); close(done) }()
	waitFor := func(what string, cond func(*Snapshot) bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if s := tr.Snapshot(); s != nil && cond(s) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("timed out waiting for %s", what)
	}
	waitFor("the first refresh", func(s *Snapshot) bool { return true })
	putDoraRecords(t, ctx, d.Store)
	d.TellDeployFinished(ctx, commands.DeployFinished{Service: "nexo-be", Env: "production"})
	waitFor("the nudged refresh", func(s *Snapshot) bool {
		return row(t, s, "nexo-be", "production").ChangeFailureRate.Deployments == 1
	})
	cancel()
	<-done
}
