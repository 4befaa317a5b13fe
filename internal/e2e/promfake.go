package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
)

// PromFake answers Prometheus's /api/v1/query and /api/v1/query_range with
// the real JSON envelope, returning a value the test sets (the error rate).
type PromFake struct {
	srv     *httptest.Server
	mu      sync.Mutex
	value   float64
	queries []string
}

// NewPromFake starts the fake.
func NewPromFake() *PromFake {
	p := &PromFake{}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/query", p.query)
	mux.HandleFunc("/api/v1/query_range", p.queryRange)
	p.srv = httptest.NewServer(mux)
	return p
}

// URL is prometheus.url.
func (p *PromFake) URL() string { return p.srv.URL }

// Close stops it.
func (p *PromFake) Close() { p.srv.Close() }

// Set sets the value every query returns.
func (p *PromFake) Set(v float64) {
	p.mu.Lock()
	p.value = v
	p.mu.Unlock()
}

// Queries lists the PromQL received.
func (p *PromFake) Queries() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.queries...)
}

func (p *PromFake) read(r *http.Request) (string, float64) {
	_ = r.ParseForm()
	q := r.Form.Get("query")
	p.mu.Lock()
	defer p.mu.Unlock()
	p.queries = append(p.queries, q)
	return q, p.value
}

func (p *PromFake) query(w http.ResponseWriter, r *http.Request) {
	q, v := p.read(r)
	if q == "" {
		writeProm(w, http.StatusBadRequest, map[string]any{"status": "error", "errorType": "bad_data", "error": "invalid parameter \"query\": empty"})
		return
	}
	ts := float64(time.Now().Unix())
	if t := r.Form.Get("time"); t != "" {
		if f, err := strconv.ParseFloat(t, 64); err == nil {
			ts = f
		}
	}
	writeProm(w, http.StatusOK, map[string]any{"status": "success", "data": map[string]any{
		"resultType": "vector",
		"result":     []any{map[string]any{"metric": map[string]string{}, "value": []any{ts, fmt.Sprint(v)}}},
	}})
}

func (p *PromFake) queryRange(w http.ResponseWriter, r *http.Request) {
	_, v := p.read(r)
	start, _ := strconv.ParseFloat(r.Form.Get("start"), 64)
	end, _ := strconv.ParseFloat(r.Form.Get("end"), 64)
	step, _ := strconv.ParseFloat(r.Form.Get("step"), 64)
	if step <= 0 {
		step = 60
	}
	var values []any
	for t := start; t <= end && len(values) < 11000; t += step {
		values = append(values, []any{t, fmt.Sprint(v)})
	}
	writeProm(w, http.StatusOK, map[string]any{"status": "success", "data": map[string]any{
		"resultType": "matrix",
		"result":     []any{map[string]any{"metric": map[string]string{}, "values": values}},
	}})
}

func writeProm(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
