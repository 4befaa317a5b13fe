package gitops

import (
	"context"
	"encoding/base64"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopstest"
)

func newCLI(t *testing.T, r *gitopstest.Remote) *CLI {
	t.Helper()
	c, err := NewCLI(CLIOptions{RepoURL: r.URL, Workdir: filepath.Join(t.TempDir(), "clone"), Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestCLIReadsSeededPlaybook(t *testing.T) {
	r := gitopstest.SeedPlaybook(t)
	c := newCLI(t, r)
	if err := c.Sync(ctx(t)); err != nil {
		t.Fatal(err)
	}
	head, err := c.Head(ctx(t))
	if err != nil || head != r.Head(t, "main") {
		t.Fatalf("Head = %s, %v; remote main is %s", head, err, r.Head(t, "main"))
	}
	for _, svc := range gitopstest.PlaybookServices {
		for _, env := range gitopstest.PlaybookEnvs {
			b, err := c.ReadFile(ctx(t), gitopstest.PlaybookValuesPath(svc, env))
			if err != nil {
				t.Fatal(err)
			}
			tag, err := GetTag(b, ".image.tag")
			if err != nil || tag != gitopstest.PlaybookTag(svc, env) {
				t.Fatalf("%s %s tag = %q, %v; want %q", svc, env, tag, err, gitopstest.PlaybookTag(svc, env))
			}
		}
	}
	prod, err := c.ReadFile(ctx(t), "helm/nexo-be/values-prod.yaml")
	if err != nil || !strings.Contains(string(prod), "repository: ghcr.io/nexo-org/nexo-be\n") {
		t.Fatalf("values-prod.yaml: %v\n%s", err, prod)
	}
	_, err = c.ReadFile(ctx(t), "helm/nexo-be/values-nope.yaml")
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want ErrNotFound", err)
	}
}

func TestCLILogOfValuesFile(t *testing.T) {
	r := gitopstest.SeedPlaybook(t)
	c := newCLI(t, r)
	log, err := c.Log(ctx(t), "helm/nexo-be/values-prod.yaml", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"promote(nexo-be): production → 2026.02.10",
		"promote(nexo-be): production → 2026.02.03",
		"promote(nexo-be): production → 2026.01.27",
		"chore: bootstrap nexo-gitops",
	}
	if len(log) != len(want) {
		t.Fatalf("got %d commits: %+v", len(log), log)
	}
	for i, w := range want {
		if log[i].Subject != w {
			t.Errorf("commit %d subject = %q, want %q", i, log[i].Subject, w)
		}
		if i > 0 && !log[i].Time.Before(log[i-1].Time) {
			t.Errorf("commit %d (%s) is not older than commit %d (%s)", i, log[i].Time, i-1, log[i-1].Time)
		}
	}
	if !log[0].Time.Equal(time.Date(2026, 2, 12, 15, 0, 0, 0, time.UTC)) {
		t.Errorf("newest production promotion at %s", log[0].Time)
	}
	if len(log[0].SHA) != 40 || len(log[0].Parents) != 1 {
		t.Errorf("sha/parents: %+v", log[0])
	}
	two, err := c.Log(ctx(t), "helm/nexo-be/values-prod.yaml", 2)
	if err != nil || len(two) != 2 || two[1].SHA != log[1].SHA {
		t.Fatalf("Log max 2 = %+v, %v", two, err)
	}
	old, err := c.ShowFile(ctx(t), log[1].SHA, "helm/nexo-be/values-prod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if tag, _ := GetTag(old, ".image.tag"); tag != "2026.02.03" {
		t.Fatalf("values at %s has tag %q", log[1].SHA, tag)
	}
	if _, err := c.ShowFile(ctx(t), "--output=/tmp/x", "README.md"); err == nil {
		t.Fatal("ShowFile accepted an option as revision")
	}
}

func TestCLISyncSeesNewCommits(t *testing.T) {
	r := gitopstest.NewRemote(t, map[string]string{"a.yaml": "v: 1\n"})
	c := newCLI(t, r)
	b, err := c.ReadFile(ctx(t), "a.yaml")
	if err != nil || string(b) != "v: 1\n" {
		t.Fatalf("%q %v", b, err)
	}
	r.Commit(t, map[string]string{"a.yaml": "v: 2\n"}, "bump", time.Now())
	if b, _ := c.ReadFile(ctx(t), "a.yaml"); string(b) != "v: 1\n" {
		t.Fatalf("read before Sync saw %q; reads are of the last fetch", b)
	}
	if err := c.Sync(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if b, _ := c.ReadFile(ctx(t), "a.yaml"); string(b) != "v: 2\n" {
		t.Fatalf("read after Sync = %q", b)
	}
}

func TestCLIPushBranchIdempotent(t *testing.T) {
	r := gitopstest.SeedPlaybook(t)
	c := newCLI(t, r)
	const path = "helm/nexo-be/values-staging.yaml"
	const branch = "promote/nexo-be-staging-2026.02.17"
	old, err := c.ReadFile(ctx(t), path)
	if err != nil {
		t.Fatal(err)
	}
	edited, err := SetTag(old, ".image.tag", "2026.02.17")
	if err != nil {
		t.Fatal(err)
	}
	mainBefore := r.Head(t, "main")
	msg := "promote(nexo-be): staging → 2026.02.17"
	sha, err := c.PushBranch(ctx(t), branch, map[string][]byte{path: edited}, msg)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Head(t, branch); got != sha {
		t.Fatalf("remote %s at %s, PushBranch returned %s", branch, got, sha)
	}
	if r.File(t, branch, path) != string(edited) {
		t.Fatal("remote branch does not hold the edited bytes")
	}
	if r.Head(t, "main") != mainBefore {
		t.Fatal("main moved")
	}
	if parent := strings.TrimSpace(gitopstest.GitOut(t, r.Path, nil, "rev-parse", sha+"^")); parent != mainBefore {
		t.Fatalf("parent %s, want main %s", parent, mainBefore)
	}
	if s := r.Subjects(t, branch, ""); s[0] != msg {
		t.Fatalf("subject %q", s[0])
	}
	if a := strings.TrimSpace(gitopstest.GitOut(t, r.Path, nil, "log", "-1", "--format=%an <%ae>", sha)); a != "nexo <nexo@users.noreply.github.com>" {
		t.Fatalf("author %q", a)
	}
	changed := strings.TrimSpace(gitopstest.GitOut(t, r.Path, nil, "diff", "--name-only", mainBefore, sha))
	if changed != path {
		t.Fatalf("commit changed %q, want only %s", changed, path)
	}

	pushes := c.pushes.Load()
	again, err := c.PushBranch(ctx(t), branch, map[string][]byte{path: edited}, msg)
	if err != nil || again != sha {
		t.Fatalf("second PushBranch = %s, %v; want %s", again, err, sha)
	}
	if c.pushes.Load() != pushes {
		t.Fatal("second PushBranch pushed again")
	}
	// A fresh clone (another replica) is idempotent too.
	if again, err := newCLI(t, r).PushBranch(ctx(t), branch, map[string][]byte{path: edited}, msg); err != nil || again != sha {
		t.Fatalf("PushBranch from another clone = %s, %v", again, err)
	}

	// Different content for an existing branch replaces it (with a lease).
	edited2, _ := SetTag(old, ".image.tag", "2026.02.18")
	sha2, err := c.PushBranch(ctx(t), branch, map[string][]byte{path: edited2}, msg)
	if err != nil || sha2 == sha || r.Head(t, branch) != sha2 {
		t.Fatalf("replace = %s, %v", sha2, err)
	}

	// Same content as main: nothing to commit.
	if _, err := c.PushBranch(ctx(t), "promote/noop", map[string][]byte{path: old}, "noop"); !errors.Is(err, ErrNoChange) {
		t.Fatalf("unchanged content: %v, want ErrNoChange", err)
	}
	if r.HasBranch(t, "promote/noop") {
		t.Fatal("no-op created a branch")
	}
	// Never to the base branch.
	if _, err := c.PushBranch(ctx(t), "main", map[string][]byte{path: edited}, "x"); err == nil {
		t.Fatal("pushed to main")
	}
	if _, err := c.PushBranch(ctx(t), "bad..name", map[string][]byte{path: edited}, "x"); err == nil {
		t.Fatal("accepted an invalid branch name")
	}
}

func TestCLIPushBranchNewFileAndExecBit(t *testing.T) {
	r := gitopstest.NewRemote(t, map[string]string{"a.yaml": "v: 1\n"})
	c := newCLI(t, r)
	sha, err := c.PushBranch(ctx(t), "feat/new", map[string][]byte{"helm/new/values-qa.yaml": []byte("x: 1\n"), "a.yaml": []byte("v: 2\n")}, "add")
	if err != nil {
		t.Fatal(err)
	}
	if r.File(t, sha, "helm/new/values-qa.yaml") != "x: 1\n" || r.File(t, sha, "a.yaml") != "v: 2\n" {
		t.Fatal("files not in the pushed commit")
	}
}

func TestCLIRejectsUnsafePaths(t *testing.T) {
	r := gitopstest.NewRemote(t, map[string]string{"helm/real/values.yaml": "v: 1\n"})
	// A symbolic link committed in the repository: helm/link → real.
	work := filepath.Join(t.TempDir(), "w")
	gitopstest.Git(t, "", nil, "clone", "-q", r.Path, work)
	if err := os.Symlink("real", filepath.Join(work, "helm", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(work, "passwd.yaml")); err != nil {
		t.Fatal(err)
	}
	gitopstest.Git(t, work, nil, "add", ".")
	gitopstest.Git(t, work, nil, "commit", "-q", "-m", "links")
	gitopstest.Git(t, work, nil, "push", "-q", "origin", "HEAD:main")

	c := newCLI(t, r)
	for _, p := range []string{"../x.yaml", "/etc/passwd", "helm/../../x", ".git/config", "helm//x", "./a", "", `helm\x`, "helm/link/values.yaml", "passwd.yaml"} {
		if _, err := c.ReadFile(ctx(t), p); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("ReadFile(%q) = %v, want ErrUnsafePath", p, err)
		}
		if _, err := c.PushBranch(ctx(t), "x/unsafe", map[string][]byte{p: []byte("a")}, "m"); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("PushBranch(%q) = %v, want ErrUnsafePath", p, err)
		}
	}
	if r.HasBranch(t, "x/unsafe") {
		t.Fatal("an unsafe path produced a branch")
	}
	if b, err := c.ReadFile(ctx(t), "helm/real/values.yaml"); err != nil || string(b) != "v: 1\n" {
		t.Fatalf("safe path: %q %v", b, err)
	}
}

func TestCLIDeleteBranch(t *testing.T) {
	r := gitopstest.NewRemote(t, nil)
	r.CommitOn(t, "promote/x", map[string]string{"a": "1"}, "x", time.Now())
	c := newCLI(t, r)
	ok, err := c.BranchExists(ctx(t), "promote/x")
	if err != nil || !ok {
		t.Fatalf("BranchExists = %v, %v", ok, err)
	}
	if err := c.DeleteBranch(ctx(t), "promote/x"); err != nil {
		t.Fatal(err)
	}
	if r.HasBranch(t, "promote/x") {
		t.Fatal("branch still at the remote")
	}
	if ok, _ := c.BranchExists(ctx(t), "promote/x"); ok {
		t.Fatal("BranchExists after delete")
	}
	if err := c.DeleteBranch(ctx(t), "promote/x"); err != nil {
		t.Fatalf("deleting an absent branch: %v", err)
	}
	if err := c.DeleteBranch(ctx(t), "main"); err == nil || !r.HasBranch(t, "main") {
		t.Fatal("deleted the base branch")
	}
}

func TestCLIConcurrentSyncSharesOneFetch(t *testing.T) {
	r := gitopstest.NewRemote(t, nil)
	c := newCLI(t, r)
	if err := c.Sync(ctx(t)); err != nil {
		t.Fatal(err)
	}
	const n = 8
	release := make(chan struct{})
	c.beforeFetch = func() { <-release }
	before := c.fetches.Load()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	wg.Add(1)
	go func() { defer wg.Done(); errs <- c.Sync(ctx(t)) }()
	for !c.flightRunning() {
		time.Sleep(time.Millisecond)
	}
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- c.Sync(ctx(t)) }()
	}
	for c.waiters.Load() < n-1 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// The leader's fetch, and one more shared by the seven that arrived
	// while it ran.
	if got := c.fetches.Load() - before; got != 2 {
		t.Fatalf("%d concurrent Syncs ran %d fetches, want 2", n, got)
	}
	c.beforeFetch = nil
	if err := c.Sync(ctx(t)); err != nil || c.fetches.Load()-before != 3 {
		t.Fatalf("a later Sync must fetch again: %v", err)
	}
}

