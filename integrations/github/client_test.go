package github_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/integrations/github"
	"github.com/nexo-org/nexo-bot/integrations/githubfake"
	"github.com/nexo-org/nexo-bot/integrations/gitops"
	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopstest"
)

const (
	owner = "nexo-org"
	repo  = "nexo-gitops"
)

type env struct {
	remote *gitopstest.Remote
	fake   *githubfake.Server
	gh     *github.REST
	git    *gitops.CLI
}

func setup(t *testing.T) *env {
	t.Helper()
	e := &env{remote: gitopstest.SeedPlaybook(t)}
	e.fake = githubfake.New(githubfake.Options{Owner: owner, Repo: repo, RemotePath: e.remote.Path})
	t.Cleanup(e.fake.Close)
	var err error
	e.gh, err = github.NewClient(github.Options{BaseURL: e.fake.URL() + "/", Token: e.fake.Token(), Owner: owner, Repo: repo, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.git, err = gitops.NewCLI(gitops.CLIOptions{RepoURL: e.remote.URL, Workdir: filepath.Join(t.TempDir(), "clone")})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// pushPromotion writes tag into svc's env values on a new branch, like a
// promotion does, and returns the branch and the new file bytes.
func (e *env) pushPromotion(t *testing.T, svc, envName, tag string) (string, []byte) {
	t.Helper()
	path := gitopstest.PlaybookValuesPath(svc, envName)
	old, err := e.git.ReadFile(ctx(t), path)
	if err != nil {
		t.Fatal(err)
	}
	edited, err := gitops.SetTag(old, ".image.tag", tag)
	if err != nil {
		t.Fatal(err)
	}
	branch := fmt.Sprintf("promote/%s-%s-%s", svc, gitopstest.PlaybookFile(envName), tag)
	if _, err := e.git.PushBranch(ctx(t), branch, map[string][]byte{path: edited}, fmt.Sprintf("promote(%s): %s → %s", svc, envName, tag)); err != nil {
		t.Fatal(err)
	}
	return branch, edited
}

func spec(branch, title string) github.PRSpec {
	return github.PRSpec{
		Head: branch, Base: "main", Title: title, Body: "Promotion requested in Slack.",
		Labels: []string{"promote", "env:staging"}, Reviewers: []string{"alice"}, TeamReviewers: []string{"nexo-platform-team"},
	}
}

func TestEnsurePRTwiceMakesOnePR(t *testing.T) {
	e := setup(t)
	branch, _ := e.pushPromotion(t, "nexo-be", "staging", "2026.02.17")
	s := spec(branch, "promote(nexo-be): staging → 2026.02.17")
	first, err := e.gh.EnsurePR(ctx(t), s)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.gh.EnsurePR(ctx(t), s)
	if err != nil {
		t.Fatal(err)
	}
	if first.Number != second.Number || first.Number == 0 {
		t.Fatalf("EnsurePR twice gave #%d and #%d", first.Number, second.Number)
	}
	if first.HeadRef != branch || first.HeadSHA != e.remote.Head(t, branch) || first.State != "open" {
		t.Fatalf("PR = %+v", first)
	}
	if !strings.HasSuffix(first.URL, "/nexo-org/nexo-gitops/pull/1") {
		t.Fatalf("html url %q", first.URL)
	}
	if strings.Join(second.Labels, ",") != "promote,env:staging" {
		t.Fatalf("labels %v", second.Labels)
	}
	prs := e.fake.PullRequests()
	if len(prs) != 1 {
		t.Fatalf("fake has %d PRs", len(prs))
	}
	pr := prs[0]
	if strings.Join(pr.Labels, ",") != "promote,env:staging" || strings.Join(pr.Reviewers, ",") != "alice" || strings.Join(pr.Teams, ",") != "nexo-platform-team" {
		t.Fatalf("fake PR = %+v", pr)
	}
	if pr.Title != s.Title || pr.Body != s.Body || pr.Base != "main" {
		t.Fatalf("fake PR = %+v", pr)
	}
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"POST", "/repos/nexo-org/nexo-gitops/pulls", 1},
		{"POST", "/repos/nexo-org/nexo-gitops/issues/1/labels", 1},
		{"POST", "/repos/nexo-org/nexo-gitops/pulls/1/requested_reviewers", 1},
		{"GET", "/repos/nexo-org/nexo-gitops/pulls", 2},
	} {
		if got := e.fake.Count(c.method, c.path); got != c.want {
			t.Errorf("%s %s called %d times, want %d", c.method, c.path, got, c.want)
		}
	}
	// A new label on a later call is added; existing ones are not re-sent.
	s.Labels = append(s.Labels, "urgent")
	third, err := e.gh.EnsurePR(ctx(t), s)
	if err != nil || third.Number != first.Number || len(third.Labels) != 3 {
		t.Fatalf("third EnsurePR = %+v, %v", third, err)
	}
	if e.fake.Count("POST", "/repos/nexo-org/nexo-gitops/issues/1/labels") != 2 {
		t.Fatal("the new label was not added")
	}
}

func TestMergeSquashLandsInBareRepo(t *testing.T) {
	e := setup(t)
	branch, edited := e.pushPromotion(t, "nexo-be", "staging", "2026.02.17")
	pr, err := e.gh.EnsurePR(ctx(t), spec(branch, "promote(nexo-be): staging → 2026.02.17"))
	if err != nil {
		t.Fatal(err)
	}
	mainBefore := e.remote.Head(t, "main")
	title := "promote(nexo-be): staging → 2026.02.17 (#1)"
	sha, err := e.gh.MergePR(ctx(t), pr.Number, "squash", title, "", pr.HeadSHA)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.remote.Head(t, "main"); got != sha {
		t.Fatalf("main at %s, merge returned %s", got, sha)
	}
	if got := e.remote.File(t, "main", "helm/nexo-be/values-staging.yaml"); got != string(edited) {
		t.Fatalf("main's values differ from the PR's bytes:\n%s", got)
	}
	parents := strings.Fields(gitopstest.GitOut(t, e.remote.Path, nil, "log", "-1", "--format=%P", sha))
	if len(parents) != 1 || parents[0] != mainBefore {
		t.Fatalf("squash commit parents %v, want [%s]", parents, mainBefore)
	}
	if subj := e.remote.Subjects(t, "main", "")[0]; subj != title {
		t.Fatalf("subject %q, want %q", subj, title)
	}
	// The GitOps CLI sees it after a sync.
	if err := e.git.Sync(ctx(t)); err != nil {
		t.Fatal(err)
	}
	b, _ := e.git.ReadFile(ctx(t), "helm/nexo-be/values-staging.yaml")
	if tag, _ := gitops.GetTag(b, ".image.tag"); tag != "2026.02.17" {
		t.Fatalf("tag on main after merge = %q", tag)
	}

	again, err := e.gh.MergePR(ctx(t), pr.Number, "squash", title, "", pr.HeadSHA)
	if err != nil || again != sha {
		t.Fatalf("second MergePR = %s, %v; want %s", again, err, sha)
	}
	if n := e.fake.Count("PUT", "/repos/nexo-org/nexo-gitops/pulls/1/merge"); n != 1 {
		t.Fatalf("merge PUT sent %d times", n)
	}
	got, err := e.gh.GetPR(ctx(t), pr.Number)
	if err != nil || !got.Merged || got.State != "closed" || got.MergeSHA != sha || got.MergedAt.IsZero() {
		t.Fatalf("GetPR after merge = %+v, %v", got, err)
	}
}

func TestMergeRefusedByBranchProtection(t *testing.T) {
	e := setup(t)
	branch, _ := e.pushPromotion(t, "nexo-be", "production", "2026.02.17")
	pr, err := e.gh.EnsurePR(ctx(t), spec(branch, "promote(nexo-be): production → 2026.02.17"))
	if err != nil {
		t.Fatal(err)
	}
	e.fake.SetRequiredApprovals(2)
	mainBefore := e.remote.Head(t, "main")
	_, err = e.gh.MergePR(ctx(t), pr.Number, "squash", "t", "", pr.HeadSHA)
	var blocked *github.MergeBlockedError
	if !errors.As(err, &blocked) {
		t.Fatalf("err = %v, want *MergeBlockedError", err)
	}
	if blocked.Status != 405 || blocked.Message != "At least 2 approving reviews are required by reviewers with write access." {
		t.Fatalf("blocked = %+v", blocked)
	}
	if e.remote.Head(t, "main") != mainBefore {
		t.Fatal("main moved despite the refusal")
	}
	e.fake.SetRequiredApprovals(0)
	if _, err := e.gh.MergePR(ctx(t), pr.Number, "squash", "t", "", pr.HeadSHA); err != nil {
		t.Fatalf("merge after protection lifted: %v", err)
	}
}

func TestMergeConflictAndMovedHead(t *testing.T) {
	e := setup(t)
	b1, _ := e.pushPromotion(t, "nexo-be", "qa", "2026.02.18")
	b2, _ := e.pushPromotion(t, "nexo-be", "qa", "2026.02.19")
	pr1, err := e.gh.EnsurePR(ctx(t), spec(b1, "one"))
	if err != nil {
		t.Fatal(err)
	}
	pr2, err := e.gh.EnsurePR(ctx(t), spec(b2, "two"))
	if err != nil {
		t.Fatal(err)
	}
	if pr1.Number == pr2.Number {
		t.Fatal("two branches share a PR")
	}
	// A stale expected head is refused with 409.
	var blocked *github.MergeBlockedError
	_, err = e.gh.MergePR(ctx(t), pr1.Number, "squash", "one", "", strings.Repeat("0", 40))
	if !errors.As(err, &blocked) || blocked.Status != 409 || !strings.Contains(blocked.Message, "Head branch was modified") {
		t.Fatalf("stale sha: %v", err)
	}
	if _, err := e.gh.MergePR(ctx(t), pr1.Number, "squash", "one", "", pr1.HeadSHA); err != nil {
		t.Fatal(err)
	}
	mainBefore := e.remote.Head(t, "main")
	_, err = e.gh.MergePR(ctx(t), pr2.Number, "squash", "two", "", pr2.HeadSHA)
	if !errors.As(err, &blocked) || blocked.Status != 405 || blocked.Message != "Pull Request is not mergeable" {
		t.Fatalf("conflicting merge: %v", err)
	}
	if e.remote.Head(t, "main") != mainBefore {
		t.Fatal("a conflicting merge moved main")
	}
}

func TestCloseAndComment(t *testing.T) {
	e := setup(t)
	branch, _ := e.pushPromotion(t, "nexo-fe", "staging", "2026.02.17")
	pr, err := e.gh.EnsurePR(ctx(t), spec(branch, "x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.gh.Comment(ctx(t), pr.Number, "approved by @alice in Slack"); err != nil {
		t.Fatal(err)
	}
	if err := e.gh.ClosePR(ctx(t), pr.Number, "cancelled by @bob"); err != nil {
		t.Fatal(err)
	}
	if err := e.gh.ClosePR(ctx(t), pr.Number, "cancelled by @bob"); err != nil {
		t.Fatalf("closing a closed PR: %v", err)
	}
	got := e.fake.PullRequests()[0]
	if got.State != "closed" || got.Merged || strings.Join(got.Comments, "|") != "approved by @alice in Slack|cancelled by @bob" {
		t.Fatalf("fake PR = %+v", got)
	}
	if _, err := e.gh.MergePR(ctx(t), pr.Number, "squash", "x", "", ""); err == nil {
		t.Fatal("merged a closed PR")
	}
	if _, err := e.gh.GetPR(ctx(t), 99); !errors.Is(err, github.ErrNotFound) {
		t.Fatalf("GetPR(99) = %v, want ErrNotFound", err)
	}
	// A new PR for the same branch after closing is a new number.
	again, err := e.gh.EnsurePR(ctx(t), spec(branch, "x"))
	if err != nil || again.Number == pr.Number {
		t.Fatalf("EnsurePR after close = %+v, %v", again, err)
	}
}

func TestCompareReturnsCommitsInOrder(t *testing.T) {
	e := setup(t)
	start := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	var fx []githubfake.FixtureCommit
	for i := 0; i < 230; i++ {
		c := githubfake.FixtureCommit{Message: fmt.Sprintf("feat: change %03d", i), Author: "Alice", Email: "alice@nexo.example", Login: "alice", Date: start.Add(time.Duration(i) * time.Hour)}
		switch i {
		case 5:
			c.Refs = []string{"2026.02.10"}
		case 9:
			c.Refs = []string{"2026.02.17"}
		}
		fx = append(fx, c)
	}
	stored := e.fake.AddCommits("nexo-org/nexo-be", fx...)
	got, err := e.gh.Compare(ctx(t), "nexo-org/nexo-be", "2026.02.10", "2026.02.17")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("got %d commits", len(got))
	}
	for i, c := range got {
		want := stored[6+i]
		if c.SHA != want.SHA || c.Message != want.Message || c.Author != "alice" || !c.Time.Equal(want.Date) {
			t.Fatalf("commit %d = %+v, want %+v", i, c, want)
		}
	}
	// Pagination: 229 commits come in 3 pages of 100, still oldest first.
	e.fake.ResetCalls()
	all, err := e.gh.Compare(ctx(t), "nexo-org/nexo-be", stored[0].SHA, stored[229].SHA[:10])
	if err != nil || len(all) != 229 || all[0].SHA != stored[1].SHA || all[228].SHA != stored[229].SHA {
		t.Fatalf("paginated compare: %d commits, %v", len(all), err)
	}
	if n := e.fake.Count("GET", "/repos/nexo-org/nexo-be/compare/*"); n != 3 {
		t.Fatalf("compare called %d times, want 3 pages", n)
	}
	if _, err := e.gh.Compare(ctx(t), "nexo-org/nexo-be", "nope", "2026.02.17"); !errors.Is(err, github.ErrNotFound) {
		t.Fatalf("unknown base: %v", err)
	}
	// The GitOps repository itself is a real git repository.
	log := gitopstest.GitOut(t, e.remote.Path, nil, "log", "--reverse", "--format=%H", "main~3..main")
	want := strings.Fields(log)
	gc, err := e.gh.Compare(ctx(t), owner+"/"+repo, "main~3", "main")
	if err != nil || len(gc) != 3 {
		t.Fatalf("git compare: %+v, %v", gc, err)
	}
	for i := range want {
		if gc[i].SHA != want[i] {
			t.Fatalf("git compare commit %d = %s, want %s", i, gc[i].SHA, want[i])
		}
	}
	if !strings.HasPrefix(gc[2].Message, "promote(nexo-be): qa → 2026.02.17") && !strings.HasPrefix(gc[2].Message, "promote(nexo-fe): qa → 2026.02.17") {
		t.Fatalf("newest commit message %q", gc[2].Message)
	}
}

func TestCommitsBetweenDatesPaginated(t *testing.T) {
	e := setup(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var fx []githubfake.FixtureCommit
	for i := 0; i < 300; i++ {
		fx = append(fx, githubfake.FixtureCommit{Message: fmt.Sprintf("c%d", i), Author: "Bob", Date: start.Add(time.Duration(i) * time.Hour)})
	}
	stored := e.fake.AddCommits("nexo-org/nexo-fe", fx...)
	since, until := start.Add(50*time.Hour), start.Add(199*time.Hour)
	got, err := e.gh.Commits(ctx(t), "nexo-org/nexo-fe", since, until)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 150 || got[0].SHA != stored[199].SHA || got[149].SHA != stored[50].SHA {
		t.Fatalf("got %d commits, first %+v", len(got), got[0])
	}
	if got[0].Author != "Bob" {
		t.Fatalf("author falls back to the git name: %q", got[0].Author)
	}
	if n := e.fake.Count("GET", "/repos/nexo-org/nexo-fe/commits"); n != 2 {
		t.Fatalf("commits listed in %d requests, want 2 pages", n)
	}
	if _, err := e.gh.Commits(ctx(t), "not-a-repo", since, until); err == nil {
		t.Fatal("accepted a repo without owner")
	}
}

func TestAuthTimeoutsAndServerErrors(t *testing.T) {
	e := setup(t)
	bad, err := github.NewClient(github.Options{BaseURL: e.fake.URL() + "/", Token: "ghp_wrongwrongwrong", Owner: owner, Repo: repo})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.GetPR(ctx(t), 1)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "Bad credentials") || strings.Contains(err.Error(), "ghp_wrong") {
		t.Fatalf("bad token: %v", err)
	}

	slow, _ := github.NewClient(github.Options{BaseURL: e.fake.URL() + "/api/v3/", Token: e.fake.Token(), Owner: owner, Repo: repo, Timeout: 200 * time.Millisecond})
	e.fake.Inject(githubfake.Fault{Method: "GET", Path: "/repos/nexo-org/nexo-gitops/pulls/*", Delay: 3 * time.Second})
	t0 := time.Now()
	if _, err := slow.GetPR(ctx(t), 1); err == nil {
		t.Fatal("no error from a server slower than the timeout")
	}
	if time.Since(t0) > 2*time.Second {
		t.Fatal("the client did not give up at its timeout")
	}

	e.fake.Inject(githubfake.Fault{Path: "/repos/nexo-org/nexo-gitops/pulls", Status: 502, Message: "Server Error"})
	if _, err := e.gh.EnsurePR(ctx(t), spec("x", "y")); err == nil || !strings.Contains(err.Error(), "502") {
		t.Fatalf("502: %v", err)
	}
	// One-shot fault: the next call works and reaches the real validation.
	_, err = e.gh.EnsurePR(ctx(t), spec("no-such-branch", "y"))
	if err == nil || !strings.Contains(err.Error(), "422") {
		t.Fatalf("PR for a missing branch: %v", err)
	}
	if len(e.fake.PullRequests()) != 0 {
		t.Fatal("a PR was created")
	}
}

func TestNewClientValidates(t *testing.T) {
	for _, o := range []github.Options{
		{Owner: "", Repo: "r"},
		{Owner: "o/x", Repo: "r"},
		{Owner: "o", Repo: "r", BaseURL: "ftp://x/"},
		{Owner: "o", Repo: "r", BaseURL: "not a url"},
	} {
		if _, err := github.NewClient(o); err == nil {
			t.Errorf("NewClient(%+v) accepted", o)
		}
	}
	if _, err := github.NewClient(github.Options{Owner: "o", Repo: "r"}); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}
