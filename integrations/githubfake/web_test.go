package githubfake

import (
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopstest"
)

// A PR's html_url is a readable page, with no token: title, state, labels,
// reviewers, merge state and the diff, before and after the merge.
func TestPullRequestWebPage(t *testing.T) {
	r := gitopstest.SeedPlaybook(t)
	branch := "promote/nexo-be-staging-2026.02.18"
	r.CommitOn(t, branch, map[string]string{"helm/nexo-be/values-staging.yaml": "image:\n  tag: \"2026.02.18\"\n"}, "promote(nexo-be): staging → 2026.02.18", time.Now())
	s := New(Options{Owner: "nexo-org", Repo: "nexo-gitops", RemotePath: r.Path, Token: "ghp_test"})
	defer s.Close()
	resp, b := do(t, s, "POST", "/api/v3/repos/nexo-org/nexo-gitops/pulls", "ghp_test", map[string]string{"title": "promote(nexo-be): staging → 2026.02.18", "head": branch, "base": "main", "body": "Requested by carol-dev"})
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	do(t, s, "POST", "/repos/nexo-org/nexo-gitops/issues/1/labels", "ghp_test", map[string][]string{"labels": {"nexo", "env:staging"}})
	do(t, s, "POST", "/repos/nexo-org/nexo-gitops/pulls/1/requested_reviewers", "ghp_test", map[string][]string{"reviewers": {"paula-platform"}, "team_reviewers": {"platform-team"}})
	s.SetRequiredApprovals(1)

	page := func(want ...string) {
		t.Helper()
		resp, b := do(t, s, "GET", "/nexo-org/nexo-gitops/pull/1", "", nil)
		html := string(b)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("page: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), html)
		}
		for _, w := range want {
			if !strings.Contains(html, w) {
				t.Errorf("the page lacks %q:\n%s", w, html)
			}
		}
	}
	page("promote(nexo-be): staging → 2026.02.18", `id="state">Open<`, "Requested by carol-dev",
		`<span class="label">nexo</span>`, `<span class="label">env:staging</span>`,
		"<div>paula-platform</div>", "<div>nexo-org/platform-team</div>",
		"Review required: at least 1 approving review", `<span class="add">&#43;  tag: &#34;2026.02.18&#34;</span>`,
		"helm/nexo-be/values-staging.yaml", "Files changed: 1")

	s.SetRequiredApprovals(0)
	resp, b = do(t, s, "PUT", "/repos/nexo-org/nexo-gitops/pulls/1/merge", "ghp_test", map[string]string{"merge_method": "squash"})
	if resp.StatusCode != 200 {
		t.Fatalf("merge: %d %s", resp.StatusCode, b)
	}
	page(`id="state">Merged<`, "merged commit", "(squash)", `<span class="add">&#43;  tag: &#34;2026.02.18&#34;</span>`)

	resp, b = do(t, s, "GET", "/nexo-org/nexo-gitops/pull/1.diff", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(b), "+  tag: \"2026.02.18\"") || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf(".diff: %d %s", resp.StatusCode, b)
	}
	for path, code := range map[string]int{"/nexo-org/nexo-gitops/pull/9": 404, "/nexo-org/other/pull/1": 404, "/nexo-org/nexo-gitops/pull/x": 401} {
		if resp, _ := do(t, s, "GET", path, "", nil); resp.StatusCode != code {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, code)
		}
	}
	// The API still wants its token.
	if resp, _ := do(t, s, "GET", "/repos/nexo-org/nexo-gitops/pulls/1", "", nil); resp.StatusCode != 401 {
		t.Errorf("API without a token: %d", resp.StatusCode)
	}
}
