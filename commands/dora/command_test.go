package dora

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
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

func doraTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func doraPtr(t time.Time) *time.Time { return &t }

// doraDeps is a bolt store, the playbook's GitOps history in a real bare
// repository and a recording chat.
func doraDeps(t *testing.T) (*commands.Deps, *chattest.Recorder) {
	t.Helper()
	remote := gitopstest.SeedPlaybook(t)
	dir := t.TempDir()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
slack: {channel: C0DORA}
gitops: {repo_url: %q, workdir: %q}
services:
  - {name: nexo-be, repo: nexo-org/nexo-be}
  - {name: nexo-fe, repo: nexo-org/nexo-fe}
`, remote.URL, filepath.Join(dir, "gitops"))))
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

// putDoraRecords stores what nexo itself recorded for nexo-be in
// production: the 2026.02.10 promotion (also in the git history, at
// 2026-02-12 15:00), a failed attempt, and an incident 55 minutes after it.
func putDoraRecords(t *testing.T, ctx context.Context, st store.Store) {
	t.Helper()
	deps := []records.Deployment{
		{ID: "promote-20260212-be", Service: "nexo-be", Env: "production", Tag: "2026.02.10", Previous: "2026.02.03",
			Kind: records.KindPromote, Result: records.ResultSuccess, RequestedAt: doraTime("2026-02-12T14:00:00Z"),
			MergedAt: doraPtr(doraTime("2026-02-12T15:00:00Z")), HealthyAt: doraPtr(doraTime("2026-02-12T15:05:00Z")),
			FirstCommitAt: doraPtr(doraTime("2026-02-12T12:05:00Z"))},
		{ID: "promote-20260211-be", Service: "nexo-be", Env: "production", Tag: "2026.02.10", Previous: "2026.02.03",
			Kind: records.KindPromote, Result: records.ResultFailed, RequestedAt: doraTime("2026-02-11T14:00:00Z"),
			FinishedAt: doraPtr(doraTime("2026-02-11T14:30:00Z"))},
	}
	for _, d := range deps {
		if err := st.PutDoc(ctx, records.DeploymentsCollection, d.ID, d); err != nil {
			t.Fatal(err)
		}
	}
	inc := records.Incident{ID: "inc-20260212-errors", Title: "5xx after deploy", Service: "nexo-be", Env: "production",
		Status: records.StatusResolved, DeclaredAt: doraTime("2026-02-12T16:00:00Z"), ResolvedAt: doraPtr(doraTime("2026-02-12T16:25:00Z"))}
	if err := st.PutDoc(ctx, records.IncidentsCollection, inc.ID, inc); err != nil {
		t.Fatal(err)
	}
}

func TestDoraSlackCardAndChart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	d, c := doraDeps(t)
	putDoraRecords(t, ctx, d.Store)
	r := commands.NewRouter(d.Config, nil)
	r.Register(Spec(d))

	reply, err := r.HandleCommand(ctx, chat.Command{UserID: "U1", ChannelID: "C0TEAM", Text: "dora nexo-be prod --since 2026-01-15 --until 2026-02-20"})
	if err != nil {
		t.Fatal(err)
	}
	if reply != nil {
		t.Fatalf("the card is posted, not replied: %+v", reply)
	}
	if len(c.Posts()) != 1 {
		t.Fatalf("posts: %+v", c.Posts())
	}
	p := c.Posts()[0]
	if p.Channel != "C0TEAM" || p.Thread != "" {
		t.Fatalf("card posted to %q thread %q", p.Channel, p.Thread)
	}
	text := p.Msg.PlainText()
	// 4 production deployments of nexo-be in the period: the bootstrap
	// (Jan 20) and the promotions of Jan 29 and Feb 5 from git, and Feb 12
	// from nexo's record (the same commit, counted once). The incident of
	// Feb 12 fails 1 of 4; only the record has commit data (3 hours).
	for _, want := range []string{
		"DORA Metrics - nexo-be production (2026-01-15 → 2026-02-19)",
		"*Deployment frequency*\n3.3 deploys/month  ✅ High",
		"*Lead time for changes*\n3.0 hours  ✅ Elite",
		"*Time to restore service*\n25 minutes  ✅ Elite",
		"*Change failure rate*\n25.0%  ⚠️ Low",
		"*Overall performance:* ✅ HIGH PERFORMER",
		"4 deployments on 4 days · 1 failed · 1 incident resolved",
		"1. `2026.02.10`  commit → prod: 3.0 hours",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("card lacks %q:\n%s", want, text)
		}
	}
	if len(c.Uploads()) != 1 {
		t.Fatalf("uploads: %d", len(c.Uploads()))
	}
	u := c.Uploads()[0]
	if u.Channel != "C0TEAM" || u.Thread != p.TS || u.Name != "dora-nexo-be.png" {
		t.Fatalf("upload to %q thread %q (card ts %q) as %q", u.Channel, u.Thread, p.TS, u.Name)
	}
	img, err := png.Decode(bytes.NewReader(u.Content))
	if err != nil {
		t.Fatalf("chart is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 200 || b.Dy() < 100 {
		t.Fatalf("chart is %v", b)
	}

	// Every service together: nexo-fe adds its own 4 deployments.
	if _, err := r.HandleCommand(ctx, chat.Command{UserID: "U1", ChannelID: "C0TEAM", Text: "dora all --since 2026-01-15 --until 2026-02-20"}); err != nil {
		t.Fatal(err)
	}
	if len(c.Posts()) != 2 || len(c.Uploads()) != 2 || c.Uploads()[1].Name != "dora-all.png" {
		t.Fatalf("all: posts %d uploads %d", len(c.Posts()), len(c.Uploads()))
	}
	if all := c.Posts()[1].Msg.PlainText(); !strings.Contains(all, "8 deployments on 4 days") || !strings.Contains(all, "DORA Metrics - all production") {
		t.Fatalf("all services card:\n%s", all)
	}
}

func TestDoraRefusesBadInputAndPostsNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, c := doraDeps(t)
	r := commands.NewRouter(d.Config, nil)
	r.Register(Spec(d))
	cases := []struct{ text, want string }{
		{"dora nexo-be --since 2026-13-01", "`--since 2026-13-01` is not a date"},
		{"dora nexo-be --until 01/02/2026", "`--until 01/02/2026` is not a date"},
		{"dora nexo-be --since 2026-02-01 --until 2026-01-01", "The period is empty"},
		{"dora nexo-be --since 2026-02-01 --until 2026-02-01", "The period is empty"},
		{"dora nexo-be --since 2023-01-01 --until 2026-01-02", "longer than 2 years"},
		{"dora nexo-be --tz Mars/Olympus_Mons", "is not a time zone"},
		{"dora nexo-bee", "Unknown service `nexo-bee`. Did you mean `nexo-be`?"},
		{"dora nexo-be prd", "Unknown environment `prd`"},
		{"dora", "Usage: `/nexo dora <service|all>"},
		{"dora nexo-be production extra", "Usage:"},
		{"dora nexo-be --from 2026-01-01", "`--from` is not an option of `dora`"},
	}
	for _, tc := range cases {
		reply, err := r.HandleCommand(ctx, chat.Command{UserID: "U1", ChannelID: "C0TEAM", Text: tc.text})
		if err != nil {
			t.Fatalf("%s: %v", tc.text, err)
		}
		if reply == nil || !reply.Ephemeral || !strings.Contains(reply.Message.Text, tc.want) {
			t.Errorf("%s: want a refusal with %q, got %+v", tc.text, tc.want, reply)
		}
	}
	if len(c.Posts()) != 0 || len(c.Uploads()) != 0 {
		t.Fatalf("refusals posted %d messages and %d uploads", len(c.Posts()), len(c.Uploads()))
	}
	if docs, err := d.Store.ListDocs(ctx, LeadTimeCollection); err != nil || len(docs) != 0 {
		t.Fatalf("refusals wrote %d cache docs (%v)", len(docs), err)
	}
}

