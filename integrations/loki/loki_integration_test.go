//go:build integration

package loki_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/integrations/loki"
	"github.com/nexo-org/nexo-bot/integrations/promtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIncidentLogsRoundTrip pushes the playbook's scenario-5 logs and reads
// them back the way nexo does during an incident.
func TestIncidentLogsRoundTrip(t *testing.T) {
	url := promtest.StartLoki(t)
	ctx := context.Background()
	// A recent minute, so a real Loki's ingester accepts it in order.
	spike := time.Now().Add(-2 * time.Minute).Truncate(time.Minute)

	errLabels := map[string]string{"namespace": "nexo-production", "service": "nexo-be", "level": "error"}
	infoLabels := map[string]string{"namespace": "nexo-production", "service": "nexo-be", "level": "info"}
	var errLines, infoLines []loki.PushEntry
	traces := []string{"trace-abc123", "trace-def456", "trace-ghi789", "trace-jkl012", "trace-mno345"}
	for i, tr := range traces {
		ts := spike.Add(time.Duration(15+5*i) * time.Second)
		errLines = append(errLines, loki.PushEntry{Time: ts, Line: fmt.Sprintf(
			`{"timestamp":%q,"level":"error","error":"Database connection timeout","trace_id":%q}`, ts.Format(time.RFC3339), tr)})
		infoLines = append(infoLines, loki.PushEntry{Time: ts.Add(time.Second), Line: `{"level":"info","msg":"GET /api/orders 200"}`})
	}
	errLines = append(errLines, loki.PushEntry{Time: spike.Add(50 * time.Second), Line: `{"level":"error","error":"payment gateway returned 502","trace_id":"trace-pay001"}`})
	require.NoError(t, loki.Push(ctx, url, "", []loki.PushStream{
		{Labels: errLabels, Entries: errLines},
		{Labels: infoLabels, Entries: infoLines},
	}))

	c, err := loki.NewClient(url, loki.Options{Timeout: 10 * time.Second})
	require.NoError(t, err)
	q := loki.Query{
		LogQL: `{namespace="nexo-production", service="nexo-be", level="error"} | json`,
		Start: spike, End: spike.Add(time.Minute + time.Second),
	}
	var entries []loki.Entry
	deadline := time.Now().Add(20 * time.Second)
	for { // a real Loki may take a moment to make pushed lines queryable
		entries, err = c.QueryRange(ctx, q)
		require.NoError(t, err)
		if len(entries) >= 6 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	require.Len(t, entries, 6)
	assert.True(t, entries[0].Time.After(entries[5].Time), "backward: newest first")
	assert.Equal(t, "error", entries[0].Labels["level"])

	groups := loki.GroupErrors(entries, "")
	require.Len(t, groups, 2)
	assert.Equal(t, "Database connection timeout", groups[0].Message)
	assert.Equal(t, 5, groups[0].Count)
	assert.Len(t, groups[0].TraceIDs, 3)
	for _, tr := range groups[0].TraceIDs {
		assert.Contains(t, traces, tr)
	}
	assert.Equal(t, spike.Add(15*time.Second).UTC(), groups[0].First)
	assert.Equal(t, spike.Add(35*time.Second).UTC(), groups[0].Last)
	assert.Equal(t, "payment gateway returned 502", groups[1].Message)

	// The playbook's own query, with line_format, oldest first.
	q.LogQL = `{namespace="nexo-production", service="nexo-be", level="error"} |= "timeout" | json | line_format "{{.timestamp}} | {{.error}} | {{.trace_id}}"`
	q.Direction = "forward"
	entries, err = c.QueryRange(ctx, q)
	require.NoError(t, err)
	require.Len(t, entries, 5)
	assert.Equal(t, spike.Add(15*time.Second).UTC().Format(time.RFC3339)+" | Database connection timeout | trace-abc123", entries[0].Line)

	// A bad query comes back with Loki's own message.
	q.LogQL = `{service=nexo-be}`
	_, err = c.QueryRange(ctx, q)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "400")
	assert.Contains(t, err.Error(), "parse error")
}
