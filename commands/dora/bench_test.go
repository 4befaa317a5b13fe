package dora

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/dora/doratest"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/store/boltstore"
	"github.com/nexo-org/nexo-bot/workflow"
)

// yearOf200Services generates, deterministically, 100,000 production
// deployments and 5,000 incidents spread over 2025 and 200 services.
func yearOf200Services() Input {
	rng := rand.New(rand.NewPCG(2026, 7))
	start := at("2025-01-01T00:00:00Z")
	year := 365 * 24 * time.Hour
	kinds := []string{records.KindPromote, records.KindPromote, records.KindPromote, records.KindPromote,
		records.KindPromote, records.KindPromote, records.KindPromote, records.KindPromote, records.KindHotfix, records.KindRollback}
	deps := make([]records.Deployment, 100_000)
	for i := range deps {
		when := start.Add(time.Duration(rng.Int64N(int64(year))))
		done := when // finished inside the year
		first := when.Add(-time.Duration(rng.Int64N(int64(72 * time.Hour))))
		deps[i] = records.Deployment{
			ID: fmt.Sprintf("wf-%06d", i), Service: fmt.Sprintf("svc-%03d", i%200), Env: "production",
			Tag: when.Format("2006.01.02") + fmt.Sprintf("-%d", i), Kind: kinds[rng.IntN(len(kinds))],
			Result: records.ResultSuccess, RequestedAt: when, FinishedAt: &done, FirstCommitAt: &first,
		}
	}
	incs := make([]records.Incident, 5_000)
	for i := range incs {
		when := start.Add(time.Duration(rng.Int64N(int64(year))))
		inc := records.Incident{ID: fmt.Sprintf("inc-%05d", i), Service: fmt.Sprintf("svc-%03d", rng.IntN(200)),
			Env: "production", DeclaredAt: when, Status: records.StatusInvestigating}
		if i%10 != 0 {
			res := when.Add(time.Duration(rng.Int64N(int64(6 * time.Hour))))
			inc.ResolvedAt, inc.Status = &res, records.StatusResolved
		}
		if i%25 == 0 {
			inc.Deployment = fmt.Sprintf("wf-%06d", rng.IntN(len(deps)))
		}
		incs[i] = inc
	}
	return Input{Service: "all", Since: start, Until: start.Add(year), Deployments: deps, Incidents: incs}
}

func BenchmarkCompute1Year200Services(b *testing.B) {
	in := yearOf200Services()
	b.ReportAllocs()
	b.ResetTimer()
	var r Report
	for b.Loop() {
		var err error
		if r, err = Compute(in); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if r.DeploymentFrequency.Deployments != 100_000 || len(r.Weeks) != 53 {
		b.Fatalf("report = %d deployments, %d weeks", r.DeploymentFrequency.Deployments, len(r.Weeks))
	}
}

// fleetTracker is a tracker of 200 services in 4 environments over a bolt
// store holding 90 days of their records (36,000 deployments, 2,571
// incidents), without GitOps history.
func fleetTracker(b *testing.B) (*Tracker, *commands.Deps, doratest.Fleet) {
	b.Helper()
	now := at("2026-02-18T10:00:00Z")
	fleet := doratest.Generate(200, []string{"develop", "qa", "staging", "production"}, 90, 0.5, now)
	cfg, err := config.Parse([]byte(fleet.ConfigYAML()))
	if err != nil {
		b.Fatal(err)
	}
	st, err := boltstore.Open(filepath.Join(b.TempDir(), "nexo.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	if err := fleet.Put(context.Background(), st); err != nil {
		b.Fatal(err)
	}
	d := &commands.Deps{Config: cfg, Store: st, Engine: workflow.New(st, workflow.NewManualClock(now), slog.Default(), "bench")}
	return NewTracker(d, TrackerOptions{}), d, fleet
}

// BenchmarkTrackerRefresh200Services is one refresh of the /metrics DORA
// gauges of 200 services × 4 environments: the first (every document
// decoded, 800 reports), one with nothing changed (the store read, no
// report), and one after one record changed (one report).
func BenchmarkTrackerRefresh200Services(b *testing.B) {
	ctx := context.Background()
	tr, d, fleet := fleetTracker(b)
	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			fresh := NewTracker(d, TrackerOptions{})
			if err := fresh.Refresh(ctx); err != nil {
				b.Fatal(err)
			}
			if c := fresh.Snapshot().Computed; c != 800 {
				b.Fatalf("computed %d reports", c)
			}
		}
	})
	if err := tr.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	b.Run("unchanged", func(b *testing.B) {
		for b.Loop() {
			if err := tr.Refresh(ctx); err != nil {
				b.Fatal(err)
			}
		}
		if c := tr.Snapshot().Computed; c != 0 {
			b.Fatalf("computed %d reports with nothing changed", c)
		}
	})
	changes := 0
	b.Run("one-record", func(b *testing.B) {
		dep := fleet.Deployments[0]
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			changes++ // b.N restarts at 0 when the benchmark runs again
			dep.Tag = fmt.Sprintf("2026.02.18-%d", changes)
			if err := d.Store.PutDoc(ctx, records.DeploymentsCollection, dep.ID, dep); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if err := tr.Refresh(ctx); err != nil {
				b.Fatal(err)
			}
			if c := tr.Snapshot().Computed; c != 1 {
				b.Fatalf("computed %d reports for one record", c)
			}
		}
	})
}
