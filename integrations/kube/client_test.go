package kube_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakedisco "k8s.io/client-go/discovery/fake"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/nexo-org/nexo-bot/integrations/kube"
	"github.com/nexo-org/nexo-bot/integrations/kube/clientset"
)

const ns = "nexo-staging"

func pod(name, app string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": app}}}
}

func event(name, typ, pod string, last time.Time) *corev1.Event {
	return &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: ns},
		Type:           typ,
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: pod, Namespace: ns},
		LastTimestamp:  metav1.NewTime(last),
	}
}

func ingress(name, backend string) *networkingv1.Ingress {
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{
					Path:     "/",
					PathType: ptr(networkingv1.PathTypePrefix),
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
						Name: backend, Port: networkingv1.ServiceBackendPort{Number: 80},
					}},
				}},
			}},
		}}},
	}
}

func ptr[T any](v T) *T { return &v }

var esGVR = schema.GroupVersionResource{Group: "external-secrets.io", Version: "v1beta1", Resource: "externalsecrets"}

func newFake(t *testing.T, served []string, objs ...runtime.Object) (*kube.Client, *fake.Clientset, *dynfake.FakeDynamicClient) {
	t.Helper()
	cs := fake.NewClientset(objs...)
	var lists []*metav1.APIResourceList
	for _, v := range served {
		lists = append(lists, &metav1.APIResourceList{
			GroupVersion: "external-secrets.io/" + v,
			APIResources: []metav1.APIResource{{Name: "externalsecrets", Kind: "ExternalSecret", Namespaced: true}},
		})
	}
	cs.Discovery().(*fakedisco.FakeDiscovery).Resources = lists
	scheme := runtime.NewScheme()
	gvrs := map[schema.GroupVersionResource]string{}
	for _, v := range []string{"v1beta1", "v1"} {
		gvrs[schema.GroupVersionResource{Group: "external-secrets.io", Version: v, Resource: "externalsecrets"}] = "ExternalSecretList"
	}
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(scheme, gvrs)
	return kube.NewFromClients(clientset.Adapt(cs), dyn, kube.Options{Timeout: 5 * time.Second, EventLimit: 3}), cs, dyn
}

func TestPodsBySelector(t *testing.T) {
	c, _, _ := newFake(t, nil, pod("be-2", "nexo-be"), pod("be-1", "nexo-be"), pod("fe-1", "nexo-fe"))
	pods, err := c.Pods(context.Background(), ns, "app=nexo-be")
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 2 || pods[0].Name != "be-1" || pods[1].Name != "be-2" {
		t.Fatalf("pods: %v", names(pods))
	}
	if _, err := c.Pods(context.Background(), ns, "app in (("); err == nil {
		t.Fatal("bad selector accepted")
	}
	if _, err := c.Pods(context.Background(), "Bad_NS", "app=x"); err == nil {
		t.Fatal("bad namespace accepted")
	}
}

func names(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func eventNames(evs []corev1.Event) string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Name)
	}
	return strings.Join(out, ",")
}

func TestEventsWarningsFirstNewestFirstCapped(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	evNoLast := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: "w-eventtime", Namespace: ns},
		Type:       corev1.EventTypeWarning,
		EventTime:  metav1.NewMicroTime(t0.Add(5 * time.Minute)),
	}
	c, cs, _ := newFake(t, nil,
		event("n-new", "Normal", "a", t0.Add(10*time.Minute)),
		event("w-old", "Warning", "a", t0),
		event("w-new", "Warning", "b", t0.Add(2*time.Minute)),
		evNoLast,
		event("n-old", "Normal", "a", t0.Add(-time.Hour)),
	)
	evs, err := c.Events(context.Background(), ns)
	if err != nil {
		t.Fatal(err)
	}
	if got := eventNames(evs); got != "w-eventtime,w-new,w-old" {
		t.Fatalf("order/cap: %s", got)
	}
	c10 := kube.NewFromClients(clientset.Adapt(cs), nil, kube.Options{EventLimit: 10})
	evs, _ = c10.Events(context.Background(), ns)
	if got := eventNames(evs); got != "w-eventtime,w-new,w-old,n-new,n-old" {
		t.Fatalf("order: %s", got)
	}
}

