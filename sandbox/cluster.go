package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopsseed"
	"github.com/nexo-org/nexo-bot/integrations/kube"
	"github.com/nexo-org/nexo-bot/integrations/kube/clientset"
)

// Cluster is the sandbox's Kubernetes: the real kube.Client over client-go's
// fake clientset, except for container logs, which the fake clientset
// cannot serve (it answers "fake logs"): those come from SetLog.
type Cluster struct {
	*kube.Client
	cs   *fake.Clientset
	mu   sync.Mutex
	logs map[string]string // "namespace/pod/container/previous" → text
}

func newCluster(tagOf func(service, env string) string) (*fake.Clientset, *Cluster) {
	var objs []runtime.Object
	for _, svc := range gitopsseed.Services {
		for _, env := range gitopsseed.Envs {
			tag := tagOf(svc, env)
			objs = append(objs, deploymentObj(svc, env, int32(replicas(env)), int32(replicas(env))))
			for i := 0; i < replicas(env); i++ {
				objs = append(objs, runningPod(svc, env, tag, i))
			}
		}
	}
	cs := fake.NewClientset(objs...)
	return cs, &Cluster{Client: kube.NewFromClients(clientset.Adapt(cs), nil, kubeOptions), cs: cs, logs: map[string]string{}}
}

// Logs serves the text set with SetLog, cut to the last tailLines lines.
func (c *Cluster) Logs(ctx context.Context, namespace, pod, container string, previous bool, tailLines int64, since time.Duration) (string, error) {
	if _, err := c.cs.CoreV1().Pods(namespace).Get(ctx, pod, metav1.GetOptions{}); err != nil {
		return "", fmt.Errorf("kube: logs of %s/%s: %w", namespace, pod, err)
	}
	c.mu.Lock()
	text, ok := c.logs[logKey(namespace, pod, container, previous)]
	c.mu.Unlock()
	if !ok {
		if previous {
			return "", fmt.Errorf("kube: logs of %s/%s: previous terminated container %q in pod %q not found", namespace, pod, container, pod)
		}
		return "", nil
	}
	lines := strings.SplitAfter(strings.TrimRight(text, "\n"), "\n")
	if tailLines > 0 && int64(len(lines)) > tailLines {
		lines = lines[int64(len(lines))-tailLines:]
	}
	return strings.Join(lines, "") + "\n", nil
}

// SetLog sets a container's log (previous: its last terminated instance).
func (c *Cluster) SetLog(namespace, pod, container string, previous bool, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logs[logKey(namespace, pod, container, previous)] = text
}

func (c *Cluster) resetLogs() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logs = map[string]string{}
}

func logKey(ns, pod, container string, previous bool) string {
	return fmt.Sprintf("%s/%s/%s/%v", ns, pod, container, previous)
}

// replace swaps service's pods (and its Deployment's status) in env.
func (c *Cluster) replace(ctx context.Context, service, env string, pods []*corev1.Pod, dep *appsv1.Deployment, events []*corev1.Event) error {
	ns := "nexo-" + env
	old, err := c.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + service})
	if err != nil {
		return err
	}
	for _, p := range old.Items {
		if err := c.cs.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
			return err
		}
	}
	for _, p := range pods {
		if _, err := c.cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	if _, err := c.cs.AppsV1().Deployments(ns).Update(ctx, dep, metav1.UpdateOptions{}); err != nil {
		return err
	}
	evs, err := c.cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, e := range evs.Items {
		if strings.HasPrefix(e.InvolvedObject.Name, service+"-") {
			_ = c.cs.CoreV1().Events(ns).Delete(ctx, e.Name, metav1.DeleteOptions{})
		}
	}
	for _, e := range events {
		if _, err := c.cs.CoreV1().Events(ns).Create(ctx, e, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

func deploymentObj(svc, env string, want, available int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: svc, Namespace: "nexo-" + env, Generation: 3, Labels: map[string]string{"app": svc}},
		Spec:       appsv1.DeploymentSpec{Replicas: &want, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": svc}}},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: want, UpdatedReplicas: want,
			ReadyReplicas: available, AvailableReplicas: available, UnavailableReplicas: want - available},
	}
}

// stalledDeployment is a Deployment whose rollout of want new replicas
// passed its progress deadline with available of them ready, old replicas
// of the previous ReplicaSet still running — what Argo CD reports as
// "exceeded its progress deadline".
func stalledDeployment(svc, env string, want, old, available int32) *appsv1.Deployment {
	d := deploymentObj(svc, env, want, available)
	d.Status.Replicas = want + old
	d.Status.AvailableReplicas, d.Status.ReadyReplicas = available+old, available+old
	d.Status.UnavailableReplicas = want - available
	d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
		Reason: "ProgressDeadlineExceeded", Message: fmt.Sprintf("ReplicaSet %q has timed out progressing.", svc+"-"+env)}}
	return d
}

