// Package gitopsseed creates a real bare git repository shaped like the
// playbook's nexo-gitops: Helm values for nexo-be and nexo-fe in develop,
// qa, staging and production, and weeks of promotion history with the
// playbook's commit messages. Tests (through gitopstest) and the sandbox
// use it; it needs only the git binary.
package gitopsseed

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Branch is the default branch of the seeded remote.
const Branch = "main"

// RemoteName is the directory Seed creates under its dir.
const RemoteName = "nexo-gitops.git"

// Services are the services of the playbook's GitOps repository.
var Services = []string{"nexo-be", "nexo-fe"}

// Envs are the environments in promotion order.
var Envs = []string{"develop", "qa", "staging", "production"}

// PlaybookReleases are the weekly releases of the playbook's history.
var PlaybookReleases = []string{"2026.01.20", "2026.01.27", "2026.02.03", "2026.02.10", "2026.02.17"}

// File is the values-file suffix of env: production's file is
// values-prod.yaml, as in the playbook.
func File(env string) string {
	if env == "production" {
		return "prod"
	}
	return env
}

// ValuesPath is helm/<service>/values-<file>.yaml.
func ValuesPath(service, env string) string {
	return "helm/" + service + "/values-" + File(env) + ".yaml"
}

// TagIn is the tag a history of releases leaves in env: the last release in
// develop and qa, the one before it in staging and production.
func TagIn(releases []string, env string) string {
	if len(releases) == 0 {
		return ""
	}
	switch env {
	case "develop", "qa":
		return releases[len(releases)-1]
	case "staging", "production":
		if len(releases) > 1 {
			return releases[len(releases)-2]
		}
		return releases[0]
	}
	return ""
}

// Values renders a realistic Helm values file for service in env with
// image.tag = tag.
func Values(service, env, tag string) string {
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

// Step is one promotion of the seeded history: a commit that sets
// Service's tag in Env at At.
type Step struct {
	Service, Env, Tag string
	At                time.Time
}

// Schedule is the promotion history of releases (CalVer tags, oldest
// first): the first is the bootstrap; each later one lands in develop at
// 10:00 UTC on its date and in qa at 10:30, in staging the next day at
// 14:00 and in production two days later at 15:00 (nexo-fe 7 minutes after
// nexo-be each time); the last release has reached qa only.
func Schedule(releases []string) ([]Step, error) {
	var steps []Step
	for i, tag := range releases {
		if i == 0 {
			continue
		}
		d, err := day(tag)
		if err != nil {
			return nil, err
		}
		last := i == len(releases)-1
		for _, st := range []struct {
			env string
			at  time.Duration
		}{{"develop", 10 * time.Hour}, {"qa", 10*time.Hour + 30*time.Minute}, {"staging", 38 * time.Hour}, {"production", 63 * time.Hour}} {
			if last && (st.env == "staging" || st.env == "production") {
				continue
			}
			for k, svc := range Services {
				steps = append(steps, Step{Service: svc, Env: st.env, Tag: tag, At: d.Add(st.at + time.Duration(k)*7*time.Minute)})
			}
		}
	}
	return steps, nil
}

// WeeklyReleases are n weekly CalVer tags, the last one on last's date.
func WeeklyReleases(last time.Time, n int) []string {
	out := make([]string, n)
	for i := 0; i < n; i++ {
		out[i] = last.UTC().AddDate(0, 0, -7*(n-1-i)).Format("2006.01.02")
	}
	return out
}

// Seed creates dir/nexo-gitops.git seeded with the playbook's releases and
// returns its path.
func Seed(dir string) (string, error) { return SeedReleases(dir, PlaybookReleases) }

// SeedReleases creates dir/nexo-gitops.git: a bootstrap commit with every
// values file at releases[0], dated 09:00 on its day, then one commit per
// Schedule step ("promote(nexo-be): staging → 2026.02.10"). It returns the
// bare repository's path.
func SeedReleases(dir string, releases []string) (string, error) {
	if len(releases) == 0 {
		return "", fmt.Errorf("gitopsseed: no releases")
	}
	first, err := day(releases[0])
	if err != nil {
		return "", err
	}
	steps, err := Schedule(releases)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, RemoteName)
	if _, err := os.Stat(path); err == nil {
		return "", fmt.Errorf("gitopsseed: %s already exists", path)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if _, err := run(context.Background(), "", nil, "init", "-q", "--bare", "--initial-branch="+Branch, path); err != nil {
		return "", err
	}
	files := map[string]string{
		"README.md": "# nexo-gitops\n\nHelm values per service and environment; Argo CD syncs each app <service>-<env>.\n",
	}
	for _, svc := range Services {
		for _, env := range Envs {
			files[ValuesPath(svc, env)] = Values(svc, env, releases[0])
		}
	}
	var b strings.Builder
	writeCommit(&b, files, "chore: bootstrap nexo-gitops", "Nexo Test <test@nexo.example>", first.Add(9*time.Hour))
	for _, st := range steps {
		writeCommit(&b, map[string]string{ValuesPath(st.Service, st.Env): Values(st.Service, st.Env, st.Tag)},
			fmt.Sprintf("promote(%s): %s → %s", st.Service, st.Env, st.Tag), "nexo <nexo@users.noreply.github.com>", st.At)
	}
	if _, err := run(context.Background(), path, []byte(b.String()), "fast-import", "--quiet"); err != nil {
		return "", err
	}
	return path, nil
}

func writeCommit(b *strings.Builder, files map[string]string, message, who string, when time.Time) {
	stamp := fmt.Sprintf("%s %d +0000", who, when.Unix())
	fmt.Fprintf(b, "commit refs/heads/%s\nauthor %s\ncommitter %s\ndata %d\n%s\n", Branch, stamp, stamp, len(message), message)
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		fmt.Fprintf(b, "M 100644 inline %s\ndata %d\n%s\n", p, len(files[p]), files[p])
	}
	b.WriteString("\n")
}

