package dora

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/store"
)

// leadTimeDoc is a cached compare result.
type leadTimeDoc struct {
	FirstCommitAt *time.Time `json:"first_commit_at,omitempty"`
	Commits       int        `json:"commits"`
}

// needsLeadTime tells whether an imported deployment between since and
// until can get a lead time from the compare API: it has none, a previous
// tag, is not a rollback, and its service names a source repository.
func needsLeadTime(d *commands.Deps, dep *records.Deployment, since, until time.Time) bool {
	at := dep.DeployedAt()
	if dep.FirstCommitAt != nil || dep.Previous == "" || dep.Kind == records.KindRollback || at.Before(since) || !at.Before(until) {
		return false
	}
	s, ok := d.Config.Service(dep.Service)
	return ok && s.Repo != ""
}

// leadTimeKey is the cache key of dep's compare ("<owner>/<repo>/<base>/<head>").
func leadTimeKey(d *commands.Deps, dep *records.Deployment) string {
	svc, _ := d.Config.Service(dep.Service)
	return svc.Repo + "/" + dep.Previous + "/" + dep.Tag
}

// Outcomes of lookUpLeadTime.
const (
	leadKnown   = iota // the answer is in dep (a time, or none: no commits)
	leadSkipped        // not cached, and no call was allowed
	leadFailed         // the cache or the compare call failed
)

// lookUpLeadTime sets dep.FirstCommitAt from the cache, else, when mayCall,
// from the compare API between dep's previous and new tag (the oldest
// commit time), caching the answer. called tells whether it called GitHub.
func lookUpLeadTime(ctx context.Context, d *commands.Deps, dep *records.Deployment, mayCall bool) (outcome int, called bool) {
	svc, _ := d.Config.Service(dep.Service)
	key := leadTimeKey(d, dep)
	var lt leadTimeDoc
	err := d.Store.GetDoc(ctx, LeadTimeCollection, key, &lt)
	switch {
	case err == nil:
	case !errors.Is(err, store.ErrNotFound):
		return leadFailed, false
	case !mayCall:
		return leadSkipped, false
	default:
		cctx, cancel := context.WithTimeout(ctx, compareTimeout)
		commits, err := d.GitHub.Compare(cctx, svc.Repo, dep.Previous, dep.Tag)
		cancel()
		if err != nil {
			logger(d).Info("dora: compare", "repo", svc.Repo, "base", dep.Previous, "head", dep.Tag, "err", err)
			return leadFailed, true
		}
		lt = leadTimeDoc{Commits: len(commits)}
		for _, c := range commits {
			if !c.Time.IsZero() && (lt.FirstCommitAt == nil || c.Time.Before(*lt.FirstCommitAt)) {
				t := c.Time
				lt.FirstCommitAt = &t
			}
		}
		if err := d.Store.PutDoc(ctx, LeadTimeCollection, key, lt); err != nil {
			logger(d).Warn("dora: caching lead time", "key", key, "err", err)
		}
		called = true
	}
	dep.FirstCommitAt = lt.FirstCommitAt
	return leadKnown, called
}

// fillLeadTimes sets FirstCommitAt of the imported deployments of the
// period (newest first) from the compare API between their previous and
// new tag, through the cache, with at most maxCompares calls. It returns a
// note when some were left out.
func fillLeadTimes(ctx context.Context, d *commands.Deps, imported []records.Deployment, since, until time.Time) string {
	idx := make([]int, 0, len(imported))
	for i := range imported {
		if needsLeadTime(d, &imported[i], since, until) {
			idx = append(idx, i)
		}
	}
	slices.SortFunc(idx, func(a, b int) int { return imported[b].DeployedAt().Compare(imported[a].DeployedAt()) })
	calls, skipped, failed := 0, 0, 0
	for _, i := range idx {
		outcome, called := lookUpLeadTime(ctx, d, &imported[i], calls < maxCompares)
		if called {
			calls++
		}
		switch outcome {
		case leadSkipped:
			skipped++
		case leadFailed:
			failed++
		}
	}
	var parts []string
	if skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d without lead time (compare budget of %d calls used; run again to continue)", skipped, maxCompares))
	}
	if failed > 0 {
		parts = append(parts, fmt.Sprintf("%d without lead time (GitHub compare failed)", failed))
	}
	if len(parts) == 0 {
		return ""
	}
	return "Imported deployments: " + strings.Join(parts, "; ")
}
