package githubfake

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopstest"
)

func do(t *testing.T, s *Server, method, path, token string, body any) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.URL()+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestWireFormat(t *testing.T) {
	r := gitopstest.SeedPlaybook(t)
	r.CommitOn(t, "promote/nexo-be-qa-2026.02.18", map[string]string{"helm/nexo-be/values-qa.yaml": "image:\n  tag: \"2026.02.18\"\n"}, "promote(nexo-be): qa → 2026.02.18", time.Now())
	s := New(Options{Owner: "nexo-org", Repo: "nexo-gitops", RemotePath: r.Path, Token: "ghp_test"})
	defer s.Close()

	resp, b := do(t, s, "GET", "/repos/nexo-org/nexo-gitops/pulls", "", nil)
	if resp.StatusCode != 401 || !strings.Contains(string(b), `"message":"Bad credentials"`) {
		t.Fatalf("no token: %d %s", resp.StatusCode, b)
	}
	for _, prefix := range []string{"", "/api/v3"} {
		resp, b = do(t, s, "GET", prefix+"/repos/nexo-org/nexo-gitops/pulls?state=all", "ghp_test", nil)
		if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != "[]" || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Fatalf("%q list: %d %s", prefix, resp.StatusCode, b)
		}
	}
	resp, b = do(t, s, "POST", "/api/v3/repos/nexo-org/nexo-gitops/pulls", "ghp_test", map[string]string{"title": "t", "head": "nexo-org:promote/nexo-be-qa-2026.02.18", "base": "main"})
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	var pr map[string]any
	if err := json.Unmarshal(b, &pr); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"number", "state", "title", "user", "head", "base", "html_url", "merged", "labels", "requested_reviewers", "requested_teams", "created_at"} {
		if _, ok := pr[k]; !ok {
			t.Errorf("PR JSON lacks %q", k)
		}
	}
	head := pr["head"].(map[string]any)
	if head["ref"] != "promote/nexo-be-qa-2026.02.18" || head["sha"] != r.Head(t, "promote/nexo-be-qa-2026.02.18") || head["label"] != "nexo-org:promote/nexo-be-qa-2026.02.18" {
		t.Fatalf("head = %v", head)
	}
	if pr["url"] != s.URL()+"/api/v3/repos/nexo-org/nexo-gitops/pulls/1" || resp.Header.Get("Location") != pr["url"] {
		t.Fatalf("url %v, Location %q", pr["url"], resp.Header.Get("Location"))
	}
	resp, b = do(t, s, "POST", "/repos/nexo-org/nexo-gitops/pulls", "ghp_test", map[string]string{"title": "t", "head": "promote/nexo-be-qa-2026.02.18", "base": "main"})
	if resp.StatusCode != 422 || !strings.Contains(string(b), "A pull request already exists for nexo-org:promote/nexo-be-qa-2026.02.18.") {
		t.Fatalf("duplicate: %d %s", resp.StatusCode, b)
	}
	resp, b = do(t, s, "POST", "/repos/nexo-org/nexo-gitops/pulls/1/requested_reviewers", "ghp_test", map[string][]string{"reviewers": {"nexo-bot"}})
	if resp.StatusCode != 422 || !strings.Contains(string(b), "Review cannot be requested from pull request author.") {
		t.Fatalf("self review: %d %s", resp.StatusCode, b)
	}
	resp, _ = do(t, s, "GET", "/repos/nexo-org/nexo-gitops/pulls/1/merge", "ghp_test", nil)
	if resp.StatusCode != 404 {
		t.Fatalf("is-merged before merge: %d", resp.StatusCode)
	}
	resp, b = do(t, s, "PUT", "/repos/nexo-org/nexo-gitops/pulls/1/merge", "ghp_test", map[string]string{"merge_method": "squash", "commit_title": "promote(nexo-be): qa → 2026.02.18 (#1)"})
	var res map[string]any
	json.Unmarshal(b, &res)
	if resp.StatusCode != 200 || res["merged"] != true || res["sha"] != r.Head(t, "main") || res["message"] != "Pull Request successfully merged" {
		t.Fatalf("merge: %d %s", resp.StatusCode, b)
	}
	resp, _ = do(t, s, "GET", "/repos/nexo-org/nexo-gitops/pulls/1/merge", "ghp_test", nil)
	if resp.StatusCode != 204 {
		t.Fatalf("is-merged after merge: %d", resp.StatusCode)
	}
	resp, b = do(t, s, "PUT", "/repos/nexo-org/nexo-gitops/pulls/1/merge", "ghp_test", map[string]string{"merge_method": "squash"})
	if resp.StatusCode != 405 || !strings.Contains(string(b), "Pull Request is not mergeable") {
		t.Fatalf("merge twice: %d %s", resp.StatusCode, b)
	}

	// Commits of the GitOps repo: pagination with GitHub's Link header.
	resp, b = do(t, s, "GET", "/repos/nexo-org/nexo-gitops/commits?per_page=5&page=2", "ghp_test", nil)
	var commits []map[string]any
	json.Unmarshal(b, &commits)
	link := resp.Header.Get("Link")
	if resp.StatusCode != 200 || len(commits) != 5 || !strings.Contains(link, `page=3&per_page=5>; rel="next"`) || !strings.Contains(link, `rel="last"`) || !strings.Contains(link, `rel="prev"`) {
		t.Fatalf("commits page 2: %d, %d commits, Link %q", resp.StatusCode, len(commits), link)
	}
	c := commits[0]["commit"].(map[string]any)
	if _, ok := c["author"].(map[string]any)["date"]; !ok || c["message"] == "" {
		t.Fatalf("commit JSON %v", commits[0])
	}
	resp, _ = do(t, s, "GET", "/repos/nexo-org/unknown/pulls", "ghp_test", nil)
	if resp.StatusCode != 404 {
		t.Fatalf("unknown repo: %d", resp.StatusCode)
	}
	if n := s.Count("PUT", "/repos/nexo-org/nexo-gitops/pulls/1/merge"); n != 2 {
		t.Fatalf("Count(PUT merge) = %d", n)
	}
}