func TestParseDoraQueryDefaults(t *testing.T) {
	cfg, err := config.Parse([]byte("services: [{name: nexo-be}]\ndora: {env: staging}\n"))
	if err != nil {
		t.Fatal(err)
	}
	now := doraTime("2026-02-17T23:30:00Z")
	q, err := ParseQuery(cfg, []string{"nexo-be"}, "", "", "", now)
	if err != nil {
		t.Fatal(err)
	}
	if q.Env != "staging" || !q.Since.Equal(doraTime("2026-01-19T00:00:00Z")) || !q.Until.Equal(doraTime("2026-02-18T00:00:00Z")) || q.Location != time.UTC {
		t.Fatalf("defaults: %+v", q)
	}
	// 23:30 UTC is already the 18th in Tokyo: today there ends on the 19th.
	q, err = ParseQuery(cfg, []string{"nexo-be", "prod"}, "", "", "Asia/Tokyo", now)
	if err != nil {
		t.Fatal(err)
	}
	if q.Env != "production" || q.Until.Format(time.RFC3339) != "2026-02-19T00:00:00+09:00" || q.Until.Sub(q.Since) != 30*24*time.Hour {
		t.Fatalf("tz: %+v", q)
	}
	// --until alone: the 30 days before it; exactly two years is allowed.
	q, err = ParseQuery(cfg, []string{"all"}, "", "2026-02-01", "", now)
	if err != nil || q.Service != "all" || !q.Since.Equal(doraTime("2026-01-02T00:00:00Z")) {
		t.Fatalf("until alone: %+v %v", q, err)
	}
	if _, err := ParseQuery(cfg, []string{"all"}, "2024-02-01", "2026-02-01", "", now); err != nil {
		t.Fatalf("two years: %v", err)
	}
	if _, err := ParseQuery(cfg, []string{"all"}, "2026-02-18", "", "", now); err == nil {
		t.Fatal("a --since after today was accepted")
	}
}

