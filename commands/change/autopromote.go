package change

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/store"
)

// AutoPromoteTimer is the timer kind of the auto-promotion scan.
const AutoPromoteTimer = "autopromote.scan"

const autoPromoteCollection = "autopromote"

// autoWatch remembers since when a tag has been Healthy in the previous env.
type autoWatch struct {
	Tag          string    `json:"tag"`
	HealthySince time.Time `json:"healthy_since"`
	Promoted     bool      `json:"promoted"`
}

// AutoPromoter promotes develop → qa (or any env with auto_promote) by itself
// once the previous env has been Healthy on a new tag for the configured time.
type AutoPromoter struct {
	D *commands.Deps
	// Every is the scan interval (default 1 minute).
	Every time.Duration
}

// register handles the scan's timer and schedules the first scan at start.
func (a *AutoPromoter) register(r *commands.Router) {
	a.D.Engine.HandleTimer(AutoPromoteTimer, func(ctx context.Context, t store.Timer) error {
		a.Scan(ctx)
		return a.schedule(ctx)
	})
	r.OnStart(a.schedule)
}

// schedule sets the next scan.
func (a *AutoPromoter) schedule(ctx context.Context) error {
	return a.D.Engine.Schedule(ctx, AutoPromoteTimer+"-next", a.D.Clock().Now().Add(a.every()), AutoPromoteTimer, nil)
}

func (a *AutoPromoter) every() time.Duration {
	if a.Every > 0 {
		return a.Every
	}
	return time.Minute
}

// Scan looks at every service and auto-promoted env once.
func (a *AutoPromoter) Scan(ctx context.Context) {
	d := a.D
	if d.ArgoCD == nil || d.GitOps == nil {
		return
	}
	if err := d.GitOps.Sync(ctx); err != nil {
		d.Log.Warn("auto-promotion: git", "err", err)
		return
	}
	for _, env := range d.Config.Environments {
		if env.AutoPromote == nil {
			continue
		}
		prev, ok := d.Config.PreviousEnv(env.Name)
		if !ok {
			continue
		}
		for _, svc := range d.Config.Services {
			if err := a.scanOne(ctx, svc.Name, prev.Name, env.Name, env.AutoPromote.After.D()); err != nil {
				d.Log.Warn("auto-promotion", "service", svc.Name, "env", env.Name, "err", err)
			}
		}
	}
}

func (a *AutoPromoter) scanOne(ctx context.Context, service, from, to string, after time.Duration) error {
	d := a.D
	now := d.Clock().Now()
	key := service + "/" + to
	var w autoWatch
	if err := d.Store.GetDoc(ctx, autoPromoteCollection, key, &w); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	tag, err := commands.ReadTag(ctx, d, service, from)
	if err != nil {
		return err
	}
	target, err := commands.ReadTag(ctx, d, service, to)
	if err != nil {
		return err
	}
	// Only forward: a newer tag (CalVer sorts as text) in the previous env.
	if tag <= target {
		return nil
	}
	app, err := d.ArgoCD.GetApp(ctx, d.Config.AppName(service, from), "")
	if err != nil {
		return err
	}
	healthy := app.Status.Health.Status == "Healthy" && app.Status.Sync.Status == "Synced" && argocd.RunsTag(app, tag)
	if !healthy {
		if w.Tag == tag && !w.HealthySince.IsZero() {
			w.HealthySince = time.Time{}
			return d.Store.PutDoc(ctx, autoPromoteCollection, key, w)
		}
		return nil
	}
	if w.Tag != tag || w.HealthySince.IsZero() {
		w = autoWatch{Tag: tag, HealthySince: now}
		return d.Store.PutDoc(ctx, autoPromoteCollection, key, w)
	}
	if w.Promoted || now.Sub(w.HealthySince) < after {
		return nil
	}
	wf, err := StartPromotion(ctx, d, PromoteRequest{Service: service, Env: to, Tag: tag, Requester: "nexo", Auto: true})
	var ref *commands.Refusal
	if errors.As(err, &ref) {
		d.Log.Info("auto-promotion refused", "service", service, "env", to, "reason", ref.Error())
		w.Promoted = true
		return d.Store.PutDoc(ctx, autoPromoteCollection, key, w)
	}
	if err != nil {
		return err
	}
	w.Promoted = true
	if err := d.Store.PutDoc(ctx, autoPromoteCollection, key, w); err != nil {
		return err
	}
	text := fmt.Sprintf(":robot_face: %s `%s` has been Healthy in %s for %s: promoting it to %s by itself (workflow `%s`).", service, tag, from, after, to, wf.ID)
	_, err = d.Chat.Post(ctx, d.Config.ServiceChannel(service), "", chat.Message{Text: text})
	return err
}
