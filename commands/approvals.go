package commands

import (
	"context"
	"errors"
	"slices"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands/policy"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

// Approvable is a workflow payload that collects approvals (a change, a
// rollback, a rotation).
type Approvable interface {
	Requirement() policy.Requirement
	ApprovalList() *[]policy.Approval
	Target() (service, env string)
}

// ApprovalSpec says which workflows an approval applies to.
type ApprovalSpec struct {
	Kind   string   // workflow kind
	Noun   string   // "change", "rollback", "rotation": the catalog's core.noun.<noun>.*
	Action string   // audit action, e.g. "change.approve"
	Open   []string // states in which approvals are taken
}

// RecordApproval adds user's approval to workflow id after re-checking the
// policy from the stored workflow (the button is not trusted), with
// compare-and-swap, and audits the approval or the refusal. It is the one
// approval path of every workflow kind.
func RecordApproval[T any, P interface {
	*T
	Approvable
}](ctx context.Context, d *Deps, spec ApprovalSpec, id, user string) (*chat.Reply, error) {
	groups := UserGroups(ctx, d, user)
	var service, env string
	_, err := d.Engine.Mutate(ctx, id, func(wf *store.Workflow) error {
		if wf.Kind != spec.Kind {
			return Refuse("core.approval.not_kind", "A", i18n.M("core.noun."+spec.Noun+".a"))
		}
		v, err := workflow.Decode[T](wf)
		if err != nil {
			return err
		}
		p := P(&v)
		service, env = p.Target()
		if wf.Done || !slices.Contains(spec.Open, wf.State) {
			return Refuse("core.approval.past", "This", i18n.M("core.noun."+spec.Noun+".this"), "State", wf.State)
		}
		need, list := p.Requirement(), p.ApprovalList()
		if ok, why := policy.CanApprove(need, user, groups, *list, i18n.M("policy.ask", "Who", d.Members.Mentions(ctx, need.Group))); !ok {
			return &Refusal{Msg: why}
		}
		*list = append(*list, policy.Approval{User: user, At: d.Clock().Now(), Groups: groups})
		return workflow.Encode(wf, v)
	})
	var refusal *Refusal
	switch {
	case errors.As(err, &refusal):
		Audit(ctx, d, user, spec.Action, service, env, id, "refused", refusal.Error())
		return nil, refusal
	case errors.Is(err, store.ErrNotFound):
		return nil, Refuse("core.approval.gone", "That", i18n.M("core.noun."+spec.Noun+".that"))
	case err != nil:
		return nil, err
	}
	Audit(ctx, d, user, spec.Action, service, env, id, "ok", "")
	return nil, nil
}

// RollbackNeed is the approvals a rollback of env needs, by any path:
// policy.rollback_approvals, else one approval where promotions need any.
func RollbackNeed(env *config.Environment, requester string) policy.Requirement {
	n := 0
	if env.Policy.Approvals > 0 {
		n = 1
	}
	if env.Policy.RollbackApprovals != nil {
		n = *env.Policy.RollbackApprovals
	}
	return policy.Requirement{Approvals: n, Group: env.Policy.ApproverGroup, Requester: requester}
}
