package kube

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Defaults of Options.
const (
	DefaultTimeout    = 15 * time.Second
	DefaultEventLimit = 50
	// LogLimitBytes caps one Logs answer (PodLogOptions.LimitBytes).
	LogLimitBytes = 256 << 10
	// RestartedAtAnnotation is the pod-template annotation kubectl rollout
	// restart sets.
	RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"
	// ForceSyncAnnotation is the ExternalSecret annotation whose change makes
	// the External Secrets Operator refresh at once.
	ForceSyncAnnotation = "force-sync"
)

// ExternalSecret group/versions tried in order: v1beta1 first (served by
// every External Secrets Operator release since 0.5), then v1 (0.16 and later,
// where newer releases stop serving v1beta1).
var externalSecretVersions = []schema.GroupVersionResource{
	{Group: "external-secrets.io", Version: "v1beta1", Resource: "externalsecrets"},
	{Group: "external-secrets.io", Version: "v1", Resource: "externalsecrets"},
}

// Options configures a Client.
type Options struct {
	// Kubeconfig is a kubeconfig file. Empty: the in-cluster service account
	// when running in a pod, else the default loading rules ($KUBECONFIG,
	// then ~/.kube/config).
	Kubeconfig string
	// Context selects a kubeconfig context (empty: the current one).
	Context string
	// Timeout bounds every call (default DefaultTimeout).
	Timeout time.Duration
	// EventLimit caps Events and PodEvents (default DefaultEventLimit).
	EventLimit int
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.EventLimit <= 0 {
		o.EventLimit = DefaultEventLimit
	}
	return o
}

// Client is the client-go implementation of Cluster.
type Client struct {
	api   API
	dyn   dynamic.Interface
	opts  Options
	esMu  sync.Mutex
	esGVR *schema.GroupVersionResource
}

var _ Cluster = (*Client)(nil)

// New builds a Client from a kubeconfig or the in-cluster service account
// (see Options.Kubeconfig).
func New(opts Options) (*Client, error) {
	cfg, err := restConfig(opts)
	if err != nil {
		return nil, err
	}
	return FromConfig(cfg, opts)
}

func restConfig(opts Options) (*rest.Config, error) {
	if opts.Kubeconfig == "" && opts.Context == "" {
		cfg, err := rest.InClusterConfig()
		if err == nil {
			return cfg, nil
		}
		if !errors.Is(err, rest.ErrNotInCluster) {
			return nil, fmt.Errorf("kube: in-cluster config: %w", err)
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if opts.Kubeconfig != "" {
		rules.ExplicitPath = opts.Kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: opts.Context}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kube: load kubeconfig: %w", err)
	}
	return cfg, nil
}

// FromConfig builds a Client from a rest.Config (tests, or callers with their
// own config); opts.Kubeconfig and opts.Context are ignored.
func FromConfig(cfg *rest.Config, opts Options) (*Client, error) {
	if cfg == nil {
		return nil, errors.New("kube: nil rest config")
	}
	opts = opts.withDefaults()
	cfg = rest.CopyConfig(cfg)
	if cfg.Timeout == 0 || cfg.Timeout > opts.Timeout {
		cfg.Timeout = opts.Timeout
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "nexo-bot"
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube: http client: %w", err)
	}
	api, err := newRESTAPI(cfg, hc)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("kube: dynamic client: %w", err)
	}
	return NewFromClients(api, dyn, opts), nil
}

// NewFromClients wraps existing clients: in unit tests, client-go's fake
// clientset through clientset.Adapt and the dynamic fake.
func NewFromClients(api API, dyn dynamic.Interface, opts Options) *Client {
	return &Client{api: api, dyn: dyn, opts: opts.withDefaults()}
}

func (c *Client) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.opts.Timeout)
}

// checkName refuses an empty or malformed object name or namespace before
// any request is sent.
func checkName(what, name string) error {
	if name == "" {
		return fmt.Errorf("kube: %s is empty", what)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("kube: %s %q: %s", what, name, strings.Join(errs, "; "))
	}
	return nil
}

