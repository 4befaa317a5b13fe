package prom

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorded serves a response body recorded from Prometheus 2.42 (Debian).
type recorded struct {
	t      *testing.T
	file   string
	status int
	// seen request
	path, query, auth string
	form              map[string]string
}

func (rec *recorded) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	require.NoError(rec.t, r.ParseForm())
	rec.path = r.URL.Path
	rec.query = r.Form.Get("query")
	rec.auth = r.Header.Get("Authorization")
	rec.form = map[string]string{}
	for k := range r.Form {
		rec.form[k] = r.Form.Get(k)
	}
	body, err := os.ReadFile("testdata/" + rec.file)
	require.NoError(rec.t, err)
	w.Header().Set("Content-Type", "application/json")
	if rec.status != 0 {
		w.WriteHeader(rec.status)
	}
	_, _ = w.Write(body)
}

func serve(t *testing.T, file string, status int) (*recorded, string) {
	rec := &recorded{t: t, file: file, status: status}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return rec, srv.URL
}

func TestScalarSumsVector(t *testing.T) {
	rec, url := serve(t, "vector.json", 0)
	c, err := NewClient(url, Options{Timeout: 5 * time.Second})
	require.NoError(t, err)
	at := time.Date(2026, 11, 29, 3, 52, 58, 0, time.UTC)
	v, ok, err := c.Scalar(context.Background(), "up or vector(2)", at)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, 3.0, v)
	assert.Equal(t, "/api/v1/query", rec.path)
	assert.Equal(t, "up or vector(2)", rec.query)
	assert.Equal(t, "1795924378", rec.form["time"])
	assert.Empty(t, rec.auth)
}

func TestScalarOfScalarResult(t *testing.T) {
	_, url := serve(t, "scalar.json", 0)
	c, err := NewClient(url, Options{})
	require.NoError(t, err)
	v, ok, err := c.Scalar(context.Background(), "scalar(up)", time.Time{})
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, 1.0, v)
}

func TestScalarEmptyAndNaNAreNotOK(t *testing.T) {
	for _, f := range []string{"empty.json", "nan.json"} {
		_, url := serve(t, f, 0)
		c, err := NewClient(url, Options{})
		require.NoError(t, err)
		v, ok, err := c.Scalar(context.Background(), "q", time.Now())
		require.NoError(t, err, f)
		assert.False(t, ok, f)
		assert.False(t, math.IsNaN(v), f)
	}
}

func TestScalarBadQueryCarriesPrometheusMessage(t *testing.T) {
	_, url := serve(t, "badquery.json", http.StatusBadRequest)
	c, err := NewClient(url, Options{BearerToken: "s3cr3t-token"})
	require.NoError(t, err)
	_, _, err = c.Scalar(context.Background(), "sum(", time.Now())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unclosed left parenthesis")
	assert.NotContains(t, err.Error(), "s3cr3t-token")
}

func TestBearerTokenIsSent(t *testing.T) {
	rec, url := serve(t, "vector.json", 0)
	c, err := NewClient(url, Options{BearerToken: "tok-123"})
	require.NoError(t, err)
	_, _, err = c.Scalar(context.Background(), "up", time.Now())
	require.NoError(t, err)
	assert.Equal(t, "Bearer tok-123", rec.auth)
}

func TestWarningsAreLoggedNotFailed(t *testing.T) {
	_, url := serve(t, "vector_warning.json", 0)
	var buf bytes.Buffer
	c, err := NewClient(url, Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	require.NoError(t, err)
	v, ok, err := c.Scalar(context.Background(), "up", time.Now())
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, 3.0, v)
	assert.Contains(t, buf.String(), "might not be a counter")
}

func TestRangeSumsSeriesPerTimestamp(t *testing.T) {
	rec, url := serve(t, "matrix.json", 0)
	c, err := NewClient(url, Options{})
	require.NoError(t, err)
	start := time.Unix(1795924375, 0)
	pts, err := c.Range(context.Background(), "up or vector(2)", start, start.Add(3*time.Second), time.Second)
	require.NoError(t, err)
	assert.Equal(t, "/api/v1/query_range", rec.path)
	assert.Equal(t, "1795924375", rec.form["start"])
	assert.Equal(t, "1795924378", rec.form["end"])
	assert.Equal(t, "1", rec.form["step"])
	require.Len(t, pts, 4)
	for i, p := range pts {
		assert.Equal(t, 3.0, p.Value)
		assert.Equal(t, start.Add(time.Duration(i)*time.Second).UTC(), p.Time)
	}
}

func TestRangeRejectsWrongResultAndBadInput(t *testing.T) {
	_, url := serve(t, "vector.json", 0)
	c, err := NewClient(url, Options{})
	require.NoError(t, err)
	now := time.Now()
	_, err = c.Range(context.Background(), "up", now.Add(-time.Minute), now, time.Second)
	assert.ErrorContains(t, err, "want matrix")
	_, err = c.Range(context.Background(), "up", now, now.Add(-time.Minute), time.Second)
	assert.ErrorContains(t, err, "after start")
	_, err = c.Range(context.Background(), "up", now.Add(-time.Minute), now, 0)
	assert.ErrorContains(t, err, "step")
	_, err = c.Range(context.Background(), "", now.Add(-time.Minute), now, time.Second)
	assert.ErrorContains(t, err, "empty query")
}

func TestTimeout(t *testing.T) {
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
	_, _, err = c.Scalar(context.Background(), "up", time.Now())
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestNewClientRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "prometheus:9090", "ftp://x", "http://"} {
		_, err := NewClient(u, Options{})
		assert.Error(t, err, u)
	}
	_, err := NewClient("http://x", Options{Timeout: -1})
	assert.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "prometheus:"))
}
