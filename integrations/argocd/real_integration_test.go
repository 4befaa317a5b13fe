//go:build integration

package argocd_test

// The client against a real Argo CD v3.6.1 (API server, application
// controller, repo server) deploying to a real kube-apiserver, with the
// token of the nexo account bound to the RBAC of docs/install.md. Every
// refusal is checked twice: argocd-server's code and text, and the sentence
// nexo says instead.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/argocdtest"
	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopstest"
)

func TestMain(m *testing.M) { argocdtest.Main(m) }

const syncWait = 90 * time.Second

// manifests is a directory app: a Deployment of image tag and a ConfigMap.
// With waves, the ConfigMap (wave 1) waits for the Deployment (wave 0) to be
// Healthy, so a sync keeps running until the test finishes the rollout.
func manifests(name, tag string, waves bool) map[string]string {
	wave := func(n int) string {
		if !waves {
			return ""
		}
		return fmt.Sprintf("\n  annotations:\n    argocd.argoproj.io/sync-wave: \"%d\"", n)
	}
	return map[string]string{
		"app/deployment.yaml": fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s%[3]s
spec:
  replicas: 2
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      containers:
        - name: app
          image: ghcr.io/nexo-org/%[1]s:%[2]s
`, name, tag, wave(0)),
		"app/configmap.yaml": fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: %[1]s-config%[3]s
data:
  release: "%[2]s"
`, name, tag, wave(1)),
	}
}

type fixture struct {
	acd    *argocdtest.Server
	remote *gitopstest.Remote
	name   string // app, Deployment and namespace base
	ns     string
	bot    *argocd.HTTPClient
	shas   []string // commits, oldest first
}

// newApp commits tag to a new bare repo and creates an Application of it.
func newApp(t *testing.T, name string, a argocdtest.App, waves bool) *fixture {
	t.Helper()
	acd := argocdtest.Start(t)
	f := &fixture{acd: acd, name: name, ns: "it-" + name, bot: acd.Client(t, acd.Token)}
	f.remote = gitopstest.NewRemote(t, manifests(name, "2026.02.10", waves))
	f.shas = append(f.shas, f.remote.Head(t, "main"))
	a.Name, a.RepoURL, a.Path, a.Namespace = name, f.remote.URL, "app", f.ns
	acd.CreateApp(t, a)
	return f
}

func (f *fixture) commit(t *testing.T, tag string, waves bool) string {
	t.Helper()
	sha := f.remote.Commit(t, manifests(f.name, tag, waves), "release "+tag, time.Now())
	f.shas = append(f.shas, sha)
	t.Logf("commit %d: %.7s (%s)", len(f.shas)-1, sha, tag)
	return sha
}

// deployed waits until the app's last operation deployed sha, finishes the
// Deployment's rollout, and waits for Healthy. (status.sync.revision is the
// revision git was compared at, the target's, not what was deployed.)
func (f *fixture) deployed(t *testing.T, sha string) *argocd.Application {
	t.Helper()
	f.acd.WaitApp(t, f.name, syncWait, "deployed "+sha[:7], func(a *argocd.Application) bool {
		return deployedRev(a) == sha && argocdtest.Settled(a)
	})
	f.acd.FinishRollout(t, f.ns, f.name)
	return f.acd.WaitApp(t, f.name, syncWait, "Healthy on "+sha[:7], func(a *argocd.Application) bool {
		return deployedRev(a) == sha && a.Status.Health.Status == "Healthy" && argocdtest.Settled(a)
	})
}

