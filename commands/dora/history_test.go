package dora

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/integrations/gitops"
	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopstest"
)

func values(tag string, replicas int) string {
	return fmt.Sprintf("# nexo-be values\nimage:\n  repository: ghcr.io/nexo-org/nexo-be\n  tag: %q\nreplicas: %d\n", tag, replicas)
}

func TestKindOf(t *testing.T) {
	cases := map[string]string{
		"promote(nexo-be): production → 2026.02.17":               records.KindPromote,
		"rollback(nexo-be): production → 2026.02.10":              records.KindRollback,
		"hotfix(nexo-be): production → 2026.02.17 (auth timeout)": records.KindHotfix,
		"fix(nexo-be): corrige image tag em staging":              records.KindFix,
		`Revert "promote(nexo-be): production → 2026.02.17"`:      records.KindRollback,
		"chore: bump replicas":                                    records.KindImported,
		"feat(nexo-be): something":                                records.KindImported,
		"promote(nexo-be)!: production → 2026.02.17 (#12)":        records.KindPromote,
		"promotes(nexo-be): production → 2026.02.17":              records.KindImported,
	}
	for subject, want := range cases {
		if got := KindOf(subject); got != want {
			t.Errorf("KindOf(%q) = %q, want %q", subject, got, want)
		}
	}
}