// A merge whose answer is held is made although the client gives up; a
// delayed request the client gives up on is not.
func TestAnswerDelayMergesDelayCuts(t *testing.T) {
	r := gitopstest.SeedPlaybook(t)
	r.CommitOn(t, "promote/nexo-be-qa-2026.02.18", map[string]string{"helm/nexo-be/values-qa.yaml": "image:\n  tag: \"2026.02.18\"\n"}, "promote(nexo-be): qa → 2026.02.18", time.Now())
	s := New(Options{Owner: "nexo-org", Repo: "nexo-gitops", RemotePath: r.Path, Token: "ghp_test"})
	defer s.Close()
	resp, b := do(t, s, "POST", "/repos/nexo-org/nexo-gitops/pulls", "ghp_test", map[string]string{"title": "t", "head": "promote/nexo-be-qa-2026.02.18", "base": "main"})
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	quick := func(method, path string, body any) error {
		var rd io.Reader
		if body != nil {
			raw, _ := json.Marshal(body)
			rd = bytes.NewReader(raw)
		}
		req, _ := http.NewRequest(method, s.URL()+path, rd)
		req.Header.Set("Authorization", "Bearer ghp_test")
		resp, err := (&http.Client{Timeout: 300 * time.Millisecond}).Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	s.Inject(Fault{Method: "PATCH", Path: "/repos/nexo-org/nexo-gitops/pulls/1", Delay: time.Minute})
	if err := quick("PATCH", "/repos/nexo-org/nexo-gitops/pulls/1", map[string]string{"state": "closed"}); err == nil {
		t.Fatal("the delayed request answered")
	}
	time.Sleep(200 * time.Millisecond) // the fake notices the hang-up
	if pr := s.PullRequests()[0]; pr.State != "open" {
		t.Fatalf("a request cut before its effect closed the PR: %+v", pr)
	}
	s.Inject(Fault{Method: "PUT", Path: "/repos/nexo-org/nexo-gitops/pulls/*", AnswerDelay: time.Minute})
	if err := quick("PUT", "/repos/nexo-org/nexo-gitops/pulls/1/merge", map[string]string{"merge_method": "squash"}); err == nil {
		t.Fatal("the held answer arrived")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !s.PullRequests()[0].Merged {
		if time.Now().After(deadline) {
			t.Fatalf("the merge whose answer was held did not happen: %+v", s.PullRequests()[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
