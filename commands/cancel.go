package commands

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/store"
)

// ActionCancel is the Cancel button of every open card (value: the
// workflow id).
const ActionCancel = "workflow.cancel"

// cancelSpec is `/nexo cancel <workflow-id | service env>`.
func cancelSpec(d *Deps) *Spec {
	return &Spec{
		Name:    "cancel",
		Args:    []string{"workflow-id|service", "env?"},
		Summary: "End an open promotion, hotfix, rollback or rotation cleanly where it stands",
		Help: "Names a workflow by its id (shown on its card) or by service and environment. The requester, the environment's approver group and admins may cancel. " +
			"A change not merged yet has its PR closed and its branch deleted; one past its merge stops being followed (what was deployed stays; roll back to undo it). " +
			"A rotation that already changed the database restores the old password first. The thread says what was done, and the audit log keeps it.\n" +
			"Example: `/nexo cancel promote-3f2a9c1b7d4e` or `/nexo cancel nexo-be staging`",
		Mutating: true,
		Run: func(ctx context.Context, r Request) (*chat.Reply, error) {
			wf, err := cancelTarget(ctx, d, r.Args.Words)
			if err != nil {
				return nil, err
			}
			return Cancel(ctx, d, wf.ID, r.UserID)
		},
	}
}

// registerCancel adds the command and the Cancel button.
func registerCancel(r *Router, d *Deps) {
	r.Register(cancelSpec(d))
	r.OnClick(ActionCancel, func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
		return Cancel(ctx, d, c.Value, c.UserID)
	})
}

// cancelTarget finds the open workflow a cancel names.
func cancelTarget(ctx context.Context, d *Deps, words []string) (*store.Workflow, error) {
	if len(words) == 1 {
		wf, err := d.Store.GetWorkflow(ctx, words[0])
		if err != nil {
			return nil, Refusalf("There is no workflow `%s`. Name one by its id (on its card) or by service and environment: `%s cancel nexo-be staging`.", Clip(words[0], 60), d.Config.Slack.Command)
		}
		return wf, nil
	}
	svc, env, err := ResolveTarget(d.Config, words[0], words[1])
	if err != nil {
		return nil, err
	}
	open, err := d.Store.ListWorkflows(ctx, store.WorkflowFilter{OpenOnly: true})
	if err != nil {
		return nil, err
	}
	var found []*store.Workflow
	for _, wf := range open {
		if info, err := Describe(d, wf); err == nil && info.Service == svc.Name && info.Env == env.Name {
			found = append(found, wf)
		}
	}
	switch len(found) {
	case 0:
		return nil, Refusalf("Nothing is open for %s in %s.", svc.Name, env.Name)
	case 1:
		return found[0], nil
	}
	ids := make([]string, len(found))
	for i, wf := range found {
		ids[i] = "`" + wf.ID + "`"
	}
	return nil, Refusalf("Several workflows are open for %s in %s (%s): say which, `%s cancel <id>`.", svc.Name, env.Name, strings.Join(ids, ", "), d.Config.Slack.Command)
}

// Cancel ends workflow id for user, when user is its requester, in its
// environment's approver group, or an admin; audited either way.
func Cancel(ctx context.Context, d *Deps, id, user string) (*chat.Reply, error) {
	wf, err := d.Store.GetWorkflow(ctx, id)
	if err != nil {
		return nil, Refusalf("That workflow no longer exists.")
	}
	if wf.Done {
		return nil, Refusalf("`%s` has already ended (%s).", wf.ID, wf.State)
	}
	info, err := Describe(d, wf)
	if err != nil {
		return nil, err
	}
	if user != info.Requester && !d.Members.IsAdmin(ctx, user) && (info.ApproverGroup == "" || !slices.Contains(UserGroups(ctx, d, user), info.ApproverGroup)) {
		why := fmt.Sprintf("Only the requester (%s), %s (%s) or an admin can cancel the %s.", chat.Mention(info.Requester), info.ApproverGroup, d.Members.Mentions(ctx, info.ApproverGroup), info.What)
		if info.ApproverGroup == "" {
			why = fmt.Sprintf("Only the requester (%s) or an admin can cancel the %s.", chat.Mention(info.Requester), info.What)
		}
		Audit(ctx, d, user, "workflow.cancel", info.Service, info.Env, id, "refused", why)
		return nil, &Refusal{Text: why}
	}
	if err := EndWorkflow(ctx, d, id, Ending{Result: ResultCancelled, By: user}); err != nil {
		return nil, err
	}
	Audit(ctx, d, user, "workflow.cancel", info.Service, info.Env, id, "ok", info.What)
	return Ephemeral(chat.Message{Text: fmt.Sprintf("Cancelled the %s (`%s`); its thread says what was done.", info.What, id)}), nil
}
