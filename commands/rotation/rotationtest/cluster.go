// Package rotationtest holds test doubles for database password rotations:
// a Kubernetes cluster that behaves like the parts a rotation touches. Its
// pods really log in to PostgreSQL with the Secret's credentials, so a
// rotation that leaves the cluster with a wrong password is caught by the
// pods' logs, as in production.
package rotationtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nexo-org/nexo-bot/integrations/dbrotate"
	"github.com/nexo-org/nexo-bot/integrations/kube"
)

// SuccessLine is what a pod logs once it has connected to the database.
const SuccessLine = "Database connected successfully"

// SecretSource is where the simulated External Secrets Operator reads the
// AWSCURRENT value (secretstorefake.Server fits).
type SecretSource interface {
	Current(id string) (value, versionID string)
}

// Cluster simulates the parts of Kubernetes a rotation touches: the
// External Secrets Operator copies AWSCURRENT into the Secret on a
// force-sync, and a restart replaces the pods, each of which logs in to
// the real PostgreSQL with the Secret's credentials and logs the outcome.
// Pods are labelled app=<App> and named <App>-<generation>-<n>.
type Cluster struct {
	// App is the Deployment and the app label (e.g. "nexo-be").
	App string
	// Namespace is the pods' namespace.
	Namespace string

	mu        sync.Mutex
	source    SecretSource
	secretID  string
	esoBroken bool
	data      map[string][]byte
	gen       int64
	pods      []corev1.Pod
	logs      map[string]string
	restarts  []time.Time
	syncs     int
}

var _ kube.Cluster = (*Cluster)(nil)

// NewCluster copies the secret secretID of source into the Kubernetes
// Secret and starts two pods of app at time at.
func NewCluster(source SecretSource, secretID, namespace, app string, at time.Time) *Cluster {
	c := &Cluster{App: app, Namespace: namespace, source: source, secretID: secretID, logs: map[string]string{}, gen: 1}
	c.copySecret()
	c.startPods(at)
	return c
}

// SetESOBroken makes force-syncs do nothing (the operator is down).
func (c *Cluster) SetESOBroken(broken bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.esoBroken = broken
}

// Data returns one key of the Kubernetes Secret's data.
func (c *Cluster) Data(key string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.data[key])
}

// Restarts returns the restartedAt values of the rollout restarts so far.
func (c *Cluster) Restarts() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.restarts...)
}

// Syncs counts the force-syncs.
func (c *Cluster) Syncs() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.syncs
}

// PodNames lists the running pods.
func (c *Cluster) PodNames() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, p := range c.pods {
		out = append(out, p.Name)
	}
	return out
}

// PodLog returns a pod's log ("" for an unknown pod).
func (c *Cluster) PodLog(pod string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logs[pod]
}

// Connected reports whether every running pod logged SuccessLine.
func (c *Cluster) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.pods {
		if !strings.Contains(c.logs[p.Name], SuccessLine) {
			return false
		}
	}
	return len(c.pods) > 0
}

func (c *Cluster) copySecret() {
	raw, _ := c.source.Current(c.secretID)
	var m map[string]any
	_ = json.Unmarshal([]byte(raw), &m)
	c.data = map[string][]byte{}
	for k, v := range m {
		c.data[k] = []byte(fmt.Sprint(v))
	}
}

func (c *Cluster) startPods(at time.Time) {
	c.pods = nil
	for i := 0; i < 2; i++ {
		name := fmt.Sprintf("%s-%d-%d", c.App, c.gen, i)
		port, _ := strconv.Atoi(string(c.data["port"]))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := dbrotate.CheckLogin(ctx, dbrotate.ConnInfo{
			Host: string(c.data["host"]), Port: port, Database: string(c.data["database"]),
			User: string(c.data["username"]), Password: string(c.data["password"]), SSLMode: "disable",
		})
		cancel()
		line := SuccessLine
		if err != nil {
			line = "FATAL: could not connect to the database: " + err.Error()
		}
		c.logs[name] = "starting " + c.App + "\n" + line + "\n"
		c.pods = append(c.pods, corev1.Pod{ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: c.Namespace, Labels: map[string]string{"app": c.App},
			CreationTimestamp: metav1.NewTime(at),
		}})
	}
}

// ForceSyncExternalSecret copies AWSCURRENT into the Secret (unless broken).
func (c *Cluster) ForceSyncExternalSecret(_ context.Context, _, _ string, _ time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncs++
	if !c.esoBroken {
		c.copySecret()
	}
	return nil
}

// SecretDataHash hashes the Secret's data, keys sorted.
func (c *Cluster) SecretDataHash(_ context.Context, _, _ string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]string, 0, len(c.data))
	for k := range c.data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s\x00%s\x00", k, c.data[k])
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// RolloutRestart replaces the pods, unless at is the annotation already set.
func (c *Cluster) RolloutRestart(_ context.Context, _, _ string, at time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.restarts) > 0 && c.restarts[len(c.restarts)-1].Equal(at) {
		return nil // the same annotation value: no change, no new pods
	}
	c.restarts = append(c.restarts, at)
	c.gen++
	c.startPods(at)
	return nil
}

// Deployment reads the simulated Deployment.
func (c *Cluster) Deployment(_ context.Context, ns, name string) (*appsv1.Deployment, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	two := int32(2)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Generation: c.gen},
		Spec:       appsv1.DeploymentSpec{Replicas: &two},
		Status:     appsv1.DeploymentStatus{ObservedGeneration: c.gen, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2, ReadyReplicas: 2},
	}, nil
}

// RolloutStatus is always done: pods start synchronously.
func (c *Cluster) RolloutStatus(_ context.Context, _, _ string) (kube.RolloutStatus, error) {
	return kube.RolloutStatus{Done: true, Message: "successfully rolled out"}, nil
}

// Pods lists the pods when selector is app=<App>.
func (c *Cluster) Pods(_ context.Context, _, selector string) ([]corev1.Pod, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if selector != "app="+c.App {
		return nil, nil
	}
	return append([]corev1.Pod(nil), c.pods...), nil
}

// Logs returns a pod's log.
func (c *Cluster) Logs(_ context.Context, _, pod, _ string, _ bool, _ int64, _ time.Duration) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.logs[pod]
	if !ok {
		return "", errors.New("pod not found")
	}
	return l, nil
}

// ErrUnused is returned by the methods rotations do not use.
var ErrUnused = errors.New("rotationtest: not used by rotations")

// Events is not simulated.
func (c *Cluster) Events(context.Context, string) ([]corev1.Event, error) { return nil, ErrUnused }

// PodEvents is not simulated.
func (c *Cluster) PodEvents(context.Context, string, string) ([]corev1.Event, error) {
	return nil, ErrUnused
}

// ConfigMap is not simulated.
func (c *Cluster) ConfigMap(context.Context, string, string) (*corev1.ConfigMap, error) {
	return nil, ErrUnused
}

// Ingress is not simulated.
func (c *Cluster) Ingress(context.Context, string, string) (*networkingv1.Ingress, error) {
	return nil, ErrUnused
}

// SwitchIngressBackend is not simulated.
func (c *Cluster) SwitchIngressBackend(context.Context, string, string, string) (string, error) {
	return "", ErrUnused
}
