package bot

import (
	"context"
	"errors"

	"github.com/slack-go/slack"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/i18n"
)

// maxHomeBlocks is Slack's limit of blocks in a Home tab view.
const maxHomeBlocks = 100

var _ chat.Home = (*SlackChat)(nil)

// RenderHome renders a message as a Home tab view, within Slack's limits:
// the blocks as RenderBlocks makes them, at most 100 (a longer one keeps
// the first 99 and says how many were left out; the board paginates so
// that it never comes to that).
func RenderHome(t i18n.T, m chat.Message) slack.HomeTabViewRequest {
	out := renderWithin(t, m, maxHomeBlocks)
	return slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: out}}
}

// PublishHome replaces user's Home tab (views.publish, Tier 4: the board
// coalesces and paces its calls; 429s are retried here like every call).
func (c *SlackChat) PublishHome(ctx context.Context, user string, m chat.Message) error {
	if user == "" {
		return errors.New("bot: publish home: empty user")
	}
	view := RenderHome(c.T(""), m) // the board speaks slack.locale
	return c.call(ctx, "views.publish", func(ctx context.Context) error {
		_, err := c.api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: user, View: view})
		return err
	})
}
