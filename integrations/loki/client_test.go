package loki

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorded serves a Loki response body from testdata.
type recorded struct {
	file        string
	status      int
	contentType string
	req         *http.Request
}

func (rec *recorded) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec.req = r.Clone(r.Context())
	body, err := os.ReadFile("testdata/" + rec.file)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", rec.contentType)
	if rec.status != 0 {
		w.WriteHeader(rec.status)
	}
	_, _ = w.Write(body)
}

func serve(t *testing.T, file string, status int, contentType string) (*recorded, string) {
	rec := &recorded{file: file, status: status, contentType: contentType}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return rec, srv.URL
}

var (
	incStart = time.Date(2026, 2, 1, 10, 25, 0, 0, time.UTC)
	incEnd   = time.Date(2026, 2, 1, 10, 35, 0, 0, time.UTC)
)

const incidentQuery = `{namespace="nexo-production", service="nexo-be", level="error"} | json`

func TestQueryRangeSendsLokiParameters(t *testing.T) {
	rec, u := serve(t, "streams.json", 0, "application/json; charset=UTF-8")
	c, err := NewClient(u+"/", Options{Tenant: "team-a", BearerToken: "tok-1"})
	require.NoError(t, err)
	_, err = c.QueryRange(context.Background(), Query{LogQL: incidentQuery, Start: incStart, End: incEnd, Limit: 50, Direction: "forward"})
	require.NoError(t, err)
	r := rec.req
	assert.Equal(t, http.MethodGet, r.Method)
	assert.Equal(t, "/loki/api/v1/query_range", r.URL.Path)
	q := r.URL.Query()
	assert.Equal(t, incidentQuery, q.Get("query"))
	assert.Equal(t, strconv.FormatInt(incStart.UnixNano(), 10), q.Get("start"))
	assert.Equal(t, strconv.FormatInt(incEnd.UnixNano(), 10), q.Get("end"))
	assert.Equal(t, "50", q.Get("limit"))
	assert.Equal(t, "forward", q.Get("direction"))
	assert.Equal(t, "team-a", r.Header.Get("X-Scope-OrgID"))
	assert.Equal(t, "Bearer tok-1", r.Header.Get("Authorization"))
}

func TestQueryRangeDefaultsAndNoTenantHeader(t *testing.T) {
	rec, u := serve(t, "empty.json", 0, "application/json")
	c, err := NewClient(u, Options{})
	require.NoError(t, err)
	before := time.Now()
	entries, err := c.QueryRange(context.Background(), Query{LogQL: `{app="x"}`})
	require.NoError(t, err)
	assert.Empty(t, entries)
	q := rec.req.URL.Query()
	assert.Equal(t, "100", q.Get("limit"))
	assert.Equal(t, "backward", q.Get("direction"))
	end, _ := strconv.ParseInt(q.Get("end"), 10, 64)
	start, _ := strconv.ParseInt(q.Get("start"), 10, 64)
	assert.GreaterOrEqual(t, end, before.UnixNano())
	assert.Equal(t, time.Hour, time.Duration(end-start))
	_, has := rec.req.Header["X-Scope-Orgid"]
	assert.False(t, has)
	assert.Empty(t, rec.req.Header.Get("Authorization"))
}

func TestQueryRangeParsesAndSortsBackward(t *testing.T) {
	_, u := serve(t, "streams.json", 0, "application/json")
	c, err := NewClient(u, Options{})
	require.NoError(t, err)
	entries, err := c.QueryRange(context.Background(), Query{LogQL: incidentQuery, Start: incStart, End: incEnd})
	require.NoError(t, err)
	require.Len(t, entries, 4)
	want := []int{25, 20, 15, 10}
	for i, e := range entries {
		assert.Equal(t, time.Date(2026, 2, 1, 10, 31, want[i], 0, time.UTC), e.Time, i)
	}
	assert.Equal(t, "nexo-be-7d9f8-fghij", entries[1].Labels["pod"])
	assert.Contains(t, entries[0].Line, "trace-ghi789")
}

