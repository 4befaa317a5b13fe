package gitopstest

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopsseed"
)

// PlaybookServices are the services of the playbook's GitOps repository.
var PlaybookServices = gitopsseed.Services

// PlaybookEnvs are the environments in promotion order.
var PlaybookEnvs = gitopsseed.Envs

// PlaybookFile is the values-file suffix of env: production's file is
// values-prod.yaml, as in the playbook.
func PlaybookFile(env string) string { return gitopsseed.File(env) }

// PlaybookValuesPath is helm/<service>/values-<file>.yaml.
func PlaybookValuesPath(service, env string) string { return gitopsseed.ValuesPath(service, env) }

// PlaybookTag is the image tag SeedPlaybook leaves in service's env: both
// services run 2026.02.17 in develop and qa and 2026.02.10 in staging and
// production (the playbook's "promote to staging → 2026.02.17" is next).
func PlaybookTag(service, env string) string {
	return gitopsseed.TagIn(gitopsseed.PlaybookReleases, env)
}

// PlaybookValues renders a realistic Helm values file for service in env
// with image.tag = tag.
func PlaybookValues(service, env, tag string) string { return gitopsseed.Values(service, env, tag) }

// SeedPlaybook creates a remote like the playbook's nexo-gitops: values for
// nexo-be and nexo-fe in develop, qa, staging and production
// (values-prod.yaml), and about four weeks of promotion history with the
// playbook's commit messages ("promote(nexo-be): staging → 2026.02.10"),
// ending in the state PlaybookTag describes. The seeding is
// gitopsseed.Seed's.
func SeedPlaybook(t testing.TB) *Remote {
	t.Helper()
	path, err := gitopsseed.Seed(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &Remote{Path: path, URL: "file://" + filepath.ToSlash(path)}
}

// NewRemoteAt is NewRemote with the first commit's message and date chosen.
func NewRemoteAt(t testing.TB, files map[string]string, message string, when time.Time) *Remote {
	t.Helper()
	r := newBare(t)
	r.Commit(t, files, message, when)
	return r
}