func TestPodEventsOnlyThatPod(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	other := event("rs", "Warning", "be-1", t0)
	other.InvolvedObject.Kind = "ReplicaSet"
	c, cs, _ := newFake(t, nil,
		event("a1", "Normal", "be-1", t0),
		event("a2", "Warning", "be-1", t0.Add(-time.Minute)),
		event("b1", "Warning", "be-2", t0),
		other,
	)
	evs, err := c.PodEvents(context.Background(), ns, "be-1")
	if err != nil {
		t.Fatal(err)
	}
	if got := eventNames(evs); got != "a2,a1" {
		t.Fatalf("pod events: %s", got)
	}
	var sel string
	for _, a := range cs.Actions() {
		if l, ok := a.(k8stesting.ListAction); ok && a.GetResource().Resource == "events" {
			sel = l.GetListRestrictions().Fields.String()
		}
	}
	if sel != "involvedObject.kind=Pod,involvedObject.name=be-1" && sel != "involvedObject.name=be-1,involvedObject.kind=Pod" {
		t.Fatalf("field selector sent: %q", sel)
	}
}

func TestLogsOptions(t *testing.T) {
	c, cs, _ := newFake(t, nil, pod("be-1", "nexo-be"))
	out, err := c.Logs(context.Background(), ns, "be-1", "app", true, 100, 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if out != "fake logs" {
		t.Fatalf("logs: %q", out)
	}
	var opts *corev1.PodLogOptions
	for _, a := range cs.Actions() {
		if g, ok := a.(k8stesting.GenericAction); ok && a.GetSubresource() == "log" {
			opts, _ = g.GetValue().(*corev1.PodLogOptions)
		}
	}
	if opts == nil {
		t.Fatal("no log action recorded")
	}
	if !opts.Previous || opts.Container != "app" || *opts.TailLines != 100 || *opts.SinceSeconds != 90 || *opts.LimitBytes != kube.LogLimitBytes {
		t.Fatalf("log options: %+v", opts)
	}
	if _, err := c.Logs(context.Background(), ns, "be-1", "", false, -1, 0); err == nil {
		t.Fatal("negative tail accepted")
	}
}

func TestSwitchIngressBackend(t *testing.T) {
	c, cs, _ := newFake(t, nil, ingress("nexo-be-ingress", "nexo-be-green"))
	ctx := context.Background()
	prev, err := c.SwitchIngressBackend(ctx, ns, "nexo-be-ingress", "nexo-be-blue")
	if err != nil {
		t.Fatal(err)
	}
	if prev != "nexo-be-green" {
		t.Fatalf("previous: %q", prev)
	}
	ing, _ := c.Ingress(ctx, ns, "nexo-be-ingress")
	if got := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name; got != "nexo-be-blue" {
		t.Fatalf("backend after switch: %q", got)
	}
	var patch string
	for _, a := range cs.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok {
			patch = string(p.GetPatch())
		}
	}
	if !strings.Contains(patch, `"op":"test"`) || !strings.Contains(patch, `"value":"nexo-be-green"`) {
		t.Fatalf("patch lacks test op: %s", patch)
	}
	// Same target again: nothing patched.
	before := len(cs.Actions())
	prev, err = c.SwitchIngressBackend(ctx, ns, "nexo-be-ingress", "nexo-be-blue")
	if err != nil || prev != "nexo-be-blue" {
		t.Fatalf("idempotent switch: %q %v", prev, err)
	}
	for _, a := range cs.Actions()[before:] {
		if a.GetVerb() == "patch" {
			t.Fatal("idempotent switch patched")
		}
	}
	if _, err := c.SwitchIngressBackend(ctx, ns, "nexo-be-ingress", "Not A Service"); err == nil {
		t.Fatal("bad service name accepted")
	}
}

