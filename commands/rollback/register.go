// Package rollback is playbook scenario 3: roll back through Argo CD's
// history (auto-sync turned off first), a GitOps revert PR (opened by
// commands/change through commands.Changes), or a blue/green switch of the
// Ingress.
//
// Where to look: register.go (the command and its buttons), rollback.go
// (checks and start), flow.go (the Argo CD and blue/green workflow).
package rollback

import (
	"context"
	"strings"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
)

// Register adds `/nexo rollback`, its workflow and its buttons.
func Register(r *commands.Router, d *commands.Deps) {
	flow := &Flow{D: d}
	d.Engine.Register(flow)
	d.HandleKind(Kind, lifecycle{f: flow})
	r.Register(Spec(d))
	r.OnClick("rollback.run", func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
		parts := strings.Split(c.Value, "|")
		if len(parts) != 4 {
			return nil, commands.Refuse("rollback.malformed")
		}
		if _, err := Start(ctx, d, Request{Service: parts[0], Env: parts[1], Via: parts[2], To: parts[3], Requester: c.UserID, Channel: c.ChannelID}); err != nil {
			return nil, err
		}
		return &chat.Reply{Consumed: true}, nil
	})
	r.OnClick("rollback.supersede", func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
		rr, err := requestOf(c.Value)
		if err != nil {
			return nil, err
		}
		if err := (&commands.Authz{D: d}).AllowChange(ctx, c.UserID, c.ChannelID, "rollback.supersede", rr.Service, rr.Env); err != nil {
			return nil, err
		}
		rr.Requester, rr.Channel = c.UserID, c.ChannelID
		wf, err := Start(ctx, d, rr)
		if err != nil {
			return nil, err
		}
		return commands.Ephemeral(chat.Message{Text: d.T(c.ChannelID).S("rollback.superseded", "Old", rr.Supersede, "ID", wf.ID)}), nil
	})
	r.OnClick(commands.ActionRollbackStart, func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
		parts := strings.Split(c.Value, "|")
		if len(parts) != 3 {
			return nil, commands.Refuse("rollback.malformed")
		}
		m, err := Menu(ctx, d, d.T(c.ChannelID), parts[0], parts[1], parts[2])
		if err != nil {
			return nil, err
		}
		return commands.Ephemeral(m), nil
	})
	r.OnClick("rollback.approve", func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
		return Approve(ctx, d, c.Value, c.UserID)
	})
}

// Spec is `/nexo rollback <svc> <env> [--to <version|history-id>] [--via argocd|gitops|bluegreen]`.
func Spec(d *commands.Deps) *commands.Spec {
	return &commands.Spec{
		Name:     "rollback",
		Args:     []string{"service", "env"},
		Summary:  "rollback.summary",
		Help:     "rollback.help",
		Flags:    []commands.Flag{{Name: "to", Value: "<version|history-id>"}, {Name: "via", Value: "argocd|gitops|bluegreen"}, {Name: "incident", Value: "<id>"}},
		Mutating: true,
		Run: func(ctx context.Context, r commands.Request) (*chat.Reply, error) {
			via := strings.ToLower(r.Args.Flag("via"))
			if via == "" {
				m, err := Menu(ctx, d, d.T(r.ChannelID), r.Args.Words[0], r.Args.Words[1], r.Args.Flag("to"))
				if err != nil {
					return nil, err
				}
				return commands.InChannel(m), nil
			}
			_, err := Start(ctx, d, Request{Service: r.Args.Words[0], Env: r.Args.Words[1], Via: via, To: r.Args.Flag("to"), Incident: r.Args.Flag("incident"), Requester: r.UserID, Channel: r.ChannelID})
			if err != nil {
				return nil, err
			}
			return nil, nil
		},
	}
}
