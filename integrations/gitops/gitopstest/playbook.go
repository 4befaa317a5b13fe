package gitopstest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// PlaybookServices are the services of the playbook's GitOps repository.
var PlaybookServices = []string{"nexo-be", "nexo-fe"}

// PlaybookEnvs are the environments in promotion order.
var PlaybookEnvs = []string{"develop", "qa", "staging", "production"}

// PlaybookFile is the values-file suffix of env: production's file is
// values-prod.yaml, as in the playbook.
func PlaybookFile(env string) string {
	if env == "production" {
		return "prod"
	}
	return env
}

// PlaybookValuesPath is helm/<service>/values-<file>.yaml.
func PlaybookValuesPath(service, env string) string {
	return "helm/" + service + "/values-" + PlaybookFile(env) + ".yaml"
}

// playbookWeeks are the releases of the seeded history: each is cut on its
// date, lands in develop and qa that day, staging the next day and
// production two days later; the last one has reached qa only.
var playbookWeeks = []string{"2026.01.20", "2026.01.27", "2026.02.03", "2026.02.10", "2026.02.17"}

// PlaybookTag is the image tag SeedPlaybook leaves in service's env: both
// services run 2026.02.17 in develop and qa and 2026.02.10 in staging and
// production (the playbook's "promote to staging → 2026.02.17" is next).
func PlaybookTag(service, env string) string {
	switch env {
	case "develop", "qa":
		return "2026.02.17"
	case "staging", "production":
		return "2026.02.10"
	}
	return ""
}

// PlaybookValues renders a realistic Helm values file for service in env
// with image.tag = tag.
func PlaybookValues(service, env, tag string) string {
	replicas, cpu, mem, limMem := 1, "100m", "256Mi", "512Mi"
	switch env {
	case "staging":
		replicas, cpu, mem, limMem = 2, "250m", "512Mi", "1Gi"
	case "production":
		replicas, cpu, mem, limMem = 3, "500m", "1Gi", "2Gi"
	}
	port := 8080
	health := "/health"
	if service == "nexo-fe" {
		port, health = 3000, "/"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Helm values for %s in %s.\n", service, env)
	fmt.Fprintf(&b, "# Managed by nexo: image.tag is changed by promote/hotfix/rollback PRs.\n")
	fmt.Fprintf(&b, "replicaCount: %d\n\n", replicas)
	fmt.Fprintf(&b, "image:\n")
	fmt.Fprintf(&b, "  repository: ghcr.io/nexo-org/%s\n", service)
	fmt.Fprintf(&b, "  tag: \"%s\" # CalVer YYYY.MM.DD[-suffix]\n", tag)
	fmt.Fprintf(&b, "  pullPolicy: IfNotPresent\n\n")
	fmt.Fprintf(&b, "imagePullSecrets:\n  - name: ghcr-pull\n\n")
	fmt.Fprintf(&b, "service:\n  type: ClusterIP\n  port: %d\n\n", port)
	fmt.Fprintf(&b, "ingress:\n  enabled: true\n  className: nginx\n  hosts:\n")
	fmt.Fprintf(&b, "    - host: %s-%s.example.com\n      paths:\n        - path: /\n          pathType: Prefix\n\n", service, env)
	fmt.Fprintf(&b, "resources:\n  requests:\n    cpu: %s\n    memory: %s\n  limits:\n    memory: %s\n\n", cpu, mem, limMem)
	fmt.Fprintf(&b, "livenessProbe:\n  httpGet:\n    path: %s\n    port: http\n", health)
	fmt.Fprintf(&b, "readinessProbe:\n  httpGet:\n    path: %s\n    port: http\n\n", health)
	fmt.Fprintf(&b, "podLabels:\n  app: %s\n", service)
	if service == "nexo-be" {
		fmt.Fprintf(&b, "\nenv:\n  - name: DATABASE_HOST\n    value: nexo-db.%s.svc.cluster.local\n", "nexo-"+env)
		fmt.Fprintf(&b, "  - name: DB_POOL_SIZE\n    value: \"20\"\n")
		fmt.Fprintf(&b, "\nexternalSecrets:\n  - name: nexo-be-db\n    key: nexo/%s/nexo-be/db-password\n", env)
	}
	return b.String()
}

// SeedPlaybook creates a remote like the playbook's nexo-gitops: values for
// nexo-be and nexo-fe in develop, qa, staging and production
// (values-prod.yaml), and about four weeks of promotion history with the
// playbook's commit messages ("promote(nexo-be): staging → 2026.02.10"),
// ending in the state PlaybookTag describes.
func SeedPlaybook(t testing.TB) *Remote {
	t.Helper()
	first := playbookWeeks[0]
	files := map[string]string{
		"README.md": "# nexo-gitops\n\nHelm values per service and environment; Argo CD syncs each app <service>-<env>.\n",
	}
	for _, svc := range PlaybookServices {
		for _, env := range PlaybookEnvs {
			files[PlaybookValuesPath(svc, env)] = PlaybookValues(svc, env, first)
		}
	}
	r := newBare(t)
	commits := []CommitSpec{{Files: files, Message: "chore: bootstrap nexo-gitops", When: day(first).Add(9 * time.Hour)}}
	for i, tag := range playbookWeeks[1:] {
		last := i == len(playbookWeeks)-2
		d := day(tag)
		steps := []struct {
			env string
			at  time.Duration
		}{{"develop", 10 * time.Hour}, {"qa", 10*time.Hour + 30*time.Minute}, {"staging", 38 * time.Hour}, {"production", 63 * time.Hour}}
		for _, st := range steps {
			if last && (st.env == "staging" || st.env == "production") {
				continue
			}
			for k, svc := range PlaybookServices {
				commits = append(commits, CommitSpec{
					Files:   map[string]string{PlaybookValuesPath(svc, st.env): PlaybookValues(svc, st.env, tag)},
					Message: fmt.Sprintf("promote(%s): %s → %s", svc, st.env, tag),
					When:    d.Add(st.at + time.Duration(k)*7*time.Minute),
					Author:  "nexo <nexo@users.noreply.github.com>",
				})
			}
		}
	}
	r.CommitMany(t, Branch, commits)
	return r
}

// NewRemoteAt is NewRemote with the first commit's message and date chosen.
func NewRemoteAt(t testing.TB, files map[string]string, message string, when time.Time) *Remote {
	t.Helper()
	r := newBare(t)
	r.Commit(t, files, message, when)
	return r
}

func day(tag string) time.Time {
	d, err := time.Parse("2006.01.02", tag)
	if err != nil {
		panic(err)
	}
	return d
}
