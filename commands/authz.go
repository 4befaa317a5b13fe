package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/store"
)

// Guard decides, before anything runs, whether a user may run a mutating
// command or press a button. A non-nil error (a Refusal) is what the user
// is told; nothing else happens then. The router calls it centrally, so no
// command can forget it.
type Guard interface {
	// AllowCommand is called before spec.Run of every Mutating spec.
	AllowCommand(ctx context.Context, r Request, spec *Spec) error
	// AllowClick is called before every button handler.
	AllowClick(ctx context.Context, c chat.Click) error
}

// Authz is nexo's Guard:
//
//   - the user must be an admin or a member of at least one configured
//     group (user ids, and Slack user groups resolved through
//     usergroups.users.list and cached by Members);
//   - an environment whose policy lists channels accepts changes only from
//     those channels (admins excepted);
//   - a button acting on a workflow is accepted only in the workflow's own
//     channel (a payload replayed from another channel is refused).
//
// Every refusal is written to the audit log with who, what and when.
type Authz struct {
	D *Deps
}

// StorePreflight bounds the store check made before a mutating command or
// a button: when the store does not answer within it, the user is told at
// once that nothing was changed (instead of waiting for every store call
// of the command to time out).
const StorePreflight = 500 * time.Millisecond

// storeReachable pings the store within StorePreflight.
func (z *Authz) storeReachable(ctx context.Context) bool {
	pctx, cancel := context.WithTimeout(ctx, StorePreflight)
	defer cancel()
	if err := z.D.Store.Ping(pctx); err != nil {
		z.D.Log.Warn("state store unavailable; change refused", "err", err)
		return false
	}
	return true
}

// AllowCommand implements Guard.
func (z *Authz) AllowCommand(ctx context.Context, r Request, spec *Spec) error {
	if !z.storeReachable(ctx) {
		return Refuse("core.store_down")
	}
	svc, env := z.target(r.Args.Words)
	what := fmt.Sprintf("%s %s", z.D.Config.Slack.Command, clip(r.Text, 200))
	if why := z.check(ctx, r.UserID, r.ChannelID, env); why != nil {
		Audit(ctx, z.D, r.UserID, spec.Name+".authz", svc, env, r.ChannelID, "refused", why.Error()+" — "+what)
		return why
	}
	return nil
}

// AllowClick implements Guard.
func (z *Authz) AllowClick(ctx context.Context, c chat.Click) error {
	if !z.storeReachable(ctx) {
		return Refuse("core.store_down")
	}
	var svc, env string
	id, _, _ := strings.Cut(c.Value, "|")
	var wf *store.Workflow
	if id != "" && len(id) <= 200 {
		got, err := z.D.Store.GetWorkflow(ctx, id)
		switch {
		case err == nil:
			wf = got
			svc, env = workflowTarget(wf)
		case errors.Is(err, store.ErrUnavailable):
			return Refuse("core.store_down")
		}
	}
	why := z.check(ctx, c.UserID, c.ChannelID, env)
	if why == nil && wf != nil && idShaped(wf.Channel) && idShaped(c.ChannelID) && wf.Channel != c.ChannelID {
		why = &Refusal{Msg: i18n.M("core.authz.other_channel", "Channel", wf.Channel, "Here", c.ChannelID)}
	}
	if why != nil {
		target := c.ChannelID
		if wf != nil {
			target = wf.ID
		}
		Audit(ctx, z.D, c.UserID, c.Action+".authz", svc, env, target, "refused", why.Error())
		return why
	}
	return nil
}

// AllowChange checks that user may change env from channel, and audits a
// refusal as action; for buttons whose environment the router's guard
// cannot see in their value.
func (z *Authz) AllowChange(ctx context.Context, user, channel, action, service, env string) error {
	if why := z.check(ctx, user, channel, env); why != nil {
		Audit(ctx, z.D, user, action+".authz", service, env, channel, "refused", why.Error())
		return why
	}
	return nil
}

// check returns why user may not change env from channel (nil when allowed).
func (z *Authz) check(ctx context.Context, user, channel, env string) *Refusal {
	if user == "" {
		return &Refusal{Msg: i18n.M("core.authz.who")}
	}
	if z.D.Members.IsAdmin(ctx, user) {
		return nil
	}
	groups := z.D.Config.GroupNames()
	member, lookupErr := false, error(nil)
	for _, g := range groups {
		in, err := z.D.Members.Is(ctx, user, g)
		if err != nil {
			lookupErr = err
			continue
		}
		if in {
			member = true
			break
		}
	}
	if !member {
		if lookupErr != nil {
			ref := NewRef()
			z.D.Log.Warn("group lookup failed", "user", user, "ref", ref, "err", lookupErr)
			return &Refusal{Msg: i18n.M("core.authz.groups_down", "Ref", ref)}
		}
		return &Refusal{Msg: i18n.M("core.authz.members_only", "Groups", strings.Join(groups, ", "))}
	}
	if env == "" {
		return nil
	}
	e, ok := z.D.Config.Env(env)
	if !ok || len(e.Policy.Channels) == 0 {
		return nil
	}
	for _, ch := range e.Policy.Channels {
		if ch == channel || strings.TrimPrefix(ch, "#") == channel {
			return nil
		}
	}
	list := make([]string, 0, len(e.Policy.Channels))
	for _, ch := range e.Policy.Channels {
		if idShaped(ch) {
			list = append(list, "<#"+ch+">")
		} else {
			list = append(list, ch)
		}
	}
	return &Refusal{Msg: i18n.M("core.authz.channels", "Env", e.Name, "Channels", strings.Join(list, ", "))}
}

// target finds the service and environment a command names (the first
// words that resolve), for the channel policy and the audit log.
func (z *Authz) target(words []string) (svc, env string) {
	for _, w := range words {
		n := strings.ToLower(strings.TrimSpace(w))
		if svc == "" {
			if s, ok := z.D.Config.Service(n); ok {
				svc = s.Name
				continue
			}
		}
		if env == "" {
			if e, ok := z.D.Config.Env(n); ok {
				env = e.Name
			}
		}
	}
	return svc, env
}

// workflowTarget reads the service and env most workflow payloads carry.
func workflowTarget(wf *store.Workflow) (string, string) {
	var v struct {
		Service string `json:"service"`
		Env     string `json:"env"`
	}
	_ = json.Unmarshal(wf.Data, &v)
	return v.Service, v.Env
}

// idShaped reports whether s looks like a Slack conversation id (C…, G…, D…).
func idShaped(s string) bool {
	if len(s) < 2 || len(s) > 24 {
		return false
	}
	switch s[0] {
	case 'C', 'G', 'D':
	default:
		return false
	}
	for _, r := range s[1:] {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}
