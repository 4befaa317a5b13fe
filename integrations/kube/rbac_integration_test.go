//go:build integration

package kube_test

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/nexo-org/nexo-bot/integrations/kubetest"
)

// TestChartRBACAllowsExactlyTheScenarios applies the chart's rendered
// ServiceAccount, Roles and RoleBindings to the real API server, then acts
// as the bot's service account: every call the scenarios make succeeds, and
// anything else is Forbidden.
func TestChartRBACAllowsExactlyTheScenarios(t *testing.T) {
	e := setup(t)
	const (
		release = "nexo-system"
		prod    = "nexo-production"
		other   = "nexo-qa-rbac" // a namespace the chart is not given
	)
	for _, ns := range []string{release, prod, other} {
		e.namespace(t, ns)
	}
	manifests := kubetest.HelmTemplate(t, "nexo-bot", release, "deploy/helm/nexo-bot",
		"existingSecret=nexo-bot-tokens",
		"rbac.namespaces={"+prod+"}",
		"rbac.secretNames={nexo-be-db-credentials}",
	)
	objs, err := kubetest.Objects(manifests)
	if err != nil {
		t.Fatal(err)
	}
	var rbacObjs []*unstructured.Unstructured
	kinds := map[string]int{}
	for _, o := range objs {
		switch o.GetKind() {
		case "ServiceAccount", "Role", "RoleBinding":
			rbacObjs = append(rbacObjs, o)
			kinds[o.GetKind()]++
		case "ClusterRole", "ClusterRoleBinding":
			t.Fatalf("chart renders a cluster-wide %s", o.GetKind())
		}
	}
	if kinds["ServiceAccount"] != 1 || kinds["Role"] != 1 || kinds["RoleBinding"] != 1 {
		t.Fatalf("rendered rbac objects: %v", kinds)
	}
	e.srv.Apply(t, rbacObjs)

	// The scenario's objects, created by the admin.
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	e.pod(t, prod, "nexo-be-abc12", "nexo-be", waiting("CrashLoopBackOff", "back-off"))
	e.event(t, prod, "ev-crash", "Warning", "BackOff", "Pod", "nexo-be-abc12", t0)
	e.deployment(t, prod, "nexo-be", 2)
	e.ingress(t, prod, "nexo-be-ingress", "nexo-be-green")
	e.configMap(t, prod, "nexo-be-config", map[string]string{"LOG_LEVEL": "info"})
	e.secret(t, prod, "nexo-be-db-credentials", map[string][]byte{"password": []byte("p1")})
	e.secret(t, prod, "nexo-be-tls", map[string][]byte{"tls.key": []byte("k")})
	e.configMap(t, other, "nexo-be-config", map[string]string{"LOG_LEVEL": "info"})
	e.externalSecretCRD(t)
	e.externalSecret(t, prod, "nexo-be-db-credentials")

	sa := kubetest.ServiceAccountUser(release, "nexo-bot")
	bot := newClient(t, e.srv.Impersonate(sa))
	bg := ctx(t)
	at := time.Date(2026, 11, 29, 15, 0, 0, 0, time.UTC)

	allowed := []struct {
		name string
		call func() error
	}{
		{"Pods", func() error { _, err := bot.Pods(bg, prod, "app=nexo-be"); return err }},
		{"Events", func() error { _, err := bot.Events(bg, prod); return err }},
		{"PodEvents", func() error { _, err := bot.PodEvents(bg, prod, "nexo-be-abc12"); return err }},
		{"Deployment", func() error { _, err := bot.Deployment(bg, prod, "nexo-be"); return err }},
		{"RolloutStatus", func() error { _, err := bot.RolloutStatus(bg, prod, "nexo-be"); return err }},
		{"RolloutRestart", func() error { return bot.RolloutRestart(bg, prod, "nexo-be", at) }},
		{"ConfigMap", func() error { _, err := bot.ConfigMap(bg, prod, "nexo-be-config"); return err }},
		{"Ingress", func() error { _, err := bot.Ingress(bg, prod, "nexo-be-ingress"); return err }},
		{"SwitchIngressBackend", func() error {
			_, err := bot.SwitchIngressBackend(bg, prod, "nexo-be-ingress", "nexo-be-blue")
			return err
		}},
		{"ForceSyncExternalSecret", func() error { return bot.ForceSyncExternalSecret(bg, prod, "nexo-be-db-credentials", at) }},
		{"SecretDataHash", func() error { _, err := bot.SecretDataHash(bg, prod, "nexo-be-db-credentials"); return err }},
	}
	for _, a := range allowed {
		if err := a.call(); err != nil {
			t.Errorf("%s as %s: %v", a.name, sa, err)
		}
	}
	// Logs: pods/log get is granted (no kubelet: an unscheduled pod's log
	// is empty).
	if _, err := bot.Logs(bg, prod, "nexo-be-abc12", "app", false, 10, 0); err != nil {
		t.Errorf("Logs as %s: %v", sa, err)
	}
	ing, _ := e.admin.NetworkingV1().Ingresses(prod).Get(bg, "nexo-be-ingress", metav1.GetOptions{})
	if got := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name; got != "nexo-be-blue" {
		t.Errorf("ingress not switched by the bot: %q", got)
	}

	// Outside the Role: Forbidden.
	raw, err := kubernetes.NewForConfig(e.srv.Impersonate(sa))
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []struct {
		name string
		call func() error
	}{
		{"delete pod", func() error {
			return raw.CoreV1().Pods(prod).Delete(bg, "nexo-be-abc12", metav1.DeleteOptions{})
		}},
		{"list secrets", func() error { _, err := raw.CoreV1().Secrets(prod).List(bg, metav1.ListOptions{}); return err }},
		{"get a secret not listed", func() error { _, err := bot.SecretDataHash(bg, prod, "nexo-be-tls"); return err }},
		{"update secret", func() error {
			_, err := raw.CoreV1().Secrets(prod).Update(bg, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "nexo-be-db-credentials", Namespace: prod}}, metav1.UpdateOptions{})
			return err
		}},
		{"create deployment", func() error {
			d, _ := e.admin.AppsV1().Deployments(prod).Get(bg, "nexo-be", metav1.GetOptions{})
			d.ObjectMeta = metav1.ObjectMeta{Name: "intruder", Namespace: prod}
			_, err := raw.AppsV1().Deployments(prod).Create(bg, d, metav1.CreateOptions{})
			return err
		}},
		{"delete deployment", func() error {
			return raw.AppsV1().Deployments(prod).Delete(bg, "nexo-be", metav1.DeleteOptions{})
		}},
		{"list configmaps", func() error { _, err := raw.CoreV1().ConfigMaps(prod).List(bg, metav1.ListOptions{}); return err }},
		{"exec-like pods/exec", func() error {
			return raw.CoreV1().RESTClient().Post().Namespace(prod).Resource("pods").Name("nexo-be-abc12").SubResource("exec").Do(bg).Error()
		}},
		{"configmap in another namespace", func() error { _, err := bot.ConfigMap(bg, other, "nexo-be-config"); return err }},
		{"pods cluster-wide", func() error { _, err := raw.CoreV1().Pods("").List(bg, metav1.ListOptions{}); return err }},
		{"list namespaces", func() error { _, err := raw.CoreV1().Namespaces().List(bg, metav1.ListOptions{}); return err }},
	}
	for _, f := range forbidden {
		err := f.call()
		if !apierrors.IsForbidden(err) {
			t.Errorf("%s as %s: want Forbidden, got %v", f.name, sa, err)
		} else if !strings.Contains(err.Error(), sa) {
			t.Errorf("%s: Forbidden for another user? %v", f.name, err)
		}
	}
	// The pod is still there.
	if _, err := e.admin.CoreV1().Pods(prod).Get(bg, "nexo-be-abc12", metav1.GetOptions{}); err != nil {
		t.Fatalf("pod gone: %v", err)
	}
}
