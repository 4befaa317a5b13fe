// Package memserver is an in-memory server of Loki's HTTP API: push
// (/loki/api/v1/push, JSON) and log queries (/loki/api/v1/query_range)
// with the LogQL subset nexo uses. It speaks Loki's wire format, status
// codes and plain-text errors, so nexo's Loki client can be pointed at it
// by the sandbox and by tests on machines without Grafana Loki (Debian does
// not package it).
package memserver

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultTenant is the tenant used when multi-tenancy is off, as in Loki
// with auth_enabled: false.
const DefaultTenant = "fake"

// maxLimit is Loki's default max_entries_limit_per_query.
const maxLimit = 5000

// Options configure a Server.
type Options struct {
	// RequireTenant makes X-Scope-OrgID mandatory and keeps each tenant's
	// logs apart, like Loki with auth_enabled: true. When false every
	// request uses DefaultTenant.
	RequireTenant bool
}

// Server holds pushed logs in memory and answers queries over them.
// It is an http.Handler and safe for concurrent use.
type Server struct {
	opts Options
	mu   sync.RWMutex
	// tenant → stream key → stream
	data map[string]map[string]*memStream
}

type memStream struct {
	labels  map[string]string
	entries []memEntry
	seen    map[memEntry]bool
}

type memEntry struct {
	ns   int64
	line string
}

// New returns an empty server.
func New(opts Options) *Server {
	return &Server{opts: opts, data: map[string]map[string]*memStream{}}
}

