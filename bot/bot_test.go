package bot_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexo-org/nexo-bot/bot"
	"github.com/nexo-org/nexo-bot/bot/slackfake"
	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/store"
)

// The store is what production passes as Options.Dedupe.
var _ bot.Deduper = store.Store(nil)

const (
	botToken = "xoxb-test-bot-token"
	appToken = "xapp-test-app-token"
	wait     = 5 * time.Second
)

// testHandler records what the transport delivers and answers simply:
// "echo X" posts X in the channel, "whisper X" answers X ephemerally,
// "modal" opens a modal, "slow" blocks until release is closed.
type testHandler struct {
	chat    chat.Chat
	mu      sync.Mutex
	cmds    []chat.Command
	clicks  []chat.Click
	subs    []chat.Submission
	events  []chat.Event
	started chan string
	release chan struct{}
	slowErr error
}

func newTestHandler() *testHandler {
	return &testHandler{started: make(chan string, 100), release: make(chan struct{})}
}

func (h *testHandler) HandleCommand(ctx context.Context, c chat.Command) (*chat.Reply, error) {
	h.mu.Lock()
	h.cmds = append(h.cmds, c)
	h.mu.Unlock()
	word, rest, _ := strings.Cut(c.Text, " ")
	switch word {
	case "echo":
		return &chat.Reply{Message: chat.Message{Text: rest, Blocks: []chat.Block{{Section: &chat.Section{Text: rest}}}}}, nil
	case "noop":
		return nil, nil
	case "whisper":
		return &chat.Reply{Ephemeral: true, Message: chat.Message{Text: rest}}, nil
	case "card":
		return &chat.Reply{Message: chat.Message{Text: "card", Blocks: []chat.Block{
			{Header: "Promote nexo-be"},
			{Actions: []chat.Button{{Text: "Approve", Action: "promote.approve", Value: "wf-1", Style: chat.StylePrimary}}},
		}}}, nil
	case "modal":
		err := h.chat.OpenModal(ctx, c.TriggerID, chat.Modal{
			CallbackID: "promote.reject", PrivateMetadata: "wf-1", Title: "Reject", Submit: "Reject",
			Inputs: []chat.ModalInput{{ID: "reason", Label: "Reason", Multiline: true}},
		})
		return nil, err
	case "slow":
		h.started <- c.Text
		select {
		case <-h.release:
		case <-ctx.Done():
			h.mu.Lock()
			h.slowErr = ctx.Err()
			h.mu.Unlock()
			return nil, ctx.Err()
		}
		return &chat.Reply{Message: chat.Message{Text: "slow done " + rest}}, nil
	}
	return &chat.Reply{Ephemeral: true, Message: chat.Message{Text: "unknown"}}, nil
}

func (h *testHandler) HandleClick(_ context.Context, c chat.Click) (*chat.Reply, error) {
	h.mu.Lock()
	h.clicks = append(h.clicks, c)
	h.mu.Unlock()
	return &chat.Reply{Message: chat.Message{Text: "clicked " + c.Action}}, nil
}

func (h *testHandler) HandleSubmission(_ context.Context, s chat.Submission) (map[string]string, error) {
	h.mu.Lock()
	h.subs = append(h.subs, s)
	h.mu.Unlock()
	if strings.TrimSpace(s.Values["reason"]) == "" {
		return map[string]string{"reason": "a reason is required"}, nil
	}
	return nil, nil
}

func (h *testHandler) HandleEvent(_ context.Context, e chat.Event) error {
	h.mu.Lock()
	h.events = append(h.events, e)
	h.mu.Unlock()
	return nil
}

func (h *testHandler) counts() (cmds, clicks, subs, events int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.cmds), len(h.clicks), len(h.subs), len(h.events)
}

// countingDedupe is an in-memory Deduper that counts its calls.
type countingDedupe struct {
	mu    sync.Mutex
	keys  map[string]bool
	calls int
}

