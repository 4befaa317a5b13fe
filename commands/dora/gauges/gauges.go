// Package gauges keeps the DORA report of every configured service in
// every environment up to date, incrementally, for the /metrics gauges
// (internal/dorametrics exports them).
package gauges

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/dora"
	"github.com/nexo-org/nexo-bot/commands/records"
)

// DefaultRefresh is how often a Tracker reads its sources again when
// Options.Refresh is zero (config dora.metrics_refresh).
const DefaultRefresh = time.Minute

// Tracker limits and pacing.
const (
	// refreshTimeout bounds one refresh's reads of the store.
	refreshTimeout = 2 * time.Minute
	// leadTimeBudget bounds the time one refresh spends on compare calls.
	leadTimeBudget = 30 * time.Second
	// leadRetryAfter is how long a failed compare is not retried.
	leadRetryAfter = 30 * time.Minute
	// nudgeDelay gathers the nudges of a burst of finished changes.
	nudgeDelay = 2 * time.Second
)

// Options tune a Tracker.
type Options struct {
	// Refresh is how often Run reads the sources again (default DefaultRefresh).
	Refresh time.Duration
}

// Tracker keeps the DORA report of every configured service in every
// environment over the default period (dora.DefaultPeriod: the last 30 days,
// today included) up to date for /metrics, from the same sources as
// `/nexo dora`: the store's deployment and incident records, the GitOps
// history of each values file and the cached lead times of imported
// deployments. A scrape reads Snapshot, which a refresh replaces whole.
//
// A refresh is incremental: documents whose bytes did not change are not
// decoded again, a values file's history is read again only when a commit
// changed it, and only the reports of a service and environment whose
// inputs changed (or every report, when the period moved at midnight) are
// computed again. Every replica runs its own Tracker over the shared store
// and the GitOps remote, so none depends on having seen an event.
type Tracker struct {
	d       *commands.Deps
	refresh time.Duration
	nudge   chan struct{}
	snap    atomic.Pointer[Snapshot]

	storeErrors, gitopsErrors atomic.Uint64

	mu     sync.Mutex // one refresh at a time; guards everything below
	seed   maphash.Seed
	gen    uint64
	deps   map[string]*docState // deployment documents by id
	incs   map[string]*docState // incident documents by id
	groups map[groupKey]*group
	order  []groupKey
	// shas counts the records standing for each GitOps commit (the
	// history filter); commits maps an imported commit to its groups.
	shas    map[string]int
	commits map[string][]groupKey
	head    string // GitOps head the histories were read at ("" never)
	since   time.Time
	// leadFailed remembers when a compare failed, by deployment id.
	leadFailed map[string]time.Time
}

type groupKey struct{ service, env string }

// group is one service in one environment.
type group struct {
	key     groupKey
	path    string
	records map[string]*records.Deployment
	incs    map[string]*records.Incident
	// history is every deployment the values file's history holds, oldest
	// first; imported indexes those no record stands for (set when the
	// group is filtered).
	history  []records.Deployment
	imported []int
	// leadDone marks imported deployments whose lead time was looked up.
	leadDone map[string]bool
	dirty    bool
	report   dora.Report
}

// docState is what a refresh remembers of one store document.
type docState struct {
	sum    uint64 // hash of the document's bytes
	gen    uint64 // the refresh that last saw it
	groups []groupKey
	shas   []string
}

// Snapshot is the figures of one refresh.
type Snapshot struct {
	// At is the refresh's time on the engine's clock; Since and Until the
	// period measured.
	At, Since, Until time.Time
	// Bands is the benchmark table the bands come from.
	Bands string
	// Rows are one per configured service and environment, by service then
	// environment order.
	Rows []Row
	// Took is how long the refresh took.
	Took time.Duration
	// Computed counts the reports this refresh computed again.
	Computed int
}

// Row is the report of one service in one environment.
type Row struct {
	Service, Env string
	Report       dora.Report
}

