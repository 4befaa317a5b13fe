//go:build integration

package argocdtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
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
		state = fmt.Sprintf("sync %s rev %.7s, health %s %q, conditions %+v, operation %+v", last.Status.Sync.Status, last.Status.Sync.Revision,
			last.Status.Health.Status, last.Status.Health.Message, last.Status.Conditions, last.Status.OperationState)
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

// FinishRollout writes a Deployment's status as a finished rollout (no
// kubelet or controller-manager runs to do it): observed generation
// current, every replica updated and available. Argo CD then calls it
// Healthy. It writes the status subresource only, so the live object's spec
// and last-applied state stay as Argo CD applied them (still Synced).
func (s *Server) FinishRollout(t testing.TB, namespace, name string) {
	t.Helper()
	s.writeDeploymentStatus(t, namespace, name, func(d *appsv1.Deployment) appsv1.DeploymentStatus {
		n := int32(1)
		if d.Spec.Replicas != nil {
			n = *d.Spec.Replicas
		}
		now := metav1.Now()
		return appsv1.DeploymentStatus{
			ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, ReadyReplicas: n, AvailableReplicas: n,
			Conditions: []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable", Message: "Deployment has minimum availability.", LastUpdateTime: now, LastTransitionTime: now},
				{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable", Message: fmt.Sprintf("ReplicaSet %q has successfully progressed.", name), LastUpdateTime: now, LastTransitionTime: now},
			},
		}
	})
}

// FailRollout writes a Deployment's status as a rollout past its progress
// deadline (what the deployment controller writes when new pods never become
// ready, e.g. on ImagePullBackOff); Argo CD then calls it Degraded.
func (s *Server) FailRollout(t testing.TB, namespace, name string) {
	t.Helper()
	s.writeDeploymentStatus(t, namespace, name, func(d *appsv1.Deployment) appsv1.DeploymentStatus {
		n := int32(1)
		if d.Spec.Replicas != nil {
			n = *d.Spec.Replicas
		}
		now := metav1.Now()
		return appsv1.DeploymentStatus{
			ObservedGeneration: d.Generation, Replicas: n, UpdatedReplicas: n, UnavailableReplicas: n,
			Conditions: []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse, Reason: "MinimumReplicasUnavailable", Message: "Deployment does not have minimum availability.", LastUpdateTime: now, LastTransitionTime: now},
				{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: fmt.Sprintf("ReplicaSet %q has timed out progressing.", name), LastUpdateTime: now, LastTransitionTime: now},
			},
		}
	})
}

func (s *Server) writeDeploymentStatus(t testing.TB, namespace, name string, status func(*appsv1.Deployment) appsv1.DeploymentStatus) {
	t.Helper()
	cs := s.Clientset(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for attempt := 0; ; attempt++ {
		d, err := cs.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("deployment %s/%s: %v", namespace, name, err)
		}
		d.Status = status(d)
		if _, err = cs.AppsV1().Deployments(namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{}); err == nil {
			return
		}
		if !apierrors.IsConflict(err) || attempt > 5 {
			t.Fatalf("deployment %s/%s status: %v", namespace, name, err)
		}
	}
}