// ServeHTTP routes Loki's endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/ready":
		_, _ = io.WriteString(w, "ready\n")
	case "/loki/api/v1/push":
		if r.Method != http.MethodPost {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		s.push(w, r)
	case "/loki/api/v1/query_range":
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		s.queryRange(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) tenant(w http.ResponseWriter, r *http.Request) (string, bool) {
	if !s.opts.RequireTenant {
		return DefaultTenant, true
	}
	t := r.Header.Get("X-Scope-OrgID")
	if t == "" {
		http.Error(w, "no org id", http.StatusUnauthorized)
		return "", false
	}
	return t, true
}

type pushBody struct {
	Streams []struct {
		Stream map[string]string   `json:"stream"`
		Values [][]json.RawMessage `json:"values"`
	} `json:"streams"`
}

func (s *Server) push(w http.ResponseWriter, r *http.Request) {
	tenant, ok := s.tenant(w, r)
	if !ok {
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		http.Error(w, "unsupported Content-Type "+strconv.Quote(ct)+": this server accepts application/json pushes only", http.StatusUnsupportedMediaType)
		return
	}
	var body pushBody
	if err := json.NewDecoder(io.LimitReader(r.Body, 16<<20)).Decode(&body); err != nil {
		http.Error(w, "loghttp.PushRequest.Streams: "+err.Error(), http.StatusBadRequest)
		return
	}
	type parsed struct {
		labels  map[string]string
		entries []memEntry
	}
	var all []parsed
	for _, st := range body.Streams {
		if len(st.Stream) == 0 {
			http.Error(w, "error at least one label pair is required per stream", http.StatusBadRequest)
			return
		}
		p := parsed{labels: st.Stream}
		for _, v := range st.Values {
			var ts, line string
			if len(v) < 2 || json.Unmarshal(v[0], &ts) != nil || json.Unmarshal(v[1], &line) != nil {
				http.Error(w, "loghttp.PushRequest.Streams: each value must be [\"<unix ns>\", \"<line>\"]", http.StatusBadRequest)
				return
			}
			ns, err := strconv.ParseInt(ts, 10, 64)
			if err != nil {
				http.Error(w, fmt.Sprintf("loghttp.PushRequest.Streams: invalid timestamp %q", ts), http.StatusBadRequest)
				return
			}
			p.entries = append(p.entries, memEntry{ns: ns, line: line})
		}
		all = append(all, p)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	streams := s.data[tenant]
	if streams == nil {
		streams = map[string]*memStream{}
		s.data[tenant] = streams
	}
	for _, p := range all {
		key := labelsKey(p.labels)
		ms := streams[key]
		if ms == nil {
			ms = &memStream{labels: copyLabels(p.labels), seen: map[memEntry]bool{}}
			streams[key] = ms
		}
		for _, e := range p.entries {
			if ms.seen[e] { // Loki drops an exact duplicate (same time and line)
				continue
			}
			ms.seen[e] = true
			ms.entries = append(ms.entries, e)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

type outEntry struct {
	ns     int64
	line   string
	labels map[string]string
}

func (s *Server) queryRange(w http.ResponseWriter, r *http.Request) {
	tenant, ok := s.tenant(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now()
	end, err := parseTimestamp(r.Form.Get("end"), now)
	if err != nil {
		http.Error(w, "invalid end: "+err.Error(), http.StatusBadRequest)
		return
	}
	start, err := parseTimestamp(r.Form.Get("start"), end.Add(-time.Hour))
	if err != nil {
		http.Error(w, "invalid start: "+err.Error(), http.StatusBadRequest)
		return
	}
	if end.Before(start) {
		http.Error(w, "end timestamp must not be before or equal to start time", http.StatusBadRequest)
		return
	}
	limit := 100
	if v := r.Form.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit <= 0 {
			http.Error(w, "limit must be a positive value", http.StatusBadRequest)
			return
		}
	}
	if limit > maxLimit {
		http.Error(w, fmt.Sprintf("max entries limit per query exceeded, limit > max_entries_limit (%d > %d)", limit, maxLimit), http.StatusBadRequest)
		return
	}
	dir := strings.ToLower(r.Form.Get("direction"))
	if dir == "" {
		dir = "backward"
	}
	if dir != "backward" && dir != "forward" {
		http.Error(w, "invalid direction", http.StatusBadRequest)
		return
	}
	q, err := parseLogQuery(r.Form.Get("query"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}

	var out []outEntry
	s.mu.RLock()
	for _, ms := range s.data[tenant] {
		match := true
		for _, m := range q.selector {
			if !m.matches(ms.labels) {
				match = false
				break
			}
		}
		if !match {
			continue
		}
	entries:
		for _, e := range ms.entries {
			// Loki's range is start inclusive, end exclusive.
			if e.ns < start.UnixNano() || e.ns >= end.UnixNano() {
				continue
			}
			line, labels := e.line, copyLabels(ms.labels)
			for _, st := range q.stages {
				if !st(&line, labels) {
					continue entries
				}
			}
			out = append(out, outEntry{ns: e.ns, line: line, labels: labels})
		}
	}
	s.mu.RUnlock()

	sort.SliceStable(out, func(i, j int) bool {
		if dir == "forward" {
			return out[i].ns < out[j].ns
		}
		return out[i].ns > out[j].ns
	})
	if len(out) > limit {
		out = out[:limit]
	}
	writeStreams(w, out)
}

// writeStreams groups entries by label set into Loki's "streams" result.
func writeStreams(w http.ResponseWriter, out []outEntry) {
	type wireStream struct {
		Stream map[string]string `json:"stream"`
		Values [][2]string       `json:"values"`
	}
	idx := map[string]int{}
	result := []wireStream{}
	for _, e := range out {
		key := labelsKey(e.labels)
		i, ok := idx[key]
		if !ok {
			i = len(result)
			idx[key] = i
			result = append(result, wireStream{Stream: e.labels})
		}
		result[i].Values = append(result[i].Values, [2]string{strconv.FormatInt(e.ns, 10), e.line})
	}
	resp := map[string]any{
		"status": "success",
		"data": map[string]any{
			"resultType": "streams",
			"result":     result,
			"stats": map[string]any{
				"summary": map[string]any{"totalEntriesReturned": len(out)},
			},
		},
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(resp)
}

// parseTimestamp reads Loki's time formats: nanoseconds (or seconds when
// at most 10 digits), float seconds, or RFC 3339.
func parseTimestamp(v string, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	if strings.Contains(v, ".") && !strings.ContainsAny(v, "T:-") {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return time.Time{}, err
		}
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", v)
		}
		return t, nil
	}
	if len(v) <= 10 {
		return time.Unix(n, 0), nil
	}
	return time.Unix(0, n), nil
}

func labelsKey(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(l[k]))
	}
	b.WriteByte('}')
	return b.String()
}

func copyLabels(l map[string]string) map[string]string {
	out := make(map[string]string, len(l))
	for k, v := range l {
		out[k] = v
	}
	return out
}