// NewTracker makes a tracker of every configured service and environment.
func NewTracker(d *commands.Deps, o Options) *Tracker {
	if o.Refresh <= 0 {
		o.Refresh = DefaultRefresh
	}
	t := &Tracker{
		d: d, refresh: o.Refresh, nudge: make(chan struct{}, 1), seed: maphash.MakeSeed(),
		deps: map[string]*docState{}, incs: map[string]*docState{}, groups: map[groupKey]*group{},
		shas: map[string]int{}, commits: map[string][]groupKey{}, leadFailed: map[string]time.Time{},
	}
	for _, svc := range d.Config.ServiceNames() {
		for _, e := range d.Config.Environments {
			k := groupKey{svc, e.Name}
			t.groups[k] = &group{key: k, path: d.Config.ValuesPath(svc, e.Name), records: map[string]*records.Deployment{},
				incs: map[string]*records.Incident{}, leadDone: map[string]bool{}, dirty: true}
			t.order = append(t.order, k)
		}
	}
	return t
}

// Snapshot is the last refresh's figures (nil before the first).
func (t *Tracker) Snapshot() *Snapshot { return t.snap.Load() }

// Errors counts the refreshes that could not read the store, and those
// that could not read the GitOps history (their figures kept the history
// read before).
func (t *Tracker) Errors() (store, gitops uint64) {
	return t.storeErrors.Load(), t.gitopsErrors.Load()
}

// Nudge asks Run for a refresh soon (a change finished on this replica).
func (t *Tracker) Nudge() {
	select {
	case t.nudge <- struct{}{}:
	default:
	}
}

// OnDeployFinished is a commands.Deps.OnDeployFinished listener: Nudge.
func (t *Tracker) OnDeployFinished(context.Context, commands.DeployFinished) { t.Nudge() }

