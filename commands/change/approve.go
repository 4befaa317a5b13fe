package change

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

// registerButtons wires the change card's buttons and the reject modal.
func registerButtons(r *commands.Router, d *commands.Deps) {
	r.OnClick("change.approve", func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
		return Approve(ctx, d, c.Value, c.UserID)
	})
	r.OnClick("change.reject", func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
		wf, err := d.Store.GetWorkflow(ctx, c.Value)
		if err != nil {
			return nil, commands.Refuse("change.reject.gone")
		}
		if wf.Done {
			return nil, commands.Refuse("change.reject.ended", "State", wf.State)
		}
		t := d.T(wf.Channel)
		if err := d.Chat.OpenModal(ctx, c.TriggerID, chat.Modal{
			CallbackID: "change.reject", PrivateMetadata: wf.ID, Title: t.S("change.reject.title"), Submit: t.S("change.reject.submit"),
			Inputs: []chat.ModalInput{{ID: "reason", Label: t.S("change.reject.why"), Multiline: true}},
		}); err != nil {
			return nil, err
		}
		return nil, nil
	})
	r.OnSubmit("change.reject", func(ctx context.Context, s chat.Submission) (map[string]string, error) {
		// The form speaks the locale of the change's channel.
		t := d.T("")
		if wf, err := d.Store.GetWorkflow(ctx, s.PrivateMetadata); err == nil {
			t = d.T(wf.Channel)
		}
		reason := strings.TrimSpace(s.Values["reason"])
		if reason == "" {
			return map[string]string{"reason": t.S("change.reject.need_reason")}, nil
		}
		var refusal *commands.Refusal
		if err := Reject(ctx, d, s.PrivateMetadata, s.UserID, reason); errors.As(err, &refusal) {
			return map[string]string{"reason": refusal.In(t)}, nil
		} else if err != nil {
			return nil, err
		}
		return nil, nil
	})
}

// Approve records an approval after re-checking the policy (the
// button's payload is never trusted).
func Approve(ctx context.Context, d *commands.Deps, id, user string) (*chat.Reply, error) {
	return commands.RecordApproval[Change](ctx, d, commands.ApprovalSpec{Kind: Kind, Noun: "change", Action: "change.approve", Open: []string{Card, PR, Approval}}, id, user)
}

// Reject closes a change: PR closed, branch deleted. A *commands.Refusal
// says why the user may not.
func Reject(ctx context.Context, d *commands.Deps, id, user, reason string) error {
	groups := commands.UserGroups(ctx, d, user)
	wf, err := d.Engine.Mutate(ctx, id, func(wf *store.Workflow) error {
		c, err := workflow.Decode[Change](wf)
		if err != nil {
			return err
		}
		if wf.Done || (wf.State != Approval && wf.State != PR && wf.State != Card) {
			return commands.Refuse("change.reject.past", "State", wf.State)
		}
		if user != c.Requester && c.Need.Group != "" && !slices.Contains(groups, c.Need.Group) && (c.Need.ExtraGroup == "" || !slices.Contains(groups, c.Need.ExtraGroup)) {
			return commands.Refuse("change.reject.who", "Group", c.Need.Group)
		}
		c.RejectedBy, c.RejectWhy = user, reason
		wf.State = Rejected
		return workflow.Encode(wf, c)
	})
	svc, env := wfServiceEnv(wf)
	var refusal *commands.Refusal
	if errors.As(err, &refusal) {
		commands.Audit(ctx, d, user, "change.reject", svc, env, id, "refused", refusal.Error())
		return err
	}
	if err != nil {
		return err
	}
	commands.Audit(ctx, d, user, "change.reject", svc, env, id, "ok", reason)
	return nil
}

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
