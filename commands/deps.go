package commands

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
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

	// PollEvery is how often workflows poll Argo CD and Prometheus while
	// they follow a rollout (0: each workflow's default).
	PollEvery time.Duration
	// Changes is the GitOps change pipeline, for scenarios that open a
	// change of their own (set by commands/change).
	Changes Changes
	// Freezes is the change-freeze gate (set by commands/freeze; nil: no
	// freezes).
	Freezes Freezes
	// Catalog is the message catalog (nil: the embedded one, in the
	// config's timezone).
	Catalog *i18n.Catalog

	cardsOnce sync.Once
	cards     *CardUpdates

	mu       sync.Mutex
	finished []func(ctx context.Context, e DeployFinished)
	moved    []func(channel, ts string)
	kinds    map[string]Lifecycle
	names    map[string]string // channel id → name, for slack.channel_locales by name
	// spoken replaces slack.locale while nexo runs (the sandbox console's
	// language switch); "" keeps the config's.
	spoken atomic.Value
}

// Speak makes locale the one nexo speaks where slack.channel_locales says
// nothing, from the next message on ("" goes back to slack.locale).
func (d *Deps) Speak(locale string) error {
	if locale == "" {
		d.spoken.Store("")
		return nil
	}
	l, ok := i18n.Normalize(locale)
	if !ok {
		return fmt.Errorf("nexo does not speak %q (it speaks %s)", locale, strings.Join(i18n.Locales, ", "))
	}
	d.spoken.Store(l)
	return nil
}

// Speaks is the locale nexo speaks where slack.channel_locales says
// nothing.
func (d *Deps) Speaks() string {
	if l, _ := d.spoken.Load().(string); l != "" {
		return l
	}
	return d.Config.Slack.Locale
}

// Changes is what other scenarios ask of the change pipeline.
type Changes interface {
	// StartRevert opens the GitOps revert of a rollback: a change of
	// service in env back to a tag, through the env's rollback approvals.
	StartRevert(ctx context.Context, r RevertRequest) (*store.Workflow, error)
}

// RevertRequest asks for a GitOps revert.
type RevertRequest struct {
	Service, Env, Tag, Current string
	Incident                   string
	Requester, Channel         string
	// Supersede and Offer: see Emergency.
	Supersede string
	Offer     chat.Button
}

// DeployFinished is told when a GitOps change (promotion, hotfix, fix,
// backfill, revert) reaches its end, whatever the result.
type DeployFinished struct {
	WorkflowID string
	Flavor     string // records.KindPromote, KindHotfix, …, "backfill"
	Service    string
	Env        string
	Tag        string
	Result     string
	Actor      string
	Incident   string
}

// OnDeployFinished adds a listener of finished deploys (incidents note them).
func (d *Deps) OnDeployFinished(fn func(ctx context.Context, e DeployFinished)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.finished = append(d.finished, fn)
}

func (d *Deps) resetListeners() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.finished, d.kinds, d.moved = nil, nil, nil
}

// OnCardUpdate adds a listener told whenever a workflow's status card is
// posted or edited — every step, approval and ending of a change goes
// through its card, so this is "a change moved" (the release board
// listens). Listeners must return at once.
func (d *Deps) OnCardUpdate(fn func(channel, ts string)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.moved = append(d.moved, fn)
}

// TellCardUpdate calls every OnCardUpdate listener.
func (d *Deps) TellCardUpdate(channel, ts string) {
	d.mu.Lock()
	fns := append([]func(string, string){}, d.moved...)
	d.mu.Unlock()
	for _, fn := range fns {
		fn(channel, ts)
	}
}

// TellDeployFinished calls every OnDeployFinished listener.
func (d *Deps) TellDeployFinished(ctx context.Context, e DeployFinished) {
	d.mu.Lock()
	fns := append([]func(context.Context, DeployFinished){}, d.finished...)
	d.mu.Unlock()
	for _, fn := range fns {
		fn(ctx, e)
	}
}

// Cards is the background card editor shared by every workflow.
func (d *Deps) Cards() *CardUpdates {
	d.cardsOnce.Do(func() {
		d.cards = NewCardUpdates(d.Chat, func(channel, ts string, err error) {
			d.Log.Warn("card update", "channel", channel, "ts", ts, "err", err)
		})
		d.cards.sent = d.TellCardUpdate
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

// Poll is d.PollEvery, or def when unset.
func (d *Deps) Poll(def time.Duration) time.Duration {
	if d.PollEvery > 0 {
		return d.PollEvery
	}
	return def
}

// T is the catalog in the locale of channel (slack.channel_locales, by id
// or name, else slack.locale): every sentence a scenario shows there is
// made through it.
func (d *Deps) T(channel string) i18n.T {
	cat := d.Catalog
	if cat == nil {
		cat = i18n.Default().WithZone(d.Config.Zone())
	}
	loc := d.Config.LocaleOf(channel, d.channelName(channel))
	if _, own := d.Config.Slack.ChannelLocales[channel]; !own && loc == d.Config.Slack.Locale {
		loc = d.Speaks()
	}
	return cat.In(loc)
}

// channelName resolves a channel id to its name, once, when a channel
// locale is configured by name.
func (d *Deps) channelName(channel string) string {
	if len(d.Config.Slack.ChannelLocales) == 0 || d.Chat == nil || channel == "" {
		return ""
	}
	if _, byID := d.Config.Slack.ChannelLocales[channel]; byID {
		return ""
	}
	d.mu.Lock()
	name, ok := d.names[channel]
	d.mu.Unlock()
	if ok {
		return name
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	name, err := d.Chat.ChannelName(ctx, channel)
	if err != nil {
		d.Log.Warn("channel name unknown; its locale is slack.locale", "channel", channel, "err", err)
		return ""
	}
	d.mu.Lock()
	if d.names == nil {
		d.names = map[string]string{}
	}
	d.names[channel] = name
	d.mu.Unlock()
	return name
}