// podHash is a pod-template-hash for a service's tag.
func podHash(svc, tag string) string {
	return shortHash(svc, tag)[:10]
}

func podName(svc, tag string, i int) (string, string) {
	h := podHash(svc, tag)
	return svc + "-" + h + "-" + shortHash(h, fmt.Sprint(i))[:5], h
}

func basePod(svc, env, tag string, i int, started time.Time) *corev1.Pod {
	name, hash := podName(svc, tag, i)
	port := int32(8080)
	if svc == "nexo-fe" {
		port = 3000
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "nexo-" + env, GenerateName: svc + "-" + hash + "-",
			CreationTimestamp: metav1.NewTime(started),
			Labels:            map[string]string{"app": svc, "pod-template-hash": hash, "app.kubernetes.io/instance": svc + "-" + env},
			OwnerReferences:   []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: svc + "-" + hash}}},
		Spec: corev1.PodSpec{NodeName: "ip-10-0-12-34.ec2.internal", Containers: []corev1.Container{{
			Name: svc, Image: image(svc, tag), ImagePullPolicy: corev1.PullIfNotPresent,
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: port, Protocol: corev1.ProtocolTCP}},
		}}},
	}
}

func runningPod(svc, env, tag string, i int) *corev1.Pod {
	started := time.Now().Add(-20 * time.Hour)
	p := basePod(svc, env, tag, i, started)
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &metav1.Time{Time: started},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: svc, Image: image(svc, tag), Ready: true, Started: ptr(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(started)}}}}}
	return p
}

func imagePullPod(svc, env, tag string, i int) *corev1.Pod {
	started := time.Now().Add(-2 * time.Minute)
	p := basePod(svc, env, tag, i, started)
	msg := fmt.Sprintf(`Back-off pulling image "%s"`, image(svc, tag))
	p.Status = corev1.PodStatus{Phase: corev1.PodPending, StartTime: &metav1.Time{Time: started},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady"}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: svc, Image: image(svc, tag), Ready: false, Started: ptr(false),
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: msg}}}}}
	return p
}

func crashPod(svc, env, tag string, i int) *corev1.Pod {
	started := time.Now().Add(-9 * time.Minute)
	finished := time.Now().Add(-40 * time.Second)
	p := basePod(svc, env, tag, i, started)
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &metav1.Time{Time: started},
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady"}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: svc, Image: image(svc, tag), Ready: false, Started: ptr(false), RestartCount: 6,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
				Message: fmt.Sprintf("back-off 5m0s restarting failed container=%s pod=%s_nexo-%s", svc, p.Name, env)}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error",
				StartedAt: metav1.NewTime(finished.Add(-3 * time.Second)), FinishedAt: metav1.NewTime(finished)}}}}}
	return p
}

func event(ns, pod, reason, typ, msg, component string, count int32, at time.Time) *corev1.Event {
	return &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", pod, at.UnixNano()+int64(len(reason))), Namespace: ns, CreationTimestamp: metav1.NewTime(at)},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod, APIVersion: "v1"},
		Reason:         reason, Message: msg, Type: typ, Count: count,
		Source:         corev1.EventSource{Component: component},
		FirstTimestamp: metav1.NewTime(at.Add(-time.Duration(count) * 20 * time.Second)), LastTimestamp: metav1.NewTime(at),
	}
}

func shortHash(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "/")))
	return hex.EncodeToString(sum[:])
}

func ptr[T any](v T) *T { return &v }

func gitHead(gitDir string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "--git-dir", gitDir, "rev-parse", "refs/heads/"+gitopsseed.Branch).Output()
	if err != nil {
		return "", fmt.Errorf("sandbox: reading the GitOps head: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}
