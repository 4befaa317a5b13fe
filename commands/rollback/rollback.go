package rollback

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/history"
	"github.com/nexo-org/nexo-bot/commands/policy"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

// Kind is the workflow kind of the Argo CD and blue/green rollbacks
// (the GitOps revert is a change workflow with the rollback flavour).
const Kind = "rollback"

// Rollback paths.
const (
	ViaArgoCD    = "argocd"
	ViaGitOps    = "gitops"
	ViaBlueGreen = "bluegreen"
)

// Rollback states.
const (
	Card     = "card"
	Approval = "approval"
	Act      = "act"
	Follow   = "follow"
	Done     = "done"
)

// Rollback is the payload of a rollback workflow.
type Rollback struct {
	Via       string             `json:"via"`
	Service   string             `json:"service"`
	Env       string             `json:"env"`
	Tag       string             `json:"tag"`     // target
	Current   string             `json:"current"` // running before
	HistoryID int64              `json:"history_id,omitempty"`
	Revision  string             `json:"revision,omitempty"` // target git revision (argocd)
	Incident  string             `json:"incident,omitempty"`
	Requester string             `json:"requester"`
	Need      policy.Requirement `json:"need"`
	Approvals []policy.Approval  `json:"approvals,omitempty"`

	AutoSyncWasOn bool       `json:"auto_sync_was_on,omitempty"`
	FromService   string     `json:"from_service,omitempty"` // blue/green: backend before
	ToService     string     `json:"to_service,omitempty"`
	SwitchTook    string     `json:"switch_took,omitempty"`
	RequestedAt   time.Time  `json:"requested_at"`
	StartedAt     *time.Time `json:"started_at,omitempty"`
	FinishedAt    *time.Time `json:"finished_at,omitempty"`
	Result        string     `json:"result,omitempty"`
	Note          string     `json:"note,omitempty"`
	// Freeze is the card's note when the rollback passes a freeze.
	Freeze string `json:"freeze,omitempty"`
}

// Requirement implements commands.Approvable.
func (r *Rollback) Requirement() policy.Requirement { return r.Need }

// ApprovalList implements commands.Approvable.
func (r *Rollback) ApprovalList() *[]policy.Approval { return &r.Approvals }

// Target implements commands.Approvable.
func (r *Rollback) Target() (string, string) { return r.Service, r.Env }

// Request asks for a rollback.
type Request struct {
	Service, Env, Via, To string
	Incident              string
	Requester, Channel    string
	// Supersede is the open change the requester chose to supersede.
	Supersede string
}

// offer is the request's Supersede button (see commands.Emergency.Offer),
// in the locale of t.
func (rr Request) offer(t i18n.T) chat.Button {
	v := url.Values{"service": {rr.Service}, "env": {rr.Env}, "via": {rr.Via}, "to": {rr.To}, "incident": {rr.Incident}}
	return chat.Button{Text: t.S("rollback.supersede"), Action: "rollback.supersede", Value: v.Encode(), Style: chat.StyleDanger,
		Confirm: t.S("rollback.supersede_confirm", "Service", rr.Service, "Env", rr.Env)}
}

// requestOf reads a Supersede button's value (never trusted: Start checks
// everything again).
func requestOf(value string) (Request, error) {
	v, err := url.ParseQuery(value)
	if err != nil || v.Get("supersede") == "" {
		return Request{}, commands.Refuse("rollback.malformed")
	}
	return Request{Service: v.Get("service"), Env: v.Get("env"), Via: v.Get("via"), To: v.Get("to"), Incident: v.Get("incident"), Supersede: v.Get("supersede")}, nil
}

