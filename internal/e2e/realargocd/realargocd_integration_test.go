//go:build integration

package realargocd

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/argocdtest"
	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopstest"
	"github.com/nexo-org/nexo-bot/internal/e2e"
)

func TestMain(m *testing.M) { argocdtest.Main(m) }

const service = "nexo-be"

// renderJsonnet is what Argo CD deploys for service in env: the Helm values
// file nexo edits (helm/nexo-be/values-<env>.yaml, .image.tag), rendered
// as a Deployment by a directory app's jsonnet (no helm binary runs here).
func renderJsonnet(env string) string {
	return fmt.Sprintf(`// Argo CD renders helm/%[1]s/values-%[2]s.yaml as plain objects.
local v = std.parseYaml(importstr 'values-%[2]s.yaml');
[{
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: '%[1]s', labels: { app: '%[1]s' } },
  spec: {
    replicas: v.replicaCount,
    selector: { matchLabels: { app: '%[1]s' } },
    template: {
      metadata: { labels: v.podLabels },
      spec: { containers: [{
        name: '%[1]s',
        image: v.image.repository + ':' + v.image.tag,
        ports: [{ name: 'http', containerPort: v.service.port }],
      }] },
    },
  },
}]
`, service, env)
}

// platform is one test's real Argo CD applications and the bot.
type platform struct {
	t      *testing.T
	acd    *argocdtest.Server
	remote *gitopstest.Remote
	prefix string
	e      *e2e.Env
}

func (p *platform) app(env string) string { return p.prefix + "-" + service + "-" + env }
func (p *platform) ns(env string) string  { return p.prefix + "-" + env }

// newPlatform seeds the playbook's GitOps repo plus the jsonnet of each env,
// creates one Application per env (auto-sync in qa, as the playbook has
// it), waits until each runs the seeded tag and is Healthy, and starts nexo
// on the real Argo CD with the nexo account's token.
func newPlatform(t *testing.T, prefix string, envs ...string) *platform {
	t.Helper()
	p := &platform{t: t, acd: argocdtest.Start(t), prefix: prefix}
	p.remote = gitopstest.SeedPlaybook(t)
	files := map[string]string{}
	for _, env := range envs {
		files["helm/"+service+"/argocd-"+env+".jsonnet"] = renderJsonnet(env)
	}
	head := p.remote.Commit(t, files, "chore(argocd): render the values files as directory apps", time.Now())
	admin := p.acd.Admin(t)
	for _, env := range envs {
		auto := env == "develop" || env == "qa"
		p.acd.CreateApp(t, argocdtest.App{Name: p.app(env), RepoURL: p.remote.URL, Path: "helm/" + service,
			Include: "argocd-" + env + ".jsonnet", Namespace: p.ns(env), AutoSync: auto})
		if !auto {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if _, err := admin.Sync(ctx, p.app(env), argocd.SyncRequest{}); err != nil {
				// The controller may not have seen the new app yet.
				time.Sleep(2 * time.Second)
				if _, err = admin.Sync(ctx, p.app(env), argocd.SyncRequest{}); err != nil {
					t.Fatalf("first sync of %s: %v", p.app(env), err)
				}
			}
			cancel()
		}
	}
	for _, env := range envs {
		tag := gitopstest.PlaybookTag(service, env)
		p.acd.WaitApp(t, p.app(env), 90*time.Second, "synced", func(a *argocd.Application) bool {
			return a.Status.Sync.Revision == head && a.Status.Sync.Status == "Synced" && argocdtest.Settled(a)
		})
		p.acd.FinishRollout(t, p.ns(env), service)
		p.acd.WaitApp(t, p.app(env), 90*time.Second, "Healthy on "+tag, func(a *argocd.Application) bool {
			return a.Status.Health.Status == "Healthy" && len(a.Status.Summary.Images) == 1 && strings.HasSuffix(a.Status.Summary.Images[0], ":"+tag)
		})
	}
	p.e = e2e.New(t, e2e.Options{
		ArgoCDURL: p.acd.URL, ArgoCDToken: p.acd.Token, Remote: p.remote,
		// Argo CD stamps history with the wall clock; the soak gates read it.
		ClockStart: time.Now().UTC(),
		Mutate: func(c *config.Config) {
			c.ArgoCD.AppName = prefix + "-{service}-{env}"
			// The bot's clock runs many times faster than the real Argo
			// CD's: give the rollout a simulated day.
			c.ArgoCD.SyncTimeout = config.Duration(24 * time.Hour)
			c.Kubernetes.Namespace = prefix + "-{env}"
		},
	})
	return p
}

