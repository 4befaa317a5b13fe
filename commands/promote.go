package commands

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands/policy"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

// PromoteSpec is `/nexo promote <service> <env> [version]`.
func PromoteSpec(d *Deps) *Spec {
	return &Spec{
		Name:      "promote",
		Aliases:   []string{"deploy"},
		Usage:     "promote <service> <env> [version] [--skip-soak --reason \"…\"]",
		Summary:   "Open the GitOps PR for a version, collect approvals, merge, sync and watch",
		Help:      "The version defaults to the tag running in the previous environment. The PR changes only `image.tag` in `helm/<service>/values-<env>.yaml`.\nStaging needs 1 approval from platform-team and 30 min in qa; production needs 2 from sre-team and 24 h in staging. `--skip-soak --reason \"…\"` asks one extra sre-team approval and is audited.\nExample: `/nexo promote nexo-be production 2026.02.17`",
		BoolFlags: []string{"skip-soak"},
		Flags:     []string{"reason", "incident"},
		Mutating:  true,
		Run: func(ctx context.Context, r Request) (*chat.Reply, error) {
			if len(r.Args.Words) < 2 || len(r.Args.Words) > 3 {
				return Refuse("Usage: `%s promote <service> <env> [version]`", d.Config.Slack.Command), nil
			}
			version := ""
			if len(r.Args.Words) == 3 {
				version = r.Args.Words[2]
			}
			if r.Args.Has("skip-soak") && strings.TrimSpace(r.Args.Flag("reason")) == "" {
				return Refuse("`--skip-soak` needs `--reason \"why\"`; it is written to the audit log."), nil
			}
			_, err := StartPromotion(ctx, d, PromoteRequest{
				Service: r.Args.Words[0], Env: r.Args.Words[1], Tag: version,
				Requester: r.UserID, Channel: r.ChannelID,
				SkipSoak: r.Args.Has("skip-soak"), Reason: r.Args.Flag("reason"), Incident: r.Args.Flag("incident"),
			})
			if err != nil {
				return RefusalReply(err)
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
	// Flavor is records.KindPromote (default) or "backfill" (no soak gates).
	Flavor string
}

// StartPromotion validates a promotion and starts its workflow. Refusals
// are *RefusalError; nothing is changed when it refuses.
func StartPromotion(ctx context.Context, d *Deps, pr PromoteRequest) (*store.Workflow, error) {
	cfg := d.Config
	svc, env, err := ResolveTarget(cfg, pr.Service, pr.Env)
	if err != nil {
		return nil, err
	}
	if err := d.GitOps.Sync(ctx); err != nil {
		return nil, fmt.Errorf("reading the GitOps repo: %w", err)
	}
	prev, hasPrev := cfg.PreviousEnv(env.Name)
	tag := pr.Tag
	if tag == "" {
		if !hasPrev {
			return nil, Refusalf("%s is the first environment; say which version: `%s promote %s %s <version>`.", env.Name, cfg.Slack.Command, svc.Name, env.Name)
		}
		tag, err = ReadTag(ctx, d, svc.Name, prev.Name)
		if err != nil {
			return nil, fmt.Errorf("reading the tag of %s in %s: %w", svc.Name, prev.Name, err)
		}
	}
	if err := ValidateTag(cfg, tag); err != nil {
		return nil, err
	}
	current, err := ReadTag(ctx, d, svc.Name, env.Name)
	if err != nil {
		return nil, fmt.Errorf("reading the tag of %s in %s: %w", svc.Name, env.Name, err)
	}
	if current == tag {
		return nil, Refusalf("%s already runs `%s` in %s. Nothing to do.", svc.Name, tag, env.Name)
	}
	if err := RequireImage(ctx, d, svc.Name, tag); err != nil {
		return nil, err
	}
	flavor := pr.Flavor
	if flavor == "" {
		flavor = records.KindPromote
	}
	c := Change{
		Flavor: flavor, Service: svc.Name, Env: env.Name, Tag: tag, Previous: current,
		Auto: pr.Auto, Incident: pr.Incident, Reason: pr.Reason, SkipSoak: pr.SkipSoak,
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
	c.Branch = fmt.Sprintf("promote/%s-%s-%s", svc.Name, BranchEnv(cfg, env.Name), tag)
	if flavor == "backfill" {
		c.Branch = fmt.Sprintf("backfill/%s-%s-%s", svc.Name, BranchEnv(cfg, env.Name), tag)
	}
	c.Subject = fmt.Sprintf("promote(%s): %s → %s", svc.Name, env.Name, tag)
	c.Labels, c.Teams = PRLabelsAndTeams(cfg, env, flavor)
	AddChangelog(ctx, d, svc, &c)
	c.Body = PromoteBody(&c, d.Clock().Now())
	wf, err := startChange(ctx, d, "promote", c, pr.Channel)
	if err != nil {
		return nil, err
	}
	Audit(ctx, d, pr.Requester, flavor+".request", svc.Name, env.Name, wf.ID, "ok", fmt.Sprintf("%s → %s", current, tag))
	if pr.SkipSoak {
		Audit(ctx, d, pr.Requester, flavor+".skip-soak", svc.Name, env.Name, wf.ID, "ok", pr.Reason)
	}
	return wf, nil
}

// BranchEnv is the env's short name in branch names (the playbook writes
// promote/nexo-be-prod-<tag> for production).
func BranchEnv(cfg *config.Config, env string) string {
	if e, ok := cfg.Env(env); ok && e.ValuesFile != "" {
		return e.ValuesFile
	}
	return env
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
func AddChangelog(ctx context.Context, d *Deps, svc *config.Service, c *Change) {
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

// PromoteBody is the commit and PR body in the playbook's format.
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
		fmt.Fprintf(&b, "- ✅ %s stable for %s (checked by nexo before merge)\n", titleCase(c.FromEnv), humanDuration(c.Soak))
	case c.FromEnv != "":
		fmt.Fprintf(&b, "- ✅ Running in %s\n", c.FromEnv)
	}
	fmt.Fprintf(&b, "- ✅ Image tag %s exists in the registry\n", c.Tag)
	b.WriteString("\n## Rollback Plan\n")
	fmt.Fprintf(&b, "1. Revert this PR\n2. OR: /nexo rollback %s %s\n3. Previous version: %s\n", c.Service, c.Env, orDash(c.Previous))
	fmt.Fprintf(&b, "\nRequested-by: %s via nexo at %s\n", c.Requester, now.UTC().Format(time.RFC3339))
	return b.String()
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func humanDuration(d time.Duration) string {
	if d >= time.Hour && d%time.Hour == 0 {
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return d.String()
}

// ThreadLink is a link to a workflow's thread, or its id.
func ThreadLink(ctx context.Context, d *Deps, wf *store.Workflow) string {
	if wf.CardTS != "" && d.Chat != nil {
		if url, err := d.Chat.Permalink(ctx, wf.Channel, wf.CardTS); err == nil {
			return fmt.Sprintf("<%s|%s>", url, wf.ID)
		}
	}
	return "`" + wf.ID + "`"
}

// Audit appends to the audit log; a failure is logged, never fatal.
func Audit(ctx context.Context, d *Deps, actor, action, service, env, target, outcome, detail string) {
	err := d.Store.AppendAudit(ctx, store.AuditEntry{Time: d.Clock().Now(), Actor: actor, Action: action, Service: service, Env: env, Target: target, Outcome: outcome, Detail: detail})
	if err != nil {
		d.Log.Error("audit", "action", action, "err", err)
	}
}

// UserGroups lists the config groups a user belongs to.
func UserGroups(ctx context.Context, d *Deps, user string) []string {
	var out []string
	for _, g := range d.Config.GroupNames() {
		if in, err := d.Members.Is(ctx, user, g); err == nil && in {
			out = append(out, g)
		}
	}
	sort.Strings(out)
	return out
}

// RegisterChange wires the change workflow's buttons and modal.
func RegisterChange(r *Router, d *Deps) {
	r.OnClick("change.approve", func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
		return ApproveChange(ctx, d, c.Value, c.UserID)
	})
	r.OnClick("change.reject", func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
		wf, err := d.Store.GetWorkflow(ctx, c.Value)
		if err != nil {
			return Refuse("That change no longer exists."), nil
		}
		if wf.Done {
			return Refuse("That change has already ended (%s).", wf.State), nil
		}
		if err := d.Chat.OpenModal(ctx, c.TriggerID, chat.Modal{
			CallbackID: "change.reject", PrivateMetadata: wf.ID, Title: "Reject change", Submit: "Reject",
			Inputs: []chat.ModalInput{{ID: "reason", Label: "Why?", Multiline: true}},
		}); err != nil {
			return nil, err
		}
		return nil, nil
	})
	r.OnSubmit("change.reject", func(ctx context.Context, s chat.Submission) (map[string]string, error) {
		reason := strings.TrimSpace(s.Values["reason"])
		if reason == "" {
			return map[string]string{"reason": "Say why, so the requester knows what to fix."}, nil
		}
		refusal, err := RejectChange(ctx, d, s.PrivateMetadata, s.UserID, reason)
		if err != nil {
			return nil, err
		}
		if refusal != "" {
			return map[string]string{"reason": refusal}, nil
		}
		return nil, nil
	})
}

// ApproveChange records an approval after re-checking the policy (the
// button's payload is never trusted).
func ApproveChange(ctx context.Context, d *Deps, id, user string) (*chat.Reply, error) {
	return recordApproval[Change](ctx, d, approvalSpec{kind: ChangeKind, noun: "change", action: "change.approve", open: []string{StCard, StPR, StApproval}}, id, user)
}

// RejectChange closes a change: PR closed, branch deleted. It returns a
// refusal sentence when the user may not.
func RejectChange(ctx context.Context, d *Deps, id, user, reason string) (string, error) {
	groups := UserGroups(ctx, d, user)
	var refusal string
	wf, err := d.Engine.Mutate(ctx, id, func(wf *store.Workflow) error {
		c, err := workflow.Decode[Change](wf)
		if err != nil {
			return err
		}
		if wf.Done || (wf.State != StApproval && wf.State != StPR && wf.State != StCard) {
			refusal = fmt.Sprintf("This change is past approval (%s) and can no longer be rejected.", wf.State)
			return errRefused
		}
		if user != c.Requester && c.Need.Group != "" && !contains(groups, c.Need.Group) && (c.Need.ExtraGroup == "" || !contains(groups, c.Need.ExtraGroup)) {
			refusal = fmt.Sprintf("Only the requester or members of %s can reject this.", c.Need.Group)
			return errRefused
		}
		c.RejectedBy, c.RejectWhy = user, reason
		wf.State = StRejected
		return workflow.Encode(wf, c)
	})
	svc, env := wfServiceEnv(wf)
	if errors.Is(err, errRefused) {
		Audit(ctx, d, user, "change.reject", svc, env, id, "refused", refusal)
		return refusal, nil
	}
	if err != nil {
		return "", err
	}
	Audit(ctx, d, user, "change.reject", svc, env, id, "ok", reason)
	return "", nil
}

var errRefused = errors.New("refused")

func wfServiceEnv(wf *store.Workflow) (string, string) {
	if wf == nil {
		return "", ""
	}
	c, err := workflow.Decode[Change](wf)
	if err != nil {
		return "", ""
	}
	return c.Service, c.Env
}
