package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands/change"
	"github.com/nexo-org/nexo-bot/commands/commandstest"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/argocdfake"
	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopstest"
	"github.com/nexo-org/nexo-bot/integrations/kube"
	"github.com/nexo-org/nexo-bot/integrations/kube/clientset"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

// stagingCluster is client-go's fake clientset holding nexo-staging's pods,
// events and the nexo-be Deployment.
func stagingCluster(pods []corev1.Pod, events []corev1.Event, updated, available int32) *kube.Client {
	replicas := int32(2)
	objs := []runtime.Object{&appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "nexo-be", Namespace: "nexo-staging", Generation: 4},
		Spec:       appsv1.DeploymentSpec{Replicas: &replicas},
		Status:     appsv1.DeploymentStatus{ObservedGeneration: 4, Replicas: 2, UpdatedReplicas: updated, AvailableReplicas: available, ReadyReplicas: available},
	}}
	for i := range pods {
		objs = append(objs, &pods[i])
	}
	for i := range events {
		objs = append(objs, &events[i])
	}
	return kube.NewFromClients(clientset.Adapt(fake.NewClientset(objs...)), nil, kube.Options{Timeout: 5 * time.Second})
}

// TestDiagnoseFixTagThroughSlack is playbook scenario 4 end to end, in
// each locale: staging was set to 2026.02.99, a tag that was never pushed;
// the pods sit in ImagePullBackOff. `/nexo diagnose` names the missing tag,
// the Fix button opens `fix(nexo-be): corrige image tag em staging` (the
// playbook's words in every locale), platform-team approves in the thread,
// nexo merges, syncs and follows the rollout, and a second diagnose finds
// the app Healthy on 2026.02.17.
func TestDiagnoseFixTagThroughSlack(t *testing.T) {
	EachLocale(t, func(t *testing.T, locale string) {
		e := New(t, Options{Locale: locale})
		valuesPath := gitopstest.PlaybookValuesPath("nexo-be", "staging")
		bad := e.Remote.Commit(t, map[string]string{valuesPath: gitopstest.PlaybookValues("nexo-be", "staging", "2026.02.99")},
			"promote(nexo-be): staging → 2026.02.99", Start.Add(-5*time.Minute))
		e.Argo.AddApp("nexo-be-staging", argocdfake.AppSpec{
			Namespace: "nexo-staging", RepoURL: e.Remote.URL, Path: "helm/nexo-be", Revision: bad, Health: "Degraded",
			Images: []string{"ghcr.io/nexo-org/nexo-be:2026.02.99"},
		})
		e.Runtime.Deps.Kube = stagingCluster(commandstest.Pods(t, "imagepull"), commandstest.Events(t, "imagepull"), 1, 2)

		// 1. The verdict names the tag, the evidence follows, the fix is a button.
		e.Command(Carol, "diagnose nexo-be staging")
		card := e.WaitFind(e.Words("diagnose.image_pull.missing", "Reason", "ImagePullBackOff", "Tag", "2026.02.99", "Repo", "nexo-org/nexo-be")...)
		content := Content(card)
		fixButton := e.Cat.S("diagnose.fix.button", "Tag", "2026.02.17")
		for _, s := range append([]string{"nexo-be-5d8f9c7b6d-abc12", "Failed to pull image", fixButton, "Degraded"},
			e.Words("diagnose.image_pull.nearest", "List", "`2026.02.17`, `2026.02.10`, `2026.02.03`")...) {
			if !strings.Contains(content, s) {
				t.Errorf("diagnose card lacks %q:\n%s", s, content)
			}
		}

		// 2. Carol presses Fix; the change waits for platform-team.
		e.Click(Carol, card, "change.fix")
		thread := e.WaitFind(append(e.Words("change.card.title.fix", "Service", "nexo-be", "Env", "staging", "Tag", "2026.02.17"), `"change.approve"`)...)
		// The pressed button is off the diagnose card (its words stay, in
		// the note of who pressed it): nobody opens the fix twice.
		e.Slack.WaitFor(func() bool {
			m, _ := e.Slack.Message(card.Channel, card.TS)
			c := Content(m)
			return strings.Contains(c, fixButton) && strings.Contains(c, "<@"+Carol+">") && !strings.Contains(c, `"change.fix"`)
		}, 5*time.Second)
		if m, _ := e.Slack.Message(card.Channel, card.TS); strings.Contains(Content(m), `"change.fix"`) {
			t.Fatalf("the Fix button is still on the card:\n%s", Content(m))
		}
		wf := onlyChange(t, e, "nexo-be", "staging")
		e.Eventually("the fix PR", time.Second, 20, func() bool { st, _ := changeState(t, e, wf.ID); return st == change.Approval })
		_, c := changeState(t, e, wf.ID)
		if c.Flavor != "fix" || c.Requester != Carol || c.Branch != "fix/nexo-be-staging-image-tag" {
			t.Fatalf("change %+v", c)
		}
		e.Click(Carol, thread, "change.approve")
		e.Ephemeral(Carol, e.Words("policy.own_approval")...)
		e.Click(Platf, thread, "change.approve")

		// 3. Merge, sync, rollout.
		e.Eventually("the fix to be live", 10*time.Second, 120, func() bool {
			state, _ := changeState(t, e, wf.ID)
			return state == change.Done || state == change.Failed
		})
		if state, c := changeState(t, e, wf.ID); state != change.Done {
			t.Fatalf("fix ended %s: %s\n%s", state, c.Note, e.Dump())
		}
		prs := e.GitHub.PullRequests()
		pr := prs[len(prs)-1]
		if pr.Title != "fix(nexo-be): corrige image tag em staging" || !pr.Merged || pr.Head != "fix/nexo-be-staging-image-tag" ||
			!strings.Contains(pr.Body, "Erro: Tag 2026.02.99 não existe") || !strings.Contains(pr.Body, "Correção: Usa tag correta 2026.02.17") {
			t.Fatalf("PR %+v", pr)
		}
		if v := e.Remote.File(t, "main", valuesPath); !strings.Contains(v, `tag: "2026.02.17"`) {
			t.Fatalf("values after merge:\n%s", v)
		}
		app, _ := e.Argo.App("nexo-be-staging")
		if app.Status.Health.Status != "Healthy" || app.Status.Summary.Images[0] != "ghcr.io/nexo-org/nexo-be:2026.02.17" {
			t.Fatalf("app %+v", app.Status)
		}
		e.WaitFind(e.Words("change.live", "Service", "nexo-be", "Tag", "2026.02.17", "Env", "staging")...)

		// 4. The new pods run; diagnose says so, with the last deploy.
		healthy := commandstest.Pods(t, "healthy")
		for i := range healthy {
			healthy[i].Spec.Containers[0].Image = "ghcr.io/nexo-org/nexo-be:2026.02.17"
		}
		e.Runtime.Deps.Kube = stagingCluster(healthy, nil, 2, 2)
		e.Command(Carol, "diagnose nexo-be staging")
		on := i18n.M("diagnose.healthy.on", "Tag", "2026.02.17")
		e.WaitFind(append(e.Words("diagnose.healthy.line", "App", "nexo-be-staging", "On", on), e.Words("diagnose.healthy.last")...)...)
	})
}
