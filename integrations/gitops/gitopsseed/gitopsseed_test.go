package gitopsseed

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := run(t.Context(), "", nil, append([]string{"--git-dir", dir}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSeedPlaybook(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed: ", err)
	}
	path, err := Seed(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	subjects := strings.Split(strings.TrimSpace(gitOut(t, path, "log", "--format=%s", Branch)), "\n")
	// bootstrap + 3 full releases × 4 envs × 2 services + the last in 2 envs × 2.
	if want := 1 + 3*4*2 + 2*2; len(subjects) != want {
		t.Fatalf("%d commits, want %d: %q", len(subjects), want, subjects)
	}
	if subjects[0] != "promote(nexo-fe): qa → 2026.02.17" || subjects[len(subjects)-1] != "chore: bootstrap nexo-gitops" {
		t.Fatalf("newest %q, oldest %q", subjects[0], subjects[len(subjects)-1])
	}
	for _, svc := range Services {
		for _, env := range Envs {
			got := gitOut(t, path, "show", Branch+":"+ValuesPath(svc, env))
			if got != Values(svc, env, TagIn(PlaybookReleases, env)) {
				t.Errorf("%s/%s:\n%s", svc, env, got)
			}
		}
	}
	date := strings.TrimSpace(gitOut(t, path, "log", "-1", "--format=%cI", Branch, "--", ValuesPath("nexo-be", "production")))
	if date != "2026-02-12T15:00:00+00:00" {
		t.Fatalf("last production deploy of nexo-be at %s", date)
	}
	if _, err := Seed(strings.TrimSuffix(path, "/"+RemoteName)); err == nil {
		t.Fatal("seeding over an existing remote succeeded")
	}
}

func TestWeeklyReleasesAndBadTags(t *testing.T) {
	got := WeeklyReleases(time.Date(2026, 11, 28, 4, 0, 0, 0, time.UTC), 3)
	if strings.Join(got, ",") != "2026.11.14,2026.11.21,2026.11.28" {
		t.Fatalf("releases %q", got)
	}
	if _, err := SeedReleases(t.TempDir(), []string{"2026.01.01", "v2"}); err == nil || !strings.Contains(err.Error(), "v2") {
		t.Fatalf("bad tag: %v", err)
	}
	if _, err := SeedReleases(t.TempDir(), nil); err == nil {
		t.Fatal("no releases accepted")
	}
}

func TestCommitOnTop(t *testing.T) {
	path, err := Seed(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	before := strings.TrimSpace(gitOut(t, path, "rev-parse", Branch))
	p := ValuesPath("nexo-be", "staging")
	sha, err := Commit(path, map[string]string{p: Values("nexo-be", "staging", "2026.02.99")}, "chore(nexo-be): staging → 2026.02.99", "Dev <dev@nexo.example>", time.Date(2026, 2, 18, 10, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if parent := strings.TrimSpace(gitOut(t, path, "rev-parse", sha+"^")); parent != before {
		t.Fatalf("parent %s, want %s", parent, before)
	}
	if got := gitOut(t, path, "show", Branch+":"+p); !strings.Contains(got, `tag: "2026.02.99"`) {
		t.Fatalf("values after commit:\n%s", got)
	}
	if got := gitOut(t, path, "show", Branch+":"+ValuesPath("nexo-fe", "qa")); got != Values("nexo-fe", "qa", "2026.02.17") {
		t.Fatal("other files changed")
	}
	if _, err := Commit(path, nil, "empty", "Dev <dev@nexo.example>", time.Now()); err == nil {
		t.Fatal("empty commit accepted")
	}
}
