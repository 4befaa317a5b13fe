// Package cancel is `/nexo cancel` and the Cancel button of every open
// card: it ends a promotion, hotfix, rollback or rotation cleanly where it
// stands, through the lifecycle its kind registered (commands.HandleKind).
package cancel

import (
	"context"
	"slices"
	"strings"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/store"
)

// Spec is `/nexo cancel <workflow-id | service env>`.
func Spec(d *commands.Deps) *commands.Spec {
	return &commands.Spec{
		Name:     "cancel",
		Args:     []string{"workflow-id|service", "env?"},
		Summary:  "cancel.summary",
		Help:     "cancel.help",
		Mutating: true,
		Run: func(ctx context.Context, r commands.Request) (*chat.Reply, error) {
			wf, err := target(ctx, d, r.Args.Words)
			if err != nil {
				return nil, err
			}
			return Cancel(ctx, d, wf.ID, r.UserID)
		},
	}
}

// Register adds the command and the Cancel button.
func Register(r *commands.Router, d *commands.Deps) {
	r.Register(Spec(d))
	r.OnClick(commands.ActionCancel, func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
		return Cancel(ctx, d, c.Value, c.UserID)
	})
}

// target finds the open workflow a cancel names.
func target(ctx context.Context, d *commands.Deps, words []string) (*store.Workflow, error) {
	if len(words) == 1 {
		wf, err := d.Store.GetWorkflow(ctx, words[0])
		if err != nil {
			return nil, commands.Refuse("cancel.no_such", "ID", commands.Clip(words[0], 60), "Command", d.Config.Slack.Command)
		}
		return wf, nil
	}
	svc, env, err := commands.ResolveTarget(d.Config, words[0], words[1])
	if err != nil {
		return nil, err
	}
	open, err := d.Store.ListWorkflows(ctx, store.WorkflowFilter{OpenOnly: true})
	if err != nil {
		return nil, err
	}
	var found []*store.Workflow
	for _, wf := range open {
		if info, err := commands.Describe(d, wf); err == nil && info.Service == svc.Name && info.Env == env.Name {
			found = append(found, wf)
		}
	}
	switch len(found) {
	case 0:
		return nil, commands.Refuse("cancel.nothing_open", "Service", svc.Name, "Env", env.Name)
	case 1:
		return found[0], nil
	}
	ids := make([]string, len(found))
	for i, wf := range found {
		ids[i] = "`" + wf.ID + "`"
	}
	return nil, commands.Refuse("cancel.several", "Service", svc.Name, "Env", env.Name, "IDs", strings.Join(ids, ", "), "Command", d.Config.Slack.Command)
}

// Cancel ends workflow id for user, when user is its requester, in its
// environment's approver group, or an admin; audited either way.
func Cancel(ctx context.Context, d *commands.Deps, id, user string) (*chat.Reply, error) {
	wf, err := d.Store.GetWorkflow(ctx, id)
	if err != nil {
		return nil, commands.Refuse("cancel.gone")
	}
	if wf.Done {
		return nil, commands.Refuse("cancel.ended", "ID", wf.ID, "State", wf.State)
	}
	info, err := commands.Describe(d, wf)
	if err != nil {
		return nil, err
	}
	if user != info.Requester && !d.Members.IsAdmin(ctx, user) && (info.ApproverGroup == "" || !slices.Contains(commands.UserGroups(ctx, d, user), info.ApproverGroup)) {
		why := &commands.Refusal{Msg: i18n.M("cancel.who", "Requester", chat.Mention(info.Requester), "Group", info.ApproverGroup, "Members", d.Members.Mentions(ctx, info.ApproverGroup), "What", info.What)}
		if info.ApproverGroup == "" {
			why = &commands.Refusal{Msg: i18n.M("cancel.who_no_group", "Requester", chat.Mention(info.Requester), "What", info.What)}
		}
		commands.Audit(ctx, d, user, "workflow.cancel", info.Service, info.Env, id, "refused", why.Error())
		return nil, why
	}
	if err := commands.EndWorkflow(ctx, d, id, commands.Ending{Result: commands.ResultCancelled, By: user}); err != nil {
		return nil, err
	}
	commands.Audit(ctx, d, user, "workflow.cancel", info.Service, info.Env, id, "ok", commands.English().Msg(info.What))
	return commands.Ephemeral(chat.Message{Text: d.T(wf.Channel).S("cancel.done", "What", info.What, "ID", id)}), nil
}
