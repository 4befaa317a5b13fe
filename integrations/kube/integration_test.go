//go:build integration

package kube_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/nexo-org/nexo-bot/integrations/kube"
	"github.com/nexo-org/nexo-bot/integrations/kubetest"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

var (
	crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	// esGVR is declared in client_test.go.
)

type env struct {
	srv   *kubetest.Server
	admin kubernetes.Interface
	dyn   dynamic.Interface
}

func setup(t *testing.T) *env {
	t.Helper()
	srv := kubetest.Start(t)
	admin, err := kubernetes.NewForConfig(srv.RestConfig())
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(srv.RestConfig())
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, admin: admin, dyn: dyn}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

func (e *env) namespace(t *testing.T, name string) {
	_, err := e.admin.CoreV1().Namespaces().Create(ctx(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	must(t, err)
}

// pod creates a pod of app and writes its status subresource with mutate,
// as a kubelet would.
func (e *env) pod(t *testing.T, ns, name, app string, mutate func(*corev1.PodStatus)) {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "ghcr.io/nexo-org/" + app + ":2026.11.29"}}},
	}
	created, err := e.admin.CoreV1().Pods(ns).Create(ctx(t), p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status.Phase = corev1.PodPending
	mutate(&created.Status)
	if _, err := e.admin.CoreV1().Pods(ns).UpdateStatus(ctx(t), created, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("pod %s status: %v", name, err)
	}
}

func waiting(reason, msg string) func(*corev1.PodStatus) {
	return func(s *corev1.PodStatus) {
		s.ContainerStatuses = []corev1.ContainerStatus{{
			Name: "app", Image: "ghcr.io/nexo-org/nexo-be:2026.11.29",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}},
		}}
	}
}

func (e *env) event(t *testing.T, ns, name, typ, reason, kind, object string, at time.Time) {
	t.Helper()
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: ns},
		InvolvedObject: corev1.ObjectReference{Kind: kind, Name: object, Namespace: ns, APIVersion: "v1"},
		Type:           typ,
		Reason:         reason,
		Message:        reason + " for " + object,
		Source:         corev1.EventSource{Component: "kubelet"},
		FirstTimestamp: metav1.NewTime(at),
		LastTimestamp:  metav1.NewTime(at),
		Count:          1,
	}
	_, err := e.admin.CoreV1().Events(ns).Create(ctx(t), ev, metav1.CreateOptions{})
	must(t, err)
}

func (e *env) deployment(t *testing.T, ns, name string, replicas int32) {
	t.Helper()
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "ghcr.io/nexo-org/" + name + ":2026.11.29"}}},
			},
		},
	}
	created, err := e.admin.AppsV1().Deployments(ns).Create(ctx(t), d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status = appsv1.DeploymentStatus{
		ObservedGeneration: created.Generation, Replicas: replicas, UpdatedReplicas: replicas,
		ReadyReplicas: replicas, AvailableReplicas: replicas,
	}
	if _, err := e.admin.AppsV1().Deployments(ns).UpdateStatus(ctx(t), created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) ingress(t *testing.T, ns, name, backend string) {
	t.Helper()
	prefix := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{
			Host: "api.nexo.com",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{
					Service: &networkingv1.IngressServiceBackend{Name: backend, Port: networkingv1.ServiceBackendPort{Number: 8080}},
				}}},
			}},
		}}},
	}
	_, err := e.admin.NetworkingV1().Ingresses(ns).Create(ctx(t), ing, metav1.CreateOptions{})
	must(t, err)
}

func (e *env) secret(t *testing.T, ns, name string, data map[string][]byte) {
	t.Helper()
	_, err := e.admin.CoreV1().Secrets(ns).Create(ctx(t), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: data}, metav1.CreateOptions{})
	must(t, err)
}

func (e *env) configMap(t *testing.T, ns, name string, data map[string]string) {
	t.Helper()
	_, err := e.admin.CoreV1().ConfigMaps(ns).Create(ctx(t), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: data}, metav1.CreateOptions{})
	must(t, err)
}

