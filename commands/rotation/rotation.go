// Package rotation is playbook scenario 6: rotate a database password
// without ever showing it. The steps themselves (stage, alter, promote,
// sync, restart, verify, and the compensating path) are in
// commands/rotation/steps; this package is the command, its approvals and
// the workflow that runs the steps one at a time.
package rotation

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/policy"
	"github.com/nexo-org/nexo-bot/commands/rotation/steps"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/secretstore"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

// Kind is the workflow kind of `/nexo rotate-secret` (playbook
// scenario 6). See docs/rotation.md for the order of the steps.
const Kind = "rotate"

// ReminderTimer is the timer kind of the weekly reminder about
// secrets older than their max_age.
const ReminderTimer = "rotate.reminder"

// RecordsCollection holds one Record per service/env/secret: the
// last successful steps.
const RecordsCollection = "rotations"

// reminderCollection remembers when the next weekly reminder is due,
// so a restart does not push it back.
const reminderCollection = "rotation-reminder"

// ReminderEvery is the reminder period.
const ReminderEvery = 7 * 24 * time.Hour

// States of a rotate workflow. The engine itself moves a workflow to
// "failed" on a permanent error.
const (
	Card      = "card"
	Approval  = "approval"
	Run       = "run"
	Done      = "done"
	Failed    = "failed"
	Cancelled = "cancelled"
)

// Results of a rotate workflow (Job.Result).
const (
	ResultDone       = "done"
	ResultRolledBack = "rolled-back"
	ResultFailed     = "failed"
	ResultCancelled  = "cancelled"
)

// Job is the payload of a rotate workflow. Like steps.State it
// holds no password: the new value lives only in the secret manager.
type Job struct {
	Service     string             `json:"service"`
	Env         string             `json:"env"`
	Secret      string             `json:"secret"`
	SecretID    string             `json:"secret_id"`
	Requester   string             `json:"requester"`
	Need        policy.Requirement `json:"need"`
	Approvals   []policy.Approval  `json:"approvals,omitempty"`
	RequestedAt time.Time          `json:"requested_at"`
	StartedAt   *time.Time         `json:"started_at,omitempty"`
	FinishedAt  *time.Time         `json:"finished_at,omitempty"`
	Rotation    *steps.State       `json:"rotation"`
	Result      string             `json:"result,omitempty"`
	Summary     string             `json:"summary,omitempty"`
	CancelledBy string             `json:"cancelled_by,omitempty"`
}

// Record is the last successful rotation of a secret, stored in
// RecordsCollection under RecordKey.
type Record struct {
	Service   string    `json:"service"`
	Env       string    `json:"env"`
	Secret    string    `json:"secret"`
	SecretID  string    `json:"secret_id"`
	RotatedAt time.Time `json:"rotated_at"`
	// VersionID is the Secrets Manager version made AWSCURRENT.
	VersionID string `json:"version_id"`
	Workflow  string `json:"workflow"`
	By        string `json:"by"`
}

// RecordKey is the id of a Record: "<service>/<env>/<secret>".
func RecordKey(service, env, secret string) string { return service + "/" + env + "/" + secret }

// Request asks for a rotation.
type Request struct {
	Service, Env, Secret string
	Requester, Channel   string
}

// StepsSpec builds the steps.Spec of a configured secret (templates
// expanded with {service}, {env} and {secret}).
func StepsSpec(cfg *config.Config, svc *config.Service, env string, sec *config.Secret) steps.Spec {
	x := func(t string) string { return config.Expand(t, svc.Name, env, "secret", sec.Name) }
	kubeSecret := sec.KubernetesSecret
	if kubeSecret == "" {
		kubeSecret = sec.ExternalSecret
	}
	return steps.Spec{
		Service: svc.Name, Env: env,
		SecretID:         x(sec.SecretID),
		Namespace:        cfg.Namespace(svc.Name, env),
		ExternalSecret:   x(sec.ExternalSecret),
		KubernetesSecret: x(kubeSecret),
		Deployment:       x(cfg.Kubernetes.Deployment),
		Selector:         x(cfg.Kubernetes.LabelSelector),
		SuccessLog:       sec.SuccessLog,
		Charset:          sec.Charset,
	}
}

// Need is the approval a rotation in env needs:
// policy.rotation_approvals (default 1) from the environment's approver
// group, or hotfix.approver_group (sre-team) when it has none.
func Need(cfg *config.Config, env *config.Environment, requester string) policy.Requirement {
	n := 1
	if env.Policy.RotationApprovals != nil {
		n = *env.Policy.RotationApprovals
	}
	group := env.Policy.ApproverGroup
	if group == "" {
		group = cfg.Hotfix.ApproverGroup
	}
	return policy.Requirement{Approvals: n, Group: group, Requester: requester}
}