// A Sync called after a commit was pushed sees it, even when a fetch that
// began before the push is still running: it does not take that fetch's
// result.
func TestCLISyncArrivingDuringAFetchSeesLaterCommits(t *testing.T) {
	r := gitopstest.NewRemote(t, map[string]string{"a.yaml": "v: 1\n"})
	c := newCLI(t, r)
	if err := c.Sync(ctx(t)); err != nil {
		t.Fatal(err)
	}
	fetched, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	c.afterFetch = func() { once.Do(func() { close(fetched); <-release }) }
	lead := make(chan error, 1)
	go func() { lead <- c.Sync(ctx(t)) }()
	<-fetched // the leader's fetch has read the remote
	sha := r.Commit(t, map[string]string{"a.yaml": "v: 2\n"}, "chore: v2", time.Now())
	late := make(chan error, 1)
	go func() { late <- c.Sync(ctx(t)) }()
	for c.waiters.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-lead; err != nil {
		t.Fatal(err)
	}
	if err := <-late; err != nil {
		t.Fatal(err)
	}
	b, err := c.ReadFile(ctx(t), "a.yaml")
	if err != nil || string(b) != "v: 2\n" {
		t.Fatalf("after the late Sync the clone reads %q (%v), want the commit %s pushed before it", b, err, sha)
	}
}