var crdOnce sync.Once

// externalSecretCRD installs a minimal ExternalSecret CRD (v1beta1 served,
// schema preserving unknown fields) and waits until it is established and
// discoverable.
func (e *env) externalSecretCRD(t *testing.T) {
	t.Helper()
	crdOnce.Do(func() {
		crd := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1",
			"kind":       "CustomResourceDefinition",
			"metadata":   map[string]any{"name": "externalsecrets.external-secrets.io"},
			"spec": map[string]any{
				"group": "external-secrets.io",
				"scope": "Namespaced",
				"names": map[string]any{"plural": "externalsecrets", "singular": "externalsecret", "kind": "ExternalSecret", "listKind": "ExternalSecretList", "shortNames": []any{"es"}},
				"versions": []any{map[string]any{
					"name": "v1beta1", "served": true, "storage": true,
					"schema": map[string]any{"openAPIV3Schema": map[string]any{
						"type": "object",
						"properties": map[string]any{
							"spec":   map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true},
							"status": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true},
						},
					}},
					"subresources": map[string]any{"status": map[string]any{}},
				}},
			},
		}}
		_, err := e.dyn.Resource(crdGVR).Create(ctx(t), crd, metav1.CreateOptions{})
		must(t, err)
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := e.admin.Discovery().ServerResourcesForGroupVersion("external-secrets.io/v1beta1")
		if err == nil {
			_, err = e.dyn.Resource(esGVR).Namespace("default").List(ctx(t), metav1.ListOptions{})
		}
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ExternalSecret CRD not served: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (e *env) externalSecret(t *testing.T, ns, name string) {
	t.Helper()
	es := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "external-secrets.io/v1beta1",
		"kind":       "ExternalSecret",
		"metadata":   map[string]any{"name": name, "namespace": ns, "annotations": map[string]any{"team": "platform"}},
		"spec": map[string]any{
			"refreshInterval": "15m",
			"secretStoreRef":  map[string]any{"name": "aws-secrets-manager", "kind": "ClusterSecretStore"},
			"target":          map[string]any{"name": name},
			"dataFrom":        []any{map[string]any{"extract": map[string]any{"key": "nexo/production/database"}}},
		},
	}}
	_, err := e.dyn.Resource(esGVR).Namespace(ns).Create(ctx(t), es, metav1.CreateOptions{})
	must(t, err)
}

