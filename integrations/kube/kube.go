// Package kube is nexo's narrow view of the Kubernetes API, through
// client-go's REST client (API, api.go): only the reads and patches the
// scenarios need, in namespaces that come from config. Unit tests and the
// sandbox use client-go's fake clientset through kube/clientset.Adapt; the
// integration tier uses a real API server.
package kube

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// Cluster is what nexo does with Kubernetes.
type Cluster interface {
	// Pods lists pods matching a label selector (e.g. "app=nexo-be").
	Pods(ctx context.Context, namespace, selector string) ([]corev1.Pod, error)
	// Events lists a namespace's events, Warnings first, newest first.
	Events(ctx context.Context, namespace string) ([]corev1.Event, error)
	// PodEvents lists the events whose involvedObject is the pod.
	PodEvents(ctx context.Context, namespace, pod string) ([]corev1.Event, error)
	// Deployment reads a Deployment.
	Deployment(ctx context.Context, namespace, name string) (*appsv1.Deployment, error)
	// Logs returns the last tailLines lines of a container's log (previous:
	// the last terminated instance), at most limitBytes.
	Logs(ctx context.Context, namespace, pod, container string, previous bool, tailLines int64, since time.Duration) (string, error)
	// ConfigMap reads a ConfigMap's data.
	ConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error)
	// Ingress reads an Ingress.
	Ingress(ctx context.Context, namespace, name string) (*networkingv1.Ingress, error)
	// SwitchIngressBackend replaces the backend service name of rule 0, path 0
	// with a JSON patch (as the playbook does) and returns the previous name.
	SwitchIngressBackend(ctx context.Context, namespace, name, service string) (previous string, err error)
	// ForceSyncExternalSecret sets the force-sync=<unix time> annotation on an
	// ExternalSecret (external-secrets.io/v1beta1, merge patch).
	ForceSyncExternalSecret(ctx context.Context, namespace, name string, at time.Time) error
	// SecretDataHash returns a SHA-256 over a Secret's data (keys sorted); the
	// values themselves never leave this function.
	SecretDataHash(ctx context.Context, namespace, name string) (string, error)
	// RolloutRestart sets spec.template.metadata.annotations
	// kubectl.kubernetes.io/restartedAt (strategic merge patch), as kubectl does.
	RolloutRestart(ctx context.Context, namespace, deployment string, at time.Time) error
	// RolloutStatus reads a Deployment and summarises its rollout the way
	// `kubectl rollout status` does.
	RolloutStatus(ctx context.Context, namespace, deployment string) (RolloutStatus, error)
}

// RolloutStatus summarises a Deployment like `kubectl rollout status`.
type RolloutStatus struct {
	// Done: every replica runs the new template and is available.
	Done bool
	// Failed: the Deployment exceeded its progress deadline
	// (Progressing=False, reason ProgressDeadlineExceeded).
	Failed bool
	// Message is kubectl's sentence, e.g. "Waiting for deployment "nexo-be"
	// rollout to finish: 1 of 3 updated replicas are available...".
	Message string
}
