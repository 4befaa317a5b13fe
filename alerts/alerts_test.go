package alerts_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nexo-org/nexo-bot/alerts"
	"github.com/nexo-org/nexo-bot/commands/incident"
	"github.com/nexo-org/nexo-bot/store/boltstore"
)

const token = "s3cret-webhook-token"

// payload is Alertmanager's webhook body (version 4), as it sends it.
const payload = `{
  "version": "4",
  "groupKey": "{}:{alertname=\"HighErrorRate\"}",
  "truncatedAlerts": 0,
  "status": "firing",
  "receiver": "nexo",
  "groupLabels": {"alertname": "HighErrorRate"},
  "commonLabels": {"alertname": "HighErrorRate", "severity": "critical"},
  "commonAnnotations": {"summary": "Error rate above 1%"},
  "externalURL": "http://alertmanager:9093",
  "alerts": [
    {"status": "firing", "labels": {"service": "nexo-be", "namespace": "nexo-production"}, "annotations": {"description": "5% of requests fail"},
     "startsAt": "2026-02-01T10:35:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus:9090/graph?g0.expr=x", "fingerprint": "c1b2a3d4e5f60718"}
  ]
}`

type recorder struct {
	mu   sync.Mutex
	got  []incident.Alert
	fail int // fail this many calls first
}

func (r *recorder) receive(ctx context.Context, a incident.Alert) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		return errors.New("chat is down")
	}
	r.got = append(r.got, a)
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func newServer(t *testing.T, tok string) (*httptest.Server, *recorder) {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "nexo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rec := &recorder{}
	h := alerts.New(alerts.Options{Token: tok, Store: st, Receive: rec.receive, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	mux := http.NewServeMux()
	mux.Handle("POST /hooks/alertmanager", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, rec
}

func post(t *testing.T, srv *httptest.Server, auth string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/hooks/alertmanager", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAuth(t *testing.T) {
	srv, rec := newServer(t, token)
	for _, auth := range []string{"", "Bearer", "Bearer wrong", "Basic " + token, "Bearer " + token + "x", token} {
		if code, body := post(t, srv, auth, strings.NewReader(payload)); code != http.StatusUnauthorized || strings.Contains(body, token) {
			t.Errorf("auth %q: %d %s", auth, code, body)
		}
	}
	if rec.count() != 0 {
		t.Fatal("an unauthorised payload was handled")
	}
	if code, body := post(t, srv, "bearer "+token, strings.NewReader(payload)); code != http.StatusOK {
		t.Fatalf("good token: %d %s", code, body)
	}
	a := rec.got[0]
	if a.Status != "firing" || a.Fingerprint != "c1b2a3d4e5f60718" || a.Labels["service"] != "nexo-be" || a.Labels["severity"] != "critical" ||
		a.Labels["alertname"] != "HighErrorRate" || a.Annotations["summary"] != "Error rate above 1%" || a.StartsAt.Format("15:04") != "10:35" {
		t.Fatalf("alert: %+v", a)
	}
}

func TestDisabledWithoutToken(t *testing.T) {
	srv, rec := newServer(t, "")
	if code, _ := post(t, srv, "Bearer ", strings.NewReader(payload)); code != http.StatusServiceUnavailable {
		t.Fatalf("no token configured: %d", code)
	}
	if rec.count() != 0 {
		t.Fatal("handled")
	}
}

func TestBodyLimit(t *testing.T) {
	srv, rec := newServer(t, token)
	big := `{"version":"4","alerts":[],"pad":"` + strings.Repeat("x", alerts.MaxBody) + `"}`
	if code, _ := post(t, srv, "Bearer "+token, strings.NewReader(big)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("with Content-Length: %d", code)
	}
	// Chunked (no Content-Length): cut off by the reader.
	if code, _ := post(t, srv, "Bearer "+token, io.MultiReader(strings.NewReader(big))); code != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked: %d", code)
	}
	just := `{"version":"4","alerts":[],"pad":"` + strings.Repeat("x", alerts.MaxBody-40) + `"}`
	if code, body := post(t, srv, "Bearer "+token, bytes.NewReader([]byte(just))); code != http.StatusOK {
		t.Errorf("just under 1 MiB: %d %s", code, body)
	}
	if rec.count() != 0 {
		t.Fatal("handled")
	}
}

func TestBadPayloads(t *testing.T) {
	srv, rec := newServer(t, token)
	for _, body := range []string{`not json`, `{"version":"3","alerts":[]}`, `{"version":"4","alerts":[{"status":"pending","fingerprint":"a"}]}`, `{"version":"4","alerts":[{"status":"firing"}]}`} {
		if code, _ := post(t, srv, "Bearer "+token, strings.NewReader(body)); code != http.StatusBadRequest {
			t.Errorf("%s: %d", body, code)
		}
	}
	if rec.count() != 0 {
		t.Fatal("handled")
	}
}

func TestDedupeAndRetry(t *testing.T) {
	srv, rec := newServer(t, token)
	rec.fail = 1
	// The first delivery fails: 500, and Alertmanager's retry is handled.
	if code, _ := post(t, srv, "Bearer "+token, strings.NewReader(payload)); code != http.StatusInternalServerError {
		t.Fatalf("failing receiver: %d", code)
	}
	for i := 0; i < 3; i++ {
		if code, body := post(t, srv, "Bearer "+token, strings.NewReader(payload)); code != http.StatusOK {
			t.Fatalf("delivery %d: %d %s", i, code, body)
		}
	}
	if rec.count() != 1 {
		t.Fatalf("handled %d times, want 1", rec.count())
	}
	// The same alert resolved is new; then a duplicate of it is not.
	resolved := strings.Replace(strings.Replace(payload, `"status": "firing", "labels"`, `"status": "resolved", "labels"`, 1), `"endsAt": "0001-01-01T00:00:00Z"`, `"endsAt": "2026-02-01T10:44:00Z"`, 1)
	for i := 0; i < 2; i++ {
		if code, _ := post(t, srv, "Bearer "+token, strings.NewReader(resolved)); code != http.StatusOK {
			t.Fatalf("resolved: %d", code)
		}
	}
	if rec.count() != 2 || rec.got[1].Status != "resolved" || rec.got[1].EndsAt.Format("15:04") != "10:44" {
		t.Fatalf("after resolved: %+v", rec.got)
	}
	// Firing again later (a new startsAt) is a new alert.
	again := strings.Replace(payload, "2026-02-01T10:35:00Z", "2026-02-01T12:00:00Z", 1)
	if code, _ := post(t, srv, "Bearer "+token, strings.NewReader(again)); code != http.StatusOK || rec.count() != 3 {
		t.Fatalf("re-fired: %d, handled %d", code, rec.count())
	}
}
