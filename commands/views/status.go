package views

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
)

// EnvStatus is one environment's state as nexo sees it.
type EnvStatus struct {
	Env        string
	GitTag     string // tag in the values file at origin/<branch>
	GitErr     error
	Sync       string // Argo CD sync status
	Health     string
	Revision   string
	DeployedAt time.Time
	ArgoErr    error
	// Freeze is the freeze in force (nil: none), from commands.ActiveFreeze.
	Freeze *commands.Freeze
}

// StatusSpec is `/nexo status <service> [env]`.
func StatusSpec(d *commands.Deps) *commands.Spec {
	return &commands.Spec{
		Name:    "status",
		Aliases: []string{"st"},
		Args:    []string{"service", "env?"},
		Summary: "views.status.summary",
		Help:    "views.status.help",
		Run: func(ctx context.Context, r commands.Request) (*chat.Reply, error) {
			svc, err := commands.ResolveService(d.Config, r.Args.Words[0])
			if err != nil {
				return nil, err
			}
			envs := d.Config.Environments
			if len(r.Args.Words) == 2 {
				e, err := commands.ResolveEnv(d.Config, r.Args.Words[1])
				if err != nil {
					return nil, err
				}
				envs = []config.Environment{*e}
			}
			rows := CollectStatus(ctx, d, svc.Name, envs)
			return commands.InChannel(StatusCard(d.T(r.ChannelID), d.Config, svc.Name, rows, d.Clock().Now())), nil
		},
	}
}

// CollectStatus reads git once and Argo CD per environment, in parallel.
func CollectStatus(ctx context.Context, d *commands.Deps, service string, envs []config.Environment) []EnvStatus {
	rows := make([]EnvStatus, len(envs))
	var syncErr error
	if d.GitOps != nil {
		syncErr = d.GitOps.Sync(ctx)
	}
	var wg sync.WaitGroup
	for i, e := range envs {
		rows[i].Env = e.Name
		wg.Add(1)
		go func(i int, env string) {
			defer wg.Done()
			row := &rows[i]
			switch {
			case d.GitOps == nil:
				row.GitErr = errNoGitOps
			case syncErr != nil:
				row.GitErr = syncErr
			default:
				row.GitTag, row.GitErr = commands.ReadTag(ctx, d, service, env)
			}
			if f, err := commands.ActiveFreeze(ctx, d, service, env); err == nil {
				row.Freeze = f
			} else {
				d.Log.Warn("status: freezes unknown", "service", service, "env", env, "err", err)
			}
			if d.ArgoCD == nil {
				row.ArgoErr = errNoArgoCD
				return
			}
			app, err := d.ArgoCD.GetApp(ctx, d.Config.AppName(service, env), "")
			if err != nil {
				row.ArgoErr = err
				return
			}
			row.Sync, row.Health = app.Status.Sync.Status, app.Status.Health.Status
			row.Revision = app.Status.Sync.Revision
			if h := argocd.LastHistory(app); h != nil {
				row.DeployedAt = h.DeployedAt
			}
		}(i, e.Name)
	}
	wg.Wait()
	return rows
}

// StatusCard renders the rows as one compact card, for a reader.
func StatusCard(t i18n.T, cfg *config.Config, service string, rows []EnvStatus, now time.Time) chat.Message {
	var fields []string
	var plain []string
	for _, r := range rows {
		tag := "`" + r.GitTag + "`"
		if r.GitErr != nil {
			tag = "_git: " + errText(t, r.GitErr) + "_"
		}
		state := commands.HealthEmoji(r.Health) + " " + r.Health + " · " + r.Sync
		if r.ArgoErr != nil {
			state = ":grey_question: _" + errText(t, r.ArgoErr) + "_"
		}
		when := ""
		if !r.DeployedAt.IsZero() {
			when = t.S("views.status.deployed", "Ago", i18n.Since{Now: now, At: r.DeployedAt})
		}
		if f := r.Freeze; f != nil {
			when += "\n" + t.Msg(f.Say)
		}
		fields = append(fields, fmt.Sprintf("*%s*  %s\n%s%s", r.Env, tag, state, when))
		plain = append(plain, fmt.Sprintf("%s %s %s/%s", r.Env, r.GitTag, r.Health, r.Sync))
	}
	return chat.Message{
		Text: t.S("views.status.fallback", "Service", service, "Rows", strings.Join(plain, "; ")),
		Blocks: []chat.Block{
			{Section: &chat.Section{Text: t.S("views.status.title", "Service", service)}},
			{Section: &chat.Section{Fields: fields}},
			{Context: []string{t.S("views.status.context", "Branch", cfg.GitOps.Branch, "Apps", cfg.AppName(service, "<env>"))}},
		},
	}
}

// A source a view reads that is not configured.
var (
	errNoGitOps = errors.New("gitops is not configured")
	errNoArgoCD = errors.New("argocd is not configured")
)

// errText is what a view shows of a source it could not read: the
// catalog's sentence for a source not configured, else the error cut to a
// card's width (it names what failed: the Argo CD app, the git remote).
func errText(t i18n.T, err error) string {
	switch {
	case errors.Is(err, errNoGitOps):
		return t.S("views.no_gitops")
	case errors.Is(err, errNoArgoCD):
		return t.S("views.no_argocd")
	}
	return commands.ShortErr(err)
}
