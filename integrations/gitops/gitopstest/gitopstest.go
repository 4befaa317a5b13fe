// Package gitopstest makes real git repositories for tests: a bare repository
// in t.TempDir() is the remote, commits are made through a temporary clone
// with chosen dates, and SeedPlaybook fills it like the playbook's
// nexo-gitops repository.
package gitopstest

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// Branch is the default branch of the remotes made here.
const Branch = "main"

// Remote is a bare repository on disk used as a git remote.
type Remote struct {
	Path string // the bare repository
	URL  string // file:// URL of Path
}

// NewRemote creates a bare repository with one commit on main holding files
// (path → content), dated now.
func NewRemote(t testing.TB, files map[string]string) *Remote {
	t.Helper()
	r := newBare(t)
	if len(files) == 0 {
		files = map[string]string{"README.md": "# gitops\n"}
	}
	r.Commit(t, files, "chore: initial commit", time.Now())
	return r
}

func newBare(t testing.TB) *Remote {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "remote.git")
	Git(t, "", nil, "init", "-q", "--bare", "--initial-branch="+Branch, dir)
	return &Remote{Path: dir, URL: "file://" + dir}
}

// Commit adds one commit on main writing files, with author and committer
// date when, and returns its SHA.
func (r *Remote) Commit(t testing.TB, files map[string]string, message string, when time.Time) string {
	t.Helper()
	return r.CommitOn(t, Branch, files, message, when)
}

// CommitOn is Commit on another branch, created from main when missing.
func (r *Remote) CommitOn(t testing.TB, branch string, files map[string]string, message string, when time.Time) string {
	t.Helper()
	work := filepath.Join(t.TempDir(), "clone")
	Git(t, "", nil, "clone", "-q", r.Path, work)
	if branch != Branch {
		if strings.TrimSpace(GitOut(t, work, nil, "ls-remote", "--heads", "origin", "refs/heads/"+branch)) != "" {
			Git(t, work, nil, "checkout", "-q", branch)
		} else {
			Git(t, work, nil, "checkout", "-q", "-b", branch)
		}
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(work, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(files[p]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	Git(t, work, nil, append([]string{"add", "--"}, paths...)...)
	date := when.Format(time.RFC3339)
	env := []string{"GIT_AUTHOR_DATE=" + date, "GIT_COMMITTER_DATE=" + date}
	Git(t, work, env, "commit", "-q", "--allow-empty", "-m", message)
	Git(t, work, nil, "push", "-q", "origin", "HEAD:refs/heads/"+branch)
	return strings.TrimSpace(GitOut(t, work, nil, "rev-parse", "HEAD"))
}

// Head is the SHA of branch in the remote.
func (r *Remote) Head(t testing.TB, branch string) string {
	t.Helper()
	return strings.TrimSpace(GitOut(t, r.Path, nil, "rev-parse", "refs/heads/"+branch))
}

// HasBranch tells whether the remote has branch.
func (r *Remote) HasBranch(t testing.TB, branch string) bool {
	t.Helper()
	return strings.TrimSpace(GitOut(t, r.Path, nil, "for-each-ref", "refs/heads/"+branch)) != ""
}

// File reads path at rev (a branch or SHA) in the remote.
func (r *Remote) File(t testing.TB, rev, path string) string {
	t.Helper()
	return GitOut(t, r.Path, nil, "show", rev+":"+path)
}

// Subjects lists the commit subjects of rev touching path (all when path is
// ""), newest first.
func (r *Remote) Subjects(t testing.TB, rev, path string) []string {
	t.Helper()
	args := []string{"log", "--format=%s", rev}
	if path != "" {
		args = append(args, "--", path)
	}
	out := strings.TrimSpace(GitOut(t, r.Path, nil, args...))
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// Env is the environment for git in tests: no user or system configuration,
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

// Git runs git in dir ("" = current) and fails the test on error.
func Git(t testing.TB, dir string, env []string, args ...string) {
	t.Helper()
	GitOut(t, dir, env, args...)
}

// GitOut runs git in dir and returns stdout; it fails the test on error.
func GitOut(t testing.TB, dir string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", append([]string{"-c", "init.defaultBranch=" + Branch}, args...)...)
	cmd.Dir = dir
	cmd.Env = Env(env)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("git %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}
