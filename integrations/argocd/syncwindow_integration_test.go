//go:build integration

package argocd_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/argocdtest"
)

// TestSyncWindowsOfARealProject: an admin creates an AppProject with two
// deny windows (one letting manual syncs through); nexo's token reads them
// with GetProject (RBAC `projects, get` of docs/install.md), nexo judges
// them as argocd-server does, and argocd-server refuses the blocked sync
// with the code and text argocdfake answers (403, code 7, "cannot sync:
// blocked by sync window") and lets the manualSync one through.
func TestSyncWindowsOfARealProject(t *testing.T) {
	acd := argocdtest.Start(t)
	c := ctx(t)
	const project = "it-windows"
	body := map[string]any{"project": map[string]any{
		"metadata": map[string]any{"name": project, "namespace": argocdtest.Namespace},
		"spec": map[string]any{
			"sourceRepos":              []any{"*"},
			"destinations":             []any{map[string]any{"server": "*", "namespace": "*"}},
			"clusterResourceWhitelist": []any{map[string]any{"group": "*", "kind": "*"}},
			"syncWindows": []any{
				map[string]any{"kind": "deny", "schedule": "* * * * *", "duration": "1h", "applications": []any{"sw-deny"}, "timeZone": "America/Sao_Paulo", "description": "change freeze"},
				map[string]any{"kind": "deny", "schedule": "* * * * *", "duration": "1h", "applications": []any{"sw-manual"}, "manualSync": true},
			},
		},
	}}
	if err := acd.DoJSON(c, acd.AdminToken, http.MethodPost, "/api/v1/projects", body, nil); err != nil {
		t.Fatalf("creating the project: %v", err)
	}
	t.Cleanup(func() { _, _, _ = acd.Do(ctx(t), acd.AdminToken, http.MethodDelete, "/api/v1/projects/"+project, nil) })
	deny := newApp(t, "sw-deny", argocdtest.App{Project: project}, false)
	manual := newApp(t, "sw-manual", argocdtest.App{Project: project}, false)

	// A missing project: NotFound, as the fake answers.
	_, err := deny.bot.GetProject(c, "it-no-such-project")
	if e := apiErr(t, err); e.HTTPStatus != http.StatusNotFound || e.Code != argocd.CodeNotFound || e.Message != `appprojects.argoproj.io "it-no-such-project" not found` {
		t.Fatalf("missing project: %+v", e)
	}
	p, err := deny.bot.GetProject(c, project)
	if err != nil {
		t.Fatalf("nexo reads the project: %v", err)
	}
	if p.Metadata.Name != project || len(p.Spec.SyncWindows) != 2 {
		t.Fatalf("project: %+v", p)
	}
	w := p.Spec.SyncWindows[0]
	if w.Kind != "deny" || w.Schedule != "* * * * *" || w.Duration != "1h" || w.TimeZone != "America/Sao_Paulo" ||
		w.Description != "change freeze" || len(w.Applications) != 1 || w.Applications[0] != "sw-deny" || w.ManualSync {
		t.Fatalf("window 0: %+v", w)
	}
	if !p.Spec.SyncWindows[1].ManualSync {
		t.Fatalf("window 1: %+v", p.Spec.SyncWindows[1])
	}

	for _, f := range []*fixture{deny, manual} {
		app, err := f.bot.GetApp(c, f.name, "")
		if err != nil {
			t.Fatal(err)
		}
		if app.Spec.Project != project {
			t.Fatalf("%s is in project %q", f.name, app.Spec.Project)
		}
		windows := p.WindowsFor(app)
		nexoSays, err := argocd.CanSync(windows, true, time.Now())
		if err != nil || len(windows) != 1 {
			t.Fatalf("%s: %d windows, %v", f.name, len(windows), err)
		}
		_, syncErr := f.bot.Sync(c, f.name, argocd.SyncRequest{})
		if f == deny {
			e := apiErr(t, syncErr)
			if nexoSays || !argocd.IsBlockedBySyncWindow(syncErr) || e.HTTPStatus != http.StatusForbidden || e.Code != argocd.CodePermissionDenied ||
				e.Message != "cannot sync: blocked by sync window" {
				t.Fatalf("the deny window: nexo says %v; argocd-server: %+v", nexoSays, e)
			}
			if e.Error() != "Argo CD refuses the sync: a sync window of the application's project blocks it" {
				t.Fatalf("nexo's sentence: %q", e.Error())
			}
			continue
		}
		if !nexoSays || syncErr != nil {
			t.Fatalf("the manualSync window: nexo says %v; argocd-server: %v", nexoSays, syncErr)
		}
	}
}
