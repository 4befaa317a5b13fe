package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexo-org/nexo-bot/bot/slackfake"
	"github.com/nexo-org/nexo-bot/chat"
)

const testBotToken = "xoxb-chat-test"

func newChat(t *testing.T, pace time.Duration) (*SlackChat, *slackfake.Server) {
	t.Helper()
	fake := slackfake.New(slackfake.Options{BotToken: testBotToken, StrictChannels: true})
	t.Cleanup(fake.Close)
	fake.AddChannel("C1", "deploys")
	c, err := NewSlackChat(ChatOptions{
		APIURL: fake.APIURL(), BotToken: testBotToken, PaceInterval: pace,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	return c, fake
}

func TestUpdatesOfOneMessageAreCoalesced(t *testing.T) {
	c, fake := newChat(t, 300*time.Millisecond)
	ctx := context.Background()
	ts, err := c.Post(ctx, "C1", "", chat.Message{Text: "v0"})
	require.NoError(t, err)

	// The post holds the channel's pace; ten updates queue behind it.
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := 1; i <= 10; i++ {
		wg.Go(func() {
			errs[i-1] = c.Update(ctx, "C1", ts, chat.Message{Text: fmt.Sprintf("v%d", i), Blocks: []chat.Block{{Section: &chat.Section{Text: fmt.Sprintf("*v%d*", i)}}}})
		})
		// Register the updates in order, so v10 is the newest.
		require.True(t, fake.WaitFor(func() bool { return c.pace.waiting("C1", ts) == i }, time.Second))
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	updates := fake.CallCount("chat.update")
	assert.GreaterOrEqual(t, updates, 1)
	assert.Less(t, updates, 10, "updates must be coalesced")
	m, ok := fake.Message("C1", ts)
	require.True(t, ok)
	assert.Equal(t, "v10", m.Text)
	assert.Contains(t, string(m.Blocks), "*v10*")
	assert.Len(t, m.Updates, updates+1, "history: the post and each update call")
}

// waiting counts the callers waiting on a queued update (tests only).
func (p *pacer) waiting(channel, ts string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.lanes[channel]
	if !ok {
		return 0
	}
	if pu, ok := l.updates[ts]; ok {
		return len(pu.waiters)
	}
	return 0
}

func TestPostsInOneChannelArePaced(t *testing.T) {
	c, fake := newChat(t, 100*time.Millisecond)
	fake.AddChannel("C2", "other")
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			_, err := c.Post(ctx, "C1", "", chat.Message{Text: fmt.Sprint("p", i)})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	msgs := fake.Messages("C1")
	require.Len(t, msgs, 3)
	for i := 1; i < len(msgs); i++ {
		gap := msgs[i].Updates[0].Time.Sub(msgs[i-1].Updates[0].Time)
		assert.GreaterOrEqual(t, gap, 90*time.Millisecond, "posts in one channel keep the pace")
	}
}

func TestServerErrorsAreRetriedWithBackoff(t *testing.T) {
	c, fake := newChat(t, -1)
	fake.Inject5xx("chat.postMessage", 2)
	ts, err := c.Post(context.Background(), "C1", "", chat.Message{Text: "eventually"})
	require.NoError(t, err)
	assert.NotEmpty(t, ts)
	assert.Equal(t, 3, fake.CallCount("chat.postMessage"))
	assert.Len(t, fake.Messages("C1"), 1)

	// Bounded: a persistent failure gives up after MaxAttempts.
	fake.Inject5xx("chat.update", 100)
	c.opts.MaxAttempts = 2
	err = c.Update(context.Background(), "C1", ts, chat.Message{Text: "never"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "503")
	assert.Equal(t, 2, fake.CallCount("chat.update"))
}

func TestRetryAfterLongerThanTheDeadlineFailsFast(t *testing.T) {
	c, fake := newChat(t, -1)
	fake.InjectRateLimit("chat.postEphemeral", 1, 20*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	err := c.PostEphemeral(ctx, "C1", "U1", chat.Message{Text: "x"})
	require.Error(t, err)
	assert.Less(t, time.Since(start), time.Second, "no pointless wait past the deadline")
	assert.Empty(t, fake.Ephemerals("U1"))
}

func TestChannelsInvitesAndErrors(t *testing.T) {
	c, fake := newChat(t, -1)
	ctx := context.Background()
	id, err := c.CreateChannel(ctx, "inc-2024-001-checkout")
	require.NoError(t, err)
	assert.NotEmpty(t, id)
	_, err = c.CreateChannel(ctx, "inc-2024-001-checkout")
	assert.ErrorIs(t, err, chat.ErrNameTaken)
	_, err = c.CreateChannel(ctx, "Bad Name!")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "invalid_name_specials")

	require.NoError(t, c.Invite(ctx, id, []string{"U1", "U2"}))
	// Already-members (and duplicates) are ignored; newcomers still join.
	require.NoError(t, c.Invite(ctx, id, []string{"U1", "U3", "U3", ""}))
	var members []string
	for _, ch := range fake.Channels() {
		if ch.ID == id {
			members = ch.Members
		}
	}
	assert.ElementsMatch(t, []string{fake.BotUserID(), "U1", "U2", "U3"}, members)

	_, err = c.Post(ctx, "C404", "", chat.Message{Text: "x"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "channel_not_found")
}

func TestPermalinkThreadsUploadsAndGroups(t *testing.T) {
	c, fake := newChat(t, -1)
	ctx := context.Background()
	parent, err := c.Post(ctx, "C1", "", chat.Message{Text: "card"})
	require.NoError(t, err)
	reply, err := c.Post(ctx, "#deploys", parent, chat.Message{Text: "step 1"})
	require.NoError(t, err)
	m, ok := fake.Message("C1", reply)
	require.True(t, ok)
	assert.Equal(t, parent, m.ThreadTS)

	link, err := c.Permalink(ctx, "C1", parent)
	require.NoError(t, err)
	assert.Equal(t, "https://nexo-fake.slack.com/archives/C1/p"+strings.ReplaceAll(parent, ".", ""), link)

	require.NoError(t, c.Upload(ctx, "C1", parent, "postmortem.md", "Post-mortem", []byte("# Incident\n")))
	ups := fake.Uploads()
	require.Len(t, ups, 1)
	assert.Equal(t, slackfake.Upload{FileID: ups[0].FileID, Filename: "postmortem.md", Title: "Post-mortem", Channel: "C1", ThreadTS: parent, Content: []byte("# Incident\n"), Completed: true}, ups[0])
	require.Error(t, c.Upload(ctx, "C1", "", "empty.txt", "", nil))

	fake.AddUserGroup("S1", "U1", "U2")
	got, err := c.GroupMembers(ctx, "S1")
	require.NoError(t, err)
	assert.Equal(t, []string{"U1", "U2"}, got)
	fake.AddUserGroup("S1", "U1", "U2", "U3")
	got, err = c.GroupMembers(ctx, "S1")
	require.NoError(t, err)
	assert.Equal(t, []string{"U1", "U2"}, got, "members are cached")
	assert.Equal(t, 1, fake.CallCount("usergroups.users.list"))
	_, err = c.GroupMembers(ctx, "S404")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no_such_subteam")
}

func TestOpenModalNeedsAFreshTrigger(t *testing.T) {
	c, fake := newChat(t, -1)
	err := c.OpenModal(context.Background(), "123.456.abc", chat.Modal{CallbackID: "x", Title: "T"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "invalid_trigger_id")
	err = c.OpenModal(context.Background(), "t", chat.Modal{PrivateMetadata: strings.Repeat("x", 3001)})
	require.Error(t, err)
	assert.Equal(t, 1, fake.CallCount("views.open"), "oversized metadata is refused before any call")
}

func TestNewSlackChatRejectsNonBotToken(t *testing.T) {
	_, err := NewSlackChat(ChatOptions{BotToken: "xapp-1"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "xapp-1")
}

func TestRenderedBlocksPassSlackValidation(t *testing.T) {
	c, _ := newChat(t, -1)
	long := strings.Repeat("línea de log com acentuação\n", 400) // ~11k runes
	var fields []string
	for i := range 13 {
		fields = append(fields, fmt.Sprintf("*env%d*\nv1.%d", i, i))
	}
	m := chat.Message{Text: "everything", Blocks: []chat.Block{
		{Header: strings.Repeat("H", 200)},
		{Section: &chat.Section{Text: long, Fields: fields}},
		{Context: []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"}},
		{Divider: true},
		{Actions: []chat.Button{
			{Text: "Approve", Action: "promote.approve", Value: "wf-1", Style: chat.StylePrimary},
			{Text: "Reject", Action: "promote.reject", Value: "wf-1", Style: chat.StyleDanger, Confirm: "Reject the promotion?"},
			{Text: "Open PR", URL: "https://github.com/acme/gitops/pull/1"},
			{Text: strings.Repeat("B", 100), Action: "promote.approve", Value: strings.Repeat("v", 2500)},
		}},
		{Image: &chat.Image{URL: "https://example.com/chart.png"}},
		{Code: strings.Repeat("panic: boom ``` \n", 500)},
	}}
	_, err := c.Post(context.Background(), "C1", "", m)
	require.NoError(t, err, "rendered blocks must satisfy Slack's limits")

	blocks := RenderBlocks(m)
	var js []map[string]any
	raw, err := json.Marshal(blocks)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &js))
	types := map[string]int{}
	for _, b := range js {
		types[b["type"].(string)]++
	}
	assert.Equal(t, 1, types["header"])
	assert.GreaterOrEqual(t, types["section"], 4+2, "long text and code split over sections")
	assert.Equal(t, 1, types["actions"])

	// More than 50 blocks: 49 kept plus a note.
	var many []chat.Block
	for i := range 70 {
		many = append(many, chat.Block{Section: &chat.Section{Text: fmt.Sprint("line ", i)}})
	}
	out := RenderBlocks(chat.Message{Blocks: many})
	require.Len(t, out, 50)
	raw, _ = json.Marshal(out[49])
	assert.Contains(t, string(raw), "21 more blocks")
	_, err = c.Post(context.Background(), "C1", "", chat.Message{Text: "many", Blocks: many})
	require.NoError(t, err)
}

func TestRenderButtonsAndModal(t *testing.T) {
	raw, err := json.Marshal(RenderBlocks(chat.Message{Blocks: []chat.Block{{Actions: []chat.Button{
		{Text: "Rollback", Action: "incident.rollback", Value: "inc-1", Style: chat.StyleDanger, Confirm: "Roll back nexo-be?"},
	}}}}))
	require.NoError(t, err)
	var got []map[string]any
	require.NoError(t, json.Unmarshal(raw, &got))
	btn := got[0]["elements"].([]any)[0].(map[string]any)
	assert.Equal(t, "button", btn["type"])
	assert.Equal(t, "incident.rollback", btn["action_id"])
	assert.Equal(t, "inc-1", btn["value"])
	assert.Equal(t, "danger", btn["style"])
	confirm := btn["confirm"].(map[string]any)
	assert.Equal(t, "Roll back nexo-be?", confirm["text"].(map[string]any)["text"])
	assert.Equal(t, "danger", confirm["style"])

	v := RenderModal(chat.Modal{CallbackID: "promote.reject", PrivateMetadata: "wf-9", Title: "Reject the promotion please", Inputs: []chat.ModalInput{{ID: "reason", Label: "Reason", Multiline: true}, {ID: "link", Label: "Link", Optional: true}}})
	raw, err = json.Marshal(v)
	require.NoError(t, err)
	var view map[string]any
	require.NoError(t, json.Unmarshal(raw, &view))
	assert.Equal(t, "modal", view["type"])
	assert.Equal(t, "promote.reject", view["callback_id"])
	assert.Equal(t, "wf-9", view["private_metadata"])
	assert.LessOrEqual(t, len([]rune(view["title"].(map[string]any)["text"].(string))), 24)
	blocks := view["blocks"].([]any)
	require.Len(t, blocks, 2)
	in := blocks[0].(map[string]any)
	assert.Equal(t, "reason", in["block_id"])
	assert.Equal(t, "reason", in["element"].(map[string]any)["action_id"])
	assert.Equal(t, true, in["element"].(map[string]any)["multiline"])
	assert.Equal(t, true, blocks[1].(map[string]any)["optional"])
}

func TestEventMapping(t *testing.T) {
	payload := func(inner string) json.RawMessage {
		return json.RawMessage(`{"type":"event_callback","event_id":"Ev1","event":` + inner + `}`)
	}
	e, ok := eventOf(payload(`{"type":"message","channel":"C1","user":"U1","text":"hi","ts":"1700000000.000100","event_ts":"1700000000.000100"}`), "UBOT")
	require.True(t, ok)
	assert.Equal(t, chat.Event{Type: "message", UserID: "U1", ChannelID: "C1", TS: "1700000000.000100", Text: "hi", Time: e.Time}, e)
	assert.Equal(t, int64(1700000000), e.Time.Unix())

	_, ok = eventOf(payload(`{"type":"message","subtype":"message_changed","channel":"C1"}`), "UBOT")
	assert.False(t, ok, "edits are not new messages")
	_, ok = eventOf(payload(`{"type":"message","channel":"C1","user":"UBOT","text":"mine"}`), "UBOT")
	assert.False(t, ok, "the bot's own messages are ignored")

	e, ok = eventOf(payload(`{"type":"member_joined_channel","user":"U2","channel":"C9","event_ts":"1700000001.000000"}`), "UBOT")
	require.True(t, ok)
	assert.Equal(t, "C9", e.ChannelID)
	assert.Equal(t, "U2", e.UserID)
}

func TestMemoryDedupe(t *testing.T) {
	d := newMemoryDedupe()
	first, err := d.Dedupe(context.Background(), "k", time.Hour)
	require.NoError(t, err)
	assert.True(t, first)
	first, _ = d.Dedupe(context.Background(), "k", time.Hour)
	assert.False(t, first)
	first, _ = d.Dedupe(context.Background(), "short", time.Nanosecond)
	assert.True(t, first)
	time.Sleep(time.Millisecond)
	first, _ = d.Dedupe(context.Background(), "short", time.Hour)
	assert.True(t, first, "expired keys can be set again")
}

func TestCommandLabelHasBoundedCardinality(t *testing.T) {
	assert.Equal(t, "promote", commandLabel("promote nexo-be staging"))
	assert.Equal(t, "help", commandLabel("  "))
	assert.Equal(t, "other", commandLabel("<@U123> 😀"))
	assert.Equal(t, "other", commandLabel(strings.Repeat("a", 40)))
}
