// Package promfake is a tiny Prometheus HTTP API for tests and the sandbox:
// /api/v1/query and /api/v1/query_range answer with Prometheus's real JSON
// envelope ({"status":"success","data":{"resultType":…}}), and 400 with
// errorType bad_data for an empty query. The value returned is chosen by
// the caller: a default, or an error rate per service (matched on the
// query's service="…" label matcher, as nexo's error-rate query has).
package promfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/nexo-org/nexo-bot/internal/calllog"
)

// Server is the fake Prometheus.
type Server struct {
	srv     *httptest.Server
	mu      sync.Mutex
	value   float64
	rates   map[string]float64
	queries calllog.Log[string]
}

// New starts the fake on a random loopback port.
func New() *Server {
	p := &Server{rates: map[string]float64{}}
	p.queries.Keep(10000)
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/query", p.query)
	mux.HandleFunc("/api/v1/query_range", p.queryRange)
	p.srv = httptest.NewServer(mux)
	return p
}

// URL is prometheus.url.
func (p *Server) URL() string { return p.srv.URL }

// Close stops it.
func (p *Server) Close() { p.srv.Close() }

// Set sets the value every query returns unless a per-service rate matches.
func (p *Server) Set(v float64) {
	p.mu.Lock()
	p.value = v
	p.mu.Unlock()
}

// SetErrorRate makes queries naming service="<service>" return v.
func (p *Server) SetErrorRate(service string, v float64) {
	p.mu.Lock()
	p.rates[service] = v
	p.mu.Unlock()
}

// Reset forgets the per-service rates and sets the default to v.
func (p *Server) Reset(v float64) {
	p.mu.Lock()
	p.value = v
	p.rates = map[string]float64{}
	p.mu.Unlock()
}

// Value is what a query returns now.
func (p *Server) Value(query string) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.valueLocked(query)
}

var serviceRE = regexp.MustCompile(`service="([^"]*)"`)

func (p *Server) valueLocked(q string) float64 {
	if m := serviceRE.FindStringSubmatch(q); m != nil {
		if v, ok := p.rates[m[1]]; ok {
			return v
		}
	}
	return p.value
}

// Queries lists the PromQL received.
func (p *Server) Queries() []string { return p.queries.All() }

func (p *Server) read(r *http.Request) (string, float64) {
	_ = r.ParseForm()
	q := r.Form.Get("query")
	p.queries.Add(q)
	p.mu.Lock()
	defer p.mu.Unlock()
	return q, p.valueLocked(q)
}

func (p *Server) query(w http.ResponseWriter, r *http.Request) {
	q, v := p.read(r)
	if q == "" {
		write(w, http.StatusBadRequest, map[string]any{"status": "error", "errorType": "bad_data", "error": "invalid parameter \"query\": empty"})
		return
	}
	ts := float64(time.Now().Unix())
	if t := r.Form.Get("time"); t != "" {
		if f, err := strconv.ParseFloat(t, 64); err == nil {
			ts = f
		}
	}
	write(w, http.StatusOK, map[string]any{"status": "success", "data": map[string]any{
		"resultType": "vector",
		"result":     []any{map[string]any{"metric": map[string]string{}, "value": []any{ts, fmt.Sprint(v)}}},
	}})
}

func (p *Server) queryRange(w http.ResponseWriter, r *http.Request) {
	q, v := p.read(r)
	if q == "" {
		write(w, http.StatusBadRequest, map[string]any{"status": "error", "errorType": "bad_data", "error": "invalid parameter \"query\": empty"})
		return
	}
	start, _ := strconv.ParseFloat(r.Form.Get("start"), 64)
	end, _ := strconv.ParseFloat(r.Form.Get("end"), 64)
	step, _ := strconv.ParseFloat(r.Form.Get("step"), 64)
	if step <= 0 {
		step = 60
	}
	values := []any{}
	for t := start; t <= end && len(values) < 11000; t += step {
		values = append(values, []any{t, fmt.Sprint(v)})
	}
	write(w, http.StatusOK, map[string]any{"status": "success", "data": map[string]any{
		"resultType": "matrix",
		"result":     []any{map[string]any{"metric": map[string]string{}, "values": values}},
	}})
}

func write(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