// deployedRev is the revision of the app's last successful operation.
func deployedRev(a *argocd.Application) string {
	if op := a.Status.OperationState; op != nil && op.Phase == "Succeeded" && op.SyncResult != nil {
		return op.SyncResult.Revision
	}
	return ""
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func wantAPIError(t *testing.T, err error, status, code int, text, sentence string) *argocd.APIError {
	t.Helper()
	var e *argocd.APIError
	if !errors.As(err, &e) {
		t.Fatalf("want *argocd.APIError, got %T: %v", err, err)
	}
	if e.HTTPStatus != status || e.Code != code || !strings.Contains(e.Message, text) {
		t.Fatalf("argocd-server answered HTTP %d code %d %q; want HTTP %d code %d containing %q", e.HTTPStatus, e.Code, e.Message, status, code, text)
	}
	if err.Error() != sentence {
		t.Fatalf("nexo says %q, want %q", err.Error(), sentence)
	}
	return e
}

func TestRealGetAppAndResourceTree(t *testing.T) {
	f := newApp(t, "get", argocdtest.App{AutoSync: true}, false)
	app := f.deployed(t, f.shas[0])

	got, err := f.bot.GetApp(ctx(t), f.name, "normal")
	if err != nil {
		t.Fatal(err)
	}
	if got.Metadata.Name != f.name || got.Metadata.Namespace != argocdtest.Namespace || got.Spec.Source == nil ||
		got.Spec.Source.RepoURL != f.remote.URL || got.Spec.Destination.Namespace != f.ns || got.Spec.Project != "default" {
		t.Fatalf("app metadata/spec: %+v %+v", got.Metadata, got.Spec)
	}
	if !got.AutoSyncEnabled() || got.Status.Sync.Status != "Synced" || got.Status.Health.Status != "Healthy" {
		t.Fatalf("status: %+v", got.Status)
	}
	if len(got.Status.History) == 0 || got.Status.History[len(got.Status.History)-1].Revision != f.shas[0] ||
		got.Status.History[0].Source == nil || got.Status.History[0].DeployedAt.IsZero() {
		t.Fatalf("history: %+v", got.Status.History)
	}
	if want := "ghcr.io/nexo-org/get:2026.02.10"; len(got.Status.Summary.Images) != 1 || got.Status.Summary.Images[0] != want {
		t.Fatalf("summary.images %v, want [%s]", got.Status.Summary.Images, want)
	}
	kinds := map[string]bool{}
	for _, r := range got.Status.Resources {
		kinds[r.Kind+"/"+r.Name+"/"+r.Status] = true
	}
	if !kinds["Deployment/get/Synced"] || !kinds["ConfigMap/get-config/Synced"] {
		t.Fatalf("resources: %+v", got.Status.Resources)
	}
	if app.Status.OperationState == nil || app.Status.OperationState.Phase != "Succeeded" || app.Status.OperationState.SyncResult == nil ||
		app.Status.OperationState.SyncResult.Revision != f.shas[0] {
		t.Fatalf("operationState: %+v", app.Status.OperationState)
	}

	tree, err := f.bot.ResourceTree(ctx(t), f.name)
	if err != nil {
		t.Fatal(err)
	}
	var dep *argocd.ResourceNode
	for i, n := range tree.Nodes {
		if n.Kind == "Deployment" && n.Name == f.name {
			dep = &tree.Nodes[i]
		}
	}
	if dep == nil || dep.Namespace != f.ns || dep.Group != "apps" || dep.UID == "" || dep.Health == nil || dep.Health.Status != "Healthy" {
		t.Fatalf("resource tree: %+v", tree.Nodes)
	}

	events, err := f.bot.Events(ctx(t), f.name)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]bool{}
	for _, e := range events.Items {
		reasons[e.Reason] = true
		if e.InvolvedObject.Name != f.name || e.InvolvedObject.Kind != "Application" {
			t.Fatalf("event of another object: %+v", e)
		}
	}
	if !reasons["OperationStarted"] || !reasons["OperationCompleted"] {
		t.Fatalf("event reasons %v, want OperationStarted and OperationCompleted", reasons)
	}
	// A commit that does not change the app's manifests: still Synced,
	// compared at the new commit, nothing deployed.
	other := f.remote.Commit(t, map[string]string{"README.md": "other apps changed\n"}, "docs: elsewhere", time.Now())
	same := f.acd.WaitApp(t, f.name, syncWait, "compared at "+other[:7], func(a *argocd.Application) bool {
		return a.Status.Sync.Revision == other
	})
	if same.Status.Sync.Status != "Synced" || deployedRev(same) != f.shas[0] {
		t.Fatalf("after an unrelated commit: %s at %.7s, last deploy %.7s", same.Status.Sync.Status, same.Status.Sync.Revision, deployedRev(same))
	}
}

func TestRealAutoSyncToggleKeepsPruneAndSelfHeal(t *testing.T) {
	f := newApp(t, "toggle", argocdtest.App{AutoSync: true, Prune: true, SelfHeal: true}, false)
	f.deployed(t, f.shas[0])

	off, err := f.bot.SetAutoSync(ctx(t), f.name, false)
	if err != nil {
		t.Fatal(err)
	}
	if off.AutoSyncEnabled() {
		t.Fatalf("auto-sync still on: %+v", off.Spec.SyncPolicy)
	}
	again, err := f.bot.SetAutoSync(ctx(t), f.name, false) // idempotent
	if err != nil || again.AutoSyncEnabled() {
		t.Fatalf("second disable: %v %+v", err, again)
	}
	// A new commit is not deployed while auto-sync is off.
	sha := f.commit(t, "2026.02.17", false)
	seen := f.acd.WaitApp(t, f.name, syncWait, "OutOfSync with "+sha[:7], func(a *argocd.Application) bool {
		return a.Status.Sync.Revision == sha && a.Status.Sync.Status == "OutOfSync"
	})
	time.Sleep(3 * time.Second)
	if a, err := f.bot.GetApp(ctx(t), f.name, "normal"); err != nil || deployedRev(a) == sha || deployedRev(seen) == sha || a.Status.Sync.Status != "OutOfSync" {
		t.Fatalf("deployed %s with auto-sync off (err %v)", sha, err)
	}

	on, err := f.bot.SetAutoSync(ctx(t), f.name, true)
	if err != nil {
		t.Fatal(err)
	}
	au := on.Spec.SyncPolicy.Automated
	if !on.AutoSyncEnabled() || au == nil || !au.Prune || !au.SelfHeal {
		t.Fatalf("after enabling: %+v (prune and selfHeal must survive the toggle)", on.Spec.SyncPolicy)
	}
	f.deployed(t, sha)
}

