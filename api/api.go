// Package api is nexo's read-only HTTP API, served on server.listen next
// to /healthz and /metrics: GET /api/v1/dora and GET /api/v1/audit. It
// exists for the terminal commands (`nexo-bot dora`, `nexo-bot audit`) run
// beside a bot whose bolt file they cannot open while the bot holds it, and
// gives the same answers as reading the store directly (both sides call
// the same functions: dora.Measure and Audit). Every request must
// carry `Authorization: Bearer <NEXO_API_TOKEN>`, compared in constant
// time; without NEXO_API_TOKEN on the bot the API is off.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/dora"
	"github.com/nexo-org/nexo-bot/commands/views"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/store"
)

// TokenEnv is the environment variable holding the API's bearer token, on
// the bot and for the CLI alike.
const TokenEnv = "NEXO_API_TOKEN"

// URLEnv names the bot's base URL for the CLI (default: derived from
// server.listen, e.g. http://127.0.0.1:8080).
const URLEnv = "NEXO_API_URL"

// Audit limits of the terminal (a terminal is not bound by Slack's blocks).
const (
	AuditDefaultLimit = views.AuditDefaultLimit
	AuditMaxLimit     = 1000
)

// DoraResponse is GET /api/v1/dora's answer.
type DoraResponse struct {
	Report   dora.Report `json:"report"`
	Notes    []string    `json:"notes,omitempty"`
	Recorded int         `json:"recorded"`
	Imported int         `json:"imported"`
}

// AuditResponse is GET /api/v1/audit's answer: entries newest first.
type AuditResponse struct {
	Service string             `json:"service"`
	Limit   int                `json:"limit"`
	Entries []store.AuditEntry `json:"entries"`
}

// ErrorResponse is the body of every non-200 answer.
type ErrorResponse struct {
	Error string `json:"error"`
}

// Audit is what `nexo-bot audit` shows, read from st: the service's audit
// log, newest first, at most limit entries (0: AuditDefaultLimit). Bad
// input is a *commands.Refusal.
func Audit(ctx context.Context, cfg *config.Config, st store.Store, service string, limit int) (AuditResponse, error) {
	svc, err := commands.ResolveService(cfg, service)
	if err != nil {
		return AuditResponse{}, err
	}
	if limit == 0 {
		limit = AuditDefaultLimit
	}
	if limit < 1 || limit > AuditMaxLimit {
		return AuditResponse{}, commands.Refusalf("--limit takes a number from 1 to %d, got %d.", AuditMaxLimit, limit)
	}
	entries, err := st.ListAudit(ctx, store.AuditFilter{Service: svc.Name, Limit: limit})
	if err != nil {
		return AuditResponse{}, fmt.Errorf("reading the audit log: %w", err)
	}
	if entries == nil {
		entries = []store.AuditEntry{}
	}
	return AuditResponse{Service: svc.Name, Limit: limit, Entries: entries}, nil
}

// Dora is what `nexo-bot dora` shows: the query parsed as `/nexo dora`
// parses it, computed from d.
func Dora(ctx context.Context, d *commands.Deps, words []string, since, until, tz string, now time.Time) (DoraResponse, error) {
	q, err := dora.ParseQuery(d.Config, words, since, until, tz, now)
	if err != nil {
		return DoraResponse{}, err
	}
	res, err := dora.Measure(ctx, d, q)
	if err != nil {
		return DoraResponse{}, err
	}
	return DoraResponse{Report: res.Report, Notes: dora.NotesIn(i18n.Default().In(i18n.English), res.Notes), Recorded: res.Recorded, Imported: res.Imported}, nil
}

// Handler serves /api/v1/.
type Handler struct {
	token [32]byte
	on    bool
	deps  *commands.Deps
	log   *slog.Logger
	mux   *http.ServeMux
}

// New builds the handler; an empty token turns the API off (404 with a
// sentence saying how to turn it on).
func New(token string, d *commands.Deps, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	h := &Handler{token: sha256.Sum256([]byte(token)), on: token != "", deps: d, log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /api/v1/dora", h.dora)
	h.mux.HandleFunc("GET /api/v1/audit", h.audit)
	return h
}

// ServeHTTP checks the token, then routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.on {
		writeJSON(w, http.StatusNotFound, ErrorResponse{Error: "the API is off: start nexo with " + TokenEnv + " set to enable /api/v1"})
		return
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	sum := sha256.Sum256([]byte(got))
	if !ok || subtle.ConstantTimeCompare(sum[:], h.token[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="nexo"`)
		writeJSON(w, http.StatusUnauthorized, ErrorResponse{Error: "missing or wrong bearer token: send " + TokenEnv + " as `Authorization: Bearer …`"})
		return
	}
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) dora(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), dora.Timeout)
	defer cancel()
	q := r.URL.Query()
	words := []string{q.Get("service")}
	if env := q.Get("env"); env != "" {
		words = append(words, env)
	}
	if words[0] == "" {
		words = nil
	}
	res, err := Dora(ctx, h.deps, words, q.Get("since"), q.Get("until"), q.Get("tz"), h.deps.Clock().Now())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (h *Handler) audit(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	q := r.URL.Query()
	limit := 0
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, ErrorResponse{Error: "limit must be a whole number"})
			return
		}
		limit = n
	}
	res, err := Audit(ctx, h.deps.Config, h.deps.Store, q.Get("service"), limit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// fail answers a refusal with its sentence, an unavailable store with the
// usual sentence, anything else with a reference to the log (raw error
// text stays in the log).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var refusal *commands.Refusal
	switch {
	case errors.As(err, &refusal):
		writeJSON(w, http.StatusBadRequest, ErrorResponse{Error: refusal.Error()})
	case errors.Is(err, store.ErrUnavailable):
		writeJSON(w, http.StatusServiceUnavailable, ErrorResponse{Error: "the state store is unavailable; try again in a moment"})
	default:
		ref := fmt.Sprintf("api-%d", time.Now().UnixNano()%1e9)
		h.log.Error("api", "path", r.URL.Path, "ref", ref, "err", err)
		writeJSON(w, http.StatusInternalServerError, ErrorResponse{Error: "internal error (reference " + ref + " in the bot's log)"})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
