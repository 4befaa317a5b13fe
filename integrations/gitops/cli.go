package gitops

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNotFound is returned (wrapped) when a file does not exist at the
// requested revision. errors.Is(err, fs.ErrNotExist) also holds.
var ErrNotFound = fmt.Errorf("gitops: file not found: %w", fs.ErrNotExist)

// ErrNoChange is returned by PushBranch when the files already have the
// given content on the base branch, so a commit would be empty.
var ErrNoChange = errors.New("gitops: the files already have this content on the base branch")

// CLIOptions configures NewCLI.
type CLIOptions struct {
	// RepoURL is the remote: https://, http://, ssh://, git@host:path,
	// file:// or a local path (relative paths are made absolute).
	RepoURL string
	// Branch is the base branch (default "main").
	Branch string
	// Workdir is where the local bare clone lives; created when missing.
	Workdir string
	// AuthorName and AuthorEmail sign the commits (default "nexo" /
	// "nexo@users.noreply.github.com").
	AuthorName  string
	AuthorEmail string
	// Token authenticates https remotes (GitHub: a PAT or an installation
	// token). It is handed to git through GIT_CONFIG_* environment variables
	// as an http.extraHeader scoped to the remote's host: never in the URL,
	// the command line, errors or logs.
	Token string
	// Timeout bounds each git command (default 60s).
	Timeout time.Duration
}

// CLI is a Repo backed by the git command-line tool and a local bare clone.
// It never checks files out: reads use the object database, writes build
// commits with plumbing commands and a temporary index. Safe for concurrent
// use: one mutex serialises commands on the clone.
type CLI struct {
	url, branch, dir string
	name, email      string
	timeout          time.Duration
	token            string
	authEnv          []string

	mu    sync.Mutex // serialises git commands on the clone
	ready bool       // the clone exists and is configured (guarded by mu)

	fmu     sync.Mutex   // guards flight and next
	flight  *fetchCall   // the fetch running
	next    *fetchCall   // the fetch callers arriving during flight wait for
	fetches atomic.Int64 // fetches run (tests)
	waiters atomic.Int64 // Sync callers that queued behind a running fetch (tests)
	pushes  atomic.Int64 // pushes of new commits (tests)
	// beforeFetch, when set, runs in the leading Sync before it fetches (tests).
	beforeFetch func()
	// afterFetch, when set, runs after each fetch, before its callers return (tests).
	afterFetch func()
}

type fetchCall struct {
	done chan struct{}
	err  error
}

var _ Repo = (*CLI)(nil)

// NewCLI checks opts and returns a CLI. The clone is made lazily by the first
// operation, under that operation's context.
func NewCLI(opts CLIOptions) (*CLI, error) {
	if opts.RepoURL == "" {
		return nil, errors.New("gitops: RepoURL is required")
	}
	if opts.Workdir == "" {
		return nil, errors.New("gitops: Workdir is required")
	}
	c := &CLI{
		url:     opts.RepoURL,
		branch:  opts.Branch,
		name:    opts.AuthorName,
		email:   opts.AuthorEmail,
		timeout: opts.Timeout,
		token:   opts.Token,
	}
	if c.branch == "" {
		c.branch = "main"
	}
	if err := checkRefName(c.branch); err != nil {
		return nil, fmt.Errorf("gitops: branch: %w", err)
	}
	if c.name == "" {
		c.name = "nexo"
	}
	if c.email == "" {
		c.email = "nexo@users.noreply.github.com"
	}
	if strings.ContainsAny(c.name+c.email, "\n\r\x00<>") {
		return nil, errors.New("gitops: author name/email contain forbidden characters")
	}
	if c.timeout <= 0 {
		c.timeout = 60 * time.Second
	}
	dir, err := filepath.Abs(opts.Workdir)
	if err != nil {
		return nil, fmt.Errorf("gitops: workdir: %w", err)
	}
	c.dir = dir
	switch {
	case strings.HasPrefix(c.url, "https://"), strings.HasPrefix(c.url, "http://"):
		u, err := url.Parse(c.url)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("gitops: RepoURL is not a valid URL")
		}
		if u.User != nil {
			return nil, errors.New("gitops: RepoURL must not carry credentials; use Token")
		}
		if c.token != "" {
			cred := base64.StdEncoding.EncodeToString([]byte("x-access-token:" + c.token))
			c.authEnv = []string{
				"GIT_CONFIG_COUNT=1",
				"GIT_CONFIG_KEY_0=http." + u.Scheme + "://" + u.Host + "/.extraHeader",
				"GIT_CONFIG_VALUE_0=Authorization: Basic " + cred,
			}
		}
	case strings.HasPrefix(c.url, "ssh://"), strings.HasPrefix(c.url, "file://"),
		strings.HasPrefix(c.url, "git@") && strings.Contains(c.url, ":"):
	default:
		if strings.Contains(c.url, "://") {
			return nil, fmt.Errorf("gitops: unsupported RepoURL scheme in %q", redactURL(c.url))
		}
		abs, err := filepath.Abs(c.url)
		if err != nil {
			return nil, fmt.Errorf("gitops: RepoURL: %w", err)
		}
		c.url = abs
	}
	return c, nil
}