func TestRealSyncOfARevision(t *testing.T) {
	f := newApp(t, "sync", argocdtest.App{AutoSync: true}, false)
	f.deployed(t, f.shas[0])
	newer := f.commit(t, "2026.02.17", false)
	f.deployed(t, newer)

	// Auto-sync on: a pinned older revision is refused, the target is fine.
	_, err := f.bot.Sync(ctx(t), f.name, argocd.SyncRequest{Revision: f.shas[0]})
	wantAPIError(t, err, 400, argocd.CodeFailedPrecondition, "Cannot sync to "+f.shas[0]+": auto-sync currently set to HEAD",
		"Argo CD refuses to sync to "+f.shas[0]+" while auto-sync follows HEAD")
	if _, err := f.bot.Sync(ctx(t), f.name, argocd.SyncRequest{}); err != nil {
		t.Fatalf("sync of the target revision with auto-sync on: %v", err)
	}
	f.acd.WaitApp(t, f.name, syncWait, "the sync done", argocdtest.Settled)

	// Auto-sync off: the pinned revision is deployed.
	if _, err := f.bot.SetAutoSync(ctx(t), f.name, false); err != nil {
		t.Fatal(err)
	}
	app, err := f.bot.Sync(ctx(t), f.name, argocd.SyncRequest{Revision: f.shas[0]})
	if err != nil {
		t.Fatal(err)
	}
	if app.Operation == nil || app.Operation.Sync == nil || app.Operation.Sync.Revision != f.shas[0] {
		t.Fatalf("sync answer's operation: %+v", app.Operation)
	}
	got := f.deployed(t, f.shas[0])
	if got.Status.Summary.Images[0] != "ghcr.io/nexo-org/sync:2026.02.10" {
		t.Fatalf("images after syncing back: %v", got.Status.Summary.Images)
	}
	// git's target is still HEAD: the app is OutOfSync against it.
	if got.Status.Sync.Status != "OutOfSync" || got.Status.Sync.Revision != newer {
		t.Fatalf("after a pinned sync: %s against %.7s, want OutOfSync against %.7s", got.Status.Sync.Status, got.Status.Sync.Revision, newer)
	}
}

func TestRealRollback(t *testing.T) {
	f := newApp(t, "rollback", argocdtest.App{AutoSync: true}, false)
	f.deployed(t, f.shas[0])
	f.deployed(t, f.commit(t, "2026.02.17", false))
	app, err := f.bot.GetApp(ctx(t), f.name, "")
	if err != nil {
		t.Fatal(err)
	}
	first := app.Status.History[0]
	if first.Revision != f.shas[0] {
		t.Fatalf("history[0] is %s, want %s", first.Revision, f.shas[0])
	}

	_, err = f.bot.Rollback(ctx(t), f.name, first.ID)
	wantAPIError(t, err, 400, argocd.CodeFailedPrecondition, "rollback cannot be initiated when auto-sync is enabled", "Argo CD refuses a rollback while auto-sync is on")
	if !argocd.IsAutoSyncRollbackRefusal(err) {
		t.Fatal("IsAutoSyncRollbackRefusal is false for the real refusal")
	}

	if _, err := f.bot.SetAutoSync(ctx(t), f.name, false); err != nil {
		t.Fatal(err)
	}
	_, err = f.bot.Rollback(ctx(t), f.name, 999)
	wantAPIError(t, err, 400, argocd.CodeInvalidArgument, "application argocd/rollback does not have deployment with id 999",
		"Argo CD has no deployment with history id 999 for this application")

	if _, err := f.bot.Rollback(ctx(t), f.name, first.ID); err != nil {
		t.Fatal(err)
	}
	f.acd.WaitApp(t, f.name, syncWait, "rolled back", func(a *argocd.Application) bool {
		op := a.Status.OperationState
		return op != nil && op.Phase == "Succeeded" && op.SyncResult != nil && op.SyncResult.Revision == f.shas[0] && argocdtest.Settled(a)
	})
	f.acd.FinishRollout(t, f.ns, f.name)
	got := f.acd.WaitApp(t, f.name, syncWait, "Healthy, OutOfSync with git", func(a *argocd.Application) bool {
		return a.Status.Health.Status == "Healthy" && a.Status.Sync.Status == "OutOfSync"
	})
	if got.Status.Summary.Images[0] != "ghcr.io/nexo-org/rollback:2026.02.10" || got.AutoSyncEnabled() {
		t.Fatalf("after rollback: images %v, auto-sync %v", got.Status.Summary.Images, got.AutoSyncEnabled())
	}
	last := got.Status.History[len(got.Status.History)-1]
	if last.ID <= first.ID || last.Revision != f.shas[0] {
		t.Fatalf("rollback's history entry: %+v", last)
	}
}