// Start validates and starts a rollback on one path.
func Start(ctx context.Context, d *commands.Deps, rr Request) (*store.Workflow, error) {
	cfg := d.Config
	svc, env, err := commands.ResolveTarget(cfg, rr.Service, rr.Env)
	if err != nil {
		return nil, err
	}
	if err := commands.MayRequest(ctx, d, rr.Requester, env.Policy.Requesters, "rollback.request", svc.Name, env.Name, i18n.M("rollback.request", "Env", env.Name)); err != nil {
		return nil, err
	}
	need := commands.RollbackNeed(env, rr.Requester)
	rows, err := history.Of(ctx, d, svc.Name, env.Name)
	if err != nil {
		return nil, err
	}
	current, err := commands.ReadTag(ctx, d, svc.Name, env.Name)
	if err != nil {
		return nil, err
	}
	channel := rr.Channel
	if channel == "" {
		channel = cfg.ServiceChannel(svc.Name)
	}
	var target *history.Row
	for i := range rows {
		r := &rows[i]
		if rr.To == "" || rr.To == "-" {
			if r.Stable {
				target = r
				break
			}
			continue
		}
		if r.Tag == rr.To || (r.InArgo && strconv.FormatInt(r.ID, 10) == rr.To) {
			target = r
			break
		}
	}
	switch rr.Via {
	case ViaGitOps:
		tag := rr.To
		if target != nil {
			tag = target.Tag
		}
		if tag == "" || tag == "-" {
			return nil, commands.Refuse("rollback.refuse.no_earlier", "Service", svc.Name, "Env", env.Name)
		}
		if err := commands.ValidateTag(cfg, tag); err != nil {
			return nil, err
		}
		if tag == current {
			return nil, commands.Refuse("rollback.refuse.already_in_git", "Service", svc.Name, "Tag", tag, "Env", env.Name)
		}
		if err := commands.RequireImage(ctx, d, svc.Name, tag); err != nil {
			return nil, err
		}
		if d.Changes == nil {
			return nil, commands.Refuse("rollback.refuse.no_reverts")
		}
		return d.Changes.StartRevert(ctx, commands.RevertRequest{Service: svc.Name, Env: env.Name, Tag: tag, Current: current, Incident: rr.Incident,
			Requester: rr.Requester, Channel: channel, Supersede: rr.Supersede, Offer: rr.offer(d.T(channel))})
	case ViaArgoCD:
		if d.ArgoCD == nil {
			return nil, commands.Refuse("rollback.refuse.no_argocd")
		}
		if target == nil || !target.InArgo {
			return nil, commands.Refuse("rollback.refuse.no_history", "To", commands.OrDash(rr.To), "App", d.Config.AppName(svc.Name, env.Name), "Command", cfg.Slack.Command, "Service", svc.Name, "Env", env.Name)
		}
		if target.Current {
			return nil, commands.Refuse("rollback.refuse.is_current", "ID", target.ID, "Tag", target.Tag, "App", d.Config.AppName(svc.Name, env.Name))
		}
		rb := Rollback{Via: ViaArgoCD, Service: svc.Name, Env: env.Name, Tag: target.Tag, Current: current, HistoryID: target.ID, Revision: target.Revision}
		return startRollbackWF(ctx, d, rb, need, rr, channel)
	case ViaBlueGreen:
		if env.BlueGreen == nil {
			return nil, commands.Refuse("rollback.refuse.no_bluegreen", "Env", env.Name)
		}
		if d.Kube == nil {
			return nil, commands.Refuse("rollback.refuse.no_kube")
		}
		rb := Rollback{Via: ViaBlueGreen, Service: svc.Name, Env: env.Name, Current: current}
		return startRollbackWF(ctx, d, rb, need, rr, channel)
	}
	return nil, commands.Refuse("rollback.refuse.bad_via", "Via", commands.Clip(rr.Via, 20))
}

func startRollbackWF(ctx context.Context, d *commands.Deps, rb Rollback, need policy.Requirement, rr Request, channel string) (*store.Workflow, error) {
	rb.Need, rb.Requester, rb.Incident, rb.RequestedAt = need, rr.Requester, rr.Incident, d.Clock().Now()
	// A rollback passes nexo's freezes; through Argo CD it also needs the
	// app's sync windows to allow manual syncs (its controller checks them).
	g, err := commands.CheckFreeze(ctx, d, rb.Service, rb.Env, true)
	switch {
	case err != nil:
		return nil, err
	case g.Blocked && rb.Via == ViaArgoCD:
		return nil, &commands.Refusal{Msg: g.Why}
	case g.Freeze != nil && !g.Blocked:
		rb.Freeze = d.T(channel).Msg(g.Why)
	}
	wf := &store.Workflow{ID: workflow.NewID("rollback"), Kind: Kind, LockKey: commands.LockKey(rb.Service, rb.Env), State: Card, Channel: channel, CreatedBy: rr.Requester}
	if err := workflow.Encode(wf, rb); err != nil {
		return nil, err
	}
	err = commands.StartEmergency(ctx, d, commands.Emergency{
		Workflow: wf, Card: (&Flow{D: d}).card(wf, &rb, Approval), What: What(&rb), Service: rb.Service, Env: rb.Env,
		Requester: rr.Requester, Supersede: rr.Supersede, Offer: rr.offer(d.T(channel)),
	})
	if err != nil {
		return nil, err
	}
	commands.Audit(ctx, d, rr.Requester, "rollback.request", rb.Service, rb.Env, wf.ID, "ok", rb.Via+" "+rb.Current+" → "+commands.OrDash(rb.Tag))
	return wf, nil
}

// Approve records an approval of an Argo CD / blue-green rollback.
func Approve(ctx context.Context, d *commands.Deps, id, user string) (*chat.Reply, error) {
	return commands.RecordApproval[Rollback](ctx, d, commands.ApprovalSpec{Kind: Kind, Noun: "rollback", Action: "rollback.approve", Open: []string{Card, Approval}}, id, user)
}
