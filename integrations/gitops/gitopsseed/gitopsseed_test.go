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
