package promtest

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPrometheusConfig(t *testing.T) {
	cfg, err := prometheusConfig([]string{"127.0.0.1:9000", "http://127.0.0.1:9001/metrics", "https://127.0.0.1:9002/custom"}, 1500*time.Millisecond)
	require.NoError(t, err)
	assert.Contains(t, cfg, "scrape_interval: 1500ms")
	assert.Contains(t, cfg, `targets: ["127.0.0.1:9000", "127.0.0.1:9001"]`)
	assert.Contains(t, cfg, "scheme: https\n    metrics_path: \"/custom\"")
	assert.Equal(t, 2, strings.Count(cfg, "job_name:"))

	for _, bad := range [][]string{nil, {"http://"}, {"a b:1"}} {
		_, err := prometheusConfig(bad, time.Second)
		assert.Error(t, err, bad)
	}
}

var sample = regexp.MustCompile(`(?m)^(http_requests_total|http_requests_errors_total)\{namespace="nexo-production",service="nexo-be"\} ([0-9.e+]+)$`)

func scrape(t *testing.T, url string) map[string]float64 {
	resp, err := http.Get(url + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := map[string]float64{}
	for _, m := range sample.FindAllStringSubmatch(string(b), -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		require.NoError(t, err)
		out[m[1]] = v
	}
	require.Contains(t, string(b), `http_request_duration_seconds_bucket{namespace="nexo-production",service="nexo-be",le="0.25"}`)
	return out
}

func TestErrorExporterFollowsRates(t *testing.T) {
	e := NewErrorExporter(t, "nexo-production", "nexo-be")
	got := scrape(t, e.URL())
	assert.Equal(t, 0.0, got["http_requests_total"])
	assert.Equal(t, 0.0, got["http_requests_errors_total"])

	e.SetRates(1000, 50)
	time.Sleep(500 * time.Millisecond)
	got = scrape(t, e.URL())
	req, errs := got["http_requests_total"], got["http_requests_errors_total"]
	assert.Greater(t, req, 100.0)
	assert.InDelta(t, 0.05, errs/req, 0.001)
	tr, te := e.Totals()
	assert.GreaterOrEqual(t, tr, req)
	assert.GreaterOrEqual(t, te, errs)
	assert.True(t, strings.HasPrefix(e.Target(), "127.0.0.1:"))
	assert.Panics(t, func() { e.SetRates(1, 2) })
}
