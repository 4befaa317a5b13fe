package commands

import (
	"context"
	"slices"
	"strings"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/store"
)

// ActionCancel is the Cancel button of every open card (value: the
// workflow id).
const ActionCancel = "workflow.cancel"

// cancelSpec is `/nexo cancel <workflow-id | service env>`.
func cancelSpec(d *Deps) *Spec {
	return &Spec{
		Name:     "cancel",
		Args:     []string{"workflow-id|service", "env?"},
		Summary:  "core.cancel.summary",
		Help:     "core.cancel.help",
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
			return nil, Refuse("core.cancel.no_such", "ID", Clip(words[0], 60), "Command", d.Config.Slack.Command)
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
		return nil, Refuse("core.cancel.nothing_open", "Service", svc.Name, "Env", env.Name)
	case 1:
		return found[0], nil
	}
	ids := make([]string, len(found))
	for i, wf := range found {
		ids[i] = "`" + wf.ID + "`"
	}
	return nil, Refuse("core.cancel.several", "Service", svc.Name, "Env", env.Name, "IDs", strings.Join(ids, ", "), "Command", d.Config.Slack.Command)
}

// Cancel ends workflow id for user, when user is its requester, in its
// environment's approver group, or an admin; audited either way.
func Cancel(ctx context.Context, d *Deps, id, user string) (*chat.Reply, error) {
	wf, err := d.Store.GetWorkflow(ctx, id)
	if err != nil {
		return nil, Refuse("core.cancel.gone")
	}
	if wf.Done {
		return nil, Refuse("core.cancel.ended", "ID", wf.ID, "State", wf.State)
	}
	info, err := Describe(d, wf)
	if err != nil {
		return nil, err
	}
	if user != info.Requester && !d.Members.IsAdmin(ctx, user) && (info.ApproverGroup == "" || !slices.Contains(UserGroups(ctx, d, user), info.ApproverGroup)) {
		why := &Refusal{Msg: i18n.M("core.cancel.who", "Requester", chat.Mention(info.Requester), "Group", info.ApproverGroup, "Members", d.Members.Mentions(ctx, info.ApproverGroup), "What", info.What)}
		if info.ApproverGroup == "" {
			why = &Refusal{Msg: i18n.M("core.cancel.who_no_group", "Requester", chat.Mention(info.Requester), "What", info.What)}
		}
		Audit(ctx, d, user, "workflow.cancel", info.Service, info.Env, id, "refused", why.Error())
		return nil, why
	}
	if err := EndWorkflow(ctx, d, id, Ending{Result: ResultCancelled, By: user}); err != nil {
		return nil, err
	}
	Audit(ctx, d, user, "workflow.cancel", info.Service, info.Env, id, "ok", i18n.Default().In(i18n.English).Msg(info.What))
	return Ephemeral(chat.Message{Text: d.T(wf.Channel).S("core.cancel.done", "What", info.What, "ID", id)}), nil
}
