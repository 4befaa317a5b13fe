package bot_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nexo-org/nexo-bot/bot"
	"github.com/nexo-org/nexo-bot/bot/slackfake"
)

const signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"

type httpHarness struct {
	fake   *slackfake.Server
	h      *testHandler
	dedupe *countingDedupe
	srv    *httptest.Server
}

func startHTTP(t *testing.T) *httpHarness {
	t.Helper()
	fake := slackfake.New(slackfake.Options{BotToken: botToken})
	t.Cleanup(fake.Close)
	h := newTestHandler()
	sc, err := bot.NewSlackChat(bot.ChatOptions{APIURL: fake.APIURL(), BotToken: botToken, PaceInterval: 10 * time.Millisecond, Logger: quietLogger()})
	require.NoError(t, err)
	h.chat = sc
	dd := &countingDedupe{keys: map[string]bool{}}
	b, err := bot.New(bot.Options{
		APIURL: fake.APIURL(), BotToken: botToken, Handler: h, Dedupe: dd, Chat: sc, Workers: 4,
		Logger: quietLogger(), DrainTimeout: 5 * time.Second, HTTP: true, SigningSecret: signingSecret, MaxBody: 64 << 10,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	srv := httptest.NewServer(b.HTTPHandler())
	t.Cleanup(func() {
		srv.Close()
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	})
	hs := &httpHarness{fake: fake, h: h, dedupe: dd, srv: srv}
	// Ready once a signed request is no longer answered 503.
	require.True(t, fake.WaitFor(func() bool {
		return hs.post(t, bot.PathEvents, "application/json", `{"type":"url_verification","challenge":"ready"}`, time.Now()).StatusCode == http.StatusOK
	}, wait), "http mode never became ready")
	return hs
}

func sign(secret, ts, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v0:" + ts + ":" + body))
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

// send posts body with the given headers and returns the response (body read).
func (hs *httpHarness) send(t *testing.T, path, ctype, body string, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, hs.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", ctype)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := hs.srv.Client().Do(req)
	require.NoError(t, err)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(raw)))
	resp.Header.Set("X-Test-Body", string(raw))
	return resp
}

// post sends a correctly signed request with timestamp at.
func (hs *httpHarness) post(t *testing.T, path, ctype, body string, at time.Time) *http.Response {
	ts := strconv.FormatInt(at.Unix(), 10)
	return hs.send(t, path, ctype, body, map[string]string{"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign(signingSecret, ts, body)})
}

func bodyOf(r *http.Response) string { return r.Header.Get("X-Test-Body") }

func commandForm(text string) string {
	return url.Values{
		"token": {"x"}, "team_id": {"T0FAKE"}, "channel_id": {"C0DEPLOYS"}, "channel_name": {"deploys"},
		"user_id": {"U0ALICE01"}, "user_name": {"alice"}, "command": {"/nexo"}, "text": {text},
		"trigger_id": {"1.2.abc"}, "response_url": {"https://hooks.slack.com/commands/x"},
	}.Encode()
}

const formType = "application/x-www-form-urlencoded"

func TestHTTPSlashCommandWithAGoodSignatureIsAnswered(t *testing.T) {
	hs := startHTTP(t)
	resp := hs.post(t, bot.PathCommands, formType, commandForm("whisper hello over http"), time.Now())
	require.Equal(t, http.StatusOK, resp.StatusCode, bodyOf(resp))
	assert.Empty(t, bodyOf(resp), "the ack keeps the command out of the channel")
	require.True(t, hs.fake.WaitFor(func() bool { return len(hs.fake.Ephemerals("U0ALICE01")) == 1 }, wait))
	assert.Equal(t, "hello over http", hs.fake.Ephemerals("U0ALICE01")[0].Text)
	cmds, _, _, _ := hs.h.counts()
	assert.Equal(t, 1, cmds)
	assert.Equal(t, "C0DEPLOYS", hs.h.cmds[0].ChannelID)
}

func TestHTTPRefusesBadStaleAndReplayedSignatures(t *testing.T) {
	hs := startHTTP(t)
	body := commandForm("whisper once")
	now := strconv.FormatInt(time.Now().Unix(), 10)
	cases := map[string]map[string]string{
		"no headers":       {},
		"wrong secret":     {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": sign("not-the-secret", now, body)},
		"tampered body":    {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": sign(signingSecret, now, body+"x")},
		"other timestamp":  {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": sign(signingSecret, strconv.FormatInt(time.Now().Unix()-1, 10), body)},
		"not v0":           {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v1=" + strings.TrimPrefix(sign(signingSecret, now, body), "v0=")},
		"garbage time":     {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": sign(signingSecret, "soon", body)},
		"six minutes old":  {"X-Slack-Request-Timestamp": strconv.FormatInt(time.Now().Add(-6*time.Minute).Unix(), 10), "X-Slack-Signature": sign(signingSecret, strconv.FormatInt(time.Now().Add(-6*time.Minute).Unix(), 10), body)},
		"six minutes late": {"X-Slack-Request-Timestamp": strconv.FormatInt(time.Now().Add(6*time.Minute).Unix(), 10), "X-Slack-Signature": sign(signingSecret, strconv.FormatInt(time.Now().Add(6*time.Minute).Unix(), 10), body)},
	}
	for name, hdr := range cases {
		resp := hs.send(t, bot.PathCommands, formType, body, hdr)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, name)
	}
	stale := hs.send(t, bot.PathCommands, formType, body, cases["six minutes old"])
	assert.Contains(t, bodyOf(stale), "stale")

	// Within the window (4 minutes old) it is accepted once; the same
	// signed request again is a replay.
	at := time.Now().Add(-4 * time.Minute)
	first := hs.post(t, bot.PathCommands, formType, body, at)
	require.Equal(t, http.StatusOK, first.StatusCode, bodyOf(first))
	replay := hs.post(t, bot.PathCommands, formType, body, at)
	assert.Equal(t, http.StatusUnauthorized, replay.StatusCode)
	assert.Contains(t, bodyOf(replay), "replayed")

	require.True(t, hs.fake.WaitFor(func() bool { return len(hs.fake.Ephemerals("U0ALICE01")) >= 1 }, wait))
	time.Sleep(100 * time.Millisecond)
	cmds, _, _, _ := hs.h.counts()
	assert.Equal(t, 1, cmds, "only the good request reached the handler")
	assert.Len(t, hs.fake.Ephemerals("U0ALICE01"), 1)
}

func TestHTTPEventsChallengeRetriesAndBodyLimit(t *testing.T) {
	hs := startHTTP(t)
	resp := hs.post(t, bot.PathEvents, "application/json", `{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`, time.Now())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", bodyOf(resp))

	ev := `{"token":"x","team_id":"T0FAKE","api_app_id":"A0FAKE","type":"event_callback","event_id":"Ev0HTTP01","event_time":1700000000,` +
		`"event":{"type":"reaction_added","user":"U0ALICE01","reaction":"eyes","item":{"type":"message","channel":"C0DEPLOYS","ts":"1700000000.000100"},"event_ts":"1700000001.000200"}}`
	require.Equal(t, http.StatusOK, hs.post(t, bot.PathEvents, "application/json", ev, time.Now()).StatusCode)
	// Slack's HTTP retry: same event_id, a new timestamp and signature.
	retry := hs.post(t, bot.PathEvents, "application/json", ev, time.Now().Add(time.Second))
	require.Equal(t, http.StatusOK, retry.StatusCode)
	require.True(t, hs.fake.WaitFor(func() bool { _, _, _, n := hs.h.counts(); return n == 1 }, wait))
	time.Sleep(100 * time.Millisecond)
	_, _, _, events := hs.h.counts()
	assert.Equal(t, 1, events, "a retried event is handled once")
	assert.Equal(t, "eyes", hs.h.events[0].Reaction)

	big := `{"type":"event_callback","pad":"` + strings.Repeat("x", 70<<10) + `"}`
	assert.Equal(t, http.StatusRequestEntityTooLarge, hs.post(t, bot.PathEvents, "application/json", big, time.Now()).StatusCode)
	assert.Equal(t, http.StatusBadRequest, hs.post(t, bot.PathEvents, "application/json", `not json`, time.Now()).StatusCode)
}

func TestHTTPInteractivity(t *testing.T) {
	hs := startHTTP(t)
	click := map[string]any{
		"type": "block_actions", "user": map[string]any{"id": "U0BOB0001"}, "trigger_id": "1.2.t",
		"container": map[string]any{"type": "message", "message_ts": "1700000000.000100", "channel_id": "C0DEPLOYS"},
		"channel":   map[string]any{"id": "C0DEPLOYS", "name": "deploys"},
		"actions":   []any{map[string]any{"action_id": "change.approve", "block_id": "b1", "value": "change-123", "type": "button"}},
	}
	raw, _ := json.Marshal(click)
	resp := hs.post(t, bot.PathInteractive, formType, url.Values{"payload": {string(raw)}}.Encode(), time.Now())
	require.Equal(t, http.StatusOK, resp.StatusCode, bodyOf(resp))
	require.True(t, hs.fake.WaitFor(func() bool { _, n, _, _ := hs.h.counts(); return n == 1 }, wait))
	assert.Equal(t, "change-123", hs.h.clicks[0].Value)
	assert.Equal(t, "U0BOB0001", hs.h.clicks[0].UserID)

	sub := func(reason string) string {
		v := map[string]any{
			"type": "view_submission", "user": map[string]any{"id": "U0BOB0001"},
			"view": map[string]any{"id": "V1", "callback_id": "promote.reject", "private_metadata": "wf-1",
				"state": map[string]any{"values": map[string]any{"reason": map[string]any{"reason": map[string]any{"type": "plain_text_input", "value": reason}}}}},
		}
		raw, _ := json.Marshal(v)
		return url.Values{"payload": {string(raw)}}.Encode()
	}
	bad := hs.post(t, bot.PathInteractive, formType, sub(""), time.Now())
	require.Equal(t, http.StatusOK, bad.StatusCode)
	assert.JSONEq(t, `{"response_action":"errors","errors":{"reason":"a reason is required"}}`, bodyOf(bad))
	good := hs.post(t, bot.PathInteractive, formType, sub("broken"), time.Now().Add(time.Second))
	require.Equal(t, http.StatusOK, good.StatusCode)
	assert.Empty(t, strings.TrimSpace(bodyOf(good)))
	_, _, subs, _ := hs.h.counts()
	assert.Equal(t, 2, subs)

	assert.Equal(t, http.StatusBadRequest, hs.post(t, bot.PathInteractive, formType, "payload=%7Bnope", time.Now()).StatusCode)
}

func TestHTTPModeNeedsASigningSecret(t *testing.T) {
	_, err := bot.New(bot.Options{BotToken: botToken, Handler: newTestHandler(), HTTP: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "signing secret")
	_, err = bot.New(bot.Options{BotToken: botToken, Handler: newTestHandler(), HTTP: true, SigningSecret: signingSecret})
	require.NoError(t, err, "http mode needs no app token")
}