func newClient(t *testing.T, cfg *rest.Config) *kube.Client {
	t.Helper()
	c, err := kube.FromConfig(cfg, kube.Options{Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const staging = "nexo-staging"

func TestClientAgainstRealAPIServer(t *testing.T) {
	e := setup(t)
	e.namespace(t, staging)
	t0 := time.Now().Add(-10 * time.Minute).Truncate(time.Second)

	e.pod(t, staging, "nexo-be-7f9c-imgpull", "nexo-be", waiting("ImagePullBackOff", `Back-off pulling image "ghcr.io/nexo-org/nexo-be:2026.13.01"`))
	e.pod(t, staging, "nexo-be-7f9c-crash", "nexo-be", func(s *corev1.PodStatus) {
		waiting("CrashLoopBackOff", "back-off 5m0s restarting failed container")(s)
		s.Phase = corev1.PodRunning
		s.ContainerStatuses[0].RestartCount = 6
		s.ContainerStatuses[0].LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}}
	})
	e.pod(t, staging, "nexo-be-7f9c-oom", "nexo-be", func(s *corev1.PodStatus) {
		s.Phase = corev1.PodRunning
		s.ContainerStatuses = []corev1.ContainerStatus{{
			Name: "app", Image: "ghcr.io/nexo-org/nexo-be:2026.11.29", RestartCount: 2, Ready: true,
			State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(t0)}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}},
		}}
	})
	e.pod(t, staging, "nexo-be-7f9c-pending", "nexo-be", func(s *corev1.PodStatus) {
		s.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/3 nodes are available: 3 Insufficient memory."}}
	})
	e.pod(t, staging, "nexo-fe-1", "nexo-fe", func(s *corev1.PodStatus) {})

	e.event(t, staging, "ev-normal-new", "Normal", "Pulling", "Pod", "nexo-be-7f9c-imgpull", t0.Add(5*time.Minute))
	e.event(t, staging, "ev-warn-old", "Warning", "Failed", "Pod", "nexo-be-7f9c-imgpull", t0)
	e.event(t, staging, "ev-warn-new", "Warning", "BackOff", "Pod", "nexo-be-7f9c-crash", t0.Add(3*time.Minute))
	e.event(t, staging, "ev-warn-mid", "Warning", "FailedScheduling", "Pod", "nexo-be-7f9c-pending", t0.Add(time.Minute))
	e.event(t, staging, "ev-rs-same-name", "Warning", "FailedCreate", "ReplicaSet", "nexo-be-7f9c-imgpull", t0.Add(4*time.Minute))

	e.deployment(t, staging, "nexo-be", 3)
	e.ingress(t, staging, "nexo-be-ingress", "nexo-be-green")
	e.configMap(t, staging, "nexo-be-config", map[string]string{"DB_POOL_SIZE": "20", "LOG_LEVEL": "info"})
	e.secret(t, staging, "nexo-be-db-credentials", map[string][]byte{"username": []byte("nexo_user"), "password": []byte("old-password-123")})
	e.externalSecretCRD(t)
	e.externalSecret(t, staging, "nexo-be-db-credentials")

	c := newClient(t, e.srv.RestConfig())
	bg := ctx(t)

	t.Run("Pods", func(t *testing.T) {
		pods, err := c.Pods(bg, staging, "app=nexo-be")
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]corev1.Pod{}
		for _, p := range pods {
			byName[p.Name] = p
		}
		if len(pods) != 4 || byName["nexo-fe-1"].Name != "" {
			t.Fatalf("pods: %d %v", len(pods), byName)
		}
		if r := byName["nexo-be-7f9c-imgpull"].Status.ContainerStatuses[0].State.Waiting.Reason; r != "ImagePullBackOff" {
			t.Fatalf("imgpull reason %q", r)
		}
		if r := byName["nexo-be-7f9c-crash"].Status.ContainerStatuses[0].State.Waiting.Reason; r != "CrashLoopBackOff" {
			t.Fatalf("crash reason %q", r)
		}
		if r := byName["nexo-be-7f9c-oom"].Status.ContainerStatuses[0].LastTerminationState.Terminated.Reason; r != "OOMKilled" {
			t.Fatalf("oom reason %q", r)
		}
		if p := byName["nexo-be-7f9c-pending"]; p.Status.Phase != corev1.PodPending || p.Status.Conditions[0].Reason != "Unschedulable" {
			t.Fatalf("pending: %+v", p.Status)
		}
		if _, err := c.Pods(bg, staging, "app in (("); err == nil {
			t.Fatal("bad selector accepted")
		}
	})

	t.Run("Events", func(t *testing.T) {
		evs, err := c.Events(bg, staging)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ev := range evs {
			got = append(got, ev.Name)
		}
		want := "ev-rs-same-name,ev-warn-new,ev-warn-mid,ev-warn-old,ev-normal-new"
		if strings.Join(got, ",") != want {
			t.Fatalf("events order: %v, want %s", got, want)
		}
	})

	t.Run("PodEvents", func(t *testing.T) {
		evs, err := c.PodEvents(bg, staging, "nexo-be-7f9c-imgpull")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ev := range evs {
			got = append(got, ev.Name)
		}
		if strings.Join(got, ",") != "ev-warn-old,ev-normal-new" {
			t.Fatalf("pod events: %v", got)
		}
	})

	t.Run("Logs", func(t *testing.T) {
		// No kubelet runs: for a pod with no node the API server answers
		// 200 with an empty log (a missing pod is a 404).
		out, err := c.Logs(bg, staging, "nexo-be-7f9c-crash", "app", true, 100, time.Minute)
		if err != nil || out != "" {
			t.Fatalf("logs of an unscheduled pod: %q %v", out, err)
		}
		if _, err := c.Logs(bg, staging, "no-such-pod", "app", false, 10, 0); !apierrors.IsNotFound(err) {
			t.Fatalf("logs of a missing pod: %v", err)
		}
		if _, err := c.Logs(bg, staging, "nexo-be-7f9c-crash", "app", false, -5, 0); err == nil {
			t.Fatal("negative tail accepted")
		}
	})

	t.Run("DeploymentAndRollout", func(t *testing.T) {
		d, err := c.Deployment(bg, staging, "nexo-be")
		if err != nil || *d.Spec.Replicas != 3 {
			t.Fatalf("deployment: %v", err)
		}
		st, err := c.RolloutStatus(bg, staging, "nexo-be")
		if err != nil || !st.Done {
			t.Fatalf("rollout status before restart: %+v %v", st, err)
		}
		at := time.Date(2026, 11, 29, 14, 0, 0, 0, time.UTC)
		if err := c.RolloutRestart(bg, staging, "nexo-be", at); err != nil {
			t.Fatal(err)
		}
		d2, _ := e.admin.AppsV1().Deployments(staging).Get(bg, "nexo-be", metav1.GetOptions{})
		if got := d2.Spec.Template.Annotations[kube.RestartedAtAnnotation]; got != "2026-11-29T14:00:00Z" {
			t.Fatalf("restartedAt: %q", got)
		}
		if d2.Generation != d.Generation+1 {
			t.Fatalf("generation %d -> %d", d.Generation, d2.Generation)
		}
		// Same instant again: idempotent, the template is unchanged.
		if err := c.RolloutRestart(bg, staging, "nexo-be", at); err != nil {
			t.Fatal(err)
		}
		d3, _ := e.admin.AppsV1().Deployments(staging).Get(bg, "nexo-be", metav1.GetOptions{})
		if d3.Generation != d2.Generation {
			t.Fatalf("second identical restart changed the generation: %d", d3.Generation)
		}
		st, err = c.RolloutStatus(bg, staging, "nexo-be")
		if err != nil || st.Done || !strings.Contains(st.Message, "spec update to be observed") {
			t.Fatalf("rollout status after restart: %+v %v", st, err)
		}
		// The controller (played by the test) rolls one replica out.
		d3.Status.ObservedGeneration = d3.Generation
		d3.Status.UpdatedReplicas = 1
		d3.Status.Replicas = 4
		if _, err := e.admin.AppsV1().Deployments(staging).UpdateStatus(bg, d3, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		st, err = c.RolloutStatus(bg, staging, "nexo-be")
		if err != nil || st.Done || !strings.Contains(st.Message, "1 out of 3 new replicas have been updated") {
			t.Fatalf("rollout status mid-rollout: %+v %v", st, err)
		}
		if err := c.RolloutRestart(bg, staging, "missing", at); !apierrors.IsNotFound(err) {
			t.Fatalf("restart of a missing deployment: %v", err)
		}
	})

	t.Run("ConfigMap", func(t *testing.T) {
		cm, err := c.ConfigMap(bg, staging, "nexo-be-config")
		if err != nil || cm.Data["DB_POOL_SIZE"] != "20" {
			t.Fatalf("configmap: %v %v", cm, err)
		}
		if _, err := c.ConfigMap(bg, staging, "absent"); !apierrors.IsNotFound(err) {
			t.Fatalf("absent configmap: %v", err)
		}
	})

	t.Run("SwitchIngressBackend", func(t *testing.T) {
		prev, err := c.SwitchIngressBackend(bg, staging, "nexo-be-ingress", "nexo-be-blue")
		if err != nil || prev != "nexo-be-green" {
			t.Fatalf("switch: %q %v", prev, err)
		}
		ing, err := c.Ingress(bg, staging, "nexo-be-ingress")
		if err != nil {
			t.Fatal(err)
		}
		if got := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service; got.Name != "nexo-be-blue" || got.Port.Number != 8080 || ing.Spec.Rules[0].Host != "api.nexo.com" {
			t.Fatalf("ingress after switch: %+v", ing.Spec.Rules[0])
		}
		prev, err = c.SwitchIngressBackend(bg, staging, "nexo-be-ingress", "nexo-be-blue")
		if err != nil || prev != "nexo-be-blue" {
			t.Fatalf("idempotent switch: %q %v", prev, err)
		}
	})

	t.Run("SwitchIngressBackendConcurrentChange", func(t *testing.T) {
		e.ingress(t, staging, "race-ingress", "nexo-be-green")
		// Between the client's read and its patch, someone else switches the
		// Ingress to a canary: the real server must reject our test op.
		cfg := e.srv.RestConfig()
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
			return roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if r.Method == http.MethodPatch && strings.HasSuffix(r.URL.Path, "/ingresses/race-ingress") {
					ing, err := e.admin.NetworkingV1().Ingresses(staging).Get(r.Context(), "race-ingress", metav1.GetOptions{})
					if err != nil {
						return nil, err
					}
					ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name = "nexo-be-canary"
					if _, err := e.admin.NetworkingV1().Ingresses(staging).Update(r.Context(), ing, metav1.UpdateOptions{}); err != nil {
						return nil, err
					}
				}
				return rt.RoundTrip(r)
			})
		})
		racy := newClient(t, cfg)
		_, err := racy.SwitchIngressBackend(bg, staging, "race-ingress", "nexo-be-blue")
		if !errors.Is(err, kube.ErrIngressChanged) {
			t.Fatalf("concurrent change: %v", err)
		}
		ing, _ := e.admin.NetworkingV1().Ingresses(staging).Get(bg, "race-ingress", metav1.GetOptions{})
		if got := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name; got != "nexo-be-canary" {
			t.Fatalf("concurrent change clobbered: %q", got)
		}
	})

	t.Run("ForceSyncExternalSecret", func(t *testing.T) {
		at := time.Unix(1764424800, 0)
		if err := c.ForceSyncExternalSecret(bg, staging, "nexo-be-db-credentials", at); err != nil {
			t.Fatal(err)
		}
		es, err := e.dyn.Resource(esGVR).Namespace(staging).Get(bg, "nexo-be-db-credentials", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		a := es.GetAnnotations()
		if a[kube.ForceSyncAnnotation] != "1764424800" || a["team"] != "platform" {
			t.Fatalf("annotations: %v", a)
		}
		if ref, _, _ := unstructured.NestedString(es.Object, "spec", "secretStoreRef", "name"); ref != "aws-secrets-manager" {
			t.Fatalf("spec changed by the patch: %v", es.Object["spec"])
		}
		if err := c.ForceSyncExternalSecret(bg, staging, "absent", at); !apierrors.IsNotFound(err) {
			t.Fatalf("absent externalsecret: %v", err)
		}
	})

	t.Run("SecretDataHash", func(t *testing.T) {
		h1, err := c.SecretDataHash(bg, staging, "nexo-be-db-credentials")
		if err != nil {
			t.Fatal(err)
		}
		if want := kube.HashSecretData(map[string][]byte{"username": []byte("nexo_user"), "password": []byte("old-password-123")}); h1 != want {
			t.Fatalf("hash %s, want %s", h1, want)
		}
		s, _ := e.admin.CoreV1().Secrets(staging).Get(bg, "nexo-be-db-credentials", metav1.GetOptions{})
		s.Data["password"] = []byte("new-password-456")
		if _, err := e.admin.CoreV1().Secrets(staging).Update(bg, s, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		h2, err := c.SecretDataHash(bg, staging, "nexo-be-db-credentials")
		if err != nil || h2 == h1 || strings.Contains(h2, "password") {
			t.Fatalf("hash after change: %s %v", h2, err)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
