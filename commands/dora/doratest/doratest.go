// Package doratest generates deployment and incident records at scale for
// the DORA benchmarks (the tracker's refresh, the /metrics scrape), and the
// fixtures the DORA packages' tests share (Deps, CompareServer, Time).
package doratest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/store"
)

// Fleet is a generated history: Services named svc-000… deployed to Envs.
type Fleet struct {
	Services, Envs []string
	Deployments    []records.Deployment
	Incidents      []records.Incident
}

// Generate makes, deterministically, perDay deployments a day on average
// of every service in every environment over the days before until, one
// in ten a hotfix or a rollback, and an incident a week per service in the
// last environment (nine in ten resolved within six hours).
func Generate(services int, envs []string, days int, perDay float64, until time.Time) Fleet {
	rng := rand.New(rand.NewPCG(2026, 20))
	f := Fleet{Envs: envs}
	for s := 0; s < services; s++ {
		f.Services = append(f.Services, fmt.Sprintf("svc-%03d", s))
	}
	start := until.Add(-time.Duration(days) * 24 * time.Hour)
	span := int64(until.Sub(start))
	n := int(float64(services*len(envs)*days) * perDay)
	kinds := []string{records.KindPromote, records.KindPromote, records.KindPromote, records.KindPromote, records.KindPromote,
		records.KindPromote, records.KindPromote, records.KindPromote, records.KindHotfix, records.KindRollback}
	for i := 0; i < n; i++ {
		when := start.Add(time.Duration(rng.Int64N(span)))
		done := when
		first := when.Add(-time.Duration(rng.Int64N(int64(72 * time.Hour))))
		f.Deployments = append(f.Deployments, records.Deployment{
			ID: fmt.Sprintf("wf-%07d", i), Service: f.Services[rng.IntN(services)], Env: envs[rng.IntN(len(envs))],
			Tag: when.Format("2006.01.02") + fmt.Sprintf("-%d", i), Kind: kinds[rng.IntN(len(kinds))], Result: records.ResultSuccess,
			RequestedAt: when.Add(-time.Hour), MergedAt: &done, FinishedAt: &done, FirstCommitAt: &first,
		})
	}
	last := envs[len(envs)-1]
	for i := 0; i < services*days/7; i++ {
		when := start.Add(time.Duration(rng.Int64N(span)))
		inc := records.Incident{ID: fmt.Sprintf("inc-%06d", i), Service: f.Services[rng.IntN(services)], Env: last,
			DeclaredAt: when, Status: records.StatusInvestigating}
		if i%10 != 0 {
			res := when.Add(time.Duration(rng.Int64N(int64(6 * time.Hour))))
			inc.ResolvedAt, inc.Status = &res, records.StatusResolved
		}
		f.Incidents = append(f.Incidents, inc)
	}
	return f
}

// bulkStore is a store that writes many documents at once (boltstore).
type bulkStore interface {
	PutDocs(ctx context.Context, collection string, docs map[string]any) error
}

// Put stores the fleet's records (in one transaction per collection when
// the store can).
func (f Fleet) Put(ctx context.Context, st store.Store) error {
	deps := make(map[string]any, len(f.Deployments))
	for _, d := range f.Deployments {
		deps[d.ID] = d
	}
	incs := make(map[string]any, len(f.Incidents))
	for _, inc := range f.Incidents {
		incs[inc.ID] = inc
	}
	for collection, docs := range map[string]map[string]any{records.DeploymentsCollection: deps, records.IncidentsCollection: incs} {
		if b, ok := st.(bulkStore); ok {
			if err := b.PutDocs(ctx, collection, docs); err != nil {
				return err
			}
			continue
		}
		for id, doc := range docs {
			if err := st.PutDoc(ctx, collection, id, doc); err != nil {
				return err
			}
		}
	}
	return nil
}

// ConfigYAML is a nexo.yaml naming the fleet's services and environments.
func (f Fleet) ConfigYAML() string {
	y := "environments:\n"
	for _, e := range f.Envs {
		y += "  - {name: " + e + "}\n"
	}
	y += "services:\n"
	for _, s := range f.Services {
		y += "  - {name: " + s + "}\n"
	}
	return y
}
