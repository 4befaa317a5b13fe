package dora

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands/records"
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
