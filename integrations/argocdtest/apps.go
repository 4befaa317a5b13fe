//go:build integration

package argocdtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/nexo-org/nexo-bot/integrations/argocd"
)

// applications is the Application resource.
var applications = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}

// App is an Argo CD Application a test creates.
type App struct {
	Name      string
	Project   string // default "default"
	RepoURL   string // e.g. a gitopstest.Remote's file:// URL
	Path      string
	Revision  string // targetRevision, default HEAD
	Include   string // directory include glob (e.g. "staging.jsonnet"); "" for all
	Namespace string // destination namespace (created by the sync)
	AutoSync  bool
	Prune     bool
	SelfHeal  bool
}

// CreateApp creates the Application through the Kubernetes API, as a GitOps
// bootstrap would, and deletes it when the test ends (its live objects stay).
func (s *Server) CreateApp(t testing.TB, a App) {
	t.Helper()
	if a.Project == "" {
		a.Project = "default"
	}
	if a.Revision == "" {
		a.Revision = "HEAD"
	}
	source := map[string]any{"repoURL": a.RepoURL, "path": a.Path, "targetRevision": a.Revision}
	if a.Include != "" {
		source["directory"] = map[string]any{"include": a.Include}
	}
	policy := map[string]any{"syncOptions": []any{"CreateNamespace=true"}}
	if a.AutoSync {
		policy["automated"] = map[string]any{"prune": a.Prune, "selfHeal": a.SelfHeal}
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1",
		"kind":       "Application",
		"metadata":   map[string]any{"name": a.Name, "namespace": Namespace},
		"spec": map[string]any{
			"project":     a.Project,
			"source":      source,
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": a.Namespace},
			"syncPolicy":  policy,
		},
	}}
	apps := s.dynamic(t).Resource(applications).Namespace(Namespace)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := apps.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create application %s: %v", a.Name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := apps.Delete(ctx, a.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete application %s: %v", a.Name, err)
		}
	})
}

// Admin is a client of the API server as admin (for setting up and
// watching; nexo itself gets Token).
func (s *Server) Admin(t testing.TB) *argocd.HTTPClient { return s.Client(t, s.AdminToken) }

