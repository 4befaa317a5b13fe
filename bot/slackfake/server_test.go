package slackfake

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func post(t *testing.T, s *Server, method string, form url.Values, bearer string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.APIURL()+method, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp, body
}

func TestWebAPIAuthAndWireFormat(t *testing.T) {
	s := New(Options{BotToken: "xoxb-1", AppToken: "xapp-1"})
	defer s.Close()

	_, body := post(t, s, "auth.test", url.Values{}, "")
	assert.Equal(t, map[string]any{"ok": false, "error": "not_authed"}, body)
	_, body = post(t, s, "auth.test", url.Values{"token": {"xoxb-2"}}, "")
	assert.Equal(t, "invalid_auth", body["error"])
	_, body = post(t, s, "auth.test", url.Values{"token": {"xoxb-1"}}, "")
	assert.Equal(t, true, body["ok"])
	assert.Equal(t, "U0BOT", body["user_id"])
	_, body = post(t, s, "nope.nothing", url.Values{}, "xoxb-1")
	assert.Equal(t, "unknown_method", body["error"])

	// apps.connections.open wants the app-level token.
	_, body = post(t, s, "apps.connections.open", url.Values{}, "xoxb-1")
	assert.Equal(t, "not_allowed_token_type", body["error"])
	_, body = post(t, s, "apps.connections.open", url.Values{}, "xapp-1")
	require.Equal(t, true, body["ok"])
	wsURL := body["url"].(string)
	assert.True(t, strings.HasPrefix(wsURL, "ws://127.0.0.1:"))

	// JSON bodies are read too.
	req, _ := http.NewRequest(http.MethodPost, s.APIURL()+"chat.postMessage", strings.NewReader(`{"channel":"C1","text":"json","blocks":[{"type":"divider"}]}`))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer xoxb-1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	msgs := s.Messages("C1")
	require.Len(t, msgs, 1)
	assert.Equal(t, "json", msgs[0].Text)
	assert.Contains(t, string(msgs[0].Blocks), `"block_id"`, "Slack assigns block ids")

	// Rate limits are HTTP 429 with Retry-After in whole seconds.
	s.InjectRateLimit("chat.postMessage", 1, 1500*time.Millisecond)
	resp, body = post(t, s, "chat.postMessage", url.Values{"channel": {"C1"}, "text": {"x"}}, "xoxb-1")
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "2", resp.Header.Get("Retry-After"))
	assert.Equal(t, "ratelimited", body["error"])

	_, body = post(t, s, "chat.postMessage", url.Values{"channel": {"C1"}}, "xoxb-1")
	assert.Equal(t, "no_text", body["error"])
	_, body = post(t, s, "chat.postMessage", url.Values{"channel": {"C1"}, "blocks": {`[{"type":"section"}]`}}, "xoxb-1")
	assert.Equal(t, "invalid_blocks", body["error"])

	for _, c := range s.Calls() {
		if tok, ok := c.Params["token"]; ok {
			assert.Contains(t, tok, "REDACTED")
		}
	}
}

func TestSocketHelloPingsAndAcks(t *testing.T) {
	s := New(Options{PingInterval: 20 * time.Millisecond})
	defer s.Close()
	_, body := post(t, s, "apps.connections.open", url.Values{}, "xapp-any")
	ws, _, err := websocket.DefaultDialer.Dial(body["url"].(string), nil)
	require.NoError(t, err)
	defer ws.Close()
	pinged := make(chan struct{}, 1)
	ws.SetPingHandler(func(string) error {
		select {
		case pinged <- struct{}{}:
		default:
		}
		return nil
	})

	var hello map[string]any
	require.NoError(t, ws.ReadJSON(&hello))
	assert.Equal(t, "hello", hello["type"])
	assert.Equal(t, 1.0, hello["num_connections"])
	assert.Equal(t, "A0FAKE", hello["connection_info"].(map[string]any)["app_id"])

	// A ticket is single-use.
	_, resp, err := websocket.DefaultDialer.Dial(body["url"].(string), nil)
	require.Error(t, err)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	env := s.SendSlashCommand("U1", "C1", "status")
	var got map[string]any
	require.NoError(t, ws.ReadJSON(&got))
	assert.Equal(t, env, got["envelope_id"])
	assert.Equal(t, "slash_commands", got["type"])
	assert.Equal(t, true, got["accepts_response_payload"])
	p := got["payload"].(map[string]any)
	assert.Equal(t, "/nexo", p["command"])
	assert.Equal(t, "status", p["text"])
	assert.Equal(t, "C1", p["channel_id"])
	assert.NotEmpty(t, p["trigger_id"])

	require.NoError(t, ws.WriteJSON(map[string]any{"envelope_id": env, "payload": map[string]any{"text": "ok"}}))
	// Reading drives the ping handler.
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	ack, err := s.WaitAck(env, time.Second)
	require.NoError(t, err)
	assert.JSONEq(t, `{"text":"ok"}`, string(ack.Payload))
	assert.Positive(t, ack.Latency)
	select {
	case <-pinged:
	case <-time.After(2 * time.Second):
		t.Fatal("no ping frame")
	}
	_, err = s.WaitAck("never-sent", 20*time.Millisecond)
	assert.Error(t, err)
}

// A held post whose caller hangs up is not posted; a released one is.
func TestHoldNext(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	s.AddChannel("C1", "deploys")
	arrived, _ := s.HoldNext("chat.postMessage")
	form := url.Values{"token": {"xoxb-test"}, "channel": {"C1"}, "text": {"first"}}
	req, err := http.NewRequest(http.MethodPost, s.APIURL()+"chat.postMessage", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_, err = (&http.Client{Timeout: 300 * time.Millisecond}).Do(req)
	require.Error(t, err, "a held call answered")
	<-arrived
	require.Eventually(t, func() bool { return s.CallCount("chat.postMessage") == 1 }, 2*time.Second, 10*time.Millisecond)
	assert.Empty(t, s.Messages("C1"), "a call whose caller hung up was posted")

	arrived, release := s.HoldNext("chat.postMessage")
	done := make(chan map[string]any, 1)
	go func() {
		_, body := post(t, s, "chat.postMessage", url.Values{"token": {"xoxb-test"}, "channel": {"C1"}, "text": {"second"}}, "")
		done <- body
	}()
	<-arrived
	release()
	body := <-done
	assert.Equal(t, true, body["ok"])
	msgs := s.Messages("C1")
	require.Len(t, msgs, 1)
	assert.Equal(t, "second", msgs[0].Text)
}