func TestCLIWorkdirReuseAndForeignDir(t *testing.T) {
	r := gitopstest.NewRemote(t, map[string]string{"a.yaml": "v: 1\n"})
	dir := filepath.Join(t.TempDir(), "clone")
	for i := 0; i < 2; i++ {
		c, err := NewCLI(CLIOptions{RepoURL: r.URL, Workdir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if b, err := c.ReadFile(ctx(t), "a.yaml"); err != nil || string(b) != "v: 1\n" {
			t.Fatalf("run %d: %q %v", i, b, err)
		}
	}
	foreign := t.TempDir()
	os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("mine"), 0o644)
	c, _ := NewCLI(CLIOptions{RepoURL: r.URL, Workdir: foreign})
	if err := c.Sync(ctx(t)); err == nil || !strings.Contains(err.Error(), "not a bare git clone") {
		t.Fatalf("foreign workdir: %v", err)
	}
}

func TestCLITokenIsSentAsHeaderAndNeverShown(t *testing.T) {
	const token = "ghp_SECRETsecretSECRET123"
	var mu sync.Mutex
	var auths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		auths = append(auths, req.Header.Get("Authorization"))
		mu.Unlock()
		http.Error(w, "denied", http.StatusForbidden)
	}))
	defer srv.Close()
	c, err := NewCLI(CLIOptions{RepoURL: srv.URL + "/nexo-org/nexo-gitops.git", Workdir: filepath.Join(t.TempDir(), "c"), Token: token, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Sync(ctx(t))
	if err == nil {
		t.Fatal("fetch from a refusing server succeeded")
	}
	if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), base64.StdEncoding.EncodeToString([]byte("x-access-token:"+token))) {
		t.Fatalf("error shows the token: %v", err)
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("x-access-token:"+token))
	mu.Lock()
	defer mu.Unlock()
	if len(auths) == 0 || auths[0] != want {
		t.Fatalf("Authorization headers %q, want %q", auths, want)
	}
	if _, err := NewCLI(CLIOptions{RepoURL: "https://x:" + token + "@github.com/o/r.git", Workdir: t.TempDir()}); err == nil || strings.Contains(err.Error(), token) {
		t.Fatalf("credentials in URL: %v", err)
	}
}

func TestCLICommandTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn) // accept and never answer
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	c, err := NewCLI(CLIOptions{RepoURL: "http://" + ln.Addr().String() + "/r.git", Workdir: filepath.Join(t.TempDir(), "c"), Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Sync(ctx(t))
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("Sync against a silent server: %v, want a timeout", err)
	}
}

func BenchmarkCLIReadFile(b *testing.B) {
	r := gitopstest.SeedPlaybook(b)
	c, err := NewCLI(CLIOptions{RepoURL: r.URL, Workdir: filepath.Join(b.TempDir(), "c")})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.ReadFile(ctx, "helm/nexo-be/values-prod.yaml"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCLIPushBranch(b *testing.B) {
	r := gitopstest.SeedPlaybook(b)
	c, err := NewCLI(CLIOptions{RepoURL: r.URL, Workdir: filepath.Join(b.TempDir(), "c")})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	old, err := c.ReadFile(ctx, "helm/nexo-be/values-qa.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tag := "2026.03." + strings.Repeat("1", 1+i%5) + string(rune('a'+i%26))
		v, err := SetTag(old, ".image.tag", tag)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.PushBranch(ctx, "bench/"+tag, map[string][]byte{"helm/nexo-be/values-qa.yaml": v}, "bench"); err != nil && !errors.Is(err, ErrNoChange) {
			b.Fatal(err)
		}
	}
}

// A replica stopped while it makes its clone (its context cancelled at any
// point of git init) leaves a workdir the next start can use, and no
// temporary folder.
func TestCLIStoppedWhileMakingItsCloneLeavesAUsableWorkdir(t *testing.T) {
	r := gitopstest.NewRemote(t, map[string]string{"a.yaml": "v: 1\n"})
	for i := 0; i < 80; i++ {
		after := time.Duration(i) * 40 * time.Microsecond
		parent := t.TempDir()
		dir := filepath.Join(parent, "clone")
		first, err := NewCLI(CLIOptions{RepoURL: r.URL, Workdir: dir, Timeout: 20 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		stop, cancel := context.WithTimeout(context.Background(), after)
		first.mu.Lock()
		_ = first.ensure(stop) // may fail: stopped
		first.mu.Unlock()
		cancel()
		next, err := NewCLI(CLIOptions{RepoURL: r.URL, Workdir: dir, Timeout: 20 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		next.mu.Lock()
		err = next.ensure(ctx(t))
		next.mu.Unlock()
		if err != nil {
			var names []string
			_ = filepath.WalkDir(parent, func(p string, d fs.DirEntry, _ error) error { names = append(names, p[len(parent):]); return nil })
			t.Fatalf("stopped after %s: the next start: %v\n%v", after, err, names)
		}
		entries, err := os.ReadDir(parent)
		if err != nil || len(entries) != 1 || entries[0].Name() != "clone" {
			t.Fatalf("stopped after %s: the workdir's folder holds %v (%v)", after, entries, err)
		}
	}
	if b, err := (func() ([]byte, error) {
		c, err := NewCLI(CLIOptions{RepoURL: r.URL, Workdir: filepath.Join(t.TempDir(), "clone"), Timeout: 20 * time.Second})
		if err != nil {
			return nil, err
		}
		return c.ReadFile(ctx(t), "a.yaml")
	})(); err != nil || string(b) != "v: 1\n" {
		t.Fatalf("a clone made in one go: %q %v", b, err)
	}
}
