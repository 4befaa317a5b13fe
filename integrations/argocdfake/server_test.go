package argocdfake_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/argocdfake"
)

func run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// gitopsRemote makes a bare repo with two commits of the values file.
func gitopsRemote(t *testing.T) (bare, first, second string) {
	t.Helper()
	root := t.TempDir()
	bare = filepath.Join(root, "gitops.git")
	work := filepath.Join(root, "work")
	run(t, root, "init", "-q", "--bare", "-b", "main", bare)
	run(t, root, "clone", "-q", bare, work)
	values := filepath.Join(work, "helm", "nexo-be", "values-production.yaml")
	if err := os.MkdirAll(filepath.Dir(values), 0o755); err != nil {
		t.Fatal(err)
	}
	for i, tag := range []string{"2024.05.01", "2024.05.02"} {
		body := "replicaCount: 2\nimage:\n  repository: ghcr.io/nexo-org/nexo-be\n  tag: \"" + tag + "\"\n"
		if err := os.WriteFile(values, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, work, "add", ".")
		run(t, work, "commit", "-q", "-m", "promote(nexo-be): production → "+tag)
		run(t, work, "push", "-q", "origin", "HEAD:main")
		sha := run(t, work, "rev-parse", "HEAD")
		if i == 0 {
			first = sha
		} else {
			second = sha
		}
	}
	return bare, first, second
}

func TestGitResolverThroughSyncAndRollback(t *testing.T) {
	bare, first, second := gitopsRemote(t)
	fake := argocdfake.New(argocdfake.Options{
		ResolveRevision: argocdfake.GitResolver(bare, func(app string) string { return "helm/nexo-be/values-production.yaml" }),
	})
	defer fake.Close()
	fake.AddApp("nexo-be-production", argocdfake.AppSpec{Namespace: "nexo-production", RepoURL: "file://" + bare, Path: "helm/nexo-be", TargetRevision: "main", Revision: first,
		Images: []string{"ghcr.io/nexo-org/nexo-be:2024.05.01"}})
	c, err := argocd.NewClient(argocd.Options{Server: fake.URL(), Token: fake.Token()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Sync(ctx, "nexo-be-production", argocd.SyncRequest{}); err != nil {
		t.Fatal(err)
	}
	fake.Advance("nexo-be-production")
	a, _ := fake.App("nexo-be-production")
	if a.Status.Sync.Revision != second || a.Status.Summary.Images[0] != "ghcr.io/nexo-org/nexo-be:2024.05.02" {
		t.Fatalf("sync to main: %s %v (want %s)", a.Status.Sync.Revision, a.Status.Summary.Images, second)
	}
	if _, err := c.Rollback(ctx, "nexo-be-production", 0); err != nil {
		t.Fatal(err)
	}
	fake.Advance("nexo-be-production")
	a, _ = fake.App("nexo-be-production")
	// Compared with the target (main), the rolled-back app is OutOfSync.
	if last := a.Status.History[len(a.Status.History)-1]; last.Revision != first || a.Status.Summary.Images[0] != "ghcr.io/nexo-org/nexo-be:2024.05.01" ||
		a.Status.Sync.Status != "OutOfSync" || a.Status.Sync.Revision != second {
		t.Fatalf("rollback: deployed %s, sync %+v, images %v", last.Revision, a.Status.Sync, a.Status.Summary.Images)
	}
	tree, err := c.ResourceTree(ctx, "nexo-be-production")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range tree.Nodes {
		if n.Kind == "Pod" && (len(n.Images) != 1 || n.Images[0] != "ghcr.io/nexo-org/nexo-be:2024.05.01") {
			t.Fatalf("pod images: %+v", n)
		}
	}
}

// A revision that names no commit is refused at once (400, code 9), as
// argocd-server resolves it before starting an operation.
func TestUnknownRevisionIsRefused(t *testing.T) {
	bare, first, _ := gitopsRemote(t)
	fake := argocdfake.New(argocdfake.Options{ResolveRevision: argocdfake.GitResolver(bare, func(string) string { return "helm/nexo-be/values-production.yaml" })})
	defer fake.Close()
	fake.AddApp("app", argocdfake.AppSpec{TargetRevision: "main", Revision: first})
	c, _ := argocd.NewClient(argocd.Options{Server: fake.URL(), Token: fake.Token()})
	_, err := c.Sync(context.Background(), "app", argocd.SyncRequest{Revision: "no-such-branch"})
	var e *argocd.APIError
	if !errors.As(err, &e) || e.HTTPStatus != 400 || e.Code != argocd.CodeFailedPrecondition ||
		e.Message != "error resolving repo revision: rpc error: code = Unknown desc = unable to resolve 'no-such-branch' to a commit SHA: revision not found" ||
		err.Error() != "Argo CD cannot find revision no-such-branch in the GitOps repository" {
		t.Fatalf("sync of an unknown revision: %v (%+v)", err, e)
	}
	a, _ := fake.App("app")
	if a.Operation != nil || a.Status.OperationState != nil || len(a.Status.History) != 1 || a.Status.Sync.Revision != first {
		t.Fatalf("status after the refusal: %+v", a.Status)
	}
}

func TestConcurrentClients(t *testing.T) {
	fake := argocdfake.New(argocdfake.Options{})
	defer fake.Close()
	fake.AddApp("app", argocdfake.AppSpec{Revision: "r0"})
	c, _ := argocd.NewClient(argocd.Options{Server: fake.URL(), Token: fake.Token()})
	var wg sync.WaitGroup
	var mu sync.Mutex
	started, refused := 0, 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Sync(context.Background(), "app", argocd.SyncRequest{})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				started++
			case argocd.IsOperationInProgress(err):
				refused++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if started != 1 || refused != 7 {
		t.Fatalf("started %d refused %d", started, refused)
	}
	if n := fake.CallCount("POST", "/api/v1/applications/app/sync"); n != 8 {
		t.Fatalf("recorded %d syncs", n)
	}
}

// A sync whose answer is held takes effect although the client gives up;
// a held read (Delay) that the client gives up on has no effect.
func TestAnswerDelayAndCutRequests(t *testing.T) {
	fake := argocdfake.New(argocdfake.Options{})
	defer fake.Close()
	fake.AddApp("app", argocdfake.AppSpec{Revision: "r0"})
	fake.AddFault(argocdfake.Fault{Method: "POST", Path: "/api/v1/applications/app/sync", AnswerDelay: time.Minute})
	c, _ := argocd.NewClient(argocd.Options{Server: fake.URL(), Token: fake.Token()})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := c.Sync(ctx, "app", argocd.SyncRequest{}); err == nil {
		t.Fatal("the held answer arrived")
	}
	if n := fake.OperationsStarted("app"); n != 1 {
		t.Fatalf("operations started: %d, want 1 (the sync took effect)", n)
	}
	if _, err := c.Sync(context.Background(), "app", argocd.SyncRequest{}); !argocd.IsOperationInProgress(err) {
		t.Fatalf("second sync: %v", err)
	}
	if n := fake.OperationsStarted("app"); n != 1 {
		t.Fatalf("a refused sync counted as an operation: %d", n)
	}
}
