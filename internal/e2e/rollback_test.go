package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/change"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/commands/rollback"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/integrations/kube"
	"github.com/nexo-org/nexo-bot/integrations/kube/clientset"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func rollbackOf(t testing.TB, e *Env) *store.Workflow {
	t.Helper()
	var found *store.Workflow
	if !e.Slack.WaitFor(func() bool {
		wfs := e.Workflows(rollback.Kind)
		if len(wfs) > 0 {
			found = wfs[len(wfs)-1]
			return true
		}
		return false
	}, 10*time.Second) {
		t.Fatal("no rollback workflow")
	}
	return found
}

func rollbackState(t testing.TB, e *Env, id string) (string, rollback.Rollback) {
	wf, err := e.Store.GetWorkflow(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var rb rollback.Rollback
	Decode(t, wf, &rb)
	return wf.State, rb
}

// Scenario 3, option 1 then 2: Argo CD history rollback (auto-sync must be
// turned off first), then the GitOps revert the bot offers so git and the
// cluster agree again; in each locale.
func TestRollbackViaArgoCDThenGitOpsRevert(t *testing.T) {
	EachLocale(t, rollbackViaArgoCDThenGitOpsRevert)
}

func rollbackViaArgoCDThenGitOpsRevert(t *testing.T, locale string) {
	e := New(t, Options{Locale: locale})
	// A bad deploy to qa first, so there is history to roll back.
	e.Command(Carol, "promote nexo-be qa 2026.02.18")
	bad := onlyChange(t, e, "nexo-be", "qa")
	e.Eventually("qa deploy", 10*time.Second, 60, func() bool { st, _ := changeState(t, e, bad.ID); return st == change.Done })
	start := e.Clock.Now()

	e.Command(Alice, "rollback nexo-be qa")
	menu := e.WaitFind(rollbackMenuWords(e, "qa", "2026.02.17")...)
	argoBefore := len(e.Argo.Calls())
	e.Click(Alice, menu, "rollback.run") // the first button: Argo CD → the last stable entry
	rb := rollbackOf(t, e)
	e.Eventually("argo rollback", 5*time.Second, 60, func() bool { st, _ := rollbackState(t, e, rb.ID); return st == rollback.Done })
	took := e.Clock.Now().Sub(start)
	_, r := rollbackState(t, e, rb.ID)
	if r.Result != records.ResultSuccess || r.Tag != "2026.02.17" || !r.AutoSyncWasOn {
		t.Fatalf("rollback: %+v", r)
	}
	app, _ := e.Argo.App("nexo-be-qa")
	if app.AutoSyncEnabled() || app.Status.Health.Status != "Healthy" {
		t.Fatalf("app after rollback: autosync %v health %s", app.AutoSyncEnabled(), app.Status.Health.Status)
	}
	if n := e.Argo.CallCount("POST", "/api/v1/applications/nexo-be-qa/rollback"); n != 1 {
		t.Fatalf("%d rollback calls", n)
	}
	drift := e.WaitFind(e.Words("rollback.drift.text", "App", "nexo-be-qa", "Git", "2026.02.18", "Running", "2026.02.17")...)
	if r.Note != e.Cat.S("rollback.note.healthy", "App", "nexo-be-qa", "ID", r.HistoryID, "Tag", "2026.02.17") {
		t.Fatalf("rollback note %q", r.Note)
	}
	t.Logf("Argo CD rollback: %s simulated, %d Argo CD calls", took, len(e.Argo.Calls())-argoBefore)

	// The bot's button opens the GitOps revert to the version now running.
	ghBefore := len(e.GitHub.Calls())
	start = e.Clock.Now()
	e.Click(Alice, drift, "rollback.run")
	rev := onlyRollbackChange(t, e, "qa")
	e.Eventually("gitops revert", 10*time.Second, 60, func() bool { st, _ := changeState(t, e, rev.ID); return st == change.Done })
	_, c := changeState(t, e, rev.ID)
	if got := e.Remote.File(t, "main", "helm/nexo-be/values-qa.yaml"); !strings.Contains(got, `tag: "2026.02.17"`) {
		t.Fatalf("values-qa.yaml after revert:\n%s", got)
	}
	pr := e.PR(c.PR)
	if pr.Head != "rollback/nexo-be-qa-2026.02.17" || pr.Title != "rollback(nexo-be): qa → 2026.02.17" || !has(pr.Labels, "rollback") {
		t.Fatalf("revert PR: %+v", pr)
	}
	t.Logf("GitOps revert: %s simulated, %d GitHub calls", e.Clock.Now().Sub(start), len(e.GitHub.Calls())-ghBefore)
	var dep records.Deployment
	if err := e.Store.GetDoc(context.Background(), records.DeploymentsCollection, rb.ID, &dep); err != nil || dep.Kind != records.KindRollback {
		t.Fatalf("rollback deployment record: %+v %v", dep, err)
	}
}

// rollbackMenuWords are what the rollback menu of nexo-be in env shows
// with tag as the last stable version.
func rollbackMenuWords(e *Env, env, tag string) []string {
	return append(append(e.Words("rollback.menu.title", "Service", "nexo-be", "Env", env), e.Words("rollback.menu.stable")...), tag)
}

func onlyRollbackChange(t testing.TB, e *Env, env string) *store.Workflow {
	t.Helper()
	var found *store.Workflow
	if !e.Slack.WaitFor(func() bool {
		for _, wf := range e.Workflows(change.Kind) {
			var c change.Change
			Decode(t, wf, &c)
			if c.Flavor == records.KindRollback && c.Env == env {
				found = wf
				return true
			}
		}
		return false
	}, 10*time.Second) {
		t.Fatal("no GitOps revert workflow")
	}
	return found
}

// Production rollbacks need one sre-team approval; a GitOps revert to a
// version from the git history; in each locale.
func TestRollbackProductionViaGitOpsNeedsAnSRE(t *testing.T) {
	EachLocale(t, rollbackProductionViaGitOpsNeedsAnSRE)
}

func rollbackProductionViaGitOpsNeedsAnSRE(t *testing.T, locale string) {
	e := New(t, Options{Locale: locale})
	e.Command(Carol, "rollback nexo-be prod --via gitops --to 2026.02.28")
	e.Ephemeral(Carol, e.Words("core.no_such_image", "Tag", "2026.02.28")...)
	e.Command(Carol, "rollback nexo-be prod --via gitops --to 2026.02.10")
	e.Ephemeral(Carol, e.Words("rollback.refuse.already_in_git", "Service", "nexo-be", "Tag", "2026.02.10", "Env", "production")...)
	e.Command(Carol, "rollback nexo-be prod --via gitops --to 2026.02.03")
	card := e.WaitFind(e.Words("change.card.title.rollback", "Service", "nexo-be", "Env", "production", "Tag", "2026.02.03")...)
	wf := onlyRollbackChange(t, e, "production")
	e.Eventually("the PR", time.Second, 20, func() bool { st, _ := changeState(t, e, wf.ID); return st == change.Approval })
	e.Click(Carol, card, "change.approve")
	e.Ephemeral(Carol, e.Words("policy.own_approval")...)
	e.Click(Alice, card, "change.approve")
	e.Eventually("production rollback", 10*time.Second, 60, func() bool { st, _ := changeState(t, e, wf.ID); return st == change.Done })
	_, c := changeState(t, e, wf.ID)
	pr := e.PR(c.PR)
	if pr.Head != "rollback/nexo-be-prod-2026.02.03" || !has(pr.Labels, "production-deploy") || !strings.Contains(pr.Body, "Reason:") {
		t.Fatalf("PR: %+v", pr)
	}
	if got := e.Remote.File(t, "main", "helm/nexo-be/values-prod.yaml"); !strings.Contains(got, `tag: "2026.02.03"`) {
		t.Fatalf("values-prod.yaml:\n%s", got)
	}
}

// Scenario 3, option 3: switch the Ingress to the other colour; in each
// locale.
func TestRollbackBlueGreenSwitchesTheIngress(t *testing.T) {
	EachLocale(t, rollbackBlueGreenSwitchesTheIngress)
}

func rollbackBlueGreenSwitchesTheIngress(t *testing.T, locale string) {
	health := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer health.Close()
	ingress := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "nexo-be-ingress", Namespace: "nexo-production"},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
			Paths: []networkingv1.HTTPIngressPath{{Path: "/", Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "nexo-be-green", Port: networkingv1.ServiceBackendPort{Number: 80}}}}},
		}}}}},
	}
	cs := fake.NewSimpleClientset(ingress)
	e := New(t, Options{
		Locale:   locale,
		Mutate:   func(c *config.Config) { c.Environments[3].BlueGreen.HealthURL = health.URL + "/health" },
		Override: func(d *commands.Deps) { d.Kube = kube.NewFromClients(clientset.Adapt(cs), nil, kube.Options{}) },
	})
	e.Command(Carol, "rollback nexo-be production --via bluegreen")
	card := e.WaitFind(e.Words("rollback.card.title", "Service", "nexo-be", "Env", "production", "Via", "bluegreen")...)
	rb := rollbackOf(t, e)
	e.Click(Carol, card, "rollback.approve")
	e.Ephemeral(Carol, e.Words("policy.own_approval")...)
	e.Click(Bob, card, "rollback.approve")
	e.Eventually("switch", time.Second, 20, func() bool { st, _ := rollbackState(t, e, rb.ID); return st == rollback.Done })
	got, err := cs.NetworkingV1().Ingresses("nexo-production").Get(context.Background(), "nexo-be-ingress", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if name := got.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name; name != "nexo-be-blue" {
		t.Fatalf("backend after the switch: %s", name)
	}
	_, r := rollbackState(t, e, rb.ID)
	if r.FromService != "nexo-be-green" || r.ToService != "nexo-be-blue" || !strings.Contains(r.Note, e.Cat.S("rollback.note.health_ok", "URL", health.URL+"/health")) || r.SwitchTook == "" {
		t.Fatalf("rollback: %+v", r)
	}
	e.WaitFind(e.Words("rollback.note.switched", "Ingress", "nexo-be-ingress", "From", "nexo-be-green", "To", "nexo-be-blue")...)
	t.Logf("blue/green switch took %s", r.SwitchTook)
	// Without blue/green configured: a clear refusal.
	e.Command(Carol, "rollback nexo-be staging --via bluegreen")
	e.Ephemeral(Carol, e.Words("rollback.refuse.no_bluegreen", "Env", "staging")...)
}

