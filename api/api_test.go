package api_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/api"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/store/boltstore"
	"github.com/nexo-org/nexo-bot/store/redisstore"
)

const token = "api-test-token"

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte("services: [{name: nexo-be}, {name: nexo-fe}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func seed(t *testing.T, st store.Store) {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2026, 2, 10, 12, 0, 0, 0, time.UTC)
	for i := range 5 {
		svc := "nexo-be"
		if i == 3 {
			svc = "nexo-fe"
		}
		if err := st.AppendAudit(ctx, store.AuditEntry{Time: at.Add(time.Duration(i) * time.Minute), Actor: "U0ALICE01", Action: "promote.approve",
			Service: svc, Env: "production", Target: "change-" + string(rune('a'+i)), Outcome: "ok", Metadata: map[string]string{"n": string(rune('0' + i))}}); err != nil {
			t.Fatal(err)
		}
	}
	for i, day := range []int{11, 12, 16} {
		healthy := time.Date(2026, 2, day, 15, 0, 0, 0, time.UTC)
		first := healthy.Add(-3 * time.Hour)
		dep := records.Deployment{ID: "dep-" + string(rune('a'+i)), Service: "nexo-be", Env: "production", Tag: "2026.02.1" + string(rune('0'+i)),
			Kind: records.KindPromote, Result: records.ResultSuccess, RequestedAt: healthy.Add(-time.Hour), HealthyAt: &healthy, FirstCommitAt: &first}
		if err := st.PutDoc(ctx, records.DeploymentsCollection, dep.ID, dep); err != nil {
			t.Fatal(err)
		}
	}
	resolved := time.Date(2026, 2, 12, 16, 40, 0, 0, time.UTC)
	inc := records.Incident{ID: "inc-1", Service: "nexo-be", Env: "production", Status: records.StatusResolved,
		DeclaredAt: time.Date(2026, 2, 12, 16, 0, 0, 0, time.UTC), ResolvedAt: &resolved}
	if err := st.PutDoc(ctx, records.IncidentsCollection, inc.ID, inc); err != nil {
		t.Fatal(err)
	}
}

func boltStore(t *testing.T) store.Store {
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "nexo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func redisStore(t *testing.T) store.Store {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	st, err := redisstore.OpenURL(url, "apitest-"+hex.EncodeToString(b[:]))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := st.Ping(ctx); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Redis at %s: %v", redisstore.Redact(url), err)
		}
		t.Skipf("no Redis at %s (CI would fail here): %v", redisstore.Redact(url), err)
	}
	t.Cleanup(func() {
		c := st.Client()
		keys, _ := c.Keys(context.Background(), st.KeyPattern()).Result()
		if len(keys) > 0 {
			c.Del(context.Background(), keys...)
		}
		st.Close()
	})
	return st
}

func serve(t *testing.T, tok string, st store.Store) *httptest.Server {
	d := &commands.Deps{Config: testConfig(t), Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv := httptest.NewServer(api.New(tok, d, d.Log))
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url, tok string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestTokenGuardsEveryRoute(t *testing.T) {
	srv := serve(t, token, boltStore(t))
	for _, path := range []string{"/api/v1/audit?service=nexo-be", "/api/v1/dora?service=nexo-be"} {
		for _, tok := range []string{"", "wrong", token[:len(token)-1], token + "x"} {
			if code, body := get(t, srv.URL+path, tok); code != http.StatusUnauthorized || !strings.Contains(body, "NEXO_API_TOKEN") {
				t.Errorf("%s with token %q: %d %s", path, tok, code, body)
			}
		}
		if code, body := get(t, srv.URL+path, token); code != http.StatusOK {
			t.Errorf("%s with the token: %d %s", path, code, body)
		}
	}
	off := serve(t, "", boltStore(t))
	if code, body := get(t, off.URL+"/api/v1/audit?service=nexo-be", ""); code != http.StatusNotFound || !strings.Contains(body, "start nexo with NEXO_API_TOKEN set") {
		t.Fatalf("API off: %d %s", code, body)
	}
	if code, body := get(t, off.URL+"/api/v1/audit?service=nexo-be", "anything"); code != http.StatusNotFound {
		t.Fatalf("API off with a token: %d %s", code, body)
	}
}

func TestBadInputAndUnavailableStore(t *testing.T) {
	st := boltStore(t)
	srv := serve(t, token, st)
	for path, want := range map[string]string{
		"/api/v1/audit?service=nexo-bee":                "Did you mean `nexo-be`?",
		"/api/v1/audit?service=nexo-be&limit=0x":        "limit must be a whole number",
		"/api/v1/audit?service=nexo-be&limit=5000":      "--limit takes a number from 1 to 1000",
		"/api/v1/dora?service=nexo-be&since=2026-02-30": "is not a date",
		"/api/v1/dora": "Say one service (or `all`)",
		"/api/v1/dora?service=nexo-be&env=prd&since=2026": "",
	} {
		code, body := get(t, srv.URL+path, token)
		if code != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("%s: %d %s (want 400 with %q)", path, code, body, want)
		}
	}
	st.Close()
	code, body := get(t, srv.URL+"/api/v1/audit?service=nexo-be", token)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "state store is unavailable") || strings.Contains(body, "bolt") {
		t.Fatalf("closed store: %d %s", code, body)
	}
}

// The same records give the same answers on bolt and Redis.
func TestSameAnswersOnBothStores(t *testing.T) {
	stores := map[string]store.Store{"bolt": boltStore(t), "redis": redisStore(t)}
	answers := map[string]map[string]string{}
	for name, st := range stores {
		seed(t, st)
		srv := serve(t, token, st)
		answers[name] = map[string]string{}
		for _, path := range []string{
			"/api/v1/audit?service=nexo-be",
			"/api/v1/audit?service=nexo-be&limit=2",
			"/api/v1/dora?service=nexo-be&env=prod&since=2026-02-01&until=2026-03-01",
			"/api/v1/dora?service=all&since=2026-02-01&until=2026-03-01&tz=America/Sao_Paulo",
		} {
			code, body := get(t, srv.URL+path, token)
			if code != http.StatusOK {
				t.Fatalf("%s %s: %d %s", name, path, code, body)
			}
			answers[name][path] = body
		}
	}
	for path, b := range answers["bolt"] {
		if r := answers["redis"][path]; r != b {
			t.Errorf("%s differs:\n bolt  %s\n redis %s", path, b, r)
		}
	}
	var audit api.AuditResponse
	if err := json.Unmarshal([]byte(answers["bolt"]["/api/v1/audit?service=nexo-be&limit=2"]), &audit); err != nil {
		t.Fatal(err)
	}
	if len(audit.Entries) != 2 || audit.Entries[0].Target != "change-e" || audit.Entries[1].Target != "change-c" {
		t.Fatalf("audit newest first, nexo-be only, limit 2: %+v", audit.Entries)
	}
	var d api.DoraResponse
	if err := json.Unmarshal([]byte(answers["bolt"]["/api/v1/dora?service=nexo-be&env=prod&since=2026-02-01&until=2026-03-01"]), &d); err != nil {
		t.Fatal(err)
	}
	if d.Report.DeploymentFrequency.Deployments != 3 || d.Report.TimeToRestore.Median != 40*time.Minute || d.Report.LeadTime.Median != 3*time.Hour || d.Recorded != 3 {
		t.Fatalf("dora figures: %+v", d)
	}
}
