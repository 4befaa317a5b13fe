package gitops

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopstest"
)

// logAndShow is what FileHistory replaces: Log, then ShowFile per commit.
func logAndShow(t *testing.T, c *CLI, path string) []Version {
	t.Helper()
	log, err := c.Log(ctx(t), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []Version
	for _, cm := range log {
		b, err := c.ShowFile(ctx(t), cm.SHA, path)
		switch {
		case errors.Is(err, ErrNotFound):
			out = append(out, Version{Commit: cm, Deleted: true})
		case err != nil:
			t.Fatalf("ShowFile %s: %v", cm.SHA, err)
		default:
			out = append(out, Version{Commit: cm, Content: b})
		}
	}
	return out
}

func sameVersions(t *testing.T, got, want []Version) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d versions, want %d:\n%+v\n%+v", len(got), len(want), got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.SHA != w.SHA || g.Subject != w.Subject || g.Body != w.Body || g.Author != w.Author || g.Email != w.Email ||
			!g.Time.Equal(w.Time) || !slices.Equal(g.Parents, w.Parents) || g.Deleted != w.Deleted || !bytes.Equal(g.Content, w.Content) {
			t.Errorf("version %d:\n got %+v %q\nwant %+v %q", i, g.Commit, g.Content, w.Commit, w.Content)
		}
	}
}

func TestFileHistoryEqualsLogAndShowOnThePlaybook(t *testing.T) {
	r := gitopstest.SeedPlaybook(t)
	c := newCLI(t, r)
	for _, svc := range gitopstest.PlaybookServices {
		for _, env := range gitopstest.PlaybookEnvs {
			p := gitopstest.PlaybookValuesPath(svc, env)
			got, err := c.FileHistory(ctx(t), p)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) < 2 {
				t.Fatalf("%s: %d versions", p, len(got))
			}
			sameVersions(t, got, logAndShow(t, c, p))
		}
	}
	if v, err := c.FileHistory(ctx(t), "helm/nope/values.yaml"); err != nil || len(v) != 0 {
		t.Fatalf("a path never committed: %+v, %v", v, err)
	}
}

// A deletion, a re-creation, a merge that resolved the file differently
// from both parents, a merge that took one side, a body and an empty file.
func TestFileHistoryDeletionsAndMerges(t *testing.T) {
	const p = "helm/svc/values-prod.yaml"
	r := gitopstest.NewRemote(t, map[string]string{"README.md": "# gitops\n"})
	work := filepath.Join(t.TempDir(), "w")
	var env []string
	// Each command a minute after the one before: git log orders by date.
	clock := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	git := func(args ...string) {
		clock = clock.Add(time.Minute)
		stamp := clock.Format(time.RFC3339)
		gitopstest.Git(t, work, []string{"GIT_AUTHOR_DATE=" + stamp, "GIT_COMMITTER_DATE=" + stamp}, args...)
	}
	write := func(content string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(work, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitopstest.Git(t, "", env, "clone", "-q", r.Path, work)
	write("tag: a\n")
	git("add", ".")
	git("commit", "-q", "-m", "promote(svc): production → a\n\nwith a body")
	git("rm", "-q", p)
	git("commit", "-q", "-m", "chore: remove svc")
	write("tag: b\n")
	git("add", ".")
	git("commit", "-q", "-m", "promote(svc): production → b")
	git("checkout", "-q", "-b", "side")
	write("tag: side\n")
	git("commit", "-q", "-am", "side change")
	git("checkout", "-q", "main")
	write("tag: main\n")
	git("commit", "-q", "-am", "main change")
	merge := exec.Command("git", "merge", "-q", "--no-edit", "side")
	merge.Dir, merge.Env = work, gitopstest.Env(nil)
	clock = clock.Add(time.Minute)
	if out, err := merge.CombinedOutput(); err == nil {
		t.Fatalf("expected a conflict: %s", out)
	}
	write("tag: resolved\n")
	git("commit", "-q", "-am", "merge side, resolved")
	git("checkout", "-q", "-b", "other")
	write("")
	git("commit", "-q", "-am", "empty it")
	git("checkout", "-q", "main")
	git("merge", "-q", "--no-ff", "--no-edit", "other") // takes other's side: not listed
	git("push", "-q", "origin", "main")

	c := newCLI(t, r)
	got, err := c.FileHistory(ctx(t), p)
	if err != nil {
		t.Fatal(err)
	}
	want := logAndShow(t, c, p)
	sameVersions(t, got, want)
	var subjects []string
	for _, v := range got {
		subjects = append(subjects, v.Subject)
	}
	wantSubjects := []string{"empty it", "merge side, resolved", "main change", "side change", "promote(svc): production → b", "chore: remove svc", "promote(svc): production → a"}
	if !slices.Equal(subjects, wantSubjects) {
		t.Fatalf("subjects %q, want %q", subjects, wantSubjects)
	}
	if !got[5].Deleted || got[5].Content != nil || string(got[1].Content) != "tag: resolved\n" || got[0].Content == nil || len(got[0].Content) != 0 || got[6].Body != "with a body" {
		t.Fatalf("versions: %+v", got)
	}
}

func TestFileHistoryRefusesASymbolicLink(t *testing.T) {
	r := gitopstest.NewRemote(t, map[string]string{"helm/real/values.yaml": "v: 1\n"})
	work := filepath.Join(t.TempDir(), "w")
	var env []string
	gitopstest.Git(t, "", env, "clone", "-q", r.Path, work)
	if err := os.Remove(filepath.Join(work, "helm", "real", "values.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(work, "helm", "real", "values.yaml")); err != nil {
		t.Fatal(err)
	}
	gitopstest.Git(t, work, env, "commit", "-q", "-am", "a link")
	gitopstest.Git(t, work, env, "push", "-q", "origin", "HEAD:main")
	c := newCLI(t, r)
	if _, err := c.FileHistory(ctx(t), "helm/real/values.yaml"); !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("FileHistory over a symbolic link = %v, want ErrUnsafePath", err)
	}
	for _, p := range []string{"../x", "/etc/passwd", ".git/config"} {
		if _, err := c.FileHistory(ctx(t), p); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("FileHistory(%q) = %v, want ErrUnsafePath", p, err)
		}
	}
}

func TestChangedPaths(t *testing.T) {
	r := gitopstest.NewRemote(t, map[string]string{"helm/a/values.yaml": "v: 1\n", "helm/b/values.yaml": "v: 1\n"})
	c := newCLI(t, r)
	if err := c.Sync(ctx(t)); err != nil {
		t.Fatal(err)
	}
	from, err := c.Head(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	r.Commit(t, map[string]string{"helm/b/values.yaml": "v: 2\n", "helm/c d/values.yaml": "v: 1\n"}, "two files", time.Now())
	if err := c.Sync(ctx(t)); err != nil {
		t.Fatal(err)
	}
	to, _ := c.Head(ctx(t))
	got, err := c.ChangedPaths(ctx(t), from, to)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"helm/b/values.yaml", "helm/c d/values.yaml"}; !slices.Equal(got, want) {
		t.Fatalf("ChangedPaths = %q, want %q", got, want)
	}
	if got, err := c.ChangedPaths(ctx(t), to, to); err != nil || len(got) != 0 {
		t.Fatalf("same commit: %q, %v", got, err)
	}
	if _, err := c.ChangedPaths(ctx(t), "0123456789012345678901234567890123456789", to); err == nil {
		t.Fatal("an unknown commit was accepted")
	}
	if _, err := c.ChangedPaths(ctx(t), "--output=/tmp/x", to); err == nil {
		t.Fatal("an option was accepted as a revision")
	}
}
