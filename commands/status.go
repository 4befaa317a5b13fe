package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/gitops"
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
}

// StatusSpec is `/nexo status <service> [env]`.
func StatusSpec(d *Deps) *Spec {
	return &Spec{
		Name:    "status",
		Aliases: []string{"st"},
		Usage:   "status <service> [env]",
		Summary: "Tag in git, Argo CD sync and health, last deploy — per environment",
		Help:    "Reads the values file of each environment in the GitOps repo and the Argo CD application `<service>-<env>`.\nExample: `/nexo status nexo-be` or `/nexo status nexo-be prod`.",
		Run: func(ctx context.Context, r Request) (*chat.Reply, error) {
			if len(r.Args.Words) == 0 || len(r.Args.Words) > 2 {
				return Refuse("Usage: `%s status <service> [env]`. Services: %s", d.Config.Slack.Command, strings.Join(d.Config.ServiceNames(), ", ")), nil
			}
			svc, err := ResolveService(d.Config, r.Args.Words[0])
			if err != nil {
				return RefusalReply(err)
			}
			envs := d.Config.Environments
			if len(r.Args.Words) == 2 {
				e, err := ResolveEnv(d.Config, r.Args.Words[1])
				if err != nil {
					return RefusalReply(err)
				}
				envs = []config.Environment{*e}
			}
			rows := CollectStatus(ctx, d, svc.Name, envs)
			return InChannel(StatusCard(d.Config, svc.Name, rows, d.Clock().Now())), nil
		},
	}
}

// RefusalReply turns a RefusalError into an ephemeral reply, and passes
// other errors on.
func RefusalReply(err error) (*chat.Reply, error) {
	var r *RefusalError
	if errors.As(err, &r) {
		return Refuse("%s", r.Text), nil
	}
	return nil, err
}

// CollectStatus reads git once and Argo CD per environment, in parallel.
func CollectStatus(ctx context.Context, d *Deps, service string, envs []config.Environment) []EnvStatus {
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
				row.GitErr = errors.New("gitops not configured")
			case syncErr != nil:
				row.GitErr = syncErr
			default:
				row.GitTag, row.GitErr = ReadTag(ctx, d, service, env)
			}
			if d.ArgoCD == nil {
				row.ArgoErr = errors.New("argocd not configured")
				return
			}
			app, err := d.ArgoCD.GetApp(ctx, d.Config.AppName(service, env), "")
			if err != nil {
				row.ArgoErr = err
				return
			}
			row.Sync, row.Health = app.Status.Sync.Status, app.Status.Health.Status
			row.Revision = app.Status.Sync.Revision
			if h := LastHistory(app); h != nil {
				row.DeployedAt = h.DeployedAt
			}
		}(i, e.Name)
	}
	wg.Wait()
	return rows
}

// ReadTag reads the tag of service in env at origin/<branch>.
func ReadTag(ctx context.Context, d *Deps, service, env string) (string, error) {
	doc, err := d.GitOps.ReadFile(ctx, d.Config.ValuesPath(service, env))
	if err != nil {
		return "", err
	}
	return gitops.GetTag(doc, d.Config.GitOps.TagKey)
}

// LastHistory is the newest entry of an app's deployment history.
func LastHistory(app *argocd.Application) *argocd.RevisionHistory {
	var last *argocd.RevisionHistory
	for i := range app.Status.History {
		h := &app.Status.History[i]
		if last == nil || h.ID > last.ID {
			last = h
		}
	}
	return last
}

// StatusCard renders the rows as one compact card.
func StatusCard(cfg *config.Config, service string, rows []EnvStatus, now time.Time) chat.Message {
	var fields []string
	var plain []string
	for _, r := range rows {
		tag := "`" + r.GitTag + "`"
		if r.GitErr != nil {
			tag = "_git: " + shortErr(r.GitErr) + "_"
		}
		state := HealthEmoji(r.Health) + " " + r.Health + " · " + r.Sync
		if r.ArgoErr != nil {
			state = ":grey_question: _" + shortErr(r.ArgoErr) + "_"
		}
		when := ""
		if !r.DeployedAt.IsZero() {
			when = " · deployed " + Ago(now, r.DeployedAt)
		}
		fields = append(fields, fmt.Sprintf("*%s*  %s\n%s%s", r.Env, tag, state, when))
		plain = append(plain, fmt.Sprintf("%s %s %s/%s", r.Env, r.GitTag, r.Health, r.Sync))
	}
	return chat.Message{
		Text: fmt.Sprintf("%s status: %s", service, strings.Join(plain, "; ")),
		Blocks: []chat.Block{
			{Section: &chat.Section{Text: fmt.Sprintf("*%s* across environments", service)}},
			{Section: &chat.Section{Fields: fields}},
			{Context: []string{fmt.Sprintf("GitOps `%s` · Argo CD apps `%s`", cfg.GitOps.Branch, cfg.AppName(service, "<env>"))}},
		},
	}
}

// HealthEmoji maps an Argo CD health to an emoji.
func HealthEmoji(h string) string {
	switch h {
	case "Healthy":
		return ":large_green_circle:"
	case "Progressing":
		return ":large_blue_circle:"
	case "Degraded":
		return ":red_circle:"
	case "Suspended":
		return ":double_vertical_bar:"
	case "Missing":
		return ":black_circle:"
	}
	return ":white_circle:"
}

// Ago is a short human duration ("5m ago", "3d ago").
func Ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

func shortErr(err error) string { return clip(err.Error(), 80) }