// finishRolloutOf plays the deployment controller: once Argo CD has applied
// tag to env's Deployment, its rollout is written as finished.
func (p *platform) finishRolloutOf(env, tag string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := p.acd.Clientset(p.t).AppsV1().Deployments(p.ns(env)).Get(ctx, service, metav1.GetOptions{})
	if err != nil || len(d.Spec.Template.Spec.Containers) == 0 || !strings.HasSuffix(d.Spec.Template.Spec.Containers[0].Image, ":"+tag) {
		return false
	}
	if d.Status.ObservedGeneration < d.Generation || d.Status.AvailableReplicas == 0 {
		p.acd.FinishRollout(p.t, p.ns(env), service)
	}
	return true
}

// eventually advances the bot's clock by step and gives the real servers
// real time, until cond holds or timeout (real time) passes.
func (p *platform) eventually(what string, step, timeout time.Duration, cond func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		p.e.Clock.Advance(step)
		time.Sleep(150 * time.Millisecond)
	}
	if !cond() {
		var apps []string
		for _, env := range []string{"qa", "staging"} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if a, err := p.acd.Admin(p.t).GetApp(ctx, p.app(env), ""); err == nil {
				op := ""
				if o := a.Status.OperationState; o != nil && o.SyncResult != nil {
					op = o.Phase + " " + o.SyncResult.Revision
				}
				apps = append(apps, fmt.Sprintf("%s: %s %s, %s %q, images %v, last op %s", a.Metadata.Name, a.Status.Sync.Status, a.Status.Sync.Revision, a.Status.Health.Status, a.HealthMessage(), a.Status.Summary.Images, op))
			}
			cancel()
		}
		p.t.Fatalf("timed out waiting for %s (%s real, clock at %s)\napps: %s\ngit main: %s\nmessages:\n%s\nbot log:\n%s\n%s", what, timeout, p.e.Clock.Now().Format(time.RFC3339),
			strings.Join(apps, "\n  "), p.remote.Head(p.t, "main"), p.e.Dump(), tailString(p.e.Logs.String(), 3000), p.acd.Logs())
	}
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// workflow is the part of a workflow record these tests read.
type workflow struct {
	ID, State string
	Service   string `json:"service"`
	Env       string `json:"env"`
	Tag       string `json:"tag"`
	Result    string `json:"result"`
	AutoSync  bool   `json:"auto_sync_was_on"`
	HistoryID int64  `json:"history_id"`
	Note      string `json:"note"`
}

func (p *platform) workflows(kind string) []workflow {
	var out []workflow
	for _, wf := range p.e.Workflows(kind) {
		var w workflow
		if err := json.Unmarshal(wf.Data, &w); err != nil {
			p.t.Fatal(err)
		}
		w.ID, w.State = wf.ID, wf.State
		out = append(out, w)
	}
	return out
}

func (p *platform) workflow(kind, env string) (workflow, bool) {
	ws := p.workflows(kind)
	for i := len(ws) - 1; i >= 0; i-- {
		if ws[i].Env == env && ws[i].Service == service {
			return ws[i], true
		}
	}
	return workflow{}, false
}

func (p *platform) get(env string) *argocd.Application {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := p.acd.Admin(p.t).GetApp(ctx, p.app(env), "")
	if err != nil {
		p.t.Fatal(err)
	}
	return a
}

