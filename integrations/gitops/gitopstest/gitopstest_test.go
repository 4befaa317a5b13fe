package gitopstest

import (
	"strings"
	"testing"
	"time"
)

func TestSeedPlaybook(t *testing.T) {
	r := SeedPlaybook(t)
	for _, svc := range PlaybookServices {
		for _, env := range PlaybookEnvs {
			got := r.File(t, "main", PlaybookValuesPath(svc, env))
			if got != PlaybookValues(svc, env, PlaybookTag(svc, env)) {
				t.Fatalf("%s %s values:\n%s", svc, env, got)
			}
			if !strings.Contains(got, "repository: ghcr.io/nexo-org/"+svc+"\n") {
				t.Fatalf("%s image repository missing", svc)
			}
		}
	}
	if PlaybookValuesPath("nexo-be", "production") != "helm/nexo-be/values-prod.yaml" {
		t.Fatal("production file is values-prod.yaml")
	}
	subj := r.Subjects(t, "main", "helm/nexo-be/values-staging.yaml")
	want := []string{"promote(nexo-be): staging → 2026.02.10", "promote(nexo-be): staging → 2026.02.03", "promote(nexo-be): staging → 2026.01.27", "chore: bootstrap nexo-gitops"}
	if strings.Join(subj, "|") != strings.Join(want, "|") {
		t.Fatalf("staging history %q", subj)
	}
	date := strings.TrimSpace(GitOut(t, r.Path, nil, "log", "-1", "--format=%cI", "main"))
	if date != "2026-02-17T10:37:00+00:00" {
		t.Fatalf("newest commit dated %s", date)
	}
}

func TestCommitWithDateAndBranch(t *testing.T) {
	r := NewRemote(t, map[string]string{"a.yaml": "v: 1\n"})
	when := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sha := r.Commit(t, map[string]string{"b/c.yaml": "x: 2\n"}, "feat: add c", when)
	if r.Head(t, "main") != sha || r.File(t, "main", "a.yaml") != "v: 1\n" || r.File(t, "main", "b/c.yaml") != "x: 2\n" {
		t.Fatal("commit did not keep the old file and add the new one")
	}
	if d := strings.TrimSpace(GitOut(t, r.Path, nil, "log", "-1", "--format=%aI %cI", sha)); d != "2026-03-01T12:00:00+00:00 2026-03-01T12:00:00+00:00" {
		t.Fatalf("dates %q", d)
	}
	b := r.CommitOn(t, "promote/x", map[string]string{"a.yaml": "v: 2\n"}, "promote", when.Add(time.Hour))
	if !r.HasBranch(t, "promote/x") || r.Head(t, "main") != sha || r.File(t, b, "a.yaml") != "v: 2\n" {
		t.Fatal("branch commit")
	}
	if p := strings.TrimSpace(GitOut(t, r.Path, nil, "rev-parse", b+"^")); p != sha {
		t.Fatalf("branch parent %s, want main %s", p, sha)
	}
}
