package gauges

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/dora/doratest"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/store/boltstore"
	"github.com/nexo-org/nexo-bot/workflow"
)

// fleetTracker is a tracker of 200 services in 4 environments over a bolt
// store holding 90 days of their records (36,000 deployments, 2,571
// incidents), without GitOps history.
func fleetTracker(b *testing.B) (*Tracker, *commands.Deps, doratest.Fleet) {
	b.Helper()
	now := doratest.Time("2026-02-18T10:00:00Z")
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
	return NewTracker(d, Options{}), d, fleet
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
			fresh := NewTracker(d, Options{})
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
