package prom

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// DefaultTimeout bounds every query when Options.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Options configure an HTTPClient.
type Options struct {
	// Timeout bounds each HTTP request (default DefaultTimeout).
	Timeout time.Duration
	// BearerToken, when set, is sent as "Authorization: Bearer <token>".
	// It never appears in errors or logs.
	BearerToken string
	// Insecure skips TLS certificate verification (self-signed test servers).
	Insecure bool
	// Logger receives query warnings (default slog.Default()).
	Logger *slog.Logger
}

// HTTPClient is a Client backed by Prometheus' HTTP API
// (/api/v1/query and /api/v1/query_range) through client_golang.
type HTTPClient struct {
	api     v1.API
	timeout time.Duration
	log     *slog.Logger
}

var _ Client = (*HTTPClient)(nil)

// NewClient returns a client of the Prometheus server at rawURL
// (for example http://prometheus:9090).
func NewClient(rawURL string, opts Options) (*HTTPClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("prometheus: url must be an http(s) URL, got %q", rawURL)
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("prometheus: timeout must not be negative")
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	if opts.Insecure {
		base.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // opt-in for test servers
	}
	var rt http.RoundTripper = base
	if opts.BearerToken != "" {
		rt = bearer{token: opts.BearerToken, next: base}
	}
	c, err := api.NewClient(api.Config{
		Address: u.String(),
		Client:  &http.Client{Transport: rt, Timeout: opts.Timeout},
	})
	if err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	return &HTTPClient{api: v1.NewAPI(c), timeout: opts.Timeout, log: opts.Logger}, nil
}

// bearer adds the Authorization header without logging it.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// Scalar evaluates an instant query at at (now when zero). A vector is
// summed over its series, a scalar is returned as is. NaN samples (for
// example 0/0 in a ratio with no traffic) are skipped; ok is false when no
// sample is left.
func (c *HTTPClient) Scalar(ctx context.Context, query string, at time.Time) (float64, bool, error) {
	if query == "" {
		return 0, false, errors.New("prometheus: empty query")
	}
	if at.IsZero() {
		at = time.Now()
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	val, warns, _, err := c.api.Query(ctx, query, at, v1.WithTimeout(c.timeout))
	c.warn(query, warns)
	if err != nil {
		return 0, false, fmt.Errorf("prometheus: query %q: %w", query, err)
	}
	switch v := val.(type) {
	case *model.Scalar:
		f := float64(v.Value)
		if math.IsNaN(f) {
			return 0, false, nil
		}
		return f, true, nil
	case model.Vector:
		sum, n := 0.0, 0
		for _, s := range v {
			f := float64(s.Value)
			if math.IsNaN(f) {
				continue
			}
			sum += f
			n++
		}
		return sum, n > 0, nil
	default:
		return 0, false, fmt.Errorf("prometheus: query %q returned %s, want vector or scalar", query, val.Type())
	}
}

// Range evaluates a range query from start to end every step and returns
// one series: the sum over all series at each timestamp, in time order.
// NaN samples are skipped; a timestamp with only NaN samples is left out.
func (c *HTTPClient) Range(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]Point, error) {
	if query == "" {
		return nil, errors.New("prometheus: empty query")
	}
	if step <= 0 {
		return nil, fmt.Errorf("prometheus: step must be positive, got %s", step)
	}
	if !end.After(start) {
		return nil, fmt.Errorf("prometheus: range end %s must be after start %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	val, warns, _, err := c.api.QueryRange(ctx, query, v1.Range{Start: start, End: end, Step: step}, v1.WithTimeout(c.timeout))
	c.warn(query, warns)
	if err != nil {
		return nil, fmt.Errorf("prometheus: query_range %q: %w", query, err)
	}
	m, ok := val.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("prometheus: query_range %q returned %s, want matrix", query, val.Type())
	}
	return sumMatrix(m), nil
}

// sumMatrix adds the series of m per timestamp.
func sumMatrix(m model.Matrix) []Point {
	sums := map[model.Time]float64{}
	for _, s := range m {
		for _, p := range s.Values {
			f := float64(p.Value)
			if math.IsNaN(f) {
				continue
			}
			sums[p.Timestamp] += f
		}
	}
	out := make([]Point, 0, len(sums))
	for ts, v := range sums {
		out = append(out, Point{Time: ts.Time().UTC(), Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

func (c *HTTPClient) warn(query string, warns v1.Warnings) {
	for _, w := range warns {
		c.log.Warn("prometheus query warning", "query", query, "warning", w)
	}
}