// compareServer answers GitHub's compare API
// (GET /api/v3/repos/{owner}/{repo}/compare/{base}...{head}, GitHub Enterprise form) for nexo-be:
// two commits, the oldest at 10:00 the day before the head tag's date.
type compareServer struct {
	*httptest.Server
	calls atomic.Int32
}

func newCompareServer(t *testing.T, token string) *compareServer {
	s := &compareServer{}
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
		s.calls.Add(1)
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

func TestDoraLeadTimeFromCompareIsCachedAndBounded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	d, _ := doraDeps(t)
	const token = "ghp_doratesttoken"
	gh := newCompareServer(t, token)
	client, err := github.NewClient(github.Options{BaseURL: gh.URL + "/api/v3/", Token: token, Owner: "nexo-org", Repo: "nexo-gitops", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	d.GitHub = client
	q, err := ParseQuery(d.Config, []string{"nexo-be"}, "2026-01-15", "2026-02-20", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// No records: 4 imported deployments; the bootstrap has no previous tag,
	// the 3 promotions each cost one compare. Each is deployed 63 hours after
	// its tag's date and its first commit is 14 hours before it.
	res, err := Measure(ctx, d, q)
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 4 || gh.calls.Load() != 3 || res.Report.LeadTime.Samples != 3 || res.Report.LeadTime.Median != 77*time.Hour || len(res.Notes) != 0 {
		t.Fatalf("imported %d, calls %d, lead %+v, notes %q", res.Imported, gh.calls.Load(), res.Report.LeadTime, res.Notes)
	}
	docs, err := d.Store.ListDocs(ctx, LeadTimeCollection)
	if err != nil || len(docs) != 3 || docs[0].ID != "nexo-org/nexo-be/2026.01.20/2026.01.27" {
		t.Fatalf("cache: %+v %v", docs, err)
	}
	// Again: all from the cache.
	res2, err := Measure(ctx, d, q)
	if err != nil || gh.calls.Load() != 3 || res2.Report.LeadTime != res.Report.LeadTime {
		t.Fatalf("second run: calls %d, lead %+v, %v", gh.calls.Load(), res2.Report.LeadTime, err)
	}

	// A budget of one call: the newest deployment gets it, the note says so.
	for _, doc := range docs {
		if err := d.Store.DeleteDoc(ctx, LeadTimeCollection, doc.ID); err != nil {
			t.Fatal(err)
		}
	}
	old := maxCompares
	maxCompares = 1
	t.Cleanup(func() { maxCompares = old })
	res3, err := Measure(ctx, d, q)
	if err != nil {
		t.Fatal(err)
	}
	if gh.calls.Load() != 4 || res3.Report.LeadTime.Samples != 1 || len(res3.Report.Fastest) != 1 || res3.Report.Fastest[0].Tag != "2026.02.10" {
		t.Fatalf("budget: calls %d, lead %+v, fastest %+v", gh.calls.Load(), res3.Report.LeadTime, res3.Report.Fastest)
	}
	if len(res3.Notes) != 1 || !strings.Contains(commands.English().Msg(res3.Notes[0]), "2 without lead time (compare budget of 1 calls used") {
		t.Fatalf("notes: %q", res3.Notes)
	}
}

func TestDoraWithoutGitOpsUsesRecordsOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, _ := doraDeps(t)
	d.GitOps = nil
	putDoraRecords(t, ctx, d.Store)
	q, err := ParseQuery(d.Config, []string{"nexo-be"}, "2026-01-15", "2026-02-20", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	res, err := Measure(ctx, d, q)
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 0 || res.Recorded != 2 || res.Report.ChangeFailureRate.Deployments != 1 || res.Report.ChangeFailureRate.Failed != 1 {
		t.Fatalf("records only: %+v %+v", res, res.Report.ChangeFailureRate)
	}
}
