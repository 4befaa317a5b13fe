// Package gitopstest makes real git repositories for tests: a bare repository
// in t.TempDir() is the remote, commits are made through a temporary clone
// with chosen dates, and SeedPlaybook fills it like the playbook's
// nexo-gitops repository.
package gitopstest

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopsseed"
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

// Commit adds one commit on main writing files (over the current tree), with
// author and committer date when, and returns its SHA.
func (r *Remote) Commit(t testing.TB, files map[string]string, message string, when time.Time) string {
	t.Helper()
	return r.CommitOn(t, Branch, files, message, when)
}

// CommitOn is Commit on another branch, created from main when missing.
func (r *Remote) CommitOn(t testing.TB, branch string, files map[string]string, message string, when time.Time) string {
	t.Helper()
	return r.CommitMany(t, branch, []CommitSpec{{Files: files, Message: message, When: when}})
}

// CommitSpec is one commit for CommitMany.
type CommitSpec struct {
	Files   map[string]string // path → content, written over the parent's tree
	Message string
	When    time.Time // author and committer date
	Author  string    // "Name <email>"; default "Nexo Test <test@nexo.example>"
}

// CommitMany appends commits to branch (created from main when missing) in
// one git fast-import run, and returns the SHA of the last one.
func (r *Remote) CommitMany(t testing.TB, branch string, commits []CommitSpec) string {
	t.Helper()
	var b strings.Builder
	for i, c := range commits {
		who := c.Author
		if who == "" {
			who = "Nexo Test <test@nexo.example>"
		}
		stamp := fmt.Sprintf("%s %d +0000", who, c.When.Unix())
		fmt.Fprintf(&b, "commit refs/heads/%s\nauthor %s\ncommitter %s\ndata %d\n%s\n", branch, stamp, stamp, len(c.Message), c.Message)
		if i == 0 {
			switch {
			case r.HasBranch(t, branch):
				fmt.Fprintf(&b, "from refs/heads/%s^0\n", branch)
			case r.HasBranch(t, Branch):
				fmt.Fprintf(&b, "from refs/heads/%s^0\n", Branch)
			}
		}
		paths := make([]string, 0, len(c.Files))
		for p := range c.Files {
			if p == "" || strings.ContainsAny(p, "\"\n\x00") || strings.HasPrefix(p, "/") {
				t.Fatalf("gitopstest: unsupported path %q", p)
			}
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			fmt.Fprintf(&b, "M 100644 inline %s\ndata %d\n%s\n", p, len(c.Files[p]), c.Files[p])
		}
		b.WriteString("\n")
	}
	gitIn(t, r.Path, []byte(b.String()), "fast-import", "--quiet")
	return r.Head(t, branch)
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
// no prompts, a fixed identity (the same as gitopsseed's).
func Env(extra []string) []string { return gitopsseed.Env(extra) }

// Git runs git in dir ("" = current) and fails the test on error.
func Git(t testing.TB, dir string, env []string, args ...string) {
	t.Helper()
	GitOut(t, dir, env, args...)
}

// GitOut runs git in dir and returns stdout; it fails the test on error.
func GitOut(t testing.TB, dir string, env []string, args ...string) string {
	t.Helper()
	return gitRun(t, dir, env, nil, args...)
}

func gitIn(t testing.TB, dir string, stdin []byte, args ...string) string {
	t.Helper()
	return gitRun(t, dir, nil, stdin, args...)
}

func gitRun(t testing.TB, dir string, env []string, stdin []byte, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", append([]string{"-c", "init.defaultBranch=" + Branch}, args...)...)
	cmd.Dir = dir
	cmd.Env = Env(env)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("git %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}
