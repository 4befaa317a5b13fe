package change

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/policy"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/registry"
	"github.com/nexo-org/nexo-bot/store"
)

// FixRequest asks for the playbook's fix PR of a missing image tag.
type FixRequest struct {
	Service, Env, Tag  string
	Requester, Channel string
}

// StartFix opens the fix PR of scenario 4: `fix(<svc>): corrige image tag
// em <env>` on branch `fix/<svc>-<env>-image-tag`, with the error and the
// correction in the body, through the env's approvals, merge, sync and
// rollout like a promotion. Everything is checked again (the button is not
// trusted): the tag in git must be missing from the registry and the new
// tag must exist.
func StartFix(ctx context.Context, d *commands.Deps, fr FixRequest) (*store.Workflow, error) {
	cfg := d.Config
	svc, env, err := commands.ResolveTarget(cfg, fr.Service, fr.Env)
	if err != nil {
		return nil, err
	}
	if err := commands.MayRequest(ctx, d, fr.Requester, env.Policy.Requesters, "fix.request", svc.Name, env.Name, i18n.M("change.request.fix", "Env", env.Name)); err != nil {
		return nil, err
	}
	if err := commands.ValidateTag(cfg, fr.Tag); err != nil {
		return nil, err
	}
	if d.Registry == nil {
		return nil, commands.Refuse("change.fix.no_registry")
	}
	if d.GitOps == nil || d.GitHub == nil {
		return nil, commands.Refuse("change.fix.no_gitops")
	}
	if err := d.GitOps.Sync(ctx); err != nil {
		return nil, fmt.Errorf("reading the GitOps repo: %w", err)
	}
	current, err := commands.ReadTag(ctx, d, svc.Name, env.Name)
	if err != nil {
		return nil, fmt.Errorf("reading the tag of %s in %s: %w", svc.Name, env.Name, err)
	}
	if current == fr.Tag {
		return nil, commands.Refuse("change.fix.nothing_to_fix", "Service", svc.Name, "Env", env.Name, "Tag", fr.Tag, "Command", cfg.Slack.Command)
	}
	repo := cfg.ImageRepository(svc.Name)
	rctx, cancel := context.WithTimeout(ctx, fixCheckTimeout)
	defer cancel()
	if registry.ValidTag(current) {
		bad, err := d.Registry.TagExists(rctx, repo, current)
		if err != nil {
			return nil, fmt.Errorf("asking the registry about %s:%s: %w", repo, current, err)
		}
		if bad {
			return nil, commands.Refuse("change.fix.tag_exists_now", "Repo", repo, "Current", current, "Command", cfg.Slack.Command, "Service", svc.Name, "Env", env.Name)
		}
	}
	ok, err := d.Registry.TagExists(rctx, repo, fr.Tag)
	if err != nil {
		return nil, fmt.Errorf("asking the registry about %s:%s: %w", repo, fr.Tag, err)
	}
	if !ok {
		return nil, commands.Refuse("change.fix.new_tag_missing", "Repo", repo, "Tag", fr.Tag)
	}
	c := Change{
		Flavor: records.KindFix, Service: svc.Name, Env: env.Name, Tag: fr.Tag, Previous: current,
		Requester: fr.Requester, RequestedAt: d.Clock().Now(),
		Need:    policy.Requirement{Approvals: env.Policy.Approvals, Group: env.Policy.ApproverGroup, Requester: fr.Requester},
		Branch:  fmt.Sprintf("fix/%s-%s-image-tag", svc.Name, commands.BranchEnv(cfg, env.Name)),
		Subject: fmt.Sprintf("fix(%s): corrige image tag em %s", svc.Name, env.Name), //i18n:verbatim git text
		Reason:  fmt.Sprintf("tag %s does not exist", current),                       //i18n:verbatim git text
	}
	c.Labels, c.Teams = PRLabelsAndTeams(cfg, env, records.KindFix)
	c.Body = FixBody(&c, repo, d.Clock().Now().In(d.T(fr.Channel).Zone()))
	wf, err := startChange(ctx, d, "fix", c, fr.Channel)
	if err != nil {
		return nil, err
	}
	commands.Audit(ctx, d, fr.Requester, "fix.request", svc.Name, env.Name, wf.ID, "ok", current+" → "+fr.Tag)
	return wf, nil
}

// FixBody is the fix PR's body, in the playbook's words (the same in
// every locale); now is told in its own zone (the config's timezone).
//
//i18n:verbatim git text: the playbook's form in every locale
func FixBody(c *Change, repo string, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Erro: Tag %s não existe\n", c.Previous)
	fmt.Fprintf(&b, "Correção: Usa tag correta %s\n\n", c.Tag)
	fmt.Fprintf(&b, "The pods of %s in %s could not pull `%s:%s` (ImagePullBackOff): the registry has no such tag. `%s:%s` exists.\n", c.Service, c.Env, repo, c.Previous, repo, c.Tag)
	fmt.Fprintf(&b, "\nFound by /nexo diagnose %s %s.\nRequested-by: %s via nexo at %s\n", c.Service, c.Env, c.Requester, now.Format(time.RFC3339))
	return b.String()
}

// fixCheckTimeout bounds the registry checks of a fix request.
const fixCheckTimeout = 10 * time.Second
