// Package alerts receives Alertmanager's webhook (POST /hooks/alertmanager,
// webhook payload version 4): bearer-token auth compared in constant time,
// a 1 MiB body limit, de-duplication of each alert by fingerprint, status
// and start time in the store, then incident.ReceiveAlert for each new one.
package alerts

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/incident"
	"github.com/nexo-org/nexo-bot/store"
)

// MaxBody is the largest payload accepted (413 above).
const MaxBody = 1 << 20

// DedupeTTL is how long a (fingerprint, status, startsAt) is remembered.
// Alertmanager re-sends firing alerts every repeat_interval (4h by default)
// and retries failed deliveries; both are dropped within this window.
const DedupeTTL = 24 * time.Hour

// FailuresCollection counts failed attempts per alert key (see ServeHTTP).
const FailuresCollection = "alert_failures"

// Webhook is Alertmanager's webhook payload (version "4").
type Webhook struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []WebhookAlert    `json:"alerts"`
}

// WebhookAlert is one alert of the payload.
type WebhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Receiver handles one new alert.
type Receiver func(ctx context.Context, a incident.Alert) error

// Options configure the handler.
type Options struct {
	// Token is ALERTMANAGER_WEBHOOK_TOKEN; empty disables the endpoint (503).
	Token string
	// Store de-duplicates alerts.
	Store store.Store
	// Receive handles each new alert (incident.ReceiveAlert in production).
	Receive Receiver
	Log     *slog.Logger
	// Timeout bounds handling one payload (default 30s).
	Timeout time.Duration
}

// Handler serves the webhook.
type Handler struct {
	o     Options
	token [32]byte
}

// New builds the handler.
func New(o Options) *Handler {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	return &Handler{o: o, token: sha256.Sum256([]byte(o.Token))}
}

// ForDeps is the production handler: alerts go to incident.ReceiveAlert.
func ForDeps(token string, d *commands.Deps) *Handler {
	return New(Options{Token: token, Store: d.Store, Log: d.Log, Receive: func(ctx context.Context, a incident.Alert) error {
		return incident.ReceiveAlert(ctx, d, a)
	}})
}

// authorized compares the bearer token in constant time (over SHA-256
// digests, so the length is not revealed either).
func (h *Handler) authorized(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(got[:], h.token[:]) == 1
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if h.o.Token == "" {
		http.Error(w, "the Alertmanager webhook is disabled: set ALERTMANAGER_WEBHOOK_TOKEN", http.StatusServiceUnavailable)
		return
	}
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="nexo"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if r.ContentLength > MaxBody {
		http.Error(w, "payload too large (limit 1 MiB)", http.StatusRequestEntityTooLarge)
		return
	}
	var p Webhook
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBody))
	if err := dec.Decode(&p); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, "payload too large (limit 1 MiB)", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "not an Alertmanager webhook payload: "+err.Error(), http.StatusBadRequest)
		return
	}
	if p.Version != "" && p.Version != "4" {
		http.Error(w, fmt.Sprintf("unsupported webhook version %q (want 4)", p.Version), http.StatusBadRequest)
		return
	}
	for i, a := range p.Alerts {
		if a.Status != "firing" && a.Status != "resolved" {
			http.Error(w, fmt.Sprintf("alerts[%d].status must be firing or resolved", i), http.StatusBadRequest)
			return
		}
		if a.Fingerprint == "" {
			http.Error(w, fmt.Sprintf("alerts[%d].fingerprint is missing", i), http.StatusBadRequest)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.o.Timeout)
	defer cancel()
	handled, dup := 0, 0
	for _, wa := range p.Alerts {
		key := "alert:" + wa.Fingerprint + ":" + wa.Status + ":" + wa.StartsAt.UTC().Format(time.RFC3339)
		// A failed attempt bumps the generation, so Alertmanager's retry is
		// not taken for a duplicate of the attempt that failed.
		var gen int
		if err := h.o.Store.GetDoc(ctx, FailuresCollection, key, &gen); err != nil && !errors.Is(err, store.ErrNotFound) {
			h.unavailable(w, err)
			return
		}
		first, err := h.o.Store.Dedupe(ctx, fmt.Sprintf("%s#%d", key, gen), DedupeTTL)
		if err != nil {
			h.unavailable(w, err)
			return
		}
		if !first {
			dup++
			continue
		}
		a := incident.Alert{Status: wa.Status, Labels: merge(p.CommonLabels, wa.Labels), Annotations: merge(p.CommonAnnotations, wa.Annotations),
			StartsAt: wa.StartsAt, EndsAt: wa.EndsAt, GeneratorURL: wa.GeneratorURL, Fingerprint: wa.Fingerprint}
		if err := h.o.Receive(ctx, a); err != nil {
			h.o.Log.Error("alert", "alertname", a.Labels["alertname"], "fingerprint", a.Fingerprint, "err", err)
			_ = h.o.Store.PutDoc(context.WithoutCancel(ctx), FailuresCollection, key, gen+1)
			http.Error(w, "could not handle the alert; Alertmanager will retry", http.StatusInternalServerError)
			return
		}
		if gen > 0 {
			_ = h.o.Store.DeleteDoc(ctx, FailuresCollection, key)
		}
		handled++
	}
	h.o.Log.Info("alertmanager webhook", "receiver", p.Receiver, "alerts", len(p.Alerts), "handled", handled, "duplicates", dup)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]int{"handled": handled, "duplicates": dup})
}

func (h *Handler) unavailable(w http.ResponseWriter, err error) {
	h.o.Log.Error("alert dedupe", "err", err)
	http.Error(w, "state store unavailable", http.StatusServiceUnavailable)
}

func merge(common, own map[string]string) map[string]string {
	out := make(map[string]string, len(common)+len(own))
	for k, v := range common {
		out[k] = v
	}
	for k, v := range own {
		out[k] = v
	}
	return out
}
