package bot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// Paths served by HTTPHandler (set them as the Request URLs of the Slack
// app: Event Subscriptions, Interactivity and each slash command).
const (
	PathEvents      = "/slack/events"
	PathInteractive = "/slack/interactive"
	PathCommands    = "/slack/commands"
)

// DefaultMaxBody bounds an HTTP request body from Slack.
const DefaultMaxBody = 1 << 20

// ReplayTTL is how long a request signature is remembered; it outlives
// Slack's 5-minute timestamp window.
const ReplayTTL = 10 * time.Minute

// HTTPHandler serves Slack over HTTP for workspaces that do not allow
// Socket Mode: the Events API (with the url_verification challenge),
// interactivity and slash commands. Every request must carry a valid v0
// signature (X-Slack-Signature over "v0:<timestamp>:<body>" with the
// signing secret) and a timestamp within 5 minutes; a signature seen
// before is refused as a replay. Accepted requests take the same path as
// Socket Mode envelopes: de-duplication in the store, the worker pool, the
// router. Mount it at "/slack/".
func (b *Bot) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathEvents, b.serveEvents)
	mux.HandleFunc("POST "+PathInteractive, b.serveInteractive)
	mux.HandleFunc("POST "+PathCommands, b.serveCommands)
	return mux
}

// verified reads and checks a request; it writes the error response and
// returns ok=false when the request must not be handled. id names the
// request for de-duplication ("http-<hash of the signature>").
func (b *Bot) verified(w http.ResponseWriter, r *http.Request) (body []byte, id string, ok bool) {
	limit := b.opts.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			b.m.Errors.WithLabelValues("http_too_large").Inc()
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return nil, "", false
		}
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return nil, "", false
	}
	sv, err := slack.NewSecretsVerifier(r.Header, b.opts.SigningSecret)
	if err != nil {
		b.m.Errors.WithLabelValues("http_signature").Inc()
		reason := "missing or malformed signature" //i18n:verbatim HTTP answer to Slack, not to a person
		if errors.Is(err, slack.ErrExpiredTimestamp) {
			reason = "stale request timestamp" //i18n:verbatim HTTP answer to Slack, not to a person
		}
		b.log.Warn("slack http request refused", "path", r.URL.Path, "reason", reason)
		http.Error(w, reason, http.StatusUnauthorized)
		return nil, "", false
	}
	_, _ = sv.Write(body)
	if err := sv.Ensure(); err != nil {
		b.m.Errors.WithLabelValues("http_signature").Inc()
		b.log.Warn("slack http request refused", "path", r.URL.Path, "reason", "bad signature")
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return nil, "", false
	}
	sum := sha256.Sum256([]byte(r.Header.Get("X-Slack-Request-Timestamp") + ":" + r.Header.Get("X-Slack-Signature")))
	id = "http-" + hex.EncodeToString(sum[:12])
	dctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	first, err := b.dedupe.Dedupe(dctx, "slack:signature:"+id, ReplayTTL)
	cancel()
	switch {
	case err != nil:
		// The signature and the 5-minute window still hold; the handlers
		// refuse to change anything while the store is down.
		b.m.Errors.WithLabelValues("dedupe").Inc()
		b.log.Warn("replay check unavailable; request accepted on its signature", "err", err)
	case !first:
		b.m.Errors.WithLabelValues("http_replay").Inc()
		b.log.Warn("slack http request refused", "path", r.URL.Path, "reason", "replayed")
		http.Error(w, "replayed request", http.StatusUnauthorized)
		return nil, "", false
	}
	if !b.serving.Load() {
		http.Error(w, "starting or stopping", http.StatusServiceUnavailable)
		return nil, "", false
	}
	return body, id, true
}

func (b *Bot) serveEvents(w http.ResponseWriter, r *http.Request) {
	received := time.Now()
	body, id, ok := b.verified(w, r)
	if !ok {
		return
	}
	var outer struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
	}
	if err := json.Unmarshal(body, &outer); err != nil {
		http.Error(w, "not JSON", http.StatusBadRequest)
		return
	}
	switch outer.Type {
	case "url_verification":
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, outer.Challenge)
		return
	case "event_callback":
	default:
		w.WriteHeader(http.StatusOK) // app_rate_limited and the like: nothing to do
		return
	}
	b.m.Envelopes.WithLabelValues(string(socketmode.RequestTypeEventsAPI)).Inc()
	req := socketmode.Request{Type: socketmode.RequestTypeEventsAPI, EnvelopeID: id, Payload: body}
	b.enqueue(&work{req: req, evType: socketmode.EventTypeEventsAPI, received: received})
	w.WriteHeader(http.StatusOK)
	b.m.AckLatency.Observe(time.Since(received).Seconds())
}

func (b *Bot) serveInteractive(w http.ResponseWriter, r *http.Request) {
	received := time.Now()
	body, id, ok := b.verified(w, r)
	if !ok {
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("payload") == "" {
		http.Error(w, "no payload", http.StatusBadRequest)
		return
	}
	payload := []byte(form.Get("payload"))
	var ic slack.InteractionCallback
	if err := json.Unmarshal(payload, &ic); err != nil {
		b.m.Errors.WithLabelValues("bad_message").Inc()
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	b.m.Envelopes.WithLabelValues(string(socketmode.RequestTypeInteractive)).Inc()
	req := socketmode.Request{Type: socketmode.RequestTypeInteractive, EnvelopeID: id, Payload: payload}
	wk := &work{req: req, evType: socketmode.EventTypeInteractive, data: ic, received: received}
	if ic.Type == slack.InteractionTypeViewSubmission {
		b.qmu.Lock()
		closed := b.closed
		if !closed {
			b.inflight.Add(1)
		}
		b.qmu.Unlock()
		if closed {
			http.Error(w, "stopping", http.StatusServiceUnavailable)
			return
		}
		b.subSem <- struct{}{}
		answered := make(chan any, 1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			b.answerSubmission(wk, ic, func(p any) { answered <- p })
		}()
		var resp any
		select {
		case resp = <-answered:
		case <-r.Context().Done():
			return
		}
		if resp != nil {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(resp)
		} else {
			w.WriteHeader(http.StatusOK)
		}
		b.m.AckLatency.Observe(time.Since(received).Seconds())
		return
	}
	b.enqueue(wk)
	w.WriteHeader(http.StatusOK)
	b.m.AckLatency.Observe(time.Since(received).Seconds())
}

func (b *Bot) serveCommands(w http.ResponseWriter, r *http.Request) {
	received := time.Now()
	body, id, ok := b.verified(w, r)
	if !ok {
		return
	}
	clone := r.Clone(r.Context())
	clone.Body = io.NopCloser(bytes.NewReader(body))
	clone.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sc, err := slack.SlashCommandParse(clone)
	if err != nil || sc.UserID == "" || sc.ChannelID == "" {
		http.Error(w, "bad slash command", http.StatusBadRequest)
		return
	}
	b.m.Envelopes.WithLabelValues(string(socketmode.RequestTypeSlashCommands)).Inc()
	req := socketmode.Request{Type: socketmode.RequestTypeSlashCommands, EnvelopeID: id, Payload: json.RawMessage(strings.TrimSpace("{}"))}
	b.enqueue(&work{req: req, evType: socketmode.EventTypeSlashCommand, data: sc, received: received})
	// An empty 200 keeps the command line out of the channel; the answer
	// comes as an ephemeral or a post, as in Socket Mode.
	w.WriteHeader(http.StatusOK)
	b.m.AckLatency.Observe(time.Since(received).Seconds())
}
