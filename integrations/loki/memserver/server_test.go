package memserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/integrations/loki"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var base = time.Date(2026, 2, 1, 10, 31, 0, 0, time.UTC)

func start(t *testing.T, opts Options) string {
	srv := httptest.NewServer(New(opts))
	t.Cleanup(srv.Close)
	return srv.URL
}

func seed(t *testing.T, url, tenant string) {
	be := map[string]string{"namespace": "nexo-production", "service": "nexo-be", "level": "error"}
	info := map[string]string{"namespace": "nexo-production", "service": "nexo-be", "level": "info"}
	fe := map[string]string{"namespace": "nexo-production", "service": "nexo-fe", "level": "error"}
	err := loki.Push(context.Background(), url, tenant, []loki.PushStream{
		{Labels: be, Entries: []loki.PushEntry{
			{Time: base.Add(15 * time.Second), Line: `{"timestamp":"2026-02-01T10:31:15Z","error":"Database connection timeout","trace_id":"trace-abc123"}`},
			{Time: base.Add(20 * time.Second), Line: `{"timestamp":"2026-02-01T10:31:20Z","error":"Database connection timeout","trace_id":"trace-def456"}`},
			{Time: base.Add(25 * time.Second), Line: `{"timestamp":"2026-02-01T10:31:25Z","error":"Database connection timeout","trace_id":"trace-ghi789"}`},
			{Time: base.Add(26 * time.Second), Line: `not json at all`},
		}},
		{Labels: info, Entries: []loki.PushEntry{{Time: base.Add(16 * time.Second), Line: `{"msg":"GET /health 200"}`}}},
		{Labels: fe, Entries: []loki.PushEntry{{Time: base.Add(17 * time.Second), Line: `{"error":"upstream 502"}`}}},
	})
	require.NoError(t, err)
}

func query(t *testing.T, url, tenant string, q loki.Query) ([]loki.Entry, error) {
	c, err := loki.NewClient(url, loki.Options{Tenant: tenant, Timeout: 5 * time.Second})
	require.NoError(t, err)
	if q.Start.IsZero() {
		q.Start, q.End = base, base.Add(time.Minute)
	}
	return c.QueryRange(context.Background(), q)
}

func TestPlaybookQueryWithJSONAndLineFormat(t *testing.T) {
	url := start(t, Options{})
	seed(t, url, "")
	got, err := query(t, url, "", loki.Query{
		LogQL:     `{namespace="nexo-production", service="nexo-be", level="error"} | json | line_format "{{.timestamp}} | {{.error}} | {{.trace_id}}"`,
		Direction: "forward",
	})
	require.NoError(t, err)
	require.Len(t, got, 4)
	assert.Equal(t, "2026-02-01T10:31:15Z | Database connection timeout | trace-abc123", got[0].Line)
	assert.Equal(t, "2026-02-01T10:31:25Z | Database connection timeout | trace-ghi789", got[2].Line)
	assert.Equal(t, "trace-def456", got[1].Labels["trace_id"])
	assert.Equal(t, "JSONParserErr", got[3].Labels["__error__"])
}

func TestFiltersAndLabelFilters(t *testing.T) {
	url := start(t, Options{})
	seed(t, url, "")
	cases := map[string]int{
		`{namespace="nexo-production"}`:                               6,
		`{namespace="nexo-production", level!="info"}`:                5,
		`{service=~"nexo-(be|fe)", level="error"} |= "timeout"`:       3,
		`{service="nexo-be"} != "timeout"`:                            2,
		`{service="nexo-be"} |~ "trace-(abc|ghi)"`:                    2,
		`{service="nexo-be"} !~ "trace-.*"`:                           2,
		`{service="nexo-be"} | json | __error__=""`:                   4,
		`{service="nexo-be"} | json | trace_id=~"trace-[ad].*"`:       2,
		`{namespace="nexo-production"} | json | error="upstream 502"`: 1,
		`{service=~"nexo-f.*"}`:                                       1,
		`{service="nope"}`:                                            0,
	}
	for q, want := range cases {
		got, err := query(t, url, "", loki.Query{LogQL: q})
		require.NoError(t, err, q)
		assert.Len(t, got, want, q)
	}
}