func TestImportHistoryFromRealRepo(t *testing.T) {
	prod := "helm/nexo-be/values-prod.yaml"
	stg := "helm/nexo-be/values-staging.yaml"
	remote := gitopstest.NewRemote(t, nil)
	day := func(s string) time.Time { return at(s) }
	c1 := remote.Commit(t, map[string]string{prod: values("2026.01.05", 3)}, "promote(nexo-be): production → 2026.01.05", day("2026-01-05T10:00:00Z"))
	remote.Commit(t, map[string]string{prod: values("2026.01.05", 4)}, "chore(nexo-be): scale to 4", day("2026-01-06T10:00:00Z"))
	c3 := remote.Commit(t, map[string]string{prod: values("2026.01.07", 4)}, "promote(nexo-be): production → 2026.01.07 (#42)", day("2026-01-07T10:00:00Z"))
	c4 := remote.Commit(t, map[string]string{prod: values("2026.01.05", 4)}, "rollback(nexo-be): production → 2026.01.05", day("2026-01-07T11:00:00Z"))
	c5 := remote.Commit(t, map[string]string{prod: values("2026.01.08-hotfix", 4)}, "hotfix(nexo-be): production → 2026.01.08-hotfix", day("2026-01-08T10:00:00Z"))
	c6 := remote.Commit(t, map[string]string{prod: values("2026.01.05", 4)}, `Revert "hotfix(nexo-be): production → 2026.01.08-hotfix"`, day("2026-01-09T10:00:00Z"))
	remote.Commit(t, map[string]string{prod: values("2026.01.10", 4)}, "fix(nexo-be): corrige image tag", day("2026-01-10T10:00:00Z"))
	s1 := remote.Commit(t, map[string]string{stg: values("2026.01.10", 2)}, "promote(nexo-be): staging → 2026.01.10", day("2026-01-09T08:00:00Z"))

	repo, err := gitops.NewCLI(gitops.CLIOptions{RepoURL: remote.URL, Workdir: filepath.Join(t.TempDir(), "clone"), Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := repo.Sync(ctx); err != nil {
		t.Fatal(err)
	}

	// nexo recorded c3 (with its SHA) and the fix (without one, merged 20
	// minutes after the commit): neither may come back.
	recordedPromote := deploy("wf-promote", "2026-01-07T10:05:00Z", 2*time.Hour)
	recordedPromote.Tag, recordedPromote.GitOpsSHA = "2026.01.07", c3
	recordedFix := kind(deploy("wf-fix", "2026-01-10T10:25:00Z", time.Hour), records.KindFix)
	recordedFix.Tag, recordedFix.MergedAt = "2026.01.10", ptr(at("2026-01-10T10:20:00Z"))
	known := []records.Deployment{recordedPromote, recordedFix}

	got, err := ImportHistory(ctx, repo, []HistoryTarget{
		{Service: "nexo-be", Env: "production", Path: prod},
		{Service: "nexo-be", Env: "staging", Path: stg},
	}, ImportOptions{Known: known})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, d := range got {
		lines = append(lines, strings.Join([]string{d.ID[:16], d.Env, d.Kind, d.Previous + ">" + d.Tag, d.DeployedAt().UTC().Format("01-02T15")}, " "))
	}
	want := []string{
		"git:" + c1[:12] + " production promote >2026.01.05 01-05T10",
		"git:" + c4[:12] + " production rollback 2026.01.07>2026.01.05 01-07T11",
		"git:" + c5[:12] + " production hotfix 2026.01.05>2026.01.08-hotfix 01-08T10",
		"git:" + c6[:12] + " production rollback 2026.01.08-hotfix>2026.01.05 01-09T10",
		"git:" + s1[:12] + " staging promote >2026.01.10 01-09T08",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("imported:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	for _, d := range got {
		if d.GitOpsSHA == "" || d.Result != records.ResultSuccess || d.Service != "nexo-be" || d.FirstCommitAt != nil {
			t.Errorf("imported %+v: want a successful nexo-be deployment with its SHA and no commit data", d)
		}
	}

	// Recorded and imported together: nothing counted twice.
	in := Input{Service: "nexo-be", Since: at("2026-01-05T00:00:00Z"), Until: at("2026-01-12T00:00:00Z"),
		Deployments: append(append([]records.Deployment{}, known...), got...)}
	r := mustCompute(t, in)
	c := r.ChangeFailureRate
	// c1, c3 (recorded), c4, c5, c6, fix (recorded) = 6; c3 rolled back by
	// c4 (then hotfixed by c5: still one failure), c5 reverted by c6.
	if c.Deployments != 6 || c.Failed != 2 || c.RolledBack != 2 {
		t.Errorf("change failure = %+v, want 2 of 6, both rolled back", c)
	}
	// Lead time only from the recorded ones (2h and 1h) → lower median 1h.
	if r.LeadTime.Samples != 2 || r.LeadTime.Median != time.Hour {
		t.Errorf("lead time = %+v, want 2 samples, 1h", r.LeadTime)
	}

	// A second import with everything known returns nothing.
	again, err := ImportHistory(ctx, repo, []HistoryTarget{{Service: "nexo-be", Env: "production", Path: prod}},
		ImportOptions{Known: append(known, got...)})
	if err != nil || len(again) != 0 {
		t.Errorf("second import = %d deployments, %v; want none", len(again), err)
	}
}

func TestImportHistoryDeletedFileAndPR(t *testing.T) {
	path := "helm/nexo-be/values-prod.yaml"
	remote := gitopstest.NewRemote(t, nil)
	remote.Commit(t, map[string]string{path: values("2026.01.05", 2)}, "promote(nexo-be): production → 2026.01.05 (#7)", at("2026-01-05T10:00:00Z"))
	// Delete the file (service retired), then bring it back with the same tag.
	work := filepath.Join(t.TempDir(), "w")
	gitopstest.Git(t, "", nil, "clone", "-q", remote.Path, work)
	gitopstest.Git(t, work, nil, "rm", "-q", path)
	env := []string{"GIT_AUTHOR_DATE=2026-01-06T10:00:00Z", "GIT_COMMITTER_DATE=2026-01-06T10:00:00Z"}
	gitopstest.Git(t, work, env, "commit", "-q", "-m", "chore: retire nexo-be")
	gitopstest.Git(t, work, nil, "push", "-q", "origin", "HEAD:main")
	remote.Commit(t, map[string]string{path: values("2026.01.05", 2)}, "promote(nexo-be): production → 2026.01.05", at("2026-01-07T10:00:00Z"))

	repo, err := gitops.NewCLI(gitops.CLIOptions{RepoURL: remote.URL, Workdir: filepath.Join(t.TempDir(), "clone")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := repo.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := ImportHistory(ctx, repo, []HistoryTarget{{Service: "nexo-be", Env: "production", Path: path}}, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].PR != 7 || got[1].PR != 0 || got[1].Previous != "" {
		t.Errorf("imported = %+v, want 2 deployments, the first from PR #7, the second with no previous tag", got)
	}

	// Bad input changes nothing and says why.
	if _, err := ImportHistory(ctx, repo, []HistoryTarget{{Service: "nexo-be", Path: path}}, ImportOptions{}); err == nil {
		t.Error("target without env: no error")
	}
	if _, err := ImportHistory(ctx, repo, nil, ImportOptions{TagKey: "image.tag"}); err == nil {
		t.Error("bad tag key: no error")
	}
	if _, err := ImportHistory(ctx, nil, nil, ImportOptions{}); err == nil {
		t.Error("nil repo: no error")
	}
}