// Branch is the base branch.
func (c *CLI) Branch() string { return c.branch }

func (c *CLI) remoteRef() string { return "refs/remotes/origin/" + c.branch }

// run executes git with the clone as GIT_DIR (unless dir is false), a timeout,
// and an environment free of user and system configuration.
func (c *CLI) run(ctx context.Context, stdin []byte, extraEnv []string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	full := append([]string{
		"-c", "user.name=" + c.name,
		"-c", "user.email=" + c.email,
		"-c", "core.hooksPath=/dev/null",
		"-c", "gc.autoDetach=false",
		"-c", "init.defaultBranch=" + c.branch,
	}, args...)
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Env = append(gitEnv(), c.authEnv...)
	cmd.Env = append(cmd.Env, "GIT_DIR="+c.dir)
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Dir = os.TempDir()
	cmd.WaitDelay = 2 * time.Second
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		what := "git " + args[0]
		if ctx.Err() == context.DeadlineExceeded {
			return nil, fmt.Errorf("%s: timed out after %s", what, c.timeout)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", what, ctx.Err())
		}
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = err.Error()
		}
		return out.Bytes(), fmt.Errorf("%s: %s", what, c.redact(msg))
	}
	return out.Bytes(), nil
}

// gitEnv is the process environment without GIT_* variables (except the SSH
// command), plus settings that make git non-interactive and blind to the
// user's and the system's configuration.
func gitEnv() []string {
	var env []string
	sshSet := false
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GIT_") {
			if k == "GIT_SSH_COMMAND" || k == "GIT_SSH" {
				sshSet = true
				env = append(env, kv)
			}
			continue
		}
		if k == "LC_ALL" || k == "LANG" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"LC_ALL=C",
	)
	if !sshSet {
		env = append(env, "GIT_SSH_COMMAND=ssh -o BatchMode=yes")
	}
	return env
}