// Scenario 1 on the real Argo CD: promote nexo-be to staging (platform-team
// approval, 30 min soak read from qa's real deploy history), merge into the
// bare repo Argo CD deploys from, nexo's sync of the merge commit, the
// rollout followed until Healthy.
func TestPromoteStagingOnRealArgoCD(t *testing.T) {
	p := newPlatform(t, "promote", "qa", "staging")
	e := p.e
	const tag = "2026.02.17" // qa runs it; staging runs 2026.02.10
	e.Command(e2e.Carol, "promote nexo-be stg")
	card := e.WaitFind("Promote", service, "staging", tag)
	p.eventually("the PR", time.Second, 30*time.Second, func() bool {
		w, ok := p.workflow("change", "staging")
		return ok && w.State == "approval"
	})
	e.Click(e2e.Platf, card, "change.approve")
	p.eventually("merge and sync", time.Minute, 60*time.Second, func() bool {
		w, _ := p.workflow("change", "staging")
		return w.State == "rollout" || w.State == "done"
	})
	p.eventually("staging Healthy", 5*time.Second, 120*time.Second, func() bool {
		p.finishRolloutOf("staging", tag)
		w, _ := p.workflow("change", "staging")
		return w.State == "done"
	})
	w, _ := p.workflow("change", "staging")
	if w.Result != "success" {
		t.Fatalf("promotion ended %q: %+v\n%s", w.Result, w, e.Dump())
	}
	app := p.get("staging")
	if app.Status.Sync.Status != "Synced" || app.Status.Health.Status != "Healthy" || app.Status.Summary.Images[0] != "ghcr.io/nexo-org/nexo-be:"+tag {
		t.Fatalf("staging after the promotion: %s/%s %v", app.Status.Sync.Status, app.Status.Health.Status, app.Status.Summary.Images)
	}
	if h := app.Status.History[len(app.Status.History)-1]; h.Revision != p.remote.Head(t, "main") || h.InitiatedBy == nil || h.InitiatedBy.Username != argocdtest.Account {
		t.Fatalf("last history entry %+v: want the merge commit, synced by %s", h, argocdtest.Account)
	}
	if got := p.remote.File(t, "main", "helm/nexo-be/values-staging.yaml"); got != gitopstest.PlaybookValues(service, "staging", tag) {
		t.Fatalf("values-staging.yaml after merge:\n%s", got)
	}
	cur, _ := e.Slack.Message(card.Channel, card.TS)
	if c := e2e.Content(cur); !strings.Contains(c, "Done") || !strings.Contains(c, "Healthy") {
		t.Fatalf("card at the end:\n%s", c)
	}

	// /nexo status reads the same apps; develop and production have no
	// Application here, which argocd-server answers 403: nexo says so in
	// its own words.
	e.Command(e2e.Carol, "status nexo-be")
	status := e2e.Content(e.WaitFind(service, "across environments"))
	for _, want := range []string{"*staging*  `" + tag + "`", "*qa*  `" + tag + "`", "Healthy · Synced", "_Argo CD: no such application or no permission_"} {
		if !strings.Contains(status, want) {
			t.Errorf("status card lacks %q:\n%s", want, status)
		}
	}
	if strings.Contains(status, "permission denied") {
		t.Errorf("argocd-server's raw text reached Slack:\n%s", status)
	}
}

