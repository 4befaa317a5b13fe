package change

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/policy"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/store"
)

// PromoteSpec is `/nexo promote <service> <env> [version]`.
func PromoteSpec(d *commands.Deps) *commands.Spec {
	return &commands.Spec{
		Name:     "promote",
		Aliases:  []string{"deploy"},
		Args:     []string{"service", "env", "version?"},
		Summary:  "change.promote.summary",
		Help:     "change.promote.help",
		Flags:    []commands.Flag{{Name: "skip-soak"}, {Name: "reason", Value: "\"…\""}, {Name: "incident", Value: "<id>"}, {Name: "when-open"}},
		Mutating: true,
		Run: func(ctx context.Context, r commands.Request) (*chat.Reply, error) {
			version := ""
			if len(r.Args.Words) == 3 {
				version = r.Args.Words[2]
			}
			if r.Args.Has("skip-soak") && strings.TrimSpace(r.Args.Flag("reason")) == "" {
				return nil, commands.Refuse("change.promote.skip_soak_reason")
			}
			_, err := StartPromotion(ctx, d, PromoteRequest{
				Service: r.Args.Words[0], Env: r.Args.Words[1], Tag: version,
				Requester: r.UserID, Channel: r.ChannelID,
				SkipSoak: r.Args.Has("skip-soak"), Reason: r.Args.Flag("reason"), Incident: r.Args.Flag("incident"),
				WhenOpen: r.Args.Has("when-open"),
			})
			if err != nil {
				return nil, err
			}
			return nil, nil
		},
	}
}

// PromoteRequest asks for a promotion.
type PromoteRequest struct {
	Service, Env, Tag string
	Requester         string
	Channel           string
	SkipSoak          bool
	Reason            string
	Incident          string
	Auto              bool
	WhenOpen          bool // wait for a freeze to end instead of being refused
	// Flavor is records.KindPromote (default) or "backfill" (no soak gates).
	Flavor string
}

// StartPromotion validates a promotion and starts its workflow. Refusals
// are *RefusalError; nothing is changed when it refuses.
func StartPromotion(ctx context.Context, d *commands.Deps, pr PromoteRequest) (*store.Workflow, error) {
	cfg := d.Config
	svc, env, err := commands.ResolveTarget(cfg, pr.Service, pr.Env)
	if err != nil {
		return nil, err
	}
	flavor := pr.Flavor
	if flavor == "" {
		flavor = records.KindPromote
	}
	if !pr.Auto {
		noun := map[string]string{records.KindPromote: "promotion", "backfill": "backfill"}[flavor]
		if err := commands.MayRequest(ctx, d, pr.Requester, env.Policy.Requesters, flavor+".request", svc.Name, env.Name, i18n.M("change.request."+noun, "Env", env.Name)); err != nil {
			return nil, err
		}
	}
	if err := d.GitOps.Sync(ctx); err != nil {
		return nil, fmt.Errorf("reading the GitOps repo: %w", err)
	}
	prev, hasPrev := cfg.PreviousEnv(env.Name)
	tag := pr.Tag
	if tag == "" {
		if !hasPrev {
			return nil, commands.Refuse("change.promote.first_env", "Env", env.Name, "Command", cfg.Slack.Command, "Service", svc.Name)
		}
		tag, err = commands.ReadTag(ctx, d, svc.Name, prev.Name)
		if err != nil {
			return nil, fmt.Errorf("reading the tag of %s in %s: %w", svc.Name, prev.Name, err)
		}
	}
	if err := commands.ValidateTag(cfg, tag); err != nil {
		return nil, err
	}
	current, err := commands.ReadTag(ctx, d, svc.Name, env.Name)
	if err != nil {
		return nil, fmt.Errorf("reading the tag of %s in %s: %w", svc.Name, env.Name, err)
	}
	if current == tag {
		return nil, commands.Refuse("change.promote.already_runs", "Service", svc.Name, "Tag", tag, "Env", env.Name)
	}
	if err := commands.RequireImage(ctx, d, svc.Name, tag); err != nil {
		return nil, err
	}
	c := Change{
		Flavor: flavor, Service: svc.Name, Env: env.Name, Tag: tag, Previous: current,
		Auto: pr.Auto, Incident: pr.Incident, Reason: pr.Reason, SkipSoak: pr.SkipSoak, WhenOpen: pr.WhenOpen,
		Requester: pr.Requester, RequestedAt: d.Clock().Now(),
		Need: policy.Requirement{Approvals: env.Policy.Approvals, Group: env.Policy.ApproverGroup, Requester: pr.Requester},
	}
	if hasPrev && flavor == records.KindPromote {
		c.FromEnv = prev.Name
		c.Soak = env.Policy.Soak.D()
	}
	if pr.SkipSoak {
		c.Need.ExtraApprovals, c.Need.ExtraGroup = 1, cfg.Hotfix.ApproverGroup
	}
	c.Branch = fmt.Sprintf("promote/%s-%s-%s", svc.Name, commands.BranchEnv(cfg, env.Name), tag)
	if flavor == "backfill" {
		c.Branch = fmt.Sprintf("backfill/%s-%s-%s", svc.Name, commands.BranchEnv(cfg, env.Name), tag)
	}
	c.Subject = fmt.Sprintf("promote(%s): %s → %s", svc.Name, env.Name, tag)
	c.Labels, c.Teams = PRLabelsAndTeams(cfg, env, flavor)
	AddChangelog(ctx, d, svc, &c)
	c.Body = PromoteBody(&c, d.Clock().Now().In(d.T(pr.Channel).Zone()))
	wf, err := startChange(ctx, d, "promote", c, pr.Channel)
	if err != nil {
		return nil, err
	}
	commands.Audit(ctx, d, pr.Requester, flavor+".request", svc.Name, env.Name, wf.ID, "ok", fmt.Sprintf("%s → %s", current, tag))
	if pr.SkipSoak {
		commands.Audit(ctx, d, pr.Requester, flavor+".skip-soak", svc.Name, env.Name, wf.ID, "ok", pr.Reason)
	}
	return wf, nil
}