var userinfoRE = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@`)

func redactURL(s string) string { return userinfoRE.ReplaceAllString(s, "${1}***@") }

func (c *CLI) redact(s string) string {
	if c.token != "" {
		s = strings.ReplaceAll(s, c.token, "***")
	}
	if i := strings.Index(s, "Authorization:"); i >= 0 {
		s = s[:i] + "Authorization: ***"
	}
	return redactURL(s)
}

// ensure makes or checks the bare clone. Caller holds mu.
func (c *CLI) ensure(ctx context.Context) error {
	if c.ready {
		return nil
	}
	entries, err := os.ReadDir(c.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := c.initBare(ctx); err != nil {
			return err
		}
	case err == nil && len(entries) == 0:
		// An empty folder (perhaps a mount point): made in place, and not
		// cut short by the caller's context, so it is never left half-made.
		if _, err := c.run(context.WithoutCancel(ctx), nil, nil, "init", "--bare", "-q", c.dir); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("gitops: workdir: %w", err)
	default:
		out, err := c.run(ctx, nil, nil, "rev-parse", "--is-bare-repository")
		if ctx.Err() != nil {
			return fmt.Errorf("gitops: workdir: %w", ctx.Err())
		}
		if err != nil || strings.TrimSpace(string(out)) != "true" {
			return fmt.Errorf("gitops: workdir %s exists and is not a bare git clone; give an empty or new folder", c.dir)
		}
	}
	// Local and quick: not cut short by the caller's context, which would
	// leave config.lock behind and every later start refused.
	if _, err := c.run(context.WithoutCancel(ctx), nil, nil, "config", "remote.origin.url", c.url); err != nil {
		return err
	}
	c.ready = true
	return nil
}

// initBare makes the bare repository beside the workdir and renames it
// into place, so a replica killed half-way leaves no half-made clone that
// the next start would refuse as "not a bare git clone"; the caller's
// context does not cut it short.
func (c *CLI) initBare(ctx context.Context) error {
	parent := filepath.Dir(c.dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return fmt.Errorf("gitops: workdir: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(c.dir)+".init-")
	if err != nil {
		return fmt.Errorf("gitops: workdir: %w", err)
	}
	if _, err := c.run(context.WithoutCancel(ctx), nil, []string{"GIT_DIR=" + tmp}, "init", "--bare", "-q", tmp); err != nil {
		_ = os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, c.dir); err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("gitops: workdir: %w", err)
	}
	return nil
}

// fetchLocked fetches the base branch. Caller holds mu.
func (c *CLI) fetchLocked(ctx context.Context, extra ...string) error {
	if err := c.ensure(ctx); err != nil {
		return err
	}
	c.fetches.Add(1)
	args := append([]string{"fetch", "-q", "--no-tags", "origin", "+refs/heads/" + c.branch + ":" + c.remoteRef()}, extra...)
	if _, err := c.run(ctx, nil, nil, args...); err != nil {
		if strings.Contains(err.Error(), "couldn't find remote ref") {
			return fmt.Errorf("gitops: branch %q not found at the remote: %w", c.branch, err)
		}
		return err
	}
	return nil
}

// Sync fetches origin/<branch>. A fetch that is already running may have
// read the remote before the caller's commit existed, so callers arriving
// while one runs wait for the next fetch, which they all share: concurrent
// callers cost at most two fetches, and each returns only after a fetch
// that started after it was called. Shared fetches are not cancelled by a
// caller's context (only bounded by the timeout), so one impatient caller
// does not fail the others.
func (c *CLI) Sync(ctx context.Context) error {
	c.fmu.Lock()
	if c.flight != nil {
		if c.next == nil {
			c.next = &fetchCall{done: make(chan struct{})}
		}
		f := c.next
		c.waiters.Add(1)
		c.fmu.Unlock()
		select {
		case <-f.done:
			return f.err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f := &fetchCall{done: make(chan struct{})}
	c.flight = f
	c.fmu.Unlock()

	c.fly(context.WithoutCancel(ctx), f)
	if f.err == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return f.err
}

// fly runs fetch f, then starts the one callers queued meanwhile.
func (c *CLI) fly(ctx context.Context, f *fetchCall) {
	if c.beforeFetch != nil {
		c.beforeFetch()
	}
	c.mu.Lock()
	f.err = c.fetchLocked(ctx)
	c.mu.Unlock()
	if c.afterFetch != nil {
		c.afterFetch()
	}

	c.fmu.Lock()
	next := c.next
	c.flight, c.next = next, nil
	c.fmu.Unlock()
	close(f.done)
	if next != nil {
		go c.fly(ctx, next)
	}
}

func (c *CLI) flightRunning() bool {
	c.fmu.Lock()
	defer c.fmu.Unlock()
	return c.flight != nil
}

// baseLocked returns the SHA of origin/<branch>, fetching when the clone has
// never been fetched. Caller holds mu.
func (c *CLI) baseLocked(ctx context.Context) (string, error) {
	if err := c.ensure(ctx); err != nil {
		return "", err
	}
	out, err := c.run(ctx, nil, nil, "rev-parse", "-q", "--verify", c.remoteRef()+"^{commit}")
	if err != nil {
		if ctx.Err() != nil {
			return "", err
		}
		if err := c.fetchLocked(ctx); err != nil {
			return "", err
		}
		out, err = c.run(ctx, nil, nil, "rev-parse", "-q", "--verify", c.remoteRef()+"^{commit}")
		if err != nil {
			return "", err
		}
	}
	return strings.TrimSpace(string(out)), nil
}

// Head is the SHA of origin/<branch> as of the last fetch.
func (c *CLI) Head(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.baseLocked(ctx)
}

// ReadFile reads path at origin/<branch> as of the last fetch.
func (c *CLI) ReadFile(ctx context.Context, path string) ([]byte, error) {
	if err := CheckPath(path); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	base, err := c.baseLocked(ctx)
	if err != nil {
		return nil, err
	}
	return c.showLocked(ctx, base, path)
}

// ShowFile reads path at rev (a SHA, branch, or any revision expression).
func (c *CLI) ShowFile(ctx context.Context, rev, path string) ([]byte, error) {
	if err := CheckPath(path); err != nil {
		return nil, err
	}
	if err := checkRev(rev); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ensure(ctx); err != nil {
		return nil, err
	}
	out, err := c.run(ctx, nil, nil, "rev-parse", "-q", "--verify", rev+"^{commit}")
	if err != nil {
		if _, err := c.baseLocked(ctx); err != nil {
			return nil, err
		}
		if out, err = c.run(ctx, nil, nil, "rev-parse", "-q", "--verify", rev+"^{commit}"); err != nil {
			return nil, fmt.Errorf("gitops: unknown revision %q", rev)
		}
	}
	return c.showLocked(ctx, strings.TrimSpace(string(out)), path)
}

// treeEntry is one line of git ls-tree.
type treeEntry struct{ mode, typ, sha, path string }

func (c *CLI) lsTree(ctx context.Context, commit string, paths []string) (map[string]treeEntry, error) {
	args := append([]string{"ls-tree", "-z", "--full-tree", commit, "--"}, paths...)
	out, err := c.run(ctx, nil, nil, args...)
	if err != nil {
		return nil, err
	}
	m := map[string]treeEntry{}
	for _, rec := range strings.Split(string(out), "\x00") {
		meta, p, ok := strings.Cut(rec, "\t")
		if !ok {
			continue
		}
		f := strings.Fields(meta)
		if len(f) != 3 {
			continue
		}
		m[p] = treeEntry{mode: f[0], typ: f[1], sha: f[2], path: p}
	}
	return m, nil
}

// checkTreePath refuses a path whose directories or itself are symbolic links
// (or submodules) in commit's tree, and returns the file's entry if present.
func (c *CLI) checkTreePath(ctx context.Context, commit, path string) (treeEntry, bool, error) {
	ents, err := c.lsTree(ctx, commit, append(parentDirs(path), path))
	if err != nil {
		return treeEntry{}, false, err
	}
	for _, d := range parentDirs(path) {
		if e, ok := ents[d]; ok && e.typ != "tree" {
			return treeEntry{}, false, fmt.Errorf("%w: %q goes through %q, which is not a directory (mode %s)", ErrUnsafePath, path, d, e.mode)
		}
	}
	e, ok := ents[path]
	if !ok {
		return treeEntry{}, false, nil
	}
	switch {
	case e.mode == "120000":
		return e, true, fmt.Errorf("%w: %q is a symbolic link", ErrUnsafePath, path)
	case e.typ != "blob":
		return e, true, fmt.Errorf("gitops: %q is a %s, not a file", path, e.typ)
	}
	return e, true, nil
}

func (c *CLI) showLocked(ctx context.Context, commit, path string) ([]byte, error) {
	e, ok, err := c.checkTreePath(ctx, commit, path)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s at %.12s", ErrNotFound, path, commit)
	}
	return c.run(ctx, nil, nil, "cat-file", "blob", e.sha)
}

// Log lists the commits of origin/<branch> that touched path, newest first.
func (c *CLI) Log(ctx context.Context, path string, max int) ([]Commit, error) {
	if err := CheckPath(path); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	base, err := c.baseLocked(ctx)
	if err != nil {
		return nil, err
	}
	args := []string{"log", "--format=%H%x1f%P%x1f%an%x1f%ae%x1f%cI%x1f%s%x1f%b%x1e"}
	if max > 0 {
		args = append(args, fmt.Sprintf("-n%d", max))
	}
	args = append(args, base, "--", path)
	out, err := c.run(ctx, nil, nil, args...)
	if err != nil {
		return nil, err
	}
	return parseLog(string(out))
}

func parseLog(out string) ([]Commit, error) {
	var commits []Commit
	for _, rec := range strings.Split(out, "\x1e") {
		rec = strings.TrimLeft(rec, "\n")
		if rec == "" {
			continue
		}
		f := strings.Split(rec, "\x1f")
		if len(f) != 7 {
			return nil, fmt.Errorf("gitops: unexpected git log record %q", rec)
		}
		t, err := time.Parse(time.RFC3339, f[4])
		if err != nil {
			return nil, fmt.Errorf("gitops: commit %s date: %w", f[0], err)
		}
		commits = append(commits, Commit{
			SHA: f[0], Parents: strings.Fields(f[1]), Author: f[2], Email: f[3],
			Time: t, Subject: f[5], Body: strings.TrimSpace(f[6]),
		})
	}
	return commits, nil
}

// lsRemote returns the SHA of refs/heads/branch at the remote, "" if absent.
func (c *CLI) lsRemote(ctx context.Context, branch string) (string, error) {
	out, err := c.run(ctx, nil, nil, "ls-remote", "--heads", "origin", "refs/heads/"+branch)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(out), "\n") {
		sha, ref, ok := strings.Cut(line, "\t")
		if ok && ref == "refs/heads/"+branch {
			return sha, nil
		}
	}
	return "", nil
}

// BranchExists tells whether the remote has branch.
func (c *CLI) BranchExists(ctx context.Context, branch string) (bool, error) {
	if err := checkRefName(branch); err != nil {
		return false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ensure(ctx); err != nil {
		return false, err
	}
	sha, err := c.lsRemote(ctx, branch)
	return sha != "", err
}

// DeleteBranch deletes branch at the remote; no error when it is absent. The
// base branch cannot be deleted.
func (c *CLI) DeleteBranch(ctx context.Context, branch string) error {
	if err := checkRefName(branch); err != nil {
		return err
	}
	if branch == c.branch {
		return fmt.Errorf("gitops: refusing to delete the base branch %q", branch)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ensure(ctx); err != nil {
		return err
	}
	sha, err := c.lsRemote(ctx, branch)
	if err != nil || sha == "" {
		return err
	}
	if _, err := c.run(ctx, nil, nil, "push", "-q", "origin", ":refs/heads/"+branch); err != nil {
		if again, lerr := c.lsRemote(ctx, branch); lerr == nil && again == "" {
			return nil // deleted by someone else meanwhile
		}
		return err
	}
	_, _ = c.run(ctx, nil, nil, "update-ref", "-d", "refs/remotes/origin/"+branch)
	return nil
}

// PushBranch writes files on top of origin/<branch> (freshly fetched) in one
// commit on branch and pushes it, without any working tree: blobs by
// hash-object, a temporary index (read-tree, update-index), write-tree,
// commit-tree, then push with a lease. When the remote branch already holds
// these exact contents it returns its SHA without pushing. When the files
// already have this content on the base branch it returns ErrNoChange.
func (c *CLI) PushBranch(ctx context.Context, branch string, files map[string][]byte, message string) (string, error) {
	if err := checkRefName(branch); err != nil {
		return "", err
	}
	if branch == c.branch {
		return "", fmt.Errorf("gitops: refusing to push to the base branch %q; use a new branch and a pull request", branch)
	}
	if len(files) == 0 {
		return "", errors.New("gitops: PushBranch needs at least one file")
	}
	if strings.TrimSpace(message) == "" {
		return "", errors.New("gitops: PushBranch needs a commit message")
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		if err := CheckPath(p); err != nil {
			return "", err
		}
		paths = append(paths, p)
	}
	sort.Strings(paths)

	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.fetchLocked(ctx); err != nil {
		return "", err
	}
	base, err := c.baseLocked(ctx)
	if err != nil {
		return "", err
	}
	modes := map[string]string{}
	for _, p := range paths {
		e, ok, err := c.checkTreePath(ctx, base, p)
		if err != nil {
			return "", err
		}
		modes[p] = "100644"
		if ok {
			modes[p] = e.mode
		}
	}
	blobs := map[string]string{}
	for _, p := range paths {
		out, err := c.run(ctx, files[p], nil, "hash-object", "-w", "--stdin")
		if err != nil {
			return "", err
		}
		blobs[p] = strings.TrimSpace(string(out))
	}

	existing, err := c.lsRemote(ctx, branch)
	if err != nil {
		return "", err
	}
	if existing != "" {
		if _, err := c.run(ctx, nil, nil, "fetch", "-q", "--no-tags", "origin", "+refs/heads/"+branch+":refs/remotes/origin/"+branch); err != nil {
			return "", err
		}
		ents, err := c.lsTree(ctx, existing, paths)
		if err != nil {
			return "", err
		}
		same := true
		for _, p := range paths {
			if e, ok := ents[p]; !ok || e.sha != blobs[p] {
				same = false
				break
			}
		}
		if same {
			return existing, nil
		}
	}

	tmp, err := os.MkdirTemp(c.dir, "nexo-index-")
	if err != nil {
		return "", fmt.Errorf("gitops: temp index: %w", err)
	}
	defer os.RemoveAll(tmp)
	idx := []string{"GIT_INDEX_FILE=" + filepath.Join(tmp, "index")}
	if _, err := c.run(ctx, nil, idx, "read-tree", base); err != nil {
		return "", err
	}
	upd := []string{"update-index", "--add"}
	for _, p := range paths {
		upd = append(upd, "--cacheinfo", modes[p]+","+blobs[p]+","+p)
	}
	if _, err := c.run(ctx, nil, idx, upd...); err != nil {
		return "", err
	}
	out, err := c.run(ctx, nil, idx, "write-tree")
	if err != nil {
		return "", err
	}
	tree := strings.TrimSpace(string(out))
	out, err = c.run(ctx, nil, nil, "rev-parse", base+"^{tree}")
	if err != nil {
		return "", err
	}
	if tree == strings.TrimSpace(string(out)) {
		return "", ErrNoChange
	}
	out, err = c.run(ctx, []byte(message), nil, "commit-tree", tree, "-p", base, "-F", "-")
	if err != nil {
		return "", err
	}
	sha := strings.TrimSpace(string(out))
	lease := "--force-with-lease=refs/heads/" + branch + ":" + existing
	if _, err := c.run(ctx, nil, nil, "push", "-q", lease, "origin", sha+":refs/heads/"+branch); err != nil {
		return "", fmt.Errorf("gitops: push %s: %w", branch, err)
	}
	c.pushes.Add(1)
	_, _ = c.run(ctx, nil, nil, "update-ref", "refs/remotes/origin/"+branch, sha)
	return sha, nil
}

// checkRefName validates a branch name like git check-ref-format --branch,
// without running git.
func checkRefName(b string) error {
	bad := b == "" || b == "@" || strings.HasPrefix(b, "-") || strings.HasPrefix(b, "/") ||
		strings.HasSuffix(b, "/") || strings.HasSuffix(b, ".") || strings.HasSuffix(b, ".lock") ||
		strings.Contains(b, "..") || strings.Contains(b, "//") || strings.Contains(b, "@{") ||
		strings.ContainsAny(b, " ~^:?*[\\\x7f")
	for _, r := range b {
		if r < 0x20 {
			bad = true
		}
	}
	for _, part := range strings.Split(b, "/") {
		if strings.HasPrefix(part, ".") {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("gitops: %q is not a valid branch name", b)
	}
	return nil
}

func checkRev(rev string) error {
	if rev == "" || strings.HasPrefix(rev, "-") || strings.ContainsAny(rev, " \t\n\r\x00:") {
		return fmt.Errorf("gitops: %q is not a valid revision", rev)
	}
	return nil
}
