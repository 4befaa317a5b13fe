package commands

import (
	"context"
	"time"
)

// App is the wired command layer: the router (chat.Handler) and the
// workflow definitions registered on the engine.
type App struct {
	Router *Router
	Change *ChangeFlow
	Auto   *AutoPromoter
	// Rollback runs the Argo CD and blue/green rollbacks.
	Rollback *RollbackFlow
	// Rotate runs `/nexo rotate-secret` (set by the rotation setup hook).
	Rotate *RotateFlow
	// extra are registration hooks of scenarios added in their own files.
	deps *Deps
}

// setupHooks lets scenario files register themselves (see init functions).
var setupHooks []func(ctx context.Context, a *App) error

// Setup registers every command, button, modal and workflow definition.
func Setup(ctx context.Context, d *Deps) (*App, error) {
	if d.Members == nil {
		d.Members = NewMembers(d.Config, d.Chat)
	}
	r := NewRouter(d.Config, d.Store, d.Log)
	a := &App{Router: r, deps: d}
	r.Register(StatusSpec(d))
	r.Register(PromoteSpec(d))
	a.Change = &ChangeFlow{D: d}
	d.Engine.Register(a.Change)
	RegisterChange(r, d)
	a.Auto = &AutoPromoter{D: d}
	if err := a.Auto.Register(ctx); err != nil {
		return nil, err
	}
	for _, h := range setupHooks {
		if err := h(ctx, a); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Deps returns the app's dependencies.
func (a *App) Deps() *Deps { return a.deps }

// SetPollEvery sets how often the workflows poll Argo CD and Prometheus.
func (a *App) SetPollEvery(d time.Duration) {
	a.Change.PollEvery = d
	if a.Rollback != nil {
		a.Rollback.PollEvery = d
	}
	if a.Rotate != nil {
		a.Rotate.PollEvery = d
	}
}
