package rotation

import (
	"context"
	"errors"
	"strings"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/store"
)

// Register adds `/nexo rotate-secret`, its workflow, its buttons and the
// weekly reminder of secrets older than their max_age.
func Register(r *commands.Router, d *commands.Deps) {
	flow := &Flow{D: d}
	d.Engine.Register(flow)
	d.HandleKind(Kind, lifecycle{f: flow})
	r.Register(Spec(d))
	r.OnClick("rotate.approve", func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
		return Approve(ctx, d, c.Value, c.UserID)
	})
	d.Engine.HandleTimer(ReminderTimer, func(ctx context.Context, t store.Timer) error {
		return reminderFired(ctx, d, t)
	})
	r.OnStart(func(ctx context.Context) error { return ScheduleReminders(ctx, d) })
}

// Spec is `/nexo rotate-secret <service> <env> <secret>`.
func Spec(d *commands.Deps) *commands.Spec {
	return &commands.Spec{
		Name:     "rotate-secret",
		Aliases:  []string{"rotate"},
		Args:     []string{"service", "env", "secret"},
		Summary:  "rotation.command.summary",
		Help:     "rotation.command.help",
		Mutating: true,
		Run: func(ctx context.Context, r commands.Request) (*chat.Reply, error) {
			wf, job, err := Start(ctx, d, Request{
				Service: r.Args.Words[0], Env: r.Args.Words[1], Secret: r.Args.Words[2],
				Requester: r.UserID, Channel: r.ChannelID,
			})
			if err != nil {
				var ref *commands.Refusal
				if errors.As(err, &ref) {
					commands.Audit(ctx, d, r.UserID, "rotate.request", strings.ToLower(r.Args.Words[0]), strings.ToLower(r.Args.Words[1]), strings.ToLower(r.Args.Words[2]), "refused", ref.Error())
				}
				return nil, err
			}
			t := d.T(r.ChannelID)
			text := t.S("rotation.requested", "ID", wf.ID, "Service", job.Service, "Env", job.Env, "Secret", job.Secret)
			if job.Need.Approvals > 0 {
				text += t.N("rotation.waits", job.Need.Approvals, "Group", job.Need.Group)
			}
			return commands.Ephemeral(chat.Message{Text: text}), nil
		},
	}
}
