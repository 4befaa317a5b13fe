//go:build integration

package argocd_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/argocdtest"
)

// TestDocumentedRBACIsEnough: the token of the nexo account, bound to
// exactly the policy.csv of docs/install.md, can make every call nexo makes
// (read, resource tree, events, the app's project, auto-sync off and on,
// sync, rollback) and
// nothing else: deleting or creating an application is refused.
func TestDocumentedRBACIsEnough(t *testing.T) {
	acd := argocdtest.Start(t)
	doc, err := argocdtest.RBACPolicy()
	if err != nil {
		t.Fatal(err)
	}
	if acd.Policy != doc {
		t.Fatalf("argocd-rbac-cm has\n%s\nbut docs/install.md says\n%s", acd.Policy, doc)
	}
	for _, line := range strings.Split(strings.TrimSpace(doc), "\n") {
		f := strings.Split(line, ", ")
		switch {
		case f[0] == "g" && len(f) == 3 && f[1] == argocdtest.Account:
		case f[0] == "p" && len(f) == 6 && f[1] == "role:nexo" && f[2] == "applications" && f[5] == "allow" &&
			(f[3] == "get" || f[3] == "sync" || f[3] == "update"):
		case f[0] == "p" && len(f) == 6 && f[1] == "role:nexo" && f[2] == "projects" && f[3] == "get" && f[5] == "allow":
		default:
			t.Fatalf("policy line %q grants more than nexo's calls need", line)
		}
	}

	f := newApp(t, "rbac", argocdtest.App{AutoSync: true}, false)
	f.deployed(t, f.shas[0])
	f.deployed(t, f.commit(t, "2026.02.17", false))
	c := ctx(t)
	app, err := f.bot.GetApp(c, f.name, "normal")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if _, err := f.bot.ResourceTree(c, f.name); err != nil {
		t.Fatalf("resource tree: %v", err)
	}
	if _, err := f.bot.Events(c, f.name); err != nil {
		t.Fatalf("events: %v", err)
	}
	if _, err := f.bot.GetProject(c, app.Spec.Project); err != nil {
		t.Fatalf("project: %v", err)
	}
	if _, err := f.bot.Sync(c, f.name, argocd.SyncRequest{}); err != nil {
		t.Fatalf("sync: %v", err)
	}
	f.acd.WaitApp(t, f.name, syncWait, "the sync done", argocdtest.Settled)
	if _, err := f.bot.SetAutoSync(c, f.name, false); err != nil {
		t.Fatalf("auto-sync off: %v", err)
	}
	if _, err := f.bot.Sync(c, f.name, argocd.SyncRequest{Revision: f.shas[1]}); err != nil {
		t.Fatalf("sync of a revision: %v", err)
	}
	f.acd.WaitApp(t, f.name, syncWait, "the sync done", argocdtest.Settled)
	if _, err := f.bot.Rollback(c, f.name, app.Status.History[0].ID); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	f.acd.WaitApp(t, f.name, syncWait, "the rollback done", argocdtest.Settled)
	if _, err := f.bot.SetAutoSync(c, f.name, true); err != nil {
		t.Fatalf("auto-sync on: %v", err)
	}

	for _, r := range []struct {
		method, path string
		body         any
		action       string
	}{
		{http.MethodDelete, "/api/v1/applications/" + f.name, nil, "delete"},
		{http.MethodPost, "/api/v1/applications", map[string]any{
			"metadata": map[string]any{"name": "rbac-copy", "namespace": argocdtest.Namespace},
			"spec": map[string]any{"project": "default", "source": map[string]any{"repoURL": f.remote.URL, "path": "app"},
				"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": f.ns}},
		}, "create"},
	} {
		status, body, err := f.acd.Do(c, f.acd.Token, r.method, r.path, r.body)
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusForbidden || !strings.Contains(string(body), "permission denied: applications, "+r.action) {
			t.Fatalf("%s %s with nexo's token: HTTP %d %s; want 403 permission denied (%s)", r.method, r.path, status, body, r.action)
		}
	}
	if _, err := f.bot.GetApp(c, f.name, ""); err != nil {
		t.Fatalf("the app is gone after a refused delete: %v", err)
	}
}
