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
	var out []commands.Freeze
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
				out = append(out, commands.Freeze{Env: env, Source: commands.FreezeConfig, Reason: f.Reason, Start: w.Start, End: w.End})
			}
			continue
		}
		from, until, err := f.Range(loc)
		if err == nil && !now.Before(from) && now.Before(until) {
			out = append(out, commands.Freeze{Env: env, Source: commands.FreezeConfig, Reason: f.Reason, Start: from, End: until})
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

// project reads the Argo CD app of service in env and its project's
// windows that apply to it.
func project(ctx context.Context, d *commands.Deps, service, env string) (string, []*argocd.SyncWindow, error) {
	if d.ArgoCD == nil || service == "" {
		return "", nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, argoTimeout)
	defer cancel()
	app, err := d.ArgoCD.GetApp(ctx, d.Config.AppName(service, env), "")
	if err != nil {
		return "", nil, fmt.Errorf("reading the app: %w", err)
	}
	name := app.Spec.Project
	if name == "" {
		name = "default"
	}
	p, err := d.ArgoCD.GetProject(ctx, name)
	if err != nil {
		return name, nil, fmt.Errorf("reading project %s: %w", name, err)
	}
	return name, p.WindowsFor(app), nil
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
