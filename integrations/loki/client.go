package loki

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout bounds every request when Options.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// DefaultLimit is Loki's own default number of entries.
const DefaultLimit = 100

// MaxLimit is the largest limit the client sends (Loki's default
// max_entries_limit_per_query).
const MaxLimit = 5000

// DefaultRange is the window used when Query.Start is zero.
const DefaultRange = time.Hour

// Options configure an HTTPClient.
type Options struct {
	// Timeout bounds each request (default DefaultTimeout).
	Timeout time.Duration
	// Tenant, when set, is sent as X-Scope-OrgID.
	Tenant string
	// BearerToken, when set, is sent as "Authorization: Bearer <token>".
	// It never appears in errors.
	BearerToken string
	// Insecure skips TLS certificate verification (self-signed test servers).
	Insecure bool
}

// HTTPClient is a Client of Loki's HTTP API.
type HTTPClient struct {
	base *url.URL
	http *http.Client
	opts Options
}

var _ Client = (*HTTPClient)(nil)

// NewClient returns a client of the Loki server at rawURL
// (for example http://loki:3100).
func NewClient(rawURL string, opts Options) (*HTTPClient, error) {
	u, err := parseBase(rawURL)
	if err != nil {
		return nil, err
	}
	if opts.Timeout < 0 {
		return nil, errors.New("loki: timeout must not be negative")
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if opts.Insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // opt-in for test servers
	}
	return &HTTPClient{base: u, http: &http.Client{Transport: tr, Timeout: opts.Timeout}, opts: opts}, nil
}

func parseBase(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("loki: url must be an http(s) URL, got %q", rawURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u, nil
}

// QueryRange runs a log query (GET /loki/api/v1/query_range). A zero End
// is now, a zero Start is End − DefaultRange; Limit defaults to 100 and
// Direction to "backward". Entries come back in time order for "forward"
// and newest first for "backward", each with its stream's labels.
func (c *HTTPClient) QueryRange(ctx context.Context, q Query) ([]Entry, error) {
	if strings.TrimSpace(q.LogQL) == "" {
		return nil, errors.New("loki: empty query")
	}
	if q.End.IsZero() {
		q.End = time.Now()
	}
	if q.Start.IsZero() {
		q.Start = q.End.Add(-DefaultRange)
	}
	if q.Start.After(q.End) {
		return nil, fmt.Errorf("loki: start %s is after end %s", q.Start.Format(time.RFC3339), q.End.Format(time.RFC3339))
	}
	switch {
	case q.Limit < 0:
		return nil, fmt.Errorf("loki: limit must not be negative, got %d", q.Limit)
	case q.Limit == 0:
		q.Limit = DefaultLimit
	case q.Limit > MaxLimit:
		q.Limit = MaxLimit
	}
	switch q.Direction {
	case "":
		q.Direction = "backward"
	case "backward", "forward":
	default:
		return nil, fmt.Errorf("loki: direction must be forward or backward, got %q", q.Direction)
	}
	v := url.Values{}
	v.Set("query", q.LogQL)
	v.Set("start", strconv.FormatInt(q.Start.UnixNano(), 10))
	v.Set("end", strconv.FormatInt(q.End.UnixNano(), 10))
	v.Set("limit", strconv.Itoa(q.Limit))
	v.Set("direction", q.Direction)
	u := *c.base
	u.Path += "/loki/api/v1/query_range"
	u.RawQuery = v.Encode()

	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("loki: %w", err)
	}
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("loki: query_range: %w", redact(err, c.opts.BearerToken))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("loki: query_range: reading response: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("loki: query_range: %s: %s", resp.Status, errorMessage(body))
	}
	entries, err := decodeStreams(body)
	if err != nil {
		return nil, fmt.Errorf("loki: query_range: %w", err)
	}
	sortEntries(entries, q.Direction)
	if len(entries) > q.Limit {
		entries = entries[:q.Limit]
	}
	return entries, nil
}

func (c *HTTPClient) authorize(req *http.Request) {
	if c.opts.Tenant != "" {
		req.Header.Set("X-Scope-OrgID", c.opts.Tenant)
	}
	if c.opts.BearerToken != "" {
		req.Header.Set("Authorization", "Bearer "+c.opts.BearerToken)
	}
}

// queryResponse is Loki's query_range answer.
type queryResponse struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// stream is one entry of a "streams" result.
type stream struct {
	Stream map[string]string   `json:"stream"`
	Values [][]json.RawMessage `json:"values"`
}

func decodeStreams(body []byte) ([]Entry, error) {
	var r queryResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("malformed response: %v", err)
	}
	if r.Status != "success" {
		msg := r.Error
		if msg == "" {
			msg = "status " + strconv.Quote(r.Status)
		}
		return nil, errors.New(msg)
	}
	if r.Data.ResultType != "streams" {
		return nil, fmt.Errorf("result is %q, want streams (a log query, not a metric query)", r.Data.ResultType)
	}
	var streams []stream
	if err := json.Unmarshal(r.Data.Result, &streams); err != nil {
		return nil, fmt.Errorf("malformed streams: %v", err)
	}
	var out []Entry
	for _, s := range streams {
		for _, v := range s.Values {
			if len(v) < 2 {
				return nil, fmt.Errorf("malformed value: want [\"<ns>\", \"<line>\"], got %d elements", len(v))
			}
			var ts, line string
			if err := json.Unmarshal(v[0], &ts); err != nil {
				return nil, fmt.Errorf("malformed timestamp %s", v[0])
			}
			if err := json.Unmarshal(v[1], &line); err != nil {
				return nil, fmt.Errorf("malformed line: %v", err)
			}
			ns, err := strconv.ParseInt(ts, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("malformed timestamp %q", ts)
			}
			out = append(out, Entry{Time: time.Unix(0, ns).UTC(), Line: line, Labels: s.Stream})
		}
	}
	return out, nil
}

func sortEntries(e []Entry, direction string) {
	if direction == "forward" {
		sort.SliceStable(e, func(i, j int) bool { return e[i].Time.Before(e[j].Time) })
		return
	}
	sort.SliceStable(e, func(i, j int) bool { return e[i].Time.After(e[j].Time) })
}

// errorMessage is Loki's error text: plain text for 4xx, sometimes JSON.
func errorMessage(body []byte) string {
	var r queryResponse
	if json.Unmarshal(body, &r) == nil && r.Error != "" {
		return r.Error
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 512 {
		s = s[:512] + "…"
	}
	if s == "" {
		s = "(empty body)"
	}
	return s
}

// redact removes a secret from an error's text.
func redact(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), secret, "[redacted]"))
}
