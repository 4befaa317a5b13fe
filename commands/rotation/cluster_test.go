package rotation_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nexo-org/nexo-bot/integrations/dbrotate"
	"github.com/nexo-org/nexo-bot/integrations/kube"
	"github.com/nexo-org/nexo-bot/integrations/secretstorefake"
)

// cluster simulates the parts of Kubernetes a rotation touches: the
// External Secrets Operator copies AWSCURRENT into the Secret on a
// force-sync, and a restart replaces the pods, each of which logs in to the
// real PostgreSQL with the Secret's credentials and logs the outcome.
type cluster struct {
	mu       sync.Mutex
	store    *secretstorefake.Server
	secretID string
	// esoBroken makes force-syncs do nothing (the operator is down).
	esoBroken bool
	data      map[string][]byte
	gen       int64
	pods      []corev1.Pod
	logs      map[string]string
	restarts  []time.Time
	syncs     int
}

var _ kube.Cluster = (*cluster)(nil)

func newCluster(store *secretstorefake.Server, secretID string, at time.Time) *cluster {
	c := &cluster{store: store, secretID: secretID, logs: map[string]string{}, gen: 1}
	c.copySecret()
	c.startPods(at)
	return c
}

func (c *cluster) copySecret() {
	raw, _ := c.store.Current(c.secretID)
	var m map[string]any
	_ = json.Unmarshal([]byte(raw), &m)
	c.data = map[string][]byte{}
	for k, v := range m {
		c.data[k] = []byte(fmt.Sprint(v))
	}
}

func (c *cluster) startPods(at time.Time) {
	c.pods = nil
	for i := 0; i < 2; i++ {
		name := fmt.Sprintf("nexo-be-%d-%d", c.gen, i)
		port, _ := strconv.Atoi(string(c.data["port"]))
		err := dbrotate.CheckLogin(context.Background(), dbrotate.ConnInfo{
			Host: string(c.data["host"]), Port: port, Database: string(c.data["database"]),
			User: string(c.data["username"]), Password: string(c.data["password"]), SSLMode: "disable",
		})
		line := "Database connected successfully"
		if err != nil {
			line = "FATAL: could not connect to the database: " + err.Error()
		}
		c.logs[name] = "starting nexo-be\n" + line + "\n"
		c.pods = append(c.pods, corev1.Pod{ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "nexo-production", Labels: map[string]string{"app": "nexo-be"},
			CreationTimestamp: metav1.NewTime(at),
		}})
	}
}

func (c *cluster) ForceSyncExternalSecret(_ context.Context, _, _ string, _ time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncs++
	if !c.esoBroken {
		c.copySecret()
	}
	return nil
}

func (c *cluster) SecretDataHash(_ context.Context, _, _ string) (string, error) {
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

func (c *cluster) RolloutRestart(_ context.Context, _, _ string, at time.Time) error {
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

func (c *cluster) Deployment(_ context.Context, ns, name string) (*appsv1.Deployment, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	two := int32(2)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Generation: c.gen},
		Spec:       appsv1.DeploymentSpec{Replicas: &two},
		Status:     appsv1.DeploymentStatus{ObservedGeneration: c.gen, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2, ReadyReplicas: 2},
	}, nil
}

func (c *cluster) RolloutStatus(_ context.Context, _, _ string) (kube.RolloutStatus, error) {
	return kube.RolloutStatus{Done: true, Message: "successfully rolled out"}, nil
}

func (c *cluster) Pods(_ context.Context, _, selector string) ([]corev1.Pod, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if selector != "app=nexo-be" {
		return nil, nil
	}
	return append([]corev1.Pod(nil), c.pods...), nil
}

func (c *cluster) Logs(_ context.Context, _, pod, _ string, _ bool, _ int64, _ time.Duration) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.logs[pod]
	if !ok {
		return "", errors.New("pod not found")
	}
	return l, nil
}

var errUnused = errors.New("not used by rotations")

func (c *cluster) Events(context.Context, string) ([]corev1.Event, error) { return nil, errUnused }
func (c *cluster) PodEvents(context.Context, string, string) ([]corev1.Event, error) {
	return nil, errUnused
}
func (c *cluster) ConfigMap(context.Context, string, string) (*corev1.ConfigMap, error) {
	return nil, errUnused
}
func (c *cluster) Ingress(context.Context, string, string) (*networkingv1.Ingress, error) {
	return nil, errUnused
}
func (c *cluster) SwitchIngressBackend(context.Context, string, string, string) (string, error) {
	return "", errUnused
}
