package freeze

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/store"
)

// collection holds the ad-hoc freezes, one document per environment.
const collection = "freezes"

// AdHoc is a freeze an admin set with /nexo freeze.
type AdHoc struct {
	Env    string    `json:"env"`
	Reason string    `json:"reason"`
	From   time.Time `json:"from"`
	Until  time.Time `json:"until"`
	By     string    `json:"by"`
}

// chainLimit bounds how many back-to-back windows are followed to find
// when a freeze really ends.
const chainLimit = 32

// upcomingHorizon is how far ahead listings and allow windows look.
const upcomingHorizon = 14 * 24 * time.Hour

// argoTimeout bounds each Argo CD read of the gate.
const argoTimeout = 10 * time.Second

// configAt are the config freezes of env that hold at now.
func configAt(cfg *config.Config, env string, now time.Time) []commands.Freeze {
	return configFreezes(cfg, env, now, 0)
}

// configFreezes are env's config freezes in force at now, and, with a
// horizon, those starting within it (each recurring one's next window).
func configFreezes(cfg *config.Config, env string, now time.Time, horizon time.Duration) []commands.Freeze {
	var out []commands.Freeze
	add := func(f *config.Freeze, start, end time.Time) {
		out = append(out, commands.Freeze{Env: env, Source: commands.FreezeConfig, Reason: f.Reason, Start: start, End: end})
	}
	for i := range cfg.Freezes {
		f := &cfg.Freezes[i]
		e, ok := cfg.Env(f.Env)
		if !ok || e.Name != env {
			continue
		}
		loc := f.Zone(cfg.Zone())
		if f.Schedule != "" {
			sc, err := f.Cron()
			if err != nil {
				continue // refused by config validation
			}
			if w, ok := sc.Covering(now, f.Duration.D(), loc); ok {
				add(f, w.Start, w.End)
			} else if horizon > 0 {
				if s, ok := sc.Next(now, horizon, loc); ok {
					add(f, s, s.Add(f.Duration.D()))
				}
			}
			continue
		}
		from, until, err := f.Range(loc)
		if err == nil && now.Before(until) && from.Sub(now) <= horizon {
			add(f, from, until)
		}
	}
	return out
}

// adHoc reads env's ad-hoc freeze (nil: none).
func adHoc(ctx context.Context, st store.Store, env string) (*AdHoc, error) {
	var a AdHoc
	err := st.GetDoc(ctx, collection, env, &a)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &a, nil
}

func (a *AdHoc) at(now time.Time) (commands.Freeze, bool) {
	if a == nil || now.Before(a.From) || !now.Before(a.Until) {
		return commands.Freeze{}, false
	}
	return commands.Freeze{Env: a.Env, Source: commands.FreezeAdHoc, Reason: a.Reason, Start: a.From, End: a.Until, By: a.By}, true
}

// nexoAt are nexo's freezes (config and ad-hoc) that hold env at now.
func nexoAt(cfg *config.Config, a *AdHoc, env string, now time.Time) []commands.Freeze {
	out := configAt(cfg, env, now)
	if f, ok := a.at(now); ok {
		out = append(out, f)
	}
	return out
}

// chainEnd is when back-to-back freezes that hold at now all end: the
// latest end of those holding, followed while another holds then.
func chainEnd(held func(time.Time) []commands.Freeze, now time.Time) (time.Time, commands.Freeze) {
	fs := held(now)
	if len(fs) == 0 {
		return time.Time{}, commands.Freeze{}
	}
	first := latest(fs)
	end := first.End
	for i := 0; i < chainLimit; i++ {
		next := held(end)
		if len(next) == 0 {
			return end, first
		}
		end = latest(next).End
	}
	return end, first
}

// latest is the freeze that ends last (the first on a tie).
func latest(fs []commands.Freeze) commands.Freeze {
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].End.After(fs[j].End) })
	return fs[0]
}

// projectsCollection remembers each app's Argo CD project, so the gate
// reads the Application once (not at every step of every change: those
// reads would compete with the workflows' own), on every replica.
const projectsCollection = "freeze-argocd-projects"

// projectTTL is how long a remembered project is used before it is read
// again; failTTL how long a failed read is not retried.
const (
	projectTTL = time.Hour
	failTTL    = 5 * time.Minute
)

// appProject is what the windows match an app on: its name, project and
// destination.
type appProject struct {
	Project     string                        `json:"project"`
	Destination argocd.ApplicationDestination `json:"destination"`
	At          time.Time                     `json:"at"`
}

