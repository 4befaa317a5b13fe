package argocd

import (
	"fmt"
	"path"
	"time"

	"github.com/nexo-org/nexo-bot/internal/cron"
)

// Argo CD's sync-window semantics (pkg/apis/application/v1alpha1,
// SyncWindows.Matches and CanSync, v3.6), for nexo and for argocdfake:
//
//   - a window applies to an app when one of its applications, clusters
//     (destination name or server) or namespaces globs matches (all of the
//     set ones with andOperator);
//   - an active deny window blocks every sync, except a manual one when
//     every active deny window has manualSync;
//   - else an active allow window lets it through;
//   - else, when the app has allow windows (none active), syncs are
//     blocked, except a manual one when every inactive allow window has
//     manualSync;
//   - an app without windows syncs at any time.
//
// Differences kept on purpose: the schedule is read on the wall clock of
// timeZone at the start time (Argo CD applies the zone's offset of the
// current instant, which differs for a day across a DST change), and
// syncOverrun is not modelled (nexo starts its syncs, it does not resume
// them).

// Matches reports whether the window applies to app.
func (w *SyncWindow) Matches(app *Application) bool {
	globs := func(patterns []string, values ...string) (set, matched bool) {
		if len(patterns) == 0 {
			return false, false
		}
		for _, p := range patterns {
			for _, v := range values {
				if v != "" && globMatch(p, v) {
					return true, true
				}
			}
		}
		return true, false
	}
	dst := app.Spec.Destination
	checks := [][2]bool{}
	for _, c := range []func() (bool, bool){
		func() (bool, bool) { return globs(w.Applications, app.Metadata.Name) },
		func() (bool, bool) { return globs(w.Clusters, dst.Name, dst.Server) },
		func() (bool, bool) { return globs(w.Namespaces, dst.Namespace) },
	} {
		set, matched := c()
		checks = append(checks, [2]bool{set, matched})
	}
	any, all, someSet := false, true, false
	for _, c := range checks {
		if !c[0] {
			continue
		}
		someSet = true
		any = any || c[1]
		all = all && c[1]
	}
	if w.UseAndOperator {
		return someSet && all
	}
	return any
}

func globMatch(pattern, s string) bool {
	if pattern == s || pattern == "*" {
		return true
	}
	ok, err := path.Match(pattern, s)
	return err == nil && ok
}

// Zone is the window's time zone: UTC when unset or unknown, as Argo CD
// does (it logs "Invalid time zone … Using UTC").
func (w *SyncWindow) Zone() *time.Location {
	if loc, err := time.LoadLocation(w.TimeZone); err == nil && w.TimeZone != "" {
		return loc
	}
	return time.UTC
}

// Occurrence is the window's occurrence that contains at, if any.
func (w *SyncWindow) Occurrence(at time.Time) (cron.Window, bool, error) {
	sc, d, loc, err := w.parse()
	if err != nil {
		return cron.Window{}, false, err
	}
	occ, ok := sc.Covering(at, d, loc)
	return occ, ok, nil
}

// NextStart is the window's first start after at, within horizon.
func (w *SyncWindow) NextStart(at time.Time, horizon time.Duration) (time.Time, bool, error) {
	sc, _, loc, err := w.parse()
	if err != nil {
		return time.Time{}, false, err
	}
	t, ok := sc.Next(at, horizon, loc)
	return t, ok, nil
}

func (w *SyncWindow) parse() (cron.Schedule, time.Duration, *time.Location, error) {
	sc, err := cron.Parse(w.Schedule)
	if err != nil {
		return sc, 0, nil, fmt.Errorf("sync window: %w", err)
	}
	d, err := time.ParseDuration(w.Duration)
	if err != nil {
		return sc, 0, nil, fmt.Errorf("sync window %q: cannot parse duration %q", w.Schedule, w.Duration)
	}
	return sc, d, w.Zone(), nil
}

// WindowsFor are the project's windows that apply to app.
func (p *AppProject) WindowsFor(app *Application) []*SyncWindow {
	var out []*SyncWindow
	for _, w := range p.Spec.SyncWindows {
		if w != nil && w.Matches(app) {
			out = append(out, w)
		}
	}
	return out
}

// CanSync is Argo CD's decision for windows (those that apply to an app)
// at now; manual is a sync asked through the API (as nexo's are).
func CanSync(windows []*SyncWindow, manual bool, now time.Time) (bool, error) {
	if len(windows) == 0 {
		return true, nil
	}
	var activeDeny, activeAllow, inactiveAllow []*SyncWindow
	for _, w := range windows {
		_, on, err := w.Occurrence(now)
		if err != nil {
			return false, err
		}
		switch {
		case w.Kind == "deny" && on:
			activeDeny = append(activeDeny, w)
		case w.Kind == "allow" && on:
			activeAllow = append(activeAllow, w)
		case w.Kind == "allow":
			inactiveAllow = append(inactiveAllow, w)
		}
	}
	allManual := func(ws []*SyncWindow) bool {
		for _, w := range ws {
			if !w.ManualSync {
				return false
			}
		}
		return true
	}
	switch {
	case len(activeDeny) > 0:
		return manual && allManual(activeDeny), nil
	case len(activeAllow) > 0:
		return true, nil
	case len(inactiveAllow) > 0:
		return manual && allManual(inactiveAllow), nil
	}
	return true, nil
}
