package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands/policy"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

// approvable is a workflow payload that collects approvals.
type approvable interface {
	requirement() policy.Requirement
	approvalList() *[]policy.Approval
	target() (service, env string)
}

func (c *Change) requirement() policy.Requirement    { return c.Need }
func (c *Change) approvalList() *[]policy.Approval   { return &c.Approvals }
func (c *Change) target() (string, string)           { return c.Service, c.Env }
func (r *Rollback) requirement() policy.Requirement  { return r.Need }
func (r *Rollback) approvalList() *[]policy.Approval { return &r.Approvals }
func (r *Rollback) target() (string, string)         { return r.Service, r.Env }
func (j *RotateJob) requirement() policy.Requirement { return j.Need }
func (j *RotateJob) approvalList() *[]policy.Approval {
	return &j.Approvals
}
func (j *RotateJob) target() (string, string) { return j.Service, j.Env }

// approvalSpec says which workflows an approval applies to.
type approvalSpec struct {
	kind   string   // workflow kind
	noun   string   // "change", "rollback", "rotation" (for sentences)
	action string   // audit action, e.g. "change.approve"
	open   []string // states in which approvals are taken
}

// recordApproval adds user's approval to workflow id after re-checking the
// policy from the stored workflow (the button is not trusted), with
// compare-and-swap, and audits the approval or the refusal.
func recordApproval[T any, P interface {
	*T
	approvable
}](ctx context.Context, d *Deps, spec approvalSpec, id, user string) (*chat.Reply, error) {
	groups := UserGroups(ctx, d, user)
	var refusal, service, env string
	_, err := d.Engine.Mutate(ctx, id, func(wf *store.Workflow) error {
		refusal = ""
		if wf.Kind != spec.kind {
			refusal = fmt.Sprintf("That is not a %s.", spec.noun)
			return errRefused
		}
		v, err := workflow.Decode[T](wf)
		if err != nil {
			return err
		}
		p := P(&v)
		service, env = p.target()
		if wf.Done || !slices.Contains(spec.open, wf.State) {
			refusal = fmt.Sprintf("This %s is past approval (%s).", spec.noun, wf.State)
			return errRefused
		}
		need, list := p.requirement(), p.approvalList()
		if ok, why := policy.CanApprove(need, user, groups, *list, "Ask "+d.Members.Mentions(ctx, need.Group)+"."); !ok {
			refusal = why
			return errRefused
		}
		*list = append(*list, policy.Approval{User: user, At: d.Clock().Now(), Groups: groups})
		return workflow.Encode(wf, v)
	})
	switch {
	case errors.Is(err, errRefused):
		Audit(ctx, d, user, spec.action, service, env, id, "refused", refusal)
		return Refuse("%s", refusal), nil
	case errors.Is(err, store.ErrNotFound):
		return Refuse("That %s no longer exists.", spec.noun), nil
	case err != nil:
		return nil, err
	}
	Audit(ctx, d, user, spec.action, service, env, id, "ok", "")
	return nil, nil
}