// Start validates a request and starts its workflow. Refusals are
// *commands.Refusal; nothing is changed when it refuses.
func Start(ctx context.Context, d *commands.Deps, rr Request) (*store.Workflow, *Job, error) {
	cfg := d.Config
	svc, env, err := commands.ResolveTarget(cfg, rr.Service, rr.Env)
	if err != nil {
		return nil, nil, err
	}
	if err := commands.MayRequest(ctx, d, rr.Requester, env.Policy.Requesters, "rotate.request", svc.Name, env.Name, i18n.M("rotation.request", "Env", env.Name)); err != nil {
		return nil, nil, err
	}
	if d.Secrets == nil {
		return nil, nil, commands.Refuse("rotation.not_configured.secrets")
	}
	if _, ok := d.Secrets.(secretstore.Staged); !ok {
		return nil, nil, commands.Refuse("rotation.not_configured.staging")
	}
	if d.Kube == nil {
		return nil, nil, commands.Refuse("rotation.not_configured.kubernetes")
	}
	sec, err := resolveSecret(cfg, svc, env.Name, rr.Secret)
	if err != nil {
		return nil, nil, err
	}
	now := d.Clock().Now()
	st, err := steps.NewState(StepsSpec(cfg, svc, env.Name, sec), now)
	if err != nil {
		var bad *steps.SpecError
		switch {
		case !errors.As(err, &bad):
			return nil, nil, err
		case len(bad.Missing) > 0:
			return nil, nil, commands.Refuse("rotation.incomplete.missing", "Secret", sec.Name, "Service", svc.Name, "Fields", commands.CodeList(bad.Missing))
		}
		return nil, nil, commands.Refuse("rotation.incomplete.charset", "Secret", sec.Name, "Service", svc.Name, "Charset", commands.Clip(bad.Charset, 40))
	}
	job := &Job{
		Service: svc.Name, Env: env.Name, Secret: sec.Name, SecretID: st.Spec.SecretID,
		Requester: rr.Requester, RequestedAt: now, Need: Need(cfg, env, rr.Requester), Rotation: st,
	}
	channel := rr.Channel
	if channel == "" {
		channel = cfg.ServiceChannel(svc.Name)
	}
	wf := &store.Workflow{ID: workflow.NewID("rotate"), Kind: Kind, LockKey: "rotate/" + st.Spec.SecretID, State: Card, Channel: channel, CreatedBy: rr.Requester}
	if err := workflow.Encode(wf, job); err != nil {
		return nil, nil, err
	}
	if err := d.Engine.Start(ctx, wf); err != nil {
		var locked *workflow.ErrLocked
		if errors.As(err, &locked) {
			return nil, nil, commands.Refuse("rotation.already_open", "SecretID", st.Spec.SecretID, "Link", commands.ThreadLink(ctx, d, locked.Open))
		}
		return nil, nil, err
	}
	commands.Audit(ctx, d, rr.Requester, "rotate.request", svc.Name, env.Name, wf.ID, "ok", fmt.Sprintf("secret %s (%s)", sec.Name, st.Spec.SecretID))
	return wf, job, nil
}

// resolveSecret finds a configured secret of svc in env by any of its
// names: the configured name, its secret_id, the last segment of that id,
// or its ExternalSecret's name (templates expanded for env); otherwise the
// refusal suggests the nearest.
func resolveSecret(cfg *config.Config, svc *config.Service, env, name string) (*config.Secret, error) {
	n := strings.TrimSpace(name)
	var known []string
	for i := range svc.Secrets {
		sec := &svc.Secrets[i]
		x := func(t string) string { return config.Expand(t, svc.Name, env, "secret", sec.Name) }
		id := x(sec.SecretID)
		names := []string{sec.Name, id, path.Base(id), x(sec.ExternalSecret)}
		for _, alias := range names {
			if alias != "" && strings.EqualFold(alias, n) {
				return sec, nil
			}
		}
		known = append(known, names...)
	}
	if len(svc.Secrets) == 0 {
		return nil, commands.Refuse("rotation.no_secrets", "Service", svc.Name)
	}
	var list []string
	for i := range svc.Secrets {
		list = append(list, "`"+svc.Secrets[i].Name+"` ("+config.Expand(svc.Secrets[i].SecretID, svc.Name, env, "secret", svc.Secrets[i].Name)+")")
	}
	sort.Strings(list)
	return nil, commands.Refuse("rotation.no_such_secret", "Service", svc.Name, "Name", commands.Clip(name, 40), "Env", env,
		"Hint", commands.Suggest(strings.ToLower(n), known), "Secrets", strings.Join(list, ", "))
}

// Approve records an approval after re-checking the policy (the
// button's payload is never trusted).
func Approve(ctx context.Context, d *commands.Deps, id, user string) (*chat.Reply, error) {
	return commands.RecordApproval[Job](ctx, d, commands.ApprovalSpec{Kind: Kind, Noun: "rotation", Action: "rotate.approve", Open: []string{Card, Approval}}, id, user)
}

// Requirement implements commands.Approvable.
func (j *Job) Requirement() policy.Requirement { return j.Need }

// ApprovalList implements commands.Approvable.
func (j *Job) ApprovalList() *[]policy.Approval { return &j.Approvals }

// Target implements commands.Approvable.
func (j *Job) Target() (string, string) { return j.Service, j.Env }
