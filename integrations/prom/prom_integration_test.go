//go:build integration

package prom_test

import (
	"context"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/integrations/prom"
	"github.com/nexo-org/nexo-bot/integrations/promtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// waitFor polls f every 250ms until it returns true or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if f() {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", d, what)
}

// TestErrorRateOnRealPrometheus is the playbook's scenario 5 on a real
// Prometheus: nexo-be serves without errors, a deploy raises its error
// rate to 5%, and nexo reads the rate and finds when it started.
func TestErrorRateOnRealPrometheus(t *testing.T) {
	const ns, svc = "nexo-production", "nexo-be"
	exp := promtest.NewErrorExporter(t, ns, svc)
	exp.SetLatency(200 * time.Millisecond)
	exp.SetRates(5, 0)
	url := promtest.StartPrometheus(t, []string{exp.Target()}, time.Second)

	c, err := prom.NewClient(url, prom.Options{Timeout: 5 * time.Second})
	require.NoError(t, err)
	ctx := context.Background()
	errorRate := config.Expand(config.DefaultErrorRateQuery, svc, "production", "namespace", ns)
	latency := config.Expand(config.DefaultLatencyQuery, svc, "production", "namespace", ns)
	require.NotContains(t, errorRate, "{service}")
	require.NotContains(t, errorRate, "{namespace}")

	// Healthy: the rate exists (two scrapes) and is exactly 0.
	var v float64
	var ok bool
	waitFor(t, 20*time.Second, "a healthy error rate", func() bool {
		v, ok, err = c.Scalar(ctx, errorRate, time.Time{})
		require.NoError(t, err)
		return ok
	})
	assert.Equal(t, 0.0, v)
	begin := time.Now()
	p95, ok, err := c.Scalar(ctx, latency, time.Time{})
	require.NoError(t, err)
	require.True(t, ok)
	assert.Greater(t, p95, 0.1, "200ms observations fall in the (0.1, 0.25] bucket")
	assert.LessOrEqual(t, p95, 0.25)
	time.Sleep(3 * time.Second) // baseline points

	// The bad deploy: more traffic, 5% of it failing.
	raised := time.Now()
	exp.SetRates(200, 10)
	time.Sleep(8 * time.Second)

	v, ok, err = c.Scalar(ctx, errorRate, time.Time{})
	require.NoError(t, err)
	require.True(t, ok)
	assert.InDelta(t, 0.05, v, 0.006, "error ratio after the raise (the 5m window still holds the healthy start)")
	t.Logf("error ratio seen by Prometheus: %.4f", v)
	reqs, errs := exp.Totals()
	assert.InDelta(t, errs/reqs, v, 0.006, "Prometheus agrees with the exporter's own counters")

	points, err := c.Range(ctx, errorRate, begin.Add(-2*time.Second), time.Now(), time.Second)
	require.NoError(t, err)
	require.Greater(t, len(points), 8)
	onset, ok := prom.DetectOnset(points, 0.01, 2)
	require.True(t, ok, "no onset in %v", points)
	t.Logf("raised at %s, onset detected at %s", raised.Format(time.RFC3339Nano), onset.Format(time.RFC3339Nano))
	assert.WithinRange(t, onset, raised.Add(-time.Second), raised.Add(3*time.Second), "onset within a couple of scrape intervals")
}

func TestRealPrometheusRejectsBadQuery(t *testing.T) {
	exp := promtest.NewErrorExporter(t, "nexo-production", "nexo-be")
	url := promtest.StartPrometheus(t, []string{exp.Target()}, time.Second)
	c, err := prom.NewClient(url, prom.Options{Timeout: 5 * time.Second})
	require.NoError(t, err)
	_, _, err = c.Scalar(context.Background(), "sum(rate(http_requests_total[5m]", time.Time{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "parse error")
}
