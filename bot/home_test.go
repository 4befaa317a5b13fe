package bot_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexo-org/nexo-bot/bot"
	"github.com/nexo-org/nexo-bot/bot/slackfake"
	"github.com/nexo-org/nexo-bot/chat"
)

func TestHomeOpenedPublishAndHomeClicks(t *testing.T) {
	hs := start(t, slackfake.Options{}, nil)
	hs.fake.AddUser(slackfake.User{ID: "U1", Name: "ana"})

	// app_home_opened reaches the handler with its user and tab.
	env := hs.fake.OpenHome("U1")
	_, err := hs.fake.WaitAck(env, wait)
	require.NoError(t, err)
	require.True(t, hs.fake.WaitFor(func() bool { _, _, _, n := hs.h.counts(); return n == 1 }, wait))
	hs.h.mu.Lock()
	ev := hs.h.events[0]
	hs.h.mu.Unlock()
	assert.Equal(t, "app_home_opened", ev.Type)
	assert.Equal(t, "U1", ev.UserID)
	assert.Equal(t, "home", ev.Tab)

	// PublishHome renders the blocks as a Home view Slack accepts.
	sc := hs.h.chat.(*bot.SlackChat)
	m := chat.Message{Blocks: []chat.Block{
		{Header: "Release board"},
		{Section: &chat.Section{Text: "*nexo-be* `2026.02.17`"}},
		{Actions: []chat.Button{{Text: "Approve", Action: "change.approve", Value: "wf-1", Style: chat.StylePrimary}}},
	}}
	require.NoError(t, sc.PublishHome(context.Background(), "U1", m))
	h, ok := hs.fake.Home("U1")
	require.True(t, ok)
	assert.Contains(t, string(h.Blocks), "Release board")
	require.Error(t, sc.PublishHome(context.Background(), "", m))
	assert.Error(t, sc.PublishHome(context.Background(), "U0NOBODY", m), "Slack refuses an unknown user")

	// More than 100 blocks are cut to Slack's limit, not refused.
	var many []chat.Block
	for i := 0; i < 130; i++ {
		many = append(many, chat.Block{Section: &chat.Section{Text: strings.Repeat("x", 10)}})
	}
	require.NoError(t, sc.PublishHome(context.Background(), "U1", chat.Message{Blocks: many}))

	// A Home button: the click says it came from the Home tab, with no
	// channel; its reply is not posted anywhere by the transport.
	require.NoError(t, sc.PublishHome(context.Background(), "U1", m))
	env, err = hs.fake.ClickHome("U1", "change.approve", "")
	require.NoError(t, err)
	_, err = hs.fake.WaitAck(env, wait)
	require.NoError(t, err)
	require.True(t, hs.fake.WaitFor(func() bool { _, n, _, _ := hs.h.counts(); return n == 1 }, wait))
	hs.h.mu.Lock()
	c := hs.h.clicks[0]
	hs.h.mu.Unlock()
	assert.Equal(t, chat.SurfaceHome, c.Surface)
	assert.Equal(t, "", c.ChannelID)
	assert.Equal(t, "wf-1", c.Value)
	assert.Equal(t, "U1", c.UserID)
}
