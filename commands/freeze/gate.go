package freeze

import (
	"context"
	"sync"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/i18n"
)

// Gate is nexo's commands.Freezes: nexo's freezes (config and ad-hoc) and
// the Argo CD sync windows of the app's project.
//
//   - An ordinary change (promotion, backfill, fix PR, auto-promotion)
//     is blocked by any freeze, and by any window that blocks an
//     automated sync (a deny window, or being outside the allow windows),
//     manualSync or not: those are for people repairing by hand.
//   - An emergency (hotfix, rollback) passes nexo's freezes, and passes a
//     window only when it lets manual syncs through (manualSync: true);
//     else it is blocked, as argocd-server would refuse its sync.
//
// When Argo CD cannot be read the windows are not known: the gate says
// so in the log and lets the change go (argocd-server still enforces its
// windows at the sync).
type Gate struct {
	D *commands.Deps

	mu     sync.Mutex
	failed map[string]time.Time // app → when to read it again
}

// Gate implements commands.Freezes.
func (g *Gate) Gate(ctx context.Context, service, env string, emergency bool, now time.Time) (commands.FreezeGate, error) {
	return g.gate(ctx, service, env, emergency, true, now)
}

// Held implements commands.Freezes.
func (g *Gate) Held(ctx context.Context, service, env string, now time.Time) (commands.FreezeGate, error) {
	return g.gate(ctx, service, env, false, false, now)
}

// gate is Gate; fetch lets it read the Application when its project is
// not remembered.
func (g *Gate) gate(ctx context.Context, service, env string, emergency, fetch bool, now time.Time) (commands.FreezeGate, error) {
	a, err := adHoc(ctx, g.D.Store, env)
	if err != nil {
		return commands.FreezeGate{}, err
	}
	held := func(t time.Time) []commands.Freeze { return nexoAt(g.D.Config, a, env, t) }
	end, nf := chainEnd(held, now)
	var frozen *commands.Freeze
	if !end.IsZero() {
		nf.End = end
		frozen = &nf
	}
	proj, windows, werr := g.project(ctx, service, env, fetch, now)
	if werr != nil {
		g.D.Log.Warn("sync windows unknown; Argo CD enforces them at the sync", "service", service, "env", env, "err", werr)
	}
	auto, err := judgeWindows(windows, false, now)
	if err != nil {
		g.D.Log.Warn("sync windows unreadable; Argo CD enforces them at the sync", "service", service, "env", env, "err", err)
	}
	var closed *commands.Freeze
	if auto.Blocked {
		closed = windowFreeze(env, proj, auto)
	}
	if !emergency {
		switch {
		case frozen != nil && closed != nil && closed.End.After(frozen.End):
			return g.blocked(closed, service), nil
		case frozen != nil:
			if closed != nil && (closed.End.IsZero() || closed.End.After(frozen.End)) {
				frozen.End = closed.End
			}
			return g.blocked(frozen, service), nil
		case closed != nil:
			return g.blocked(closed, service), nil
		}
		return commands.FreezeGate{}, nil
	}
	if auto.Blocked {
		manual, err := judgeWindows(windows, true, now)
		if err == nil && manual.Blocked {
			f := windowFreeze(env, proj, manual)
			return commands.FreezeGate{Freeze: f, Blocked: true, Until: f.End, Why: i18n.M("freeze.window_blocks_emergency",
				"Window", windowMsg(f), "App", g.D.Config.AppName(service, env), "Until", untilArg(f.End))}, nil
		}
	}
	switch {
	case frozen != nil:
		return commands.FreezeGate{Freeze: frozen, Why: i18n.M("freeze.passing", "Reason", frozen.Reason, "Until", untilArg(frozen.End))}, nil
	case closed != nil:
		return commands.FreezeGate{Freeze: closed, Why: i18n.M("freeze.passing_window", "Window", windowMsg(closed))}, nil
	}
	return commands.FreezeGate{}, nil
}

func (g *Gate) blocked(f *commands.Freeze, service string) commands.FreezeGate {
	why := i18n.M("freeze.frozen", "Env", f.Env, "Until", untilArg(f.End), "Reason", f.Reason)
	if f.Source == commands.FreezeArgoCD {
		why = i18n.M("freeze.window_closed", "Env", f.Env, "Until", untilArg(f.End), "Window", windowMsg(f), "App", g.D.Config.AppName(service, f.Env))
	}
	return commands.FreezeGate{Freeze: f, Blocked: true, Until: f.End, Why: why}
}

// Active implements commands.Freezes: the freeze that holds ordinary
// changes in env at now.
func (g *Gate) Active(ctx context.Context, service, env string, now time.Time) (*commands.Freeze, error) {
	gate, err := g.Gate(ctx, service, env, false, now)
	if err != nil || !gate.Blocked {
		return nil, err
	}
	f := *gate.Freeze
	var reason any = f.Reason
	if f.Window != nil {
		reason = windowMsg(&f)
	}
	f.Say = i18n.M("freeze.status", "Until", untilArg(f.End), "Reason", reason)
	return &f, nil
}

// windowFreeze describes a blocking sync window as a freeze.
func windowFreeze(env, proj string, v windowVerdict) *commands.Freeze {
	f := &commands.Freeze{Env: env, Source: commands.FreezeArgoCD, Start: v.Start, End: v.Opens}
	if w := v.Window; w != nil {
		f.Reason = w.Description
		f.Window = &commands.FreezeWindow{Kind: w.Kind, Schedule: w.Schedule, Duration: w.Duration, Project: proj, ManualSync: w.ManualSync}
	}
	return f
}

// windowMsg names a freeze's Argo CD window for a reader.
func windowMsg(f *commands.Freeze) i18n.Msg {
	w := f.Window
	if w == nil {
		w = &commands.FreezeWindow{}
	}
	id := "freeze.window_deny"
	if w.Kind == "allow" {
		id = "freeze.window_allow"
	}
	kv := []any{"Schedule", w.Schedule, "Duration", w.Duration, "Project", w.Project}
	if f.Reason != "" {
		return i18n.M(id+"_why", append(kv, "Reason", f.Reason)...)
	}
	return i18n.M(id, kv...)
}

// untilArg is a freeze's end for a message: a moment, or "further notice".
func untilArg(end time.Time) any {
	if end.IsZero() {
		return i18n.M("freeze.until_unknown")
	}
	return i18n.Moment(end)
}

var _ commands.Freezes = (*Gate)(nil)