func TestSwitchIngressBackendConcurrentChange(t *testing.T) {
	c, cs, _ := newFake(t, nil, ingress("nexo-be-ingress", "nexo-be-green"))
	// Someone switches the ingress between our read and our patch.
	var once bool
	cs.PrependReactor("get", "ingresses", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if once {
			return false, nil, nil
		}
		once = true
		return true, ingress("nexo-be-ingress", "nexo-be-canary"), nil
	})
	_, err := c.SwitchIngressBackend(context.Background(), ns, "nexo-be-ingress", "nexo-be-blue")
	if !errors.Is(err, kube.ErrIngressChanged) {
		t.Fatalf("concurrent change not detected: %v", err)
	}
	ing, _ := cs.NetworkingV1().Ingresses(ns).Get(context.Background(), "nexo-be-ingress", metav1.GetOptions{})
	if got := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name; got != "nexo-be-green" {
		t.Fatalf("object clobbered: %q", got)
	}
}

func externalSecret(version, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("external-secrets.io/" + version)
	u.SetKind("ExternalSecret")
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetAnnotations(map[string]string{"keep": "me"})
	return u
}

func TestForceSyncExternalSecret(t *testing.T) {
	for _, tc := range []struct {
		served []string
		want   string
	}{{[]string{"v1beta1", "v1"}, "v1beta1"}, {[]string{"v1"}, "v1"}} {
		t.Run(tc.want, func(t *testing.T) {
			c, _, dyn := newFake(t, tc.served)
			gvr := esGVR
			gvr.Version = tc.want
			if _, err := dyn.Resource(gvr).Namespace(ns).Create(context.Background(), externalSecret(tc.want, "nexo-be-db-credentials"), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			at := time.Unix(1764410000, 0)
			if err := c.ForceSyncExternalSecret(context.Background(), ns, "nexo-be-db-credentials", at); err != nil {
				t.Fatal(err)
			}
			got, err := dyn.Resource(gvr).Namespace(ns).Get(context.Background(), "nexo-be-db-credentials", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			a := got.GetAnnotations()
			if a[kube.ForceSyncAnnotation] != "1764410000" || a["keep"] != "me" {
				t.Fatalf("annotations: %v", a)
			}
		})
	}
	c, _, _ := newFake(t, nil)
	err := c.ForceSyncExternalSecret(context.Background(), ns, "x", time.Now())
	if err == nil || !strings.Contains(err.Error(), "External Secrets Operator") {
		t.Fatalf("no CRD: %v", err)
	}
}

func TestSecretDataHash(t *testing.T) {
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Data:       map[string][]byte{"password": []byte("hunter2-very-secret"), "username": []byte("nexo_user")},
	}
	c, cs, _ := newFake(t, nil, secret)
	ctx := context.Background()
	h1, err := c.SecretDataHash(ctx, ns, "db")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h1, "sha256:") || len(h1) != len("sha256:")+64 || strings.Contains(h1, "hunter2") {
		t.Fatalf("hash: %q", h1)
	}
	if h1 != kube.HashSecretData(map[string][]byte{"username": []byte("nexo_user"), "password": []byte("hunter2-very-secret")}) {
		t.Fatal("hash depends on map order")
	}
	secret.Data["password"] = []byte("new-password")
	if _, err := cs.CoreV1().Secrets(ns).Update(ctx, secret, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h2, _ := c.SecretDataHash(ctx, ns, "db")
	if h2 == h1 {
		t.Fatal("hash did not change with the data")
	}
	// Key/value boundaries matter: {"a":"b=c"} differs from {"a=b":"c"}-like shifts.
	if kube.HashSecretData(map[string][]byte{"a": []byte("bc")}) == kube.HashSecretData(map[string][]byte{"ab": []byte("c")}) {
		t.Fatal("ambiguous encoding")
	}
	_, err = c.SecretDataHash(ctx, ns, "missing")
	if err == nil || strings.Contains(err.Error(), "new-password") {
		t.Fatalf("missing secret: %v", err)
	}
}

func deployment(name string, gen, observed int64, replicas, updated, available, total int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Generation: gen},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}}},
		},
		Status: appsv1.DeploymentStatus{ObservedGeneration: observed, Replicas: total, UpdatedReplicas: updated, AvailableReplicas: available},
	}
}

