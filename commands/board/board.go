// Package board is the release board in Slack's App Home tab: per service
// a row per environment (the tag in git, Argo CD's sync and health, since
// when, the open change with its state and a link to its thread, the soak
// gate's opening time, an active freeze) and, for the viewer, the changes
// waiting for their approval with Approve buttons — the thread's own
// button, so the approval goes through the same policy code.
//
// It is published with views.publish when someone opens the Home tab
// (app_home_opened) and re-published to those who opened it recently
// whenever a change moves (every status card post or edit), coalesced and
// paced within Slack's Tier 4 (see Publisher).
package board

import (
	"context"
	"strconv"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
)

// Action ids of the board's own buttons (Approve is the thread's
// "change.approve").
const (
	actionPage = "board.page" // board.page.prev, board.page.next; value: the page
	approveAct = "change.approve"
)

// Register adds the board. Freezes come from the freeze gate in d
// (commands.Freezes, set by commands/freeze): the config and ad-hoc ones
// of each environment; Argo CD's sync windows, per application, would cost
// an Application read per row and show on the status card.
func Register(r *commands.Router, d *commands.Deps) {
	home, ok := d.Chat.(chat.Home)
	if !ok {
		return // a chat without a Home tab: no board
	}
	p := NewPublisher(d, home)
	r.OnStart(func(ctx context.Context) error {
		p.Start(ctx)
		return nil
	})
	r.OnEvent(func(ctx context.Context, e chat.Event) error {
		if e.Type == "app_home_opened" && (e.Tab == "home" || e.Tab == "") && e.UserID != "" {
			p.Opened(e.UserID)
		}
		return nil
	})
	r.OnClick(actionPage, func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
		page, err := strconv.Atoi(c.Value)
		if err != nil || page < 1 || page > 10000 {
			return nil, commands.Refuse("board.bad_page")
		}
		p.Page(c.UserID, page)
		return nil, nil
	})
	r.OnHomeReply(func(ctx context.Context, user string, rep chat.Reply) {
		p.Notice(user, rep.Message.Text)
	})
	d.OnCardUpdate(func(channel, ts string) { p.Changed() })
}
