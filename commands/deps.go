package commands

import (
	"log/slog"
	"sync"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/github"
	"github.com/nexo-org/nexo-bot/integrations/gitops"
	"github.com/nexo-org/nexo-bot/integrations/kube"
	"github.com/nexo-org/nexo-bot/integrations/loki"
	"github.com/nexo-org/nexo-bot/integrations/pagerduty"
	"github.com/nexo-org/nexo-bot/integrations/prom"
	"github.com/nexo-org/nexo-bot/integrations/registry"
	"github.com/nexo-org/nexo-bot/integrations/secretstore"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

// Deps is everything the scenarios use. A nil integration means "not
// configured": commands that need it say so instead of failing.
type Deps struct {
	Config   *config.Config
	Store    store.Store
	Chat     chat.Chat
	Engine   *workflow.Engine
	Members  *Members
	Log      *slog.Logger
	GitOps   gitops.Repo
	GitHub   github.Client
	ArgoCD   argocd.Client
	Registry registry.Client
	Kube     kube.Cluster
	Prom     prom.Client
	Loki     loki.Client
	Pager    pagerduty.Pager
	Secrets  secretstore.Store

	cardsOnce sync.Once
	cards     *CardUpdates
}

// Cards is the background card editor shared by every workflow.
func (d *Deps) Cards() *CardUpdates {
	d.cardsOnce.Do(func() {
		d.cards = NewCardUpdates(d.Chat, func(channel, ts string, err error) {
			d.Log.Warn("card update", "channel", channel, "ts", ts, "err", err)
		})
	})
	return d.cards
}

// Clock is the engine's clock (the wall clock outside tests).
func (d *Deps) Clock() workflow.Clock {
	if d.Engine != nil {
		return d.Engine.Clock()
	}
	return workflow.SystemClock{}
}
