package slackfake

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestViewsPublishValidatesLikeSlack(t *testing.T) {
	s := New(Options{BotToken: "xoxb-1"})
	defer s.Close()
	s.AddUser(User{ID: "U1", Name: "ana"})
	api := slack.New("xoxb-1", slack.OptionAPIURL(s.APIURL()))
	ctx := context.Background()
	home := func(n int) slack.HomeTabViewRequest {
		var bs []slack.Block
		for i := 0; i < n; i++ {
			bs = append(bs, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, fmt.Sprintf("row %d", i), false, false), nil, nil))
		}
		return slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: bs}}
	}

	// The real client, a valid Home: stored, with Slack's view answer.
	resp, err := api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U1", View: home(100)})
	require.NoError(t, err)
	assert.Equal(t, slack.VTHomeTab, resp.View.Type)
	h, ok := s.Home("U1")
	require.True(t, ok)
	assert.Equal(t, 1, h.Publishes)
	assert.Contains(t, string(h.Blocks), "row 99")

	// Over 100 blocks, a modal, an unknown user: refused, nothing changes.
	_, err = api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U1", View: home(101)})
	require.Error(t, err)
	assert.Equal(t, "invalid_arguments", err.Error())
	_, err = api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U1", View: slack.HomeTabViewRequest{Type: slack.VTModal}})
	assert.EqualError(t, err, "invalid_arguments")
	_, err = api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U0NOBODY", View: home(1)})
	assert.EqualError(t, err, "user_not_found")
	// A stale hash loses the race.
	_, err = api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U1", View: home(1), Hash: ptr("1.stale")})
	assert.EqualError(t, err, "hash_conflict")
	h, _ = s.Home("U1")
	assert.Equal(t, 1, h.Publishes)

	// The raw wire: no user_id, a view that is not JSON.
	_, body := post(t, s, "views.publish", url.Values{"view": {`{"type":"home","blocks":[]}`}}, "xoxb-1")
	assert.Equal(t, "invalid_arguments", body["error"])
	_, body = post(t, s, "views.publish", url.Values{"user_id": {"U1"}, "view": {`{"type":`}}, "xoxb-1")
	assert.Equal(t, "invalid_arguments", body["error"])
	_, body = post(t, s, "views.publish", url.Values{"user_id": {"U1"}, "view": {`{"type":"home","blocks":[]}`}}, "")
	assert.Equal(t, "not_authed", body["error"])

	// An app without the Home tab enabled.
	s.HomeDisabled(true)
	_, err = api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U1", View: home(1)})
	assert.EqualError(t, err, "not_enabled")
	s.HomeDisabled(false)

	// Buttons are pressed on the user's own Home only.
	_, err = s.ClickHome("U1", "board.page", "")
	require.Error(t, err)
	_, err = s.ClickHome("U2", "board.page", "")
	require.Error(t, err)
	btn := slack.NewButtonBlockElement("board.page", "1", slack.NewTextBlockObject(slack.PlainTextType, "Next", false, false))
	_, err = api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U1", View: slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewActionBlock("nav", btn)}}}})
	require.NoError(t, err)
	id, err := s.ClickHome("U1", "board.page", "")
	require.NoError(t, err)
	s.mu.Lock()
	var payload map[string]any
	for _, e := range s.pending {
		if e.ID == id {
			payload = e.Payload.(map[string]any)
		}
	}
	s.mu.Unlock()
	require.NotNil(t, payload)
	assert.Equal(t, "block_actions", payload["type"])
	assert.Equal(t, "view", payload["container"].(map[string]any)["type"])
	assert.NotContains(t, payload, "channel")
	assert.NotContains(t, payload, "message")
	assert.Equal(t, 10, s.CallCount("views.publish")) // every attempt recorded

	// Opening the Home tab: app_home_opened in an events_api envelope.
	id = s.OpenHome("U1")
	s.mu.Lock()
	var ev map[string]any
	for _, e := range s.pending {
		if e.ID == id {
			assert.Equal(t, "events_api", e.Type)
			ev = e.Payload.(map[string]any)["event"].(map[string]any)
		}
	}
	s.mu.Unlock()
	require.NotNil(t, ev)
	assert.Equal(t, "app_home_opened", ev["type"])
	assert.Equal(t, "U1", ev["user"])
	assert.Equal(t, "home", ev["tab"])
	assert.True(t, strings.HasPrefix(ev["channel"].(string), "D"))
}

func ptr(s string) *string { return &s }
