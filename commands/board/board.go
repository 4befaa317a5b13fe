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
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
)

// FreezeReader says whether a change freeze is active in an environment
// at a moment, with its reason and its end. It is the board's hook for
// change freezes: the freeze scenario (commands/freeze) implements it with
// this method — no import of this package needed — and is wired in with
// RegisterWith in commands/scenarios. While it is nil (Register), the
// board shows no freeze.
type FreezeReader interface {
	Frozen(ctx context.Context, env string, at time.Time) (active bool, reason string, until time.Time)
}

// Action ids of the board's own buttons (Approve is the thread's
// "change.approve").
const (
	actionPage = "board.page" // board.page.prev, board.page.next; value: the page
	approveAct = "change.approve"
)

// RegisterWith adds the board; freezes, when not nil, gives the board its
// FreezeReader over the same deps.
func RegisterWith(freezes func(d *commands.Deps) FreezeReader) func(r *commands.Router, d *commands.Deps) {
	return func(r *commands.Router, d *commands.Deps) {
		home, ok := d.Chat.(chat.Home)
		if !ok {
			return // a chat without a Home tab: no board
		}
		var fr FreezeReader
		if freezes != nil {
			fr = freezes(d)
		}
		p := NewPublisher(d, home, fr)
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
}