func checkNames(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := checkName(pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// Pods lists the pods matching a label selector, sorted by name.
func (c *Client) Pods(ctx context.Context, namespace, selector string) ([]corev1.Pod, error) {
	if err := checkName("namespace", namespace); err != nil {
		return nil, err
	}
	if _, err := labels.Parse(selector); err != nil {
		return nil, fmt.Errorf("kube: label selector %q: %w", selector, err)
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	list, err := c.api.ListPods(ctx, namespace, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("kube: list pods in %s (%s): %w", namespace, selector, err)
	}
	pods := list.Items
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	return pods, nil
}

// maxEventsScanned bounds how many events Events reads from one namespace
// (pages of eventsPage) before sorting.
const (
	maxEventsScanned = 5000
	eventsPage       = 500
)

// Events lists a namespace's events, Warnings first, then newest first (by
// lastTimestamp, else eventTime, series, firstTimestamp, creation), capped at
// Options.EventLimit.
func (c *Client) Events(ctx context.Context, namespace string) ([]corev1.Event, error) {
	if err := checkName("namespace", namespace); err != nil {
		return nil, err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	events, err := c.listEvents(ctx, namespace, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return c.sortEvents(events), nil
}

// PodEvents lists the events of one pod (field selector involvedObject.name
// and involvedObject.kind=Pod), sorted and capped as Events.
func (c *Client) PodEvents(ctx context.Context, namespace, pod string) ([]corev1.Event, error) {
	if err := checkNames("namespace", namespace, "pod", pod); err != nil {
		return nil, err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	sel := fields.AndSelectors(
		fields.OneTermEqualSelector("involvedObject.name", pod),
		fields.OneTermEqualSelector("involvedObject.kind", "Pod"),
	).String()
	events, err := c.listEvents(ctx, namespace, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return nil, err
	}
	// The server already filtered; filter again so a client that ignores
	// field selectors (client-go's fake) cannot widen the answer.
	kept := events[:0]
	for _, e := range events {
		if e.InvolvedObject.Name == pod && e.InvolvedObject.Kind == "Pod" {
			kept = append(kept, e)
		}
	}
	return c.sortEvents(kept), nil
}

func (c *Client) listEvents(ctx context.Context, namespace string, opts metav1.ListOptions) ([]corev1.Event, error) {
	var all []corev1.Event
	opts.Limit = eventsPage
	for {
		list, err := c.api.ListEvents(ctx, namespace, opts)
		if err != nil {
			return nil, fmt.Errorf("kube: list events in %s: %w", namespace, err)
		}
		all = append(all, list.Items...)
		if list.Continue == "" || len(all) >= maxEventsScanned {
			return all, nil
		}
		opts.Continue = list.Continue
	}
}

// EventTime is when an event last happened: lastTimestamp, else eventTime,
// else series.lastObservedTime, else firstTimestamp, else its creation.
func EventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

func (c *Client) sortEvents(events []corev1.Event) []corev1.Event {
	sort.SliceStable(events, func(i, j int) bool {
		wi, wj := events[i].Type == corev1.EventTypeWarning, events[j].Type == corev1.EventTypeWarning
		if wi != wj {
			return wi
		}
		ti, tj := EventTime(events[i]), EventTime(events[j])
		if !ti.Equal(tj) {
			return ti.After(tj)
		}
		return events[i].Name < events[j].Name
	})
	if len(events) > c.opts.EventLimit {
		events = events[:c.opts.EventLimit]
	}
	return events
}

// Deployment reads a Deployment.
func (c *Client) Deployment(ctx context.Context, namespace, name string) (*appsv1.Deployment, error) {
	if err := checkNames("namespace", namespace, "deployment", name); err != nil {
		return nil, err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	d, err := c.api.GetDeployment(ctx, namespace, name)
	if err != nil {
		return nil, fmt.Errorf("kube: get deployment %s/%s: %w", namespace, name, err)
	}
	return d, nil
}

// Logs returns a container's log: the last tailLines lines (0: all), only
// those of the last since (0: no limit), of the previous instance when
// previous is set, at most LogLimitBytes.
func (c *Client) Logs(ctx context.Context, namespace, pod, container string, previous bool, tailLines int64, since time.Duration) (string, error) {
	if err := checkNames("namespace", namespace, "pod", pod); err != nil {
		return "", err
	}
	if container != "" {
		if errs := validation.IsDNS1123Label(container); len(errs) > 0 {
			return "", fmt.Errorf("kube: container %q: %s", container, strings.Join(errs, "; "))
		}
	}
	if tailLines < 0 {
		return "", fmt.Errorf("kube: tail lines %d is negative", tailLines)
	}
	if since < 0 {
		return "", fmt.Errorf("kube: since %s is negative", since)
	}
	limit := int64(LogLimitBytes)
	opts := &corev1.PodLogOptions{Container: container, Previous: previous, LimitBytes: &limit}
	if tailLines > 0 {
		opts.TailLines = &tailLines
	}
	if since > 0 {
		secs := int64((since + time.Second - 1) / time.Second)
		opts.SinceSeconds = &secs
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	rc, err := c.api.PodLogs(ctx, namespace, pod, opts)
	if err != nil {
		return "", fmt.Errorf("kube: logs of %s/%s: %w", namespace, pod, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit))
	if err != nil {
		return "", fmt.Errorf("kube: read logs of %s/%s: %w", namespace, pod, err)
	}
	return string(b), nil
}

// ConfigMap reads a ConfigMap.
func (c *Client) ConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	if err := checkNames("namespace", namespace, "configmap", name); err != nil {
		return nil, err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	cm, err := c.api.GetConfigMap(ctx, namespace, name)
	if err != nil {
		return nil, fmt.Errorf("kube: get configmap %s/%s: %w", namespace, name, err)
	}
	return cm, nil
}

// Ingress reads an Ingress.
func (c *Client) Ingress(ctx context.Context, namespace, name string) (*networkingv1.Ingress, error) {
	if err := checkNames("namespace", namespace, "ingress", name); err != nil {
		return nil, err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	ing, err := c.api.GetIngress(ctx, namespace, name)
	if err != nil {
		return nil, fmt.Errorf("kube: get ingress %s/%s: %w", namespace, name, err)
	}
	return ing, nil
}

// ingressBackendPath is the JSON pointer the playbook's blue/green switch
// patches.
const ingressBackendPath = "/spec/rules/0/http/paths/0/backend/service/name"

// ErrIngressChanged reports that the Ingress' backend changed between the
// read and the patch (the JSON patch's test operation failed): nothing was
// written.
var ErrIngressChanged = errors.New("kube: ingress backend changed concurrently; nothing was patched")

// SwitchIngressBackend points rule 0, path 0 of an Ingress at service and
// returns the service it pointed at before. The JSON patch carries a test
// operation on the previous name, so a concurrent change makes it fail
// (ErrIngressChanged) instead of being overwritten. Switching to the service
// already in place changes nothing.
func (c *Client) SwitchIngressBackend(ctx context.Context, namespace, name, service string) (string, error) {
	if err := checkNames("namespace", namespace, "ingress", name); err != nil {
		return "", err
	}
	if errs := validation.IsDNS1035Label(service); len(errs) > 0 {
		return "", fmt.Errorf("kube: service name %q: %s", service, strings.Join(errs, "; "))
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	ing, err := c.api.GetIngress(ctx, namespace, name)
	if err != nil {
		return "", fmt.Errorf("kube: get ingress %s/%s: %w", namespace, name, err)
	}
	previous, ok := ruleZeroService(ing)
	if !ok {
		return "", fmt.Errorf("kube: ingress %s/%s has no service backend at rules[0].http.paths[0]", namespace, name)
	}
	if previous == service {
		return previous, nil
	}
	patch, err := json.Marshal([]map[string]string{
		{"op": "test", "path": ingressBackendPath, "value": previous},
		{"op": "replace", "path": ingressBackendPath, "value": service},
	})
	if err != nil {
		return "", fmt.Errorf("kube: encode ingress patch: %w", err)
	}
	err = c.api.PatchIngress(ctx, namespace, name, types.JSONPatchType, patch)
	if err != nil {
		if isTestOpFailure(err) || apierrors.IsInvalid(err) {
			// The real API server answers a failed test op with a bare 422
			// Invalid: read again to tell a concurrent change from a
			// rejected value.
			if now, gerr := c.api.GetIngress(ctx, namespace, name); gerr == nil {
				if current, ok := ruleZeroService(now); !ok || current != previous {
					return "", fmt.Errorf("%w (%s/%s: expected %q, now %q)", ErrIngressChanged, namespace, name, previous, current)
				}
			}
		}
		return "", fmt.Errorf("kube: patch ingress %s/%s: %w", namespace, name, err)
	}
	return previous, nil
}

// ruleZeroService is the backend service name at rules[0].http.paths[0].
func ruleZeroService(ing *networkingv1.Ingress) (string, bool) {
	if len(ing.Spec.Rules) == 0 || ing.Spec.Rules[0].HTTP == nil || len(ing.Spec.Rules[0].HTTP.Paths) == 0 ||
		ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service == nil {
		return "", false
	}
	return ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name, true
}

// isTestOpFailure recognises json-patch's own message for a failed test
// operation ("testing value <path> failed: test failed"), which client-go's
// fake returns as is.
func isTestOpFailure(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "testing value") || strings.Contains(msg, "test failed")
}

// externalSecretGVR finds which ExternalSecret version the cluster serves
// (v1beta1, else v1), once per Client.
func (c *Client) externalSecretGVR(ctx context.Context) (schema.GroupVersionResource, error) {
	c.esMu.Lock()
	defer c.esMu.Unlock()
	if c.esGVR != nil {
		return *c.esGVR, nil
	}
	var lastErr error
	for _, gvr := range externalSecretVersions {
		if ctx.Err() != nil {
			return schema.GroupVersionResource{}, ctx.Err()
		}
		list, err := c.api.ServerResources(ctx, gvr.GroupVersion().String())
		if err != nil {
			if !apierrors.IsNotFound(err) {
				lastErr = err
			}
			continue
		}
		for _, r := range list.APIResources {
			if r.Name == gvr.Resource {
				g := gvr
				c.esGVR = &g
				return g, nil
			}
		}
	}
	if lastErr != nil {
		return schema.GroupVersionResource{}, fmt.Errorf("kube: discover external-secrets.io: %w", lastErr)
	}
	return schema.GroupVersionResource{}, errors.New("kube: the cluster serves no external-secrets.io ExternalSecret (v1beta1 or v1): is the External Secrets Operator installed?")
}

// ForceSyncExternalSecret sets the force-sync annotation to at's Unix time
// on an ExternalSecret (merge patch), as `kubectl annotate --overwrite` does;
// the same at twice is a no-op.
func (c *Client) ForceSyncExternalSecret(ctx context.Context, namespace, name string, at time.Time) error {
	if err := checkNames("namespace", namespace, "externalsecret", name); err != nil {
		return err
	}
	if at.IsZero() {
		return errors.New("kube: force-sync time is zero")
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	gvr, err := c.externalSecretGVR(ctx)
	if err != nil {
		return err
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{
			"annotations": map[string]string{ForceSyncAnnotation: strconv.FormatInt(at.Unix(), 10)},
		},
	})
	if err != nil {
		return fmt.Errorf("kube: encode externalsecret patch: %w", err)
	}
	_, err = c.dyn.Resource(gvr).Namespace(namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("kube: annotate externalsecret %s/%s: %w", namespace, name, err)
	}
	return nil
}

// SecretDataHash returns "sha256:<hex>" over a Secret's data: for each key in
// sorted order, key "=" base64(value) "\n". Equal data gives equal hashes, so
// a rotation can tell the Secret changed; the values never leave this
// function, not even in errors.
func (c *Client) SecretDataHash(ctx context.Context, namespace, name string) (string, error) {
	if err := checkNames("namespace", namespace, "secret", name); err != nil {
		return "", err
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	s, err := c.api.GetSecret(ctx, namespace, name)
	if err != nil {
		return "", fmt.Errorf("kube: get secret %s/%s: %w", namespace, name, err)
	}
	return HashSecretData(s.Data), nil
}

// HashSecretData is SecretDataHash's digest of a Secret's data.
func HashSecretData(data map[string][]byte) string {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		io.WriteString(h, k)
		io.WriteString(h, "=")
		io.WriteString(h, base64.StdEncoding.EncodeToString(data[k]))
		io.WriteString(h, "\n")
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// RolloutRestart sets the pod template's kubectl.kubernetes.io/restartedAt
// annotation to at (RFC 3339) with a strategic merge patch, as `kubectl
// rollout restart` does; the same at twice is a no-op.
func (c *Client) RolloutRestart(ctx context.Context, namespace, deployment string, at time.Time) error {
	if err := checkNames("namespace", namespace, "deployment", deployment); err != nil {
		return err
	}
	if at.IsZero() {
		return errors.New("kube: restart time is zero")
	}
	patch, err := json.Marshal(map[string]any{
		"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
			"annotations": map[string]string{RestartedAtAnnotation: at.Format(time.RFC3339)},
		}}},
	})
	if err != nil {
		return fmt.Errorf("kube: encode restart patch: %w", err)
	}
	ctx, cancel := c.bound(ctx)
	defer cancel()
	err = c.api.PatchDeployment(ctx, namespace, deployment, types.StrategicMergePatchType, patch)
	if err != nil {
		return fmt.Errorf("kube: restart deployment %s/%s: %w", namespace, deployment, err)
	}
	return nil
}

// RolloutStatus reads a Deployment and summarises it with DeploymentRollout.
func (c *Client) RolloutStatus(ctx context.Context, namespace, deployment string) (RolloutStatus, error) {
	d, err := c.Deployment(ctx, namespace, deployment)
	if err != nil {
		return RolloutStatus{}, err
	}
	return DeploymentRollout(d), nil
}

// DeploymentRollout is kubectl's DeploymentStatusViewer: the rollout is done
// once the controller observed the latest generation and every desired
// replica is updated and available with no old replica left.
func DeploymentRollout(d *appsv1.Deployment) RolloutStatus {
	if d.Generation > d.Status.ObservedGeneration {
		return RolloutStatus{Message: "Waiting for deployment spec update to be observed..."}
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return RolloutStatus{Failed: true, Message: fmt.Sprintf("deployment %q exceeded its progress deadline", d.Name)}
		}
	}
	st := d.Status
	if d.Spec.Replicas != nil && st.UpdatedReplicas < *d.Spec.Replicas {
		return RolloutStatus{Message: fmt.Sprintf("Waiting for deployment %q rollout to finish: %d out of %d new replicas have been updated...", d.Name, st.UpdatedReplicas, *d.Spec.Replicas)}
	}
	if st.Replicas > st.UpdatedReplicas {
		return RolloutStatus{Message: fmt.Sprintf("Waiting for deployment %q rollout to finish: %d old replicas are pending termination...", d.Name, st.Replicas-st.UpdatedReplicas)}
	}
	if st.AvailableReplicas < st.UpdatedReplicas {
		return RolloutStatus{Message: fmt.Sprintf("Waiting for deployment %q rollout to finish: %d of %d updated replicas are available...", d.Name, st.AvailableReplicas, st.UpdatedReplicas)}
	}
	return RolloutStatus{Done: true, Message: fmt.Sprintf("deployment %q successfully rolled out", d.Name)}
}
