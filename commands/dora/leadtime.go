package dora

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/store"
)

// leadTimeDoc is a cached compare result.
type leadTimeDoc struct {
	FirstCommitAt *time.Time `json:"first_commit_at,omitempty"`
	Commits       int        `json:"commits"`
}

// NeedsLeadTime tells whether an imported deployment between since and
// until can get a lead time from the compare API: it has none, a previous
// tag, is not a rollback, and its service names a source repository.
func NeedsLeadTime(d *commands.Deps, dep *records.Deployment, since, until time.Time) bool {
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

// Outcomes of LookUpLeadTime.
const (
	LeadKnown   = iota // the answer is in dep (a time, or none: no commits)
	LeadSkipped        // not cached, and no call was allowed
	LeadFailed         // the cache or the compare call failed
)

// LookUpLeadTime sets dep.FirstCommitAt from the cache, else, when mayCall,
// from the compare API between dep's previous and new tag (the oldest
// commit time), caching the answer. called tells whether it called GitHub.
func LookUpLeadTime(ctx context.Context, d *commands.Deps, dep *records.Deployment, mayCall bool) (outcome int, called bool) {
	svc, _ := d.Config.Service(dep.Service)
	key := leadTimeKey(d, dep)
	var lt leadTimeDoc
	err := d.Store.GetDoc(ctx, LeadTimeCollection, key, &lt)
	switch {
	case err == nil:
	case !errors.Is(err, store.ErrNotFound):
		return LeadFailed, false
	case !mayCall:
		return LeadSkipped, false
	default:
		cctx, cancel := context.WithTimeout(ctx, compareTimeout)
		commits, err := d.GitHub.Compare(cctx, svc.Repo, dep.Previous, dep.Tag)
		cancel()
		if err != nil {
			Logger(d).Info("dora: compare", "repo", svc.Repo, "base", dep.Previous, "head", dep.Tag, "err", err)
			return LeadFailed, true
		}
		lt = leadTimeDoc{Commits: len(commits)}
		for _, c := range commits {
			if !c.Time.IsZero() && (lt.FirstCommitAt == nil || c.Time.Before(*lt.FirstCommitAt)) {
				t := c.Time
				lt.FirstCommitAt = &t
			}
		}
		if err := d.Store.PutDoc(ctx, LeadTimeCollection, key, lt); err != nil {
			Logger(d).Warn("dora: caching lead time", "key", key, "err", err)
		}
		called = true
	}
	dep.FirstCommitAt = lt.FirstCommitAt
	return LeadKnown, called
}

// fillLeadTimes sets FirstCommitAt of the imported deployments of the
// period (newest first) from the compare API between their previous and
// new tag, through the cache, with at most maxCompares calls. It returns a
// note when some were left out.
func fillLeadTimes(ctx context.Context, d *commands.Deps, imported []records.Deployment, since, until time.Time) i18n.Msg {
	idx := make([]int, 0, len(imported))
	for i := range imported {
		if NeedsLeadTime(d, &imported[i], since, until) {
			idx = append(idx, i)
		}
	}
	slices.SortFunc(idx, func(a, b int) int { return imported[b].DeployedAt().Compare(imported[a].DeployedAt()) })
	calls, skipped, failed := 0, 0, 0
	for _, i := range idx {
		outcome, called := LookUpLeadTime(ctx, d, &imported[i], calls < maxCompares)
		if called {
			calls++
		}
		switch outcome {
		case LeadSkipped:
			skipped++
		case LeadFailed:
			failed++
		}
	}
	var parts []i18n.Msg
	if skipped > 0 {
		parts = append(parts, i18n.M("dora.note.budget", "Count", skipped, "Budget", maxCompares))
	}
	if failed > 0 {
		parts = append(parts, i18n.M("dora.note.compare_failed", "Count", failed))
	}
	if len(parts) == 0 {
		return i18n.Msg{}
	}
	return i18n.M("dora.note.imported", "Parts", parts)
}