// A replica dies after Argo CD accepted the rollback but before the
// workflow's new state was saved: the next replica runs the act step again
// and must see the rollback already done (the last operation deployed the
// target; status.sync.revision is git's target, not the rolled-back one),
// not start a second one.
func TestArgoCDRollbackIsNotRepeatedAfterALostStateSave(t *testing.T) {
	e := New(t, Options{})
	e.Command(Carol, "promote nexo-be qa 2026.02.18")
	bad := onlyChange(t, e, "nexo-be", "qa")
	e.Eventually("qa deploy", 10*time.Second, 60, func() bool { st, _ := changeState(t, e, bad.ID); return st == change.Done })

	lost := make(chan struct{}, 1)
	var once sync.Once
	e.BeforeStep = func(wf *store.Workflow) error {
		if wf.Kind != rollback.Kind || wf.State != rollback.Follow {
			return nil
		}
		crashed := false
		once.Do(func() {
			// The act step's result is lost: the record says act again.
			cur, err := e.Store.GetWorkflow(context.Background(), wf.ID)
			if err != nil {
				t.Error(err)
				return
			}
			cur.State = rollback.Act
			if err := e.Store.UpdateWorkflow(context.Background(), cur); err != nil {
				t.Error(err)
				return
			}
			crashed = true
			lost <- struct{}{}
		})
		if crashed {
			return workflow.ErrCrash
		}
		return nil
	}
	e.StopBot()
	e.StartBot()
	e.Command(Alice, "rollback nexo-be qa")
	menu := e.WaitFind(rollbackMenuWords(e, "qa", "2026.02.17")...)
	e.Click(Alice, menu, "rollback.run")
	rb := rollbackOf(t, e)
	restarted := false
	e.Eventually("argo rollback", 5*time.Second, 120, func() bool {
		select {
		case <-lost:
			e.StopBot()
			e.StartBot()
			restarted = true
		default:
		}
		st, _ := rollbackState(t, e, rb.ID)
		return st == rollback.Done
	})
	_, r := rollbackState(t, e, rb.ID)
	if !restarted || r.Result != records.ResultSuccess || r.Tag != "2026.02.17" {
		t.Fatalf("restarted %v, rollback %+v", restarted, r)
	}
	if n := e.Argo.CallCount("POST", "/api/v1/applications/nexo-be-qa/rollback"); n != 1 {
		t.Fatalf("%d rollback calls after the lost state save, want 1", n)
	}
}