// Scenario 3 on the real Argo CD: qa has auto-sync on, a bad tag is
// deployed, and the Argo CD history rollback first turns auto-sync off
// (argocd-server refuses otherwise), rolls back, and follows to Healthy.
func TestArgoCDRollbackWithAutoSyncOnRealArgoCD(t *testing.T) {
	p := newPlatform(t, "rollback", "qa")
	e := p.e
	e.Command(e2e.Carol, "promote nexo-be qa 2026.02.18")
	p.eventually("qa runs 2026.02.18", 5*time.Second, 120*time.Second, func() bool {
		p.finishRolloutOf("qa", "2026.02.18")
		w, ok := p.workflow("change", "qa")
		return ok && w.State == "done"
	})
	if w, _ := p.workflow("change", "qa"); w.Result != "success" {
		t.Fatalf("bad deploy ended %+v\n%s", w, e.Dump())
	}
	if a := p.get("qa"); !a.AutoSyncEnabled() || a.Status.Summary.Images[0] != "ghcr.io/nexo-org/nexo-be:2026.02.18" {
		t.Fatalf("qa before the rollback: auto-sync %v, images %v", a.AutoSyncEnabled(), a.Status.Summary.Images)
	}

	e.Command(e2e.Alice, "rollback nexo-be qa")
	menu := e.WaitFind("Rollback nexo-be in qa", "2026.02.17")
	e.Click(e2e.Alice, menu, "rollback.run")
	p.eventually("the rollback", 5*time.Second, 120*time.Second, func() bool {
		p.finishRolloutOf("qa", "2026.02.17")
		w, ok := p.workflow("rollback", "qa")
		return ok && w.State == "done"
	})
	w, _ := p.workflow("rollback", "qa")
	if w.Result != "success" || w.Tag != "2026.02.17" || !w.AutoSync {
		t.Fatalf("rollback: %+v\n%s", w, e.Dump())
	}
	a := p.get("qa")
	if a.AutoSyncEnabled() || a.Status.Health.Status != "Healthy" || a.Status.Summary.Images[0] != "ghcr.io/nexo-org/nexo-be:2026.02.17" {
		t.Fatalf("qa after the rollback: auto-sync %v, %s, images %v", a.AutoSyncEnabled(), a.Status.Health.Status, a.Status.Summary.Images)
	}
	if a.Status.Sync.Status != "OutOfSync" {
		t.Fatalf("qa after the rollback is %s; git still says 2026.02.18", a.Status.Sync.Status)
	}
	e.WaitFind("Auto-sync of "+p.app("qa")+" is off", "git still says")
	e.WaitFind(":pause_button: Auto-sync of " + p.app("qa") + " turned off")
}

// Scenario 4 on the real Argo CD: diagnose reads the app's real health.
// Without a kubelet the Deployment first stays Progressing with Argo CD's
// own message; after a rollout past its deadline Argo CD says Degraded.
func TestDiagnoseOnRealArgoCD(t *testing.T) {
	p := newPlatform(t, "diagnose", "staging")
	e := p.e
	// A new tag is synced by hand; nothing finishes its rollout.
	admin := p.acd.Admin(t)
	sha := p.remote.Commit(t, map[string]string{"helm/nexo-be/values-staging.yaml": gitopstest.PlaybookValues(service, "staging", "2026.02.17")}, "promote(nexo-be): staging → 2026.02.17", time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.Sync(ctx, p.app("staging"), argocd.SyncRequest{Revision: sha}); err != nil {
		t.Fatal(err)
	}
	prog := p.acd.WaitApp(t, p.app("staging"), 90*time.Second, "Progressing", func(a *argocd.Application) bool {
		return a.Status.Health.Status == "Progressing" && a.Status.Sync.Revision == sha
	})
	e.Command(e2e.Carol, "diagnose nexo-be staging")
	m := e.WaitFind("still rolling out", p.app("staging"))
	// argocd-server v3 says "Caused by apps/Deployment:…"; nexo quotes the
	// Deployment's own health message.
	want := "Deployment nexo-be: Waiting for rollout to finish"
	if c := e2e.Content(m); !strings.HasPrefix(prog.HealthMessage(), want) || !strings.Contains(c, want) {
		t.Fatalf("diagnose does not quote Argo CD's message %q (app: %q):\n%s", want, prog.HealthMessage(), c)
	}

	p.acd.FailRollout(t, p.ns("staging"), service)
	deg := p.acd.WaitApp(t, p.app("staging"), 90*time.Second, "Degraded", func(a *argocd.Application) bool {
		return a.Status.Health.Status == "Degraded"
	})
	e.Command(e2e.Carol, "diagnose nexo-be staging")
	m = e.WaitFind("Argo CD says Degraded", deg.HealthMessage())
	if deg.HealthMessage() != `Deployment nexo-be: Deployment "nexo-be" exceeded its progress deadline` {
		t.Fatalf("Degraded app's message: %q", deg.HealthMessage())
	}
	t.Logf("diagnose: %s", e2e.Content(m))
}
