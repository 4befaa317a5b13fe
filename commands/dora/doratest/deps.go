package doratest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/chat/chattest"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/integrations/github"
	"github.com/nexo-org/nexo-bot/integrations/gitops"
	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopstest"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/store/boltstore"
)

// Time parses an RFC 3339 time of a test's fixture (it panics on a typo).
func Time(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// Ptr is a pointer to t.
func Ptr(t time.Time) *time.Time { return &t }

// PutDoc stores v, failing the test when the store refuses.
func PutDoc(t testing.TB, st store.Store, collection, id string, v any) {
	t.Helper()
	if err := st.PutDoc(context.Background(), collection, id, v); err != nil {
		t.Fatal(err)
	}
}

// Deps is a bolt store, the playbook's GitOps history in a real bare
// repository and a recording chat; nexo-be and nexo-fe are configured,
// with their source repositories, and slack.channel is C0DORA.
func Deps(t *testing.T) (*commands.Deps, *chattest.Recorder) {
	return DepsWith(t, `
slack: {channel: C0DORA}
services:
  - {name: nexo-be, repo: nexo-org/nexo-be}
  - {name: nexo-fe, repo: nexo-org/nexo-fe}
`)
}

// DepsWith is Deps with the config cfgYAML (everything but gitops, which
// names the seeded bare repository and a working copy in a temporary
// folder).
func DepsWith(t *testing.T, cfgYAML string) (*commands.Deps, *chattest.Recorder) {
	t.Helper()
	remote := gitopstest.SeedPlaybook(t)
	dir := t.TempDir()
	cfg, err := config.Parse([]byte(fmt.Sprintf("gitops: {repo_url: %q, workdir: %q}\n", remote.URL, filepath.Join(dir, "gitops")) + cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	st, err := boltstore.Open(filepath.Join(dir, "nexo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	repo, err := gitops.NewCLI(gitops.CLIOptions{RepoURL: cfg.GitOps.RepoURL, Workdir: cfg.GitOps.Workdir, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c := chattest.New(1771000000)
	return &commands.Deps{Config: cfg, Store: st, Chat: c, GitOps: repo}, c
}

// WithGitHub gives d a GitHub client of a CompareServer (the token is
// checked) and returns the server.
func WithGitHub(t *testing.T, d *commands.Deps) *CompareServer {
	t.Helper()
	const token = "ghp_doratesttoken"
	gh := NewCompareServer(t, token)
	client, err := github.NewClient(github.Options{BaseURL: gh.URL + "/api/v3/", Token: token, Owner: "nexo-org", Repo: "nexo-gitops", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	d.GitHub = client
	return gh
}

// PutRecords stores what nexo itself recorded for nexo-be in
// production: the 2026.02.10 promotion (also in the git history, at
// 2026-02-12 15:00), a failed attempt, and an incident 55 minutes after it.
func PutRecords(t testing.TB, ctx context.Context, st store.Store) {
	t.Helper()
	deps := []records.Deployment{
		{ID: "promote-20260212-be", Service: "nexo-be", Env: "production", Tag: "2026.02.10", Previous: "2026.02.03",
			Kind: records.KindPromote, Result: records.ResultSuccess, RequestedAt: Time("2026-02-12T14:00:00Z"),
			MergedAt: Ptr(Time("2026-02-12T15:00:00Z")), HealthyAt: Ptr(Time("2026-02-12T15:05:00Z")),
			FirstCommitAt: Ptr(Time("2026-02-12T12:05:00Z"))},
		{ID: "promote-20260211-be", Service: "nexo-be", Env: "production", Tag: "2026.02.10", Previous: "2026.02.03",
			Kind: records.KindPromote, Result: records.ResultFailed, RequestedAt: Time("2026-02-11T14:00:00Z"),
			FinishedAt: Ptr(Time("2026-02-11T14:30:00Z"))},
	}
	for _, d := range deps {
		if err := st.PutDoc(ctx, records.DeploymentsCollection, d.ID, d); err != nil {
			t.Fatal(err)
		}
	}
	inc := records.Incident{ID: "inc-20260212-errors", Title: "5xx after deploy", Service: "nexo-be", Env: "production",
		Status: records.StatusResolved, DeclaredAt: Time("2026-02-12T16:00:00Z"), ResolvedAt: Ptr(Time("2026-02-12T16:25:00Z"))}
	if err := st.PutDoc(ctx, records.IncidentsCollection, inc.ID, inc); err != nil {
		t.Fatal(err)
	}
}

// CompareServer answers GitHub's compare API
// (GET /api/v3/repos/{owner}/{repo}/compare/{base}...{head}, GitHub Enterprise form) for nexo-be:
// two commits, the oldest at 10:00 the day before the head tag's date.
type CompareServer struct {
	*httptest.Server
	// Calls counts the compare calls answered.
	Calls atomic.Int32
}

// NewCompareServer starts a CompareServer that wants token, closed when
// the test ends.
func NewCompareServer(t testing.TB, token string) *CompareServer {
	s := &CompareServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`))
			return
		}
		const prefix = "/api/v3/repos/nexo-org/nexo-be/compare/"
		base, head, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, prefix), "...")
		if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, prefix) || !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}`))
			return
		}
		s.Calls.Add(1)
		day, err := time.Parse("2006.01.02", head)
		if err != nil {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"Not Found","documentation_url":"https://docs.github.com/rest/commits/commits#compare-two-commits"}`))
			return
		}
		commit := func(sha, msg string, at time.Time) map[string]any {
			who := map[string]any{"name": "Dev", "email": "dev@nexo.example", "date": at.Format(time.RFC3339)}
			return map[string]any{
				"sha": sha, "node_id": "C_" + sha, "html_url": "https://github.com/nexo-org/nexo-be/commit/" + sha,
				"commit":    map[string]any{"author": who, "committer": who, "message": msg, "tree": map[string]any{"sha": "t" + sha}},
				"author":    map[string]any{"login": "dev", "id": 1, "type": "User"},
				"committer": map[string]any{"login": "dev", "id": 1, "type": "User"},
				"parents":   []any{},
			}
		}
		commits := []any{
			commit(fmt.Sprintf("%040x", day.Unix()), "feat: first change of "+head, day.Add(-14*time.Hour)),
			commit(fmt.Sprintf("%040x", day.Unix()+1), "fix: second change of "+head, day.Add(8*time.Hour)),
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"url": "https://api.github.com/repos/nexo-org/nexo-be/compare/" + base + "..." + head, "status": "ahead",
			"ahead_by": 2, "behind_by": 0, "total_commits": 2, "commits": commits, "files": []any{},
		})
	}))
	t.Cleanup(s.Close)
	return s
}