// Client is nexo's Argo CD client with token.
func (s *Server) Client(t testing.TB, token string) *argocd.HTTPClient {
	t.Helper()
	c, err := argocd.NewClient(argocd.Options{Server: s.URL, Token: token, Timeout: 30 * time.Second, RetryBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// WaitApp polls the app (as admin, with a normal refresh every few tries so
// a new commit is seen at once) until cond holds; it fails the test after
// timeout with the last state and the components' logs.
func (s *Server) WaitApp(t testing.TB, name string, timeout time.Duration, what string, cond func(*argocd.Application) bool) *argocd.Application {
	t.Helper()
	c := s.Admin(t)
	deadline := time.Now().Add(timeout)
	var last *argocd.Application
	var lastErr error
	for i := 0; time.Now().Before(deadline); i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		refresh := ""
		if i%10 == 0 {
			refresh = "normal"
		}
		app, err := c.GetApp(ctx, name, refresh)
		cancel()
		if err == nil {
			last = app
			if cond(app) {
				return app
			}
		}
		lastErr = err
		time.Sleep(300 * time.Millisecond)
	}
	state := "never read"
	if last != nil {
		var res []string
		for _, r := range last.Status.Resources {
			h := ""
			if r.Health != nil {
				h = r.Health.Status
			}
			res = append(res, fmt.Sprintf("%s/%s %s %s", r.Kind, r.Name, r.Status, h))
		}
		op := "none"
		if o := last.Status.OperationState; o != nil {
			rev := ""
			if o.SyncResult != nil {
				rev = o.SyncResult.Revision
			}
			op = fmt.Sprintf("%s %q on %.7s", o.Phase, o.Message, rev)
		}
		state = fmt.Sprintf("sync %s rev %.7s, health %s %q, resources %v, conditions %+v, last operation %s", last.Status.Sync.Status, last.Status.Sync.Revision,
			last.Status.Health.Status, last.Status.Health.Message, res, last.Status.Conditions, op)
	}
	t.Fatalf("argocdtest: %s: %s not reached in %s (last: %s; last error: %v)\n%s", name, what, timeout, state, lastErr, s.Logs())
	return nil
}

// Settled reports an app with no operation running and a finished last one.
func Settled(a *argocd.Application) bool {
	return a.Operation == nil && (a.Status.OperationState == nil || a.Status.OperationState.Phase != "Running")
}

// Clientset is an admin Kubernetes clientset of the cluster Argo CD deploys to.
func (s *Server) Clientset(t testing.TB) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(s.Kube.RestConfig())
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func (s *Server) dynamic(t testing.TB) dynamic.Interface {
	t.Helper()
	d, err := dynamic.NewForConfig(s.Kube.RestConfig())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// FinishRollout plays the controllers that do not run here (deployment and
// ReplicaSet controllers, scheduler, kubelet) for a Deployment's current pod
// template: it makes the template's ReplicaSet and its Pods (owned as the
// controllers would own them, so Argo CD's resource tree and
// status.summary.images see them), drops the Pods and ReplicaSets of older
// templates, marks the Pods Running and Ready, and writes the Deployment's
// status as a finished rollout. Argo CD then calls it Healthy. Only status
// subresources and owned objects are written, so the Deployment's spec
// stays as Argo CD applied it (still Synced).
func (s *Server) FinishRollout(t testing.TB, namespace, name string) {
	t.Helper()
	s.rollout(t, namespace, name, true)
}

// FailRollout is FinishRollout for a rollout that never becomes ready: the
// new Pods wait in ImagePullBackOff and the Deployment is past its progress
// deadline, as the deployment controller writes; Argo CD then calls it
// Degraded.
func (s *Server) FailRollout(t testing.TB, namespace, name string) {
	t.Helper()
	s.rollout(t, namespace, name, false)
}

func (s *Server) rollout(t testing.TB, namespace, name string, ready bool) {
	t.Helper()
	cs := s.Clientset(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := cs.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("deployment %s/%s: %v", namespace, name, err)
	}
	n := int32(1)
	if d.Spec.Replicas != nil {
		n = *d.Spec.Replicas
	}
	tmpl, _ := json.Marshal(d.Spec.Template)
	sum := sha256.Sum256(tmpl)
	hash := hex.EncodeToString(sum[:])[:10]
	rsName := name + "-" + hash
	yes := true

	// Older templates' ReplicaSets and Pods go (no garbage collector runs).
	rsList, err := cs.AppsV1().ReplicaSets(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range rsList.Items {
		if ownedBy(rs.OwnerReferences, d.UID) && rs.Name != rsName {
			s.deleteOwnedPods(t, ctx, namespace, rs.UID)
			_ = cs.AppsV1().ReplicaSets(namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{})
		}
	}
	labels := map[string]string{"pod-template-hash": hash}
	for k, v := range d.Spec.Template.Labels {
		labels[k] = v
	}
	rs, err := cs.AppsV1().ReplicaSets(namespace).Get(ctx, rsName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		sel := d.Spec.Selector.DeepCopy()
		if sel.MatchLabels == nil {
			sel.MatchLabels = map[string]string{}
		}
		sel.MatchLabels["pod-template-hash"] = hash
		tpl := *d.Spec.Template.DeepCopy()
		tpl.Labels = labels
		rs = &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: rsName, Namespace: namespace, Labels: labels,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name, UID: d.UID, Controller: &yes, BlockOwnerDeletion: &yes}}},
			Spec: appsv1.ReplicaSetSpec{Replicas: &n, Selector: sel, Template: tpl},
		}
		if rs, err = cs.AppsV1().ReplicaSets(namespace).Create(ctx, rs, metav1.CreateOptions{}); err != nil {
			t.Fatalf("replicaset %s: %v", rsName, err)
		}
	} else if err != nil {
		t.Fatal(err)
	}
	readyN := int32(0)
	if ready {
		readyN = n
	}
	rs.Status = appsv1.ReplicaSetStatus{Replicas: n, FullyLabeledReplicas: n, ReadyReplicas: readyN, AvailableReplicas: readyN, ObservedGeneration: rs.Generation}
	if _, err := cs.AppsV1().ReplicaSets(namespace).UpdateStatus(ctx, rs, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("replicaset %s status: %v", rsName, err)
	}
	for i := int32(0); i < n; i++ {
		podName := fmt.Sprintf("%s-%c%c%c%c%c", rsName, 'a'+i%26, 'b'+i%25, 'c', 'd', 'e'+i%20)
		pod, err := cs.CoreV1().Pods(namespace).Get(ctx, podName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			pod = &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: podName, Namespace: namespace, Labels: labels,
					OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rsName, UID: rs.UID, Controller: &yes, BlockOwnerDeletion: &yes}}},
				Spec: *d.Spec.Template.Spec.DeepCopy(),
			}
			pod.Spec.NodeName = "node-1"
			if pod, err = cs.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Fatalf("pod %s: %v", podName, err)
			}
		} else if err != nil {
			t.Fatal(err)
		}
		pod.Status = podStatus(pod, ready)
		if _, err := cs.CoreV1().Pods(namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("pod %s status: %v", podName, err)
		}
	}
	now := metav1.Now()
	st := appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, ReadyReplicas: readyN, AvailableReplicas: readyN, UnavailableReplicas: n - readyN}
	if ready {
		st.Conditions = []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability.", LastUpdateTime: now, LastTransitionTime: now},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", Message: fmt.Sprintf("ReplicaSet %q has successfully progressed.", rsName), LastUpdateTime: now, LastTransitionTime: now},
		}
	} else {
		st.Conditions = []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse, Reason: "MinimumReplicasUnavailable", Message: "Deployment does not have minimum availability.", LastUpdateTime: now, LastTransitionTime: now},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: fmt.Sprintf("ReplicaSet %q has timed out progressing.", rsName), LastUpdateTime: now, LastTransitionTime: now},
		}
	}
	for attempt := 0; ; attempt++ {
		d.Status = st
		if _, err = cs.AppsV1().Deployments(namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err == nil {
			return
		}
		if !apierrors.IsConflict(err) || attempt > 5 {
			t.Fatalf("deployment %s/%s status: %v", namespace, name, err)
		}
		if d, err = cs.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func podStatus(pod *corev1.Pod, ready bool) corev1.PodStatus {
	now := metav1.Now()
	cond := corev1.ConditionTrue
	if !ready {
		cond = corev1.ConditionFalse
	}
	st := corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.10", HostIP: "10.0.0.1", StartTime: &now,
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: cond, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: cond, LastTransitionTime: now},
		}}
	if !ready {
		st.Phase = corev1.PodPending
	}
	for _, c := range pod.Spec.Containers {
		cst := corev1.ContainerStatus{Name: c.Name, Image: c.Image, Ready: ready, Started: &ready}
		if ready {
			cst.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}
			cst.ImageID = "docker-pullable://" + c.Image
		} else {
			cst.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: fmt.Sprintf("Back-off pulling image %q", c.Image)}}
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cst)
	}
	return st
}

func ownedBy(refs []metav1.OwnerReference, uid types.UID) bool {
	for _, r := range refs {
		if r.UID == uid {
			return true
		}
	}
	return false
}

func (s *Server) deleteOwnedPods(t testing.TB, ctx context.Context, namespace string, owner types.UID) {
	t.Helper()
	cs := s.Clientset(t)
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	zero := int64(0)
	for _, p := range pods.Items {
		if ownedBy(p.OwnerReferences, owner) {
			_ = cs.CoreV1().Pods(namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		}
	}
}