func TestRealSecondSyncWhileOneRuns(t *testing.T) {
	f := newApp(t, "busy", argocdtest.App{}, true)
	// The ConfigMap's wave waits for the Deployment, which stays
	// Progressing until the rollout is finished: the operation runs.
	if _, err := f.bot.Sync(ctx(t), f.name, argocd.SyncRequest{}); err != nil {
		t.Fatal(err)
	}
	f.acd.WaitApp(t, f.name, syncWait, "a running operation", func(a *argocd.Application) bool {
		return a.Status.OperationState != nil && a.Status.OperationState.Phase == "Running"
	})
	_, err := f.bot.Sync(ctx(t), f.name, argocd.SyncRequest{})
	wantAPIError(t, err, 400, argocd.CodeFailedPrecondition, "another operation is already in progress", "Argo CD is already running another operation on this application")
	if !argocd.IsOperationInProgress(err) {
		t.Fatal("IsOperationInProgress is false for the real refusal")
	}
	f.acd.WaitApp(t, f.name, syncWait, "the Deployment applied", func(a *argocd.Application) bool {
		for _, r := range a.Status.Resources {
			if r.Kind == "Deployment" && r.Status == "Synced" {
				return true
			}
		}
		return false
	})
	f.acd.FinishRollout(t, f.ns, f.name)
	f.acd.WaitApp(t, f.name, syncWait, "the operation done", func(a *argocd.Application) bool {
		return argocdtest.Settled(a) && a.Status.OperationState != nil && a.Status.OperationState.Phase == "Succeeded" && a.Status.Health.Status == "Healthy"
	})
}

func TestRealRefusals(t *testing.T) {
	f := newApp(t, "refusals", argocdtest.App{AutoSync: true}, false)
	f.deployed(t, f.shas[0])

	_, err := f.bot.GetApp(ctx(t), "no-such-app", "")
	wantAPIError(t, err, 403, argocd.CodePermissionDenied, "permission denied", "Argo CD: no such application or no permission")
	if !argocd.IsNotFoundOrForbidden(err) {
		t.Fatal("IsNotFoundOrForbidden is false for a missing app")
	}
	// Even the admin is told 403 for a missing app.
	_, err = f.acd.Admin(t).GetApp(ctx(t), "no-such-app", "")
	wantAPIError(t, err, 403, argocd.CodePermissionDenied, "permission denied", "Argo CD: no such application or no permission")

	bad := f.acd.Client(t, "not-a-token")
	_, err = bad.GetApp(ctx(t), f.name, "")
	wantAPIError(t, err, 401, argocd.CodeUnauthenticated, "", "Argo CD did not accept nexo's token (missing, expired or revoked: check ARGOCD_AUTH_TOKEN)")

	// An action outside the documented role: delete.
	status, body, err := f.acd.Do(ctx(t), f.acd.Token, http.MethodDelete, "/api/v1/applications/"+f.name, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &argocd.APIError{HTTPStatus: status}
	if err := json.Unmarshal(body, e); err != nil {
		t.Fatalf("delete answer %d %s: %v", status, body, err)
	}
	wantAPIError(t, e, 403, argocd.CodePermissionDenied, "permission denied: applications, delete, default/refusals, sub: "+argocdtest.Account,
		"Argo CD: nexo's account has no permission to delete applications default/refusals (see the RBAC in docs/install.md)")

	// A POST without a JSON content type.
	req, _ := http.NewRequestWithContext(ctx(t), http.MethodPost, f.acd.URL+"/api/v1/applications/"+f.name+"/sync", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+f.acd.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("POST without Content-Type: HTTP %d, want 415", resp.StatusCode)
	}
}
