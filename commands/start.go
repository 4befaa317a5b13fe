package commands

import (
	"context"
	"errors"
	"net/url"

	"github.com/nexo-org/nexo-bot/i18n"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

// LockKey is the lock every workflow acting on one service in one env
// (its Argo CD application) takes: never two of them at once.
func LockKey(service, env string) string { return "deploy/" + service + "/" + env }

// StartLocked starts an ordinary change, which waits for whatever holds
// its LockKey: a lock held by an open workflow is a refusal naming it.
func StartLocked(ctx context.Context, d *Deps, wf *store.Workflow, service, env string) error {
	err := d.Engine.Start(ctx, wf)
	var locked *workflow.ErrLocked
	if errors.As(err, &locked) {
		return Refuse("core.start.locked", "Service", service, "Env", env, "Link", ThreadLink(ctx, d, locked.Open))
	}
	return err
}

// Emergency is a hotfix or a rollback about to start. It never waits
// behind an ordinary change of its service and env (see StartEmergency).
type Emergency struct {
	// Workflow is built (id, kind, lock key, channel, payload), not created.
	Workflow *store.Workflow
	// Card is its status card, posted when it starts.
	Card chat.Message
	// What names it for people: "hotfix of nexo-fe `2026.02.13-hotfix`".
	What      i18n.Msg
	Service   string
	Env       string
	Requester string
	// Supersede is the open change the requester chose to supersede with
	// the Supersede button (a change before its merge is superseded only so).
	Supersede string
	// Offer is this request's Supersede button: its action is the
	// scenario's, which handles the click by starting the request again
	// with Supersede set; its value is the request as a URL query, to which
	// the core adds supersede=<the open change's id>.
	Offer chat.Button
}

// StartEmergency starts e, preempting what holds its lock:
//
//   - an ordinary change past its merge (syncing, rolling out, watching)
//     ends at once as superseded (card, thread, record, audit), and e starts;
//   - an ordinary change before its merge (card, PR, approval) is named in
//     a refusal offering e.Offer, the Supersede button: on it the change's PR
//     is closed with a comment linking e, its branch deleted, and e starts;
//   - another emergency is named in a refusal: one at a time on a target.
//
// e's card is posted before the superseded change ends, so both its card
// and its PR comment link e's thread.
func StartEmergency(ctx context.Context, d *Deps, e Emergency) error {
	wf := e.Workflow
	for attempt := 0; attempt < 3; attempt++ {
		open, err := d.Store.FindOpenWorkflow(ctx, wf.LockKey)
		if errors.Is(err, store.ErrNotFound) {
			err := d.Engine.Start(ctx, wf)
			if locked := (*workflow.ErrLocked)(nil); errors.As(err, &locked) {
				continue // someone was quicker: look again
			}
			return err
		}
		if err != nil {
			return err
		}
		info, err := Describe(d, open)
		if err != nil {
			return err
		}
		link := ThreadLink(ctx, d, open)
		if info.Emergency {
			return Refuse("core.start.emergency_open", "What", info.What, "Link", link, "Service", e.Service, "Env", e.Env, "Command", d.Config.Slack.Command, "ID", open.ID)
		}
		if !info.Merged && e.Supersede != open.ID {
			offer := e.Offer
			offer.Value += "&supersede=" + url.QueryEscape(open.ID)
			return &Refusal{
				Msg:     i18n.M("core.start.offer_supersede", "What", info.What, "Link", link, "Emergency", e.What),
				Buttons: []chat.Button{offer},
			}
		}
		if err := postEmergencyCard(ctx, d, e); err != nil {
			return err
		}
		url, _ := d.Chat.Permalink(ctx, wf.Channel, wf.CardTS)
		ending := Ending{Result: ResultSuperseded, By: e.Requester, Successor: &Successor{ID: wf.ID, What: e.What, URL: url}}
		var refusal *Refusal
		if err := EndWorkflow(ctx, d, open.ID, ending); errors.As(err, &refusal) && attempt < 2 {
			continue // it ended meanwhile, or is busy: look again
		} else if err != nil {
			return err
		}
		en := English()
		Audit(ctx, d, e.Requester, "workflow.supersede", info.Service, info.Env, open.ID, "ok", en.Msg(info.What)+" → "+en.Msg(e.What)+" ("+wf.ID+")")
	}
	if wf.CardTS != "" {
		text := d.T(wf.Channel).S("core.start.not_started", "What", e.What, "Service", e.Service, "Env", e.Env)
		d.Cards().Update(wf.Channel, wf.CardTS, chat.Message{Text: text, Blocks: []chat.Block{{Section: &chat.Section{Text: ":no_entry_sign: " + text}}}})
	}
	return Refuse("core.start.changing_hands", "Service", e.Service, "Env", e.Env)
}

// postEmergencyCard posts e's card once, before its workflow exists, so
// what it supersedes can link it.
func postEmergencyCard(ctx context.Context, d *Deps, e Emergency) error {
	wf := e.Workflow
	if wf.CardTS != "" {
		return nil
	}
	ts, err := PostOnce(ctx, d, wf.ID, "card", wf.Channel, "", e.Card)
	if err != nil {
		return err
	}
	wf.CardTS, wf.ThreadTS = ts, ts
	return nil
}