// PRLabelsAndTeams are the labels and the reviewer team of an env's PRs.
func PRLabelsAndTeams(cfg *config.Config, env *config.Environment, flavor string) (labels, teams []string) {
	switch flavor {
	case records.KindHotfix:
		labels = []string{"hotfix", "P0"}
	case records.KindRollback:
		labels = []string{"rollback"}
	case records.KindFix:
		labels = []string{"fix"}
	default:
		labels = []string{"promotion"}
	}
	if env.Name == "production" {
		labels = append(labels, "production-deploy")
	}
	if env.Policy.ApproverGroup != "" {
		teams = []string{"nexo-" + env.Policy.ApproverGroup}
	}
	return labels, teams
}

// AddChangelog fills the changelog and lead-time facts from the service's
// source repo (GitHub compare between the running and the new tag).
func AddChangelog(ctx context.Context, d *commands.Deps, svc *config.Service, c *Change) {
	if d.GitHub == nil || svc.Repo == "" || c.Previous == "" {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	commits, err := d.GitHub.Compare(cctx, svc.Repo, c.Previous, c.Tag)
	if err != nil {
		d.Log.Info("changelog unavailable", "repo", svc.Repo, "err", err)
		return
	}
	for _, cm := range commits {
		subject, _, _ := strings.Cut(cm.Message, "\n")
		c.Changelog = append(c.Changelog, subject)
		c.CommitSHAs = append(c.CommitSHAs, cm.SHA)
		if c.FirstCommitAt == nil || cm.Time.Before(*c.FirstCommitAt) {
			t := cm.Time
			c.FirstCommitAt = &t
		}
	}
}

// PromoteBody is the commit and PR body in the playbook's format, the
// same in every locale; now is told in its own zone (the config's timezone).
//
//i18n:verbatim git text: the playbook's form in every locale
func PromoteBody(c *Change, now time.Time) string {
	var b strings.Builder
	b.WriteString("## Changelog\n")
	if len(c.Changelog) == 0 {
		b.WriteString("- (no source commits found between the versions)\n")
	}
	for _, l := range c.Changelog {
		fmt.Fprintf(&b, "- %s\n", l)
	}
	b.WriteString("\n## Validation\n")
	switch {
	case c.SkipSoak:
		fmt.Fprintf(&b, "- ⚠️ Soak in %s skipped: %s\n", c.FromEnv, c.Reason)
	case c.FromEnv != "" && c.Soak > 0:
		fmt.Fprintf(&b, "- ✅ %s stable for %s (checked by nexo before merge)\n", commands.TitleCase(c.FromEnv), soakText(c.Soak))
	case c.FromEnv != "":
		fmt.Fprintf(&b, "- ✅ Running in %s\n", c.FromEnv)
	}
	fmt.Fprintf(&b, "- ✅ Image tag %s exists in the registry\n", c.Tag)
	b.WriteString("\n## Rollback Plan\n")
	fmt.Fprintf(&b, "1. Revert this PR\n2. OR: /nexo rollback %s %s\n3. Previous version: %s\n", c.Service, c.Env, commands.OrDash(c.Previous))
	fmt.Fprintf(&b, "\nRequested-by: %s via nexo at %s\n", c.Requester, now.Format(time.RFC3339))
	return b.String()
}

// soakText is a soak for the PR body: "24h" for whole hours, else Go's
// form ("30m0s").
func soakText(d time.Duration) string {
	if d >= time.Hour && d%time.Hour == 0 {
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return d.String()
}