// projectOf is app's project and destination: remembered, else read from
// Argo CD (a stale one when Argo CD cannot be read).
func (g *Gate) projectOf(ctx context.Context, app string, fetch bool, now time.Time) (appProject, error) {
	var known appProject
	err := g.D.Store.GetDoc(ctx, projectsCollection, app, &known)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return known, err
	}
	if known.Project != "" && (now.Sub(known.At) < projectTTL || !fetch) {
		return known, nil
	}
	if !fetch {
		return known, errors.New("the app's project is not known yet")
	}
	g.mu.Lock()
	retry := g.failed[app]
	g.mu.Unlock()
	if now.Before(retry) {
		if known.Project != "" {
			return known, nil
		}
		return known, fmt.Errorf("reading the app failed less than %s ago", failTTL)
	}
	a, err := g.D.ArgoCD.GetApp(ctx, app, "")
	if err != nil {
		g.mu.Lock()
		if g.failed == nil {
			g.failed = map[string]time.Time{}
		}
		g.failed[app] = now.Add(failTTL)
		g.mu.Unlock()
		if known.Project != "" {
			return known, nil
		}
		return known, fmt.Errorf("reading the app: %w", err)
	}
	got := appProject{Project: a.Spec.Project, Destination: a.Spec.Destination, At: now}
	if got.Project == "" {
		got.Project = "default"
	}
	if err := g.D.Store.PutDoc(ctx, projectsCollection, app, got); err != nil {
		g.D.Log.Warn("remembering the app's project", "app", app, "err", err)
	}
	return got, nil
}

// project reads the windows of service's app in env: its project's that
// apply to it.
func (g *Gate) project(ctx context.Context, service, env string, fetch bool, now time.Time) (string, []*argocd.SyncWindow, error) {
	d := g.D
	if d.ArgoCD == nil || service == "" {
		return "", nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, argoTimeout)
	defer cancel()
	appName := d.Config.AppName(service, env)
	known, err := g.projectOf(ctx, appName, fetch, now)
	if err != nil {
		return "", nil, err
	}
	p, err := d.ArgoCD.GetProject(ctx, known.Project)
	if err != nil {
		return known.Project, nil, fmt.Errorf("reading project %s: %w", known.Project, err)
	}
	app := &argocd.Application{Metadata: argocd.ObjectMeta{Name: appName}}
	app.Spec.Project, app.Spec.Destination = known.Project, known.Destination
	return known.Project, p.WindowsFor(app), nil
}

// windowVerdict is what the sync windows say about a sync at now: blocked
// (for a manual sync when manual), the window to name and when it opens.
type windowVerdict struct {
	Blocked bool
	Window  *argocd.SyncWindow
	Start   time.Time
	Opens   time.Time // zero: not within the horizon
}

// judgeWindows applies Argo CD's rule at now and, when blocked, finds the
// window to name and the first time the rule lets the sync through.
func judgeWindows(windows []*argocd.SyncWindow, manual bool, now time.Time) (windowVerdict, error) {
	ok, err := argocd.CanSync(windows, manual, now)
	if err != nil || ok {
		return windowVerdict{}, err
	}
	v := windowVerdict{Blocked: true}
	v.Window, v.Start = blocking(windows, manual, now)
	t := now
	for i := 0; i < chainLimit; i++ {
		next := advance(windows, manual, t)
		if next.IsZero() || next.Sub(now) > upcomingHorizon {
			return v, nil
		}
		t = next
		if ok, _ := argocd.CanSync(windows, manual, t); ok {
			v.Opens = t
			return v, nil
		}
	}
	return v, nil
}

// blocking is the window that blocks a sync at now: an active deny one
// (without manualSync for a manual sync), else an allow one not active.
func blocking(windows []*argocd.SyncWindow, manual bool, now time.Time) (*argocd.SyncWindow, time.Time) {
	var allow *argocd.SyncWindow
	for _, w := range windows {
		occ, on, _ := w.Occurrence(now)
		switch {
		case w.Kind == "deny" && on && (!manual || !w.ManualSync):
			return w, occ.Start
		case w.Kind == "allow" && !on && allow == nil && (!manual || !w.ManualSync):
			allow = w
		}
	}
	if allow == nil && len(windows) > 0 {
		allow = windows[0]
	}
	return allow, time.Time{}
}

// advance is the next moment the windows' state can change after a
// blocked t: the end of the active deny windows, else the next start of
// an allow window.
func advance(windows []*argocd.SyncWindow, manual bool, t time.Time) time.Time {
	var end, start time.Time
	for _, w := range windows {
		occ, on, _ := w.Occurrence(t)
		switch {
		case w.Kind == "deny" && on:
			if occ.End.After(end) {
				end = occ.End
			}
		case w.Kind == "allow" && !on:
			if s, ok, _ := w.NextStart(t, upcomingHorizon); ok && (start.IsZero() || s.Before(start)) {
				start = s
			}
		}
	}
	if !end.IsZero() {
		return end
	}
	return start
}
