package bot

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/nexo-org/nexo-bot/chat"
)

// fzHandler records clicks and answers nothing.
type fzHandler struct{ clicks []chat.Click }

func (h *fzHandler) HandleCommand(context.Context, chat.Command) (*chat.Reply, error) {
	return nil, nil
}
func (h *fzHandler) HandleClick(_ context.Context, c chat.Click) (*chat.Reply, error) {
	h.clicks = append(h.clicks, c)
	return nil, nil
}
func (h *fzHandler) HandleSubmission(context.Context, chat.Submission) (map[string]string, error) {
	return nil, nil
}
func (h *fzHandler) HandleEvent(context.Context, chat.Event) error { return nil }

// FuzzInteractionPayload decodes interactivity payloads (block_actions,
// view_submission) the way both transports do and maps them to clicks and
// submissions: no panic, one click per action with its value intact.
func FuzzInteractionPayload(f *testing.F) {
	f.Add([]byte(`{"type":"block_actions","user":{"id":"U1"},"channel":{"id":"C1"},"container":{"message_ts":"1.2","thread_ts":"1.1"},"actions":[{"action_id":"change.approve","value":"change-1","type":"button"}]}`))
	f.Add([]byte(`{"type":"block_actions","actions":[{"action_id":"a","value":"x|y"},{"action_id":"b"}],"message":{"ts":"9.9"}}`))
	f.Add([]byte(`{"type":"view_submission","view":{"callback_id":"change.reject","private_metadata":"wf","state":{"values":{"reason":{"r":{"type":"plain_text_input","value":"no"}}}}}}`))
	f.Add([]byte(`{"type":"block_actions","actions":null,"container":{"channel_id":"C9"}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var ic slack.InteractionCallback
		if json.Unmarshal(payload, &ic) != nil {
			return
		}
		h := &fzHandler{}
		b := &Bot{opts: Options{Handler: h}, m: orNewMetrics(nil), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		b.handleClicks(context.Background(), ic)
		if len(h.clicks) != len(ic.ActionCallback.BlockActions) {
			t.Fatalf("%d clicks for %d actions", len(h.clicks), len(ic.ActionCallback.BlockActions))
		}
		for i, a := range ic.ActionCallback.BlockActions {
			if h.clicks[i].Value != a.Value || h.clicks[i].Action != a.ActionID || h.clicks[i].UserID != ic.User.ID {
				t.Fatalf("click %d = %+v for action %+v", i, h.clicks[i], a)
			}
		}
		sub := submissionOf(ic)
		if sub.CallbackID != ic.View.CallbackID || sub.Values == nil {
			t.Fatalf("submission %+v", sub)
		}
		_ = dedupeKey(socketmode.Request{Type: socketmode.RequestTypeInteractive, EnvelopeID: "e", Payload: payload})
	})
}

// FuzzEventPayload maps Events API payloads to chat events and dedupe keys.
func FuzzEventPayload(f *testing.F) {
	f.Add([]byte(`{"type":"event_callback","event_id":"Ev1","event":{"type":"reaction_added","user":"U1","reaction":"eyes","item":{"channel":"C1","ts":"1.2"}}}`))
	f.Add([]byte(`{"event_id":"Ev2","event":{"type":"message","subtype":"bot_message","bot_id":"B1"}}`))
	f.Add([]byte(`{"event":{"type":"pin_added","channel_id":"C1","item":{"message":{"ts":"1.0","text":"hi"}}}}`))
	f.Add([]byte(`{"event":{"type":"message","ts":"1e400"}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		e, ok := eventOf(payload, "U0BOT")
		if ok && (e.Type == "" || e.UserID == "U0BOT") {
			t.Fatalf("event %+v accepted", e)
		}
		key := dedupeKey(socketmode.Request{Type: socketmode.RequestTypeEventsAPI, EnvelopeID: "env", Payload: payload})
		if key == "" {
			t.Fatal("empty dedupe key")
		}
		_ = commandLabel(string(payload))
	})
}