// Env is the environment for git here: no user or system configuration,
// no prompts, a fixed identity.
func Env(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Nexo Test", "GIT_AUTHOR_EMAIL=test@nexo.example",
		"GIT_COMMITTER_NAME=Nexo Test", "GIT_COMMITTER_EMAIL=test@nexo.example",
	)
	return append(env, extra...)
}

func run(ctx context.Context, dir string, stdin []byte, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", append([]string{"-c", "init.defaultBranch=" + Branch}, args...)...)
	cmd.Dir = dir
	cmd.Env = Env(nil)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v: %s", args[0], err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

func day(tag string) (time.Time, error) {
	d, err := time.Parse("2006.01.02", tag)
	if err != nil {
		return time.Time{}, fmt.Errorf("gitopsseed: release %q is not a YYYY.MM.DD tag", tag)
	}
	return d, nil
}

// Commit adds one commit on main of the bare repository remote writing
// files (path → content, over the current tree), authored by who ("Name
// <email>") at when, and returns its SHA.
func Commit(remote string, files map[string]string, message, who string, when time.Time) (string, error) {
	if len(files) == 0 {
		return "", fmt.Errorf("gitopsseed: a commit needs files")
	}
	for p := range files {
		if p == "" || strings.ContainsAny(p, "\"\n\x00") || strings.HasPrefix(p, "/") {
			return "", fmt.Errorf("gitopsseed: unsupported path %q", p)
		}
	}
	var b strings.Builder
	writeCommit(&b, files, message, who, when)
	stream := strings.Replace(b.String(), "\nM 100644", "\nfrom refs/heads/"+Branch+"^0\nM 100644", 1)
	if _, err := run(context.Background(), remote, []byte(stream), "fast-import", "--quiet"); err != nil {
		return "", err
	}
	out, err := run(context.Background(), remote, nil, "rev-parse", "refs/heads/"+Branch)
	return strings.TrimSpace(out), err
}
