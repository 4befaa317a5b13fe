// Package change is every GitOps change: playbook scenario 1 (promote
// through develop → qa → staging → production, and develop → qa by
// itself), scenario 2's hotfix and its backfills, scenario 4's fix-tag PR
// and scenario 3's GitOps revert. They share one pipeline, the workflow
// kind "change": card → pr → approval → merge → sync → rollout → watch.
//
// Where to look for `/nexo promote`: promote.go declares its words (the
// router parses them from that Spec), checks the request and starts it;
// commands/authz.go authorizes it, as every mutating command; flow.go runs
// it state by state. finish.go holds the endings, card.go the card.
package change

import (
	"context"
	"strings"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/store"
)

// Register adds promote and hotfix, the change workflow, its buttons
// (approve, reject, backfill, fix tag), the hotfix SLA timers and the
// auto-promotion scan, and offers GitOps reverts to the other scenarios.
func Register(r *commands.Router, d *commands.Deps) {
	flow := &Flow{D: d}
	d.Engine.Register(flow)
	d.HandleKind(Kind, lifecycle{f: flow})
	d.Changes = reverts{d: d}
	r.Register(PromoteSpec(d))
	r.Register(HotfixSpec(d))
	registerButtons(r, d)
	r.OnClick("hotfix.backfill", func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
		id, env, _ := strings.Cut(c.Value, "|")
		reply, err := Backfill(ctx, d, id, env, c.UserID, c.ChannelID)
		if reply != nil {
			reply.Consumed = true
		}
		return reply, err
	})
	r.OnClick("hotfix.supersede", func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
		hr, err := hotfixRequestOf(c.Value)
		if err != nil {
			return nil, err
		}
		if hr.Supersede == "" {
			return nil, commands.Refuse("change.malformed")
		}
		hr.Requester, hr.Channel = c.UserID, c.ChannelID
		prod := d.Config.Environments[len(d.Config.Environments)-1].Name
		if err := (&commands.Authz{D: d}).AllowChange(ctx, c.UserID, c.ChannelID, "hotfix.supersede", hr.Service, prod); err != nil {
			return nil, err
		}
		wf, err := StartHotfix(ctx, d, hr)
		if err != nil {
			return nil, err
		}
		return commands.Ephemeral(chat.Message{Text: d.T(c.ChannelID).S("change.hotfix.superseded", "Old", hr.Supersede, "ID", wf.ID)}), nil
	})
	r.OnClick(commands.ActionFixTag, func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
		parts := strings.Split(c.Value, "|")
		if len(parts) != 3 {
			return nil, commands.Refuse("change.malformed")
		}
		// The router's guard cannot see the env in this button's value:
		// check membership and the env's channel policy here.
		if err := (&commands.Authz{D: d}).AllowChange(ctx, c.UserID, c.ChannelID, "diagnose.fix", parts[0], parts[1]); err != nil {
			return nil, err
		}
		if _, err := StartFix(ctx, d, FixRequest{Service: parts[0], Env: parts[1], Tag: parts[2], Requester: c.UserID, Channel: c.ChannelID}); err != nil {
			return nil, err
		}
		return &chat.Reply{Consumed: true}, nil
	})
	d.Engine.HandleTimer(HotfixRemindTimer, func(ctx context.Context, t store.Timer) error { return hotfixSLA(ctx, d, t, false) })
	d.Engine.HandleTimer(HotfixPageTimer, func(ctx context.Context, t store.Timer) error { return hotfixSLA(ctx, d, t, true) })
	(&AutoPromoter{D: d}).register(r)
}