// Run refreshes at once, then every Refresh and soon after a Nudge, until
// ctx ends.
func (t *Tracker) Run(ctx context.Context) {
	tick := time.NewTicker(t.refresh)
	defer tick.Stop()
	for {
		if err := t.Refresh(ctx); err != nil && ctx.Err() == nil {
			dora.Logger(t.d).Warn("dora gauges: refresh", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-t.nudge:
			select {
			case <-ctx.Done():
				return
			case <-time.After(nudgeDelay):
			}
		}
	}
}

// Refresh reads what changed and computes the reports it changed. When
// the store cannot be read the previous snapshot stays and the error is
// returned; when the GitOps history cannot be read the reports use the
// history read before, and the error is returned after the snapshot is
// published.
func (t *Tracker) Refresh(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	started := time.Now()
	now := t.d.Clock().Now()
	since, until := dora.DefaultPeriod(now, dora.Location(t.d.Config))
	if !since.Equal(t.since) {
		t.since = since
		for _, g := range t.groups {
			g.dirty = true
		}
	}
	t.gen++
	sctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	err := errors.Join(t.readDeployments(sctx), t.readIncidents(sctx))
	cancel()
	if err != nil {
		t.storeErrors.Add(1)
		return err
	}
	var histErr error
	if t.d.GitOps != nil {
		if histErr = t.readHistories(ctx); histErr != nil {
			t.gitopsErrors.Add(1)
		}
	}
	for _, k := range t.order {
		if g := t.groups[k]; g.dirty {
			t.filter(g)
		}
	}
	if t.d.GitHub != nil {
		t.lookUpLeadTimes(ctx, since, until)
	}
	computed := 0
	rows := make([]Row, 0, len(t.order))
	for _, k := range t.order {
		g := t.groups[k]
		if g.dirty {
			r, err := t.compute(g, since, until)
			if err != nil {
				return err // bad period or bands: a bug, not data
			}
			g.report, g.dirty = r, false
			computed++
		}
		rows = append(rows, Row{Service: k.service, Env: k.env, Report: g.report})
	}
	t.snap.Store(&Snapshot{At: now, Since: since, Until: until, Bands: t.d.Config.DORA.Bands,
		Rows: rows, Took: time.Since(started), Computed: computed})
	if histErr != nil {
		return fmt.Errorf("GitOps history: %w", histErr)
	}
	return nil
}

// readDeployments applies the deployment documents that changed since the
// last refresh, and forgets the deleted ones.
func (t *Tracker) readDeployments(ctx context.Context) error {
	docs, err := t.d.Store.ListDocs(ctx, records.DeploymentsCollection)
	if err != nil {
		return fmt.Errorf("reading deployment records: %w", err)
	}
	for _, doc := range docs {
		sum := maphash.Bytes(t.seed, doc.Data)
		st := t.deps[doc.ID]
		if st != nil && st.sum == sum {
			st.gen = t.gen
			continue
		}
		if st != nil {
			t.dropDeployment(doc.ID, st)
		}
		st = &docState{sum: sum, gen: t.gen}
		t.deps[doc.ID] = st
		var dep records.Deployment
		if json.Unmarshal(doc.Data, &dep) != nil {
			continue // unreadable: skipped, as reports skip it
		}
		st.shas = dora.RecordedSHAs(&dep)
		for _, sha := range st.shas {
			t.shaChanged(sha, +1)
		}
		if g := t.groups[groupKey{dep.Service, dep.Env}]; g != nil {
			g.records[doc.ID] = &dep
			g.dirty = true
			st.groups = []groupKey{g.key}
		}
	}
	for id, st := range t.deps {
		if st.gen != t.gen {
			t.dropDeployment(id, st)
			delete(t.deps, id)
		}
	}
	return nil
}

func (t *Tracker) dropDeployment(id string, st *docState) {
	for _, k := range st.groups {
		g := t.groups[k]
		delete(g.records, id)
		g.dirty = true
	}
	for _, sha := range st.shas {
		t.shaChanged(sha, -1)
	}
}

// shaChanged counts a record standing for a GitOps commit in or out; the
// groups whose history has that commit are filtered again.
func (t *Tracker) shaChanged(sha string, delta int) {
	if t.shas[sha] += delta; t.shas[sha] <= 0 {
		delete(t.shas, sha)
	}
	for _, k := range t.commits[sha] {
		t.groups[k].dirty = true
	}
}

// readIncidents applies the incident documents that changed. An incident
// counts for its service in its environment, or in every environment when
// it names none (as reports count it).
func (t *Tracker) readIncidents(ctx context.Context) error {
	docs, err := t.d.Store.ListDocs(ctx, records.IncidentsCollection)
	if err != nil {
		return fmt.Errorf("reading incident records: %w", err)
	}
	for _, doc := range docs {
		sum := maphash.Bytes(t.seed, doc.Data)
		st := t.incs[doc.ID]
		if st != nil && st.sum == sum {
			st.gen = t.gen
			continue
		}
		if st != nil {
			t.dropIncident(doc.ID, st)
		}
		st = &docState{sum: sum, gen: t.gen}
		t.incs[doc.ID] = st
		var inc records.Incident
		if json.Unmarshal(doc.Data, &inc) != nil {
			continue
		}
		for _, e := range t.d.Config.Environments {
			if inc.Env != "" && inc.Env != e.Name {
				continue
			}
			if g := t.groups[groupKey{inc.Service, e.Name}]; g != nil {
				g.incs[doc.ID] = &inc
				g.dirty = true
				st.groups = append(st.groups, g.key)
			}
		}
	}
	for id, st := range t.incs {
		if st.gen != t.gen {
			t.dropIncident(id, st)
			delete(t.incs, id)
		}
	}
	return nil
}

func (t *Tracker) dropIncident(id string, st *docState) {
	for _, k := range st.groups {
		g := t.groups[k]
		delete(g.incs, id)
		g.dirty = true
	}
}

// readHistories fetches the GitOps remote and, when its head moved, reads
// again the history of the values files the new commits changed (every
// file the first time, or when the old head is gone). The head is
// remembered only when every file was read, so a failure is retried.
func (t *Tracker) readHistories(ctx context.Context) error {
	repo := t.d.GitOps
	if err := repo.Sync(ctx); err != nil {
		return err
	}
	head, err := repo.Head(ctx)
	if err != nil || head == t.head {
		return err
	}
	stale := t.order
	if t.head != "" {
		if changed, err := repo.ChangedPaths(ctx, t.head, head); err == nil {
			paths := make(map[string]bool, len(changed))
			for _, p := range changed {
				paths[p] = true
			}
			stale = nil
			for _, k := range t.order {
				if paths[t.groups[k].path] {
					stale = append(stale, k)
				}
			}
		}
	}
	var errs []error
	for _, k := range stale {
		g := t.groups[k]
		hist, err := dora.ReadHistory(ctx, repo, dora.HistoryTarget{Service: k.service, Env: k.env, Path: g.path}, t.d.Config.GitOps.TagKey)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t.setHistory(g, hist)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	t.head = head
	return nil
}

// setHistory replaces a group's history, keeping the lead times already
// looked up for the same commits.
func (t *Tracker) setHistory(g *group, hist []records.Deployment) {
	old := make(map[string]*time.Time, len(g.history))
	for i := range g.history {
		d := &g.history[i]
		old[d.ID] = d.FirstCommitAt
		t.commits[d.GitOpsSHA] = slices.DeleteFunc(t.commits[d.GitOpsSHA], func(k groupKey) bool { return k == g.key })
		if len(t.commits[d.GitOpsSHA]) == 0 {
			delete(t.commits, d.GitOpsSHA)
		}
	}
	for i := range hist {
		d := &hist[i]
		d.FirstCommitAt = old[d.ID]
		t.commits[d.GitOpsSHA] = append(t.commits[d.GitOpsSHA], g.key)
	}
	g.history, g.dirty = hist, true
}

// filter sets the imported deployments of a group: its history less the
// commits a record stands for, matched as ImportHistory matches them.
func (t *Tracker) filter(g *group) {
	m := dora.MatcherOf(t.shas, sortedRecords(g), dora.DefaultMatchWindow)
	g.imported = g.imported[:0]
	for i := range g.history {
		if !m.Known(g.history[i]) {
			g.imported = append(g.imported, i)
		}
	}
}

// sortedRecords are a group's records by id, the order the store lists
// them in (the history filter uses records up in that order).
func sortedRecords(g *group) []records.Deployment {
	out := make([]records.Deployment, 0, len(g.records))
	for _, d := range g.records {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b records.Deployment) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// lookUpLeadTimes gives imported deployments of the period their lead time
// from the cache, else from the compare API: newest first in each group,
// at most maxCompares calls and leadTimeBudget per refresh, a failed
// compare not again for leadRetryAfter.
func (t *Tracker) lookUpLeadTimes(ctx context.Context, since, until time.Time) {
	ctx, cancel := context.WithTimeout(ctx, leadTimeBudget)
	defer cancel()
	calls := 0
	for _, k := range t.order {
		g := t.groups[k]
		for j := len(g.imported) - 1; j >= 0; j-- {
			if ctx.Err() != nil {
				return
			}
			dep := &g.history[g.imported[j]]
			if g.leadDone[dep.ID] || !dora.NeedsLeadTime(t.d, dep, since, until) {
				continue
			}
			if at, ok := t.leadFailed[dep.ID]; ok && time.Since(at) < leadRetryAfter {
				continue
			}
			outcome, called := dora.LookUpLeadTime(ctx, t.d, dep, calls < dora.CompareBudget())
			if called {
				calls++
			}
			switch outcome {
			case dora.LeadKnown:
				g.leadDone[dep.ID] = true
				delete(t.leadFailed, dep.ID)
				if dep.FirstCommitAt != nil {
					g.dirty = true
				}
			case dora.LeadFailed:
				t.leadFailed[dep.ID] = time.Now()
			}
		}
	}
}

// compute is the group's report, as `/nexo dora <service> <env>` computes
// it for the default period.
func (t *Tracker) compute(g *group, since, until time.Time) (dora.Report, error) {
	deps := sortedRecords(g)
	for _, i := range g.imported {
		deps = append(deps, g.history[i])
	}
	incs := make([]records.Incident, 0, len(g.incs))
	for _, inc := range g.incs {
		incs = append(incs, *inc)
	}
	return dora.Compute(dora.Input{
		Service: g.key.service, Env: g.key.env, Since: since, Until: until, Location: dora.Location(t.d.Config),
		Deployments: deps, Incidents: incs, Bands: t.d.Config.DORA.Bands,
	})
}