func (d *countingDedupe) Dedupe(_ context.Context, key string, _ time.Duration) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if d.keys[key] {
		return false, nil
	}
	d.keys[key] = true
	return true, nil
}

type harness struct {
	fake    *slackfake.Server
	bot     *bot.Bot
	h       *testHandler
	dedupe  *countingDedupe
	cancel  context.CancelFunc
	done    chan error
	stopped bool
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func start(t testing.TB, fopts slackfake.Options, mod func(*bot.Options)) *harness {
	t.Helper()
	fopts.BotToken, fopts.AppToken = botToken, appToken
	fake := slackfake.New(fopts)
	h := newTestHandler()
	sc, err := bot.NewSlackChat(bot.ChatOptions{APIURL: fake.APIURL(), BotToken: botToken, PaceInterval: 20 * time.Millisecond, Logger: quietLogger()})
	require.NoError(t, err)
	h.chat = sc
	dd := &countingDedupe{keys: map[string]bool{}}
	opts := bot.Options{
		APIURL: fake.APIURL(), BotToken: botToken, AppToken: appToken, Handler: h, Dedupe: dd,
		Chat: sc, Workers: 4, Connections: 1, Logger: quietLogger(), DrainTimeout: 5 * time.Second,
	}
	if mod != nil {
		mod(&opts)
	}
	b, err := bot.New(opts)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	hs := &harness{fake: fake, bot: b, h: h, dedupe: dd, cancel: cancel, done: make(chan error, 1)}
	go func() { hs.done <- b.Run(ctx) }()
	require.True(t, fake.WaitFor(func() bool { return fake.Connections() == opts.Connections }, wait), "bot did not connect")
	t.Cleanup(func() {
		hs.stop(t)
		fake.Close()
	})
	return hs
}

func (hs *harness) stop(t testing.TB) error {
	if hs.stopped {
		return nil
	}
	hs.stopped = true
	hs.cancel()
	select {
	case err := <-hs.done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

func texts(ms []slackfake.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Text
	}
	return out
}

func TestSlashCommandIsAckedThenAnswered(t *testing.T) {
	hs := start(t, slackfake.Options{}, nil)
	env := hs.fake.SendSlashCommand("U1", "C1", "echo hello world")
	ack, err := hs.fake.WaitAck(env, wait)
	require.NoError(t, err)
	assert.Nil(t, ack.Payload, "slash command acks carry no payload")

	require.True(t, hs.fake.WaitFor(func() bool { return len(hs.fake.Messages("C1")) == 1 }, wait))
	msg := hs.fake.Messages("C1")[0]
	assert.Equal(t, "hello world", msg.Text)
	assert.Contains(t, string(msg.Blocks), `"type":"section"`)

	hs.h.mu.Lock()
	c := hs.h.cmds[0]
	hs.h.mu.Unlock()
	assert.Equal(t, "U1", c.UserID)
	assert.Equal(t, "C1", c.ChannelID)
	assert.Equal(t, "T0FAKE", c.TeamID)
	assert.Equal(t, "echo hello world", c.Text)
	assert.NotEmpty(t, c.TriggerID)

	// Ephemeral replies go to the user only.
	hs.fake.SendSlashCommand("U2", "C1", "whisper psst")
	require.True(t, hs.fake.WaitFor(func() bool { return len(hs.fake.Ephemerals("U2")) == 1 }, wait))
	assert.Equal(t, "psst", hs.fake.Ephemerals("U2")[0].Text)
	assert.Len(t, hs.fake.Messages("C1"), 1)
}

func TestRedeliveredEnvelopeIsHandledOnce(t *testing.T) {
	hs := start(t, slackfake.Options{}, func(o *bot.Options) { o.Workers = 1 })
	env := hs.fake.SendSlashCommand("U1", "C1", "echo once")
	_, err := hs.fake.WaitAck(env, wait)
	require.NoError(t, err)
	require.True(t, hs.fake.WaitFor(func() bool { return len(hs.fake.Messages("C1")) == 1 }, wait))

	require.NoError(t, hs.fake.Redeliver(env))
	_, err = hs.fake.WaitAck(env, wait)
	require.NoError(t, err, "a redelivered envelope must be acked again")

	// With one worker, work is handled in order: once the sentinel is
	// answered, the redelivery has been processed.
	hs.fake.SendSlashCommand("U1", "C1", "echo sentinel")
	require.True(t, hs.fake.WaitFor(func() bool { return len(hs.fake.Messages("C1")) == 2 }, wait))
	assert.Equal(t, []string{"once", "sentinel"}, texts(hs.fake.Messages("C1")))
	cmds, _, _, _ := hs.h.counts()
	assert.Equal(t, 2, cmds)
}

func TestEventRetryWithSameEventIDIsHandledOnce(t *testing.T) {
	hs := start(t, slackfake.Options{}, func(o *bot.Options) { o.Workers = 1 })
	hs.fake.SendSlashCommand("U1", "C1", "echo incident")
	require.True(t, hs.fake.WaitFor(func() bool { return len(hs.fake.Messages("C1")) == 1 }, wait))
	ts := hs.fake.Messages("C1")[0].TS

	env := hs.fake.React("U2", "C1", ts, "eyes")
	_, err := hs.fake.WaitAck(env, wait)
	require.NoError(t, err)
	retry, err := hs.fake.RetryEvent(env)
	require.NoError(t, err)
	require.NotEqual(t, env, retry)
	assert.Equal(t, hs.fake.EventID(env), hs.fake.EventID(retry))
	_, err = hs.fake.WaitAck(retry, wait)
	require.NoError(t, err)

	hs.fake.SendSlashCommand("U1", "C1", "echo sentinel")
	require.True(t, hs.fake.WaitFor(func() bool { return len(hs.fake.Messages("C1")) == 2 }, wait))
	_, _, _, events := hs.h.counts()
	require.Equal(t, 1, events)
	hs.h.mu.Lock()
	e := hs.h.events[0]
	hs.h.mu.Unlock()
	assert.Equal(t, chat.Event{Type: "reaction_added", UserID: "U2", ChannelID: "C1", TS: ts, Reaction: "eyes", Time: e.Time}, e)
	assert.False(t, e.Time.IsZero())

	// A pin is delivered with the pinned message's ts and text.
	pin := hs.fake.Pin("U3", "C1", ts)
	_, err = hs.fake.WaitAck(pin, wait)
	require.NoError(t, err)
	require.True(t, hs.fake.WaitFor(func() bool { _, _, _, n := hs.h.counts(); return n == 2 }, wait))
	hs.h.mu.Lock()
	p := hs.h.events[1]
	hs.h.mu.Unlock()
	assert.Equal(t, "pin_added", p.Type)
	assert.Equal(t, ts, p.TS)
	assert.Equal(t, "incident", p.Text)
	assert.Equal(t, "C1", p.ChannelID)
}

func TestViewSubmissionErrorsAreReturnedInTheAck(t *testing.T) {
	hs := start(t, slackfake.Options{}, nil)
	env := hs.fake.SendSlashCommand("U1", "C1", "modal")
	_, err := hs.fake.WaitAck(env, wait)
	require.NoError(t, err)
	require.True(t, hs.fake.WaitFor(func() bool { return len(hs.fake.Views()) == 1 }, wait))
	v := hs.fake.Views()[0]
	assert.Equal(t, "promote.reject", v.CallbackID)
	assert.Equal(t, "wf-1", v.PrivateMetadata)

	sub, err := hs.fake.SubmitView("U1", v.ID, map[string]string{"reason": "  "})
	require.NoError(t, err)
	ack, err := hs.fake.WaitAck(sub, wait)
	require.NoError(t, err)
	assert.JSONEq(t, `{"response_action":"errors","errors":{"reason":"a reason is required"}}`, string(ack.Payload))

	sub2, err := hs.fake.SubmitView("U1", v.ID, map[string]string{"reason": "tests are red"})
	require.NoError(t, err)
	ack2, err := hs.fake.WaitAck(sub2, wait)
	require.NoError(t, err)
	assert.Nil(t, ack2.Payload, "a valid submission closes the modal with an empty ack")

	hs.h.mu.Lock()
	defer hs.h.mu.Unlock()
	require.Len(t, hs.h.subs, 2)
	assert.Equal(t, chat.Submission{UserID: "U1", CallbackID: "promote.reject", PrivateMetadata: "wf-1", Values: map[string]string{"reason": "tests are red"}}, hs.h.subs[1])
}

func TestButtonClickReachesHandlerWithItsActionAndValue(t *testing.T) {
	hs := start(t, slackfake.Options{}, nil)
	hs.fake.SendSlashCommand("U1", "C1", "card")
	require.True(t, hs.fake.WaitFor(func() bool { return len(hs.fake.Messages("C1")) == 1 }, wait))
	card := hs.fake.Messages("C1")[0]

	_, err := hs.fake.ClickButton("U9", "C1", card.TS, "no.such.button", "")
	require.Error(t, err, "the fake only clicks buttons that exist")

	env, err := hs.fake.ClickButton("U9", "C1", card.TS, "promote.approve", "")
	require.NoError(t, err)
	_, err = hs.fake.WaitAck(env, wait)
	require.NoError(t, err)
	require.True(t, hs.fake.WaitFor(func() bool { return len(hs.fake.Ephemerals("U9")) == 1 }, wait))
	assert.Equal(t, "clicked promote.approve", hs.fake.Ephemerals("U9")[0].Text)
	hs.h.mu.Lock()
	c := hs.h.clicks[0]
	hs.h.mu.Unlock()
	assert.Equal(t, "U9", c.UserID)
	assert.Equal(t, "C1", c.ChannelID)
	assert.Equal(t, card.TS, c.MessageTS)
	assert.Equal(t, "promote.approve", c.Action)
	assert.Equal(t, "wf-1", c.Value)
	assert.NotEmpty(t, c.TriggerID)
}

func TestBotReconnectsAfterDisconnectRequest(t *testing.T) {
	hs := start(t, slackfake.Options{}, nil)
	require.Equal(t, 1, hs.fake.TotalConnections())
	hs.fake.Disconnect("refresh_requested")
	require.True(t, hs.fake.WaitFor(func() bool { return hs.fake.TotalConnections() == 2 && hs.fake.Connections() == 1 }, wait),
		"bot did not reconnect")

	env := hs.fake.SendSlashCommand("U1", "C1", "echo after refresh")
	_, err := hs.fake.WaitAck(env, wait)
	require.NoError(t, err)
	require.True(t, hs.fake.WaitFor(func() bool { return len(hs.fake.Messages("C1")) == 1 }, wait))

	// An abrupt network drop is survived too.
	hs.fake.DropConnections()
	require.True(t, hs.fake.WaitFor(func() bool { return hs.fake.TotalConnections() == 3 && hs.fake.Connections() == 1 }, 10*time.Second))
	env = hs.fake.SendSlashCommand("U1", "C1", "echo after drop")
	_, err = hs.fake.WaitAck(env, wait)
	require.NoError(t, err)
}

func TestEnvelopesSpreadOverSeveralConnections(t *testing.T) {
	hs := start(t, slackfake.Options{}, func(o *bot.Options) { o.Connections = 3 })
	for i := range 9 {
		hs.fake.SendSlashCommand("U1", "C1", "echo "+string(rune('a'+i)))
	}
	require.True(t, hs.fake.WaitFor(func() bool { return len(hs.fake.Messages("C1")) == 9 }, wait))
}

func TestRateLimitedPostIsDeliveredAfterRetryAfter(t *testing.T) {
	hs := start(t, slackfake.Options{}, nil)
	hs.fake.InjectRateLimit("chat.postMessage", 1, time.Second)
	hs.fake.SendSlashCommand("U1", "C1", "echo patience")
	require.True(t, hs.fake.WaitFor(func() bool { return len(hs.fake.Messages("C1")) == 1 }, wait))
	assert.Equal(t, "patience", hs.fake.Messages("C1")[0].Text)

	var posts []slackfake.Call
	for _, c := range hs.fake.Calls() {
		if c.Method == "chat.postMessage" {
			posts = append(posts, c)
		}
	}
	require.Len(t, posts, 2)
	assert.Equal(t, 429, posts[0].Status)
	assert.Equal(t, 200, posts[1].Status)
	assert.GreaterOrEqual(t, posts[1].Time.Sub(posts[0].Time), 900*time.Millisecond, "Retry-After must be honoured")
	assert.Equal(t, "xoxb-REDACTED", posts[0].Params["token"], "tokens are never recorded")
}

func TestFullPoolDoesNotDelayAcks(t *testing.T) {
	hs := start(t, slackfake.Options{}, func(o *bot.Options) { o.Workers = 1; o.QueueSize = 1 })
	var envs []string
	for i := range 5 {
		envs = append(envs, hs.fake.SendSlashCommand("U1", "C1", "slow "+string(rune('a'+i))))
	}
	<-hs.h.started
	// The only worker is blocked and the queue holds one: every envelope is
	// still acked.
	for _, e := range envs {
		_, err := hs.fake.WaitAck(e, wait)
		require.NoError(t, err)
	}
	close(hs.h.release)
	require.True(t, hs.fake.WaitFor(func() bool { return len(hs.fake.Messages("C1")) == 5 }, wait),
		"overflowed work must still be handled: %v", texts(hs.fake.Messages("C1")))
}

func TestRunDrainsInFlightWorkOnCancel(t *testing.T) {
	hs := start(t, slackfake.Options{}, nil)
	hs.fake.SendSlashCommand("U1", "C1", "slow drain")
	select {
	case <-hs.h.started:
	case <-time.After(wait):
		t.Fatal("handler did not start")
	}
	hs.cancel()
	select {
	case <-hs.done:
		t.Fatal("Run returned while a handler was still running")
	case <-time.After(100 * time.Millisecond):
	}
	close(hs.h.release)
	select {
	case err := <-hs.done:
		require.NoError(t, err)
		hs.stopped = true
	case <-time.After(wait):
		t.Fatal("Run did not return after the handler finished")
	}
	assert.Equal(t, []string{"slow done drain"}, texts(hs.fake.Messages("C1")))
	hs.h.mu.Lock()
	assert.NoError(t, hs.h.slowErr)
	hs.h.mu.Unlock()
}

func TestRunRefusesBadTokens(t *testing.T) {
	fake := slackfake.New(slackfake.Options{BotToken: botToken, AppToken: appToken})
	defer fake.Close()
	b, err := bot.New(bot.Options{APIURL: fake.APIURL(), BotToken: "xoxb-wrong", AppToken: appToken, Handler: newTestHandler(), Logger: quietLogger()})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	err = b.Run(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "invalid_auth")
	assert.NotContains(t, err.Error(), "xoxb-wrong")

	b2, err := bot.New(bot.Options{APIURL: fake.APIURL(), BotToken: botToken, AppToken: "xapp-wrong", Handler: newTestHandler(), Logger: quietLogger()})
	require.NoError(t, err)
	err = b2.Run(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "invalid_auth")

	_, err = bot.New(bot.Options{BotToken: botToken, AppToken: "xoxb-not-an-app-token", Handler: newTestHandler()})
	require.Error(t, err)
	_, err = bot.New(bot.Options{BotToken: botToken, AppToken: appToken})
	require.Error(t, err, "a handler is required")
}

func TestUnknownEventTypeIsAckedAndSkipped(t *testing.T) {
	hs := start(t, slackfake.Options{}, nil)
	env := hs.fake.SendEvent(map[string]any{"type": "nexo_unheard_of_event", "user": "U1"})
	_, err := hs.fake.WaitAck(env, wait)
	require.NoError(t, err)
	// Still serving.
	hs.fake.SendSlashCommand("U1", "C1", "echo alive")
	require.True(t, hs.fake.WaitFor(func() bool { return len(hs.fake.Messages("C1")) == 1 }, wait))
	_, _, _, events := hs.h.counts()
	assert.Zero(t, events)
}

func TestOwnMessagesAreNotHandledAsEvents(t *testing.T) {
	hs := start(t, slackfake.Options{}, func(o *bot.Options) { o.Workers = 1 })
	env := hs.fake.SendEvent(map[string]any{"type": "message", "channel": "C1", "user": hs.fake.BotUserID(), "text": "mine", "ts": "1.000001"})
	_, err := hs.fake.WaitAck(env, wait)
	require.NoError(t, err)
	_, env2 := hs.fake.UserMessage("U5", "C1", "", "hello bot")
	_, err = hs.fake.WaitAck(env2, wait)
	require.NoError(t, err)
	require.True(t, hs.fake.WaitFor(func() bool { _, _, _, n := hs.h.counts(); return n >= 1 }, wait))
	hs.fake.SendSlashCommand("U1", "C1", "echo sentinel")
	require.True(t, hs.fake.WaitFor(func() bool { return len(hs.fake.Messages("C1")) >= 1 }, wait))
	hs.h.mu.Lock()
	defer hs.h.mu.Unlock()
	require.Len(t, hs.h.events, 1)
	assert.Equal(t, "U5", hs.h.events[0].UserID)
	assert.Equal(t, "hello bot", hs.h.events[0].Text)
}

func TestMetricsCountEnvelopes(t *testing.T) {
	m, err := bot.NewMetrics(nil)
	require.NoError(t, err)
	hs := start(t, slackfake.Options{}, func(o *bot.Options) { o.Metrics = m })
	env := hs.fake.SendSlashCommand("U1", "C1", "echo counted")
	_, err = hs.fake.WaitAck(env, wait)
	require.NoError(t, err)
	require.True(t, hs.fake.WaitFor(func() bool { return len(hs.fake.Messages("C1")) == 1 }, wait))
	require.NoError(t, hs.stop(t))
	assert.Equal(t, 1.0, counterValue(t, m.Envelopes.WithLabelValues("slash_commands")))
	var metric dto.Metric
	require.NoError(t, m.CommandDuration.WithLabelValues("echo").(prometheus.Histogram).Write(&metric))
	assert.Equal(t, uint64(1), metric.GetHistogram().GetSampleCount())
	assert.Zero(t, counterValue(t, m.Errors.WithLabelValues("handler")))
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var metric dto.Metric
	require.NoError(t, c.Write(&metric))
	return metric.GetCounter().GetValue()
}

// Slack failing auth.test with a server error (not a token refusal) does
// not stop the bot: it connects and serves.
func TestRunGoesOnWhenAuthTestIsUnavailable(t *testing.T) {
	fake := slackfake.New(slackfake.Options{BotToken: botToken, AppToken: appToken})
	defer fake.Close()
	fake.Inject5xx("auth.test", 10)
	h := newTestHandler()
	b, err := bot.New(bot.Options{APIURL: fake.APIURL(), BotToken: botToken, AppToken: appToken, Handler: h, Logger: quietLogger(), DrainTimeout: time.Second})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	require.True(t, fake.WaitFor(func() bool { return fake.Connections() == 1 }, wait), "bot did not connect")
	env := fake.SendSlashCommand("U1", "C1", "ping")
	_, err = fake.WaitAck(env, wait)
	require.NoError(t, err)
	cancel()
	require.NoError(t, <-done)
}