func TestQueryRangeSortsForward(t *testing.T) {
	_, u := serve(t, "streams.json", 0, "application/json")
	c, err := NewClient(u, Options{})
	require.NoError(t, err)
	entries, err := c.QueryRange(context.Background(), Query{LogQL: incidentQuery, Start: incStart, End: incEnd, Direction: "forward", Limit: 3})
	require.NoError(t, err)
	require.Len(t, entries, 3)
	assert.Equal(t, 10, entries[0].Time.Second())
	assert.Equal(t, 15, entries[1].Time.Second())
	assert.Equal(t, 20, entries[2].Time.Second())
}

func TestQueryRangeErrors(t *testing.T) {
	_, u := serve(t, "parse_error.txt", http.StatusBadRequest, "text/plain; charset=utf-8")
	c, err := NewClient(u, Options{BearerToken: "very-secret"})
	require.NoError(t, err)
	_, err = c.QueryRange(context.Background(), Query{LogQL: `{app=x}`})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "400 Bad Request")
	assert.Contains(t, err.Error(), "syntax error: unexpected IDENTIFIER")
	assert.NotContains(t, err.Error(), "very-secret")

	_, u = serve(t, "matrix.json", 0, "application/json")
	c, err = NewClient(u, Options{})
	require.NoError(t, err)
	_, err = c.QueryRange(context.Background(), Query{LogQL: `count_over_time({app="x"}[1m])`})
	assert.ErrorContains(t, err, "want streams")

	for _, q := range []Query{
		{LogQL: " "},
		{LogQL: `{a="b"}`, Direction: "sideways"},
		{LogQL: `{a="b"}`, Limit: -1},
		{LogQL: `{a="b"}`, Start: incEnd, End: incStart},
	} {
		_, err := c.QueryRange(context.Background(), q)
		assert.Error(t, err, q)
	}
}

func TestQueryRangeTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(block); srv.Close() })
	c, err := NewClient(srv.URL, Options{Timeout: 100 * time.Millisecond})
	require.NoError(t, err)
	start := time.Now()
	_, err = c.QueryRange(context.Background(), Query{LogQL: `{a="b"}`})
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestNewClientRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "loki:3100", "ftp://loki", "http://"} {
		_, err := NewClient(u, Options{})
		assert.Error(t, err, u)
	}
	_, err := NewClient("http://loki:3100", Options{Timeout: -time.Second})
	assert.Error(t, err)
}

func TestPushWireFormat(t *testing.T) {
	var got struct {
		ct, tenant string
		body       map[string][]map[string]any
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "/loki/api/v1/push", r.URL.Path)
		assert.Equal(t, http.MethodPost, r.Method)
		got.ct = r.Header.Get("Content-Type")
		got.tenant = r.Header.Get("X-Scope-OrgID")
		require.NoError(t, jsonDecode(r, &got.body))
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	ts := time.Unix(0, 1769941875000000123)
	err := Push(context.Background(), srv.URL, "team-a", []PushStream{{
		Labels:  map[string]string{"service": "nexo-be"},
		Entries: []PushEntry{{Time: ts, Line: `{"error":"x"}`}},
	}})
	require.NoError(t, err)
	assert.Equal(t, "application/json", got.ct)
	assert.Equal(t, "team-a", got.tenant)
	require.Len(t, got.body["streams"], 1)
	s := got.body["streams"][0]
	assert.Equal(t, map[string]any{"service": "nexo-be"}, s["stream"])
	assert.Equal(t, []any{[]any{"1769941875000000123", `{"error":"x"}`}}, s["values"])
}

func TestPushErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "error at least one label pair is required per stream", http.StatusBadRequest)
	}))
	t.Cleanup(srv.Close)
	ok := []PushStream{{Labels: map[string]string{"a": "b"}, Entries: []PushEntry{{Time: time.Now(), Line: "x"}}}}
	err := Push(context.Background(), srv.URL, "", ok)
	assert.ErrorContains(t, err, "at least one label pair")
	assert.Error(t, Push(context.Background(), srv.URL, "", nil))
	assert.Error(t, Push(context.Background(), srv.URL, "", []PushStream{{Entries: ok[0].Entries}}))
	assert.Error(t, Push(context.Background(), srv.URL, "", []PushStream{{Labels: ok[0].Labels, Entries: []PushEntry{{Line: "no time"}}}}))
	assert.Error(t, Push(context.Background(), "not a url", "", ok))
}