func TestRolloutRestart(t *testing.T) {
	c, cs, _ := newFake(t, nil, deployment("nexo-be", 1, 1, 2, 2, 2, 2))
	at := time.Date(2026, 11, 29, 12, 30, 0, 0, time.UTC)
	if err := c.RolloutRestart(context.Background(), ns, "nexo-be", at); err != nil {
		t.Fatal(err)
	}
	d, _ := cs.AppsV1().Deployments(ns).Get(context.Background(), "nexo-be", metav1.GetOptions{})
	if got := d.Spec.Template.Annotations[kube.RestartedAtAnnotation]; got != "2026-11-29T12:30:00Z" {
		t.Fatalf("restartedAt: %q", got)
	}
	if err := c.RolloutRestart(context.Background(), ns, "nope", at); err == nil {
		t.Fatal("missing deployment: no error")
	}
}

func TestDeploymentRollout(t *testing.T) {
	deadline := deployment("d", 2, 2, 3, 1, 1, 3)
	deadline.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"}}
	for _, tc := range []struct {
		name   string
		d      *appsv1.Deployment
		done   bool
		failed bool
		msg    string
	}{
		{"not observed", deployment("d", 3, 2, 3, 3, 3, 3), false, false, "spec update to be observed"},
		{"updating", deployment("d", 2, 2, 3, 1, 1, 3), false, false, "1 out of 3 new replicas have been updated"},
		{"old pending", deployment("d", 2, 2, 3, 3, 3, 4), false, false, "1 old replicas are pending termination"},
		{"unavailable", deployment("d", 2, 2, 3, 3, 2, 3), false, false, "2 of 3 updated replicas are available"},
		{"done", deployment("d", 2, 2, 3, 3, 3, 3), true, false, `deployment "d" successfully rolled out`},
		{"deadline", deadline, false, true, "exceeded its progress deadline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := kube.DeploymentRollout(tc.d)
			if got.Done != tc.done || got.Failed != tc.failed || !strings.Contains(got.Message, tc.msg) {
				t.Fatalf("%+v", got)
			}
		})
	}
	c, _, _ := newFake(t, nil, deployment("nexo-be", 2, 2, 3, 3, 3, 3))
	st, err := c.RolloutStatus(context.Background(), ns, "nexo-be")
	if err != nil || !st.Done {
		t.Fatalf("rollout status: %+v %v", st, err)
	}
}

// deadlineAPI records the deadline of the context each call gets.
type deadlineAPI struct {
	kube.API
	deadline time.Time
}

func (d *deadlineAPI) ListPods(ctx context.Context, namespace string, opts metav1.ListOptions) (*corev1.PodList, error) {
	d.deadline, _ = ctx.Deadline()
	return d.API.ListPods(ctx, namespace, opts)
}

func TestCallsAreBounded(t *testing.T) {
	for _, tc := range []struct {
		opts kube.Options
		want time.Duration
	}{
		{kube.Options{Timeout: 50 * time.Millisecond}, 50 * time.Millisecond},
		{kube.Options{}, kube.DefaultTimeout},
	} {
		api := &deadlineAPI{API: clientset.Adapt(fake.NewClientset())}
		c := kube.NewFromClients(api, nil, tc.opts)
		start := time.Now()
		if _, err := c.Pods(context.Background(), ns, "app=x"); err != nil {
			t.Fatal(err)
		}
		if api.deadline.IsZero() {
			t.Fatalf("%+v: the call carried no deadline", tc.opts)
		}
		end := time.Now()
		if api.deadline.Before(start.Add(tc.want)) || api.deadline.After(end.Add(tc.want)) {
			t.Fatalf("%+v: deadline %s after the call's start, want %s", tc.opts, api.deadline.Sub(start), tc.want)
		}
	}
}

func TestConfigMapAndIngressRead(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "nexo-be-config", Namespace: ns}, Data: map[string]string{"DB_POOL": "20"}}
	c, _, _ := newFake(t, nil, cm, ingress("ing", "svc-a"))
	got, err := c.ConfigMap(context.Background(), ns, "nexo-be-config")
	if err != nil || got.Data["DB_POOL"] != "20" {
		t.Fatalf("configmap: %v %v", got, err)
	}
	if _, err := c.ConfigMap(context.Background(), ns, ""); err == nil {
		t.Fatal("empty name accepted")
	}
	ing, err := c.Ingress(context.Background(), ns, "ing")
	if err != nil || ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name != "svc-a" {
		t.Fatalf("ingress: %v", err)
	}
}