func TestLimitDirectionAndRange(t *testing.T) {
	url := start(t, Options{})
	seed(t, url, "")
	got, err := query(t, url, "", loki.Query{LogQL: `{namespace="nexo-production"}`, Limit: 2})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, base.Add(26*time.Second), got[0].Time)
	assert.Equal(t, base.Add(25*time.Second), got[1].Time)
	got, err = query(t, url, "", loki.Query{LogQL: `{namespace="nexo-production"}`, Limit: 2, Direction: "forward"})
	require.NoError(t, err)
	assert.Equal(t, base.Add(15*time.Second), got[0].Time)
	// start inclusive, end exclusive
	got, err = query(t, url, "", loki.Query{LogQL: `{namespace="nexo-production"}`, Start: base.Add(16 * time.Second), End: base.Add(20 * time.Second)})
	require.NoError(t, err)
	assert.Len(t, got, 2)
}

func TestPushIsIdempotent(t *testing.T) {
	url := start(t, Options{})
	seed(t, url, "")
	seed(t, url, "")
	got, err := query(t, url, "", loki.Query{LogQL: `{namespace="nexo-production"}`})
	require.NoError(t, err)
	assert.Len(t, got, 6)
}

func TestTenantsAreKeptApart(t *testing.T) {
	url := start(t, Options{RequireTenant: true})
	seed(t, url, "team-a")
	got, err := query(t, url, "team-a", loki.Query{LogQL: `{service="nexo-be"}`})
	require.NoError(t, err)
	assert.Len(t, got, 5)
	got, err = query(t, url, "team-b", loki.Query{LogQL: `{service="nexo-be"}`})
	require.NoError(t, err)
	assert.Empty(t, got)
	_, err = query(t, url, "", loki.Query{LogQL: `{service="nexo-be"}`})
	assert.ErrorContains(t, err, "401")
	assert.ErrorContains(t, err, "no org id")
}

func TestBadQueriesArePlainText400(t *testing.T) {
	url := start(t, Options{})
	for _, q := range []string{
		`{service=nexo-be}`,
		`{service=~".*"}`,
		`count_over_time({service="nexo-be"}[5m])`,
		`{service="nexo-be"} | logfmt`,
		`{service="nexo-be"} |~ "("`,
	} {
		resp, err := http.Get(url + "/loki/api/v1/query_range?query=" + strings.ReplaceAll(q, " ", "%20"))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
		assert.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain"), q)
		_, err = query(t, url, "", loki.Query{LogQL: q})
		assert.ErrorContains(t, err, "parse error", q)
	}
}

func TestPushRejectsBadBodies(t *testing.T) {
	url := start(t, Options{})
	for body, want := range map[string]int{
		`{"streams":[{"stream":{},"values":[["1","x"]]}]}`:           400,
		`{"streams":[{"stream":{"a":"b"},"values":[["nope","x"]]}]}`: 400,
		`{"streams":[{"stream":{"a":"b"},"values":[[1,"x"]]}]}`:      400,
		`not json`: 400,
	} {
		resp, err := http.Post(url+"/loki/api/v1/push", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, want, resp.StatusCode, body)
	}
	resp, err := http.Post(url+"/loki/api/v1/push", "application/x-protobuf", strings.NewReader("x"))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)
	resp, err = http.Get(url + "/ready")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
}

func TestParseTimestamp(t *testing.T) {
	def := time.Unix(7, 0)
	for in, want := range map[string]time.Time{
		"":                     def,
		"1769941875":           time.Unix(1769941875, 0),
		"1769941875000000001":  time.Unix(0, 1769941875000000001),
		"1769941875.5":         time.Unix(1769941875, 500000000),
		"2026-02-01T10:31:15Z": time.Date(2026, 2, 1, 10, 31, 15, 0, time.UTC),
	} {
		got, err := parseTimestamp(in, def)
		require.NoError(t, err, in)
		assert.True(t, want.Equal(got), "%s: %s", in, got)
	}
	_, err := parseTimestamp("yesterday", def)
	assert.Error(t, err)
}
