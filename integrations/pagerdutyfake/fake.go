// Package pagerdutyfake is an Events API v2 server for tests and the
// sandbox: it validates bodies as PagerDuty does and records the events.
package pagerdutyfake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/nexo-org/nexo-bot/internal/calllog"
)

// Event is a recorded event (the raw Events API v2 body).
type Event struct {
	RoutingKey  string `json:"routing_key"`
	EventAction string `json:"event_action"`
	DedupKey    string `json:"dedup_key"`
	Payload     *struct {
		Summary  string `json:"summary"`
		Source   string `json:"source"`
		Severity string `json:"severity"`
	} `json:"payload"`
}

// Server is the fake.
type Server struct {
	srv    *httptest.Server
	mu     sync.Mutex
	events calllog.Log[Event]
	// RoutingKey, when set, is the only key accepted.
	RoutingKey string
}

// New starts the fake.
func New() *Server {
	s := &Server{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/enqueue", s.enqueue)
	s.srv = httptest.NewServer(mux)
	return s
}

// URL is the base URL (pagerduty.url).
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Events returns what was received.
func (s *Server) Events() []Event { return s.events.All() }

func (s *Server) enqueue(w http.ResponseWriter, r *http.Request) {
	var e Event
	bad := func(msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": []string{msg}})
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 512<<10)).Decode(&e); err != nil {
		bad("Invalid JSON")
		return
	}
	switch {
	case len(e.RoutingKey) != 32 && s.RoutingKey == "":
		bad("'routing_key' is invalid")
		return
	case s.RoutingKey != "" && e.RoutingKey != s.RoutingKey:
		bad("'routing_key' is invalid")
		return
	case e.EventAction != "trigger" && e.EventAction != "acknowledge" && e.EventAction != "resolve":
		bad("'event_action' is invalid")
		return
	case e.EventAction == "trigger" && (e.Payload == nil || e.Payload.Summary == "" || e.Payload.Source == "" || e.Payload.Severity == ""):
		bad("'payload' is missing or incomplete")
		return
	case e.EventAction != "trigger" && e.DedupKey == "":
		bad("'dedup_key' is required")
		return
	}
	if e.DedupKey == "" {
		e.DedupKey = "generated-" + e.Payload.Summary
	}
	s.events.Add(e)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": "success", "message": "Event processed", "dedup_key": e.DedupKey})
}
