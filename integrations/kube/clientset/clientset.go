// Package clientset adapts client-go's kubernetes.Interface to kube.API, so
// unit tests and the sandbox can run the real kube.Client over client-go's
// fake clientset. The serving binary never links it: it would bring the
// clientset of every API group (see kube.API).
package clientset

import (
	"context"
	"io"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/nexo-org/nexo-bot/integrations/kube"
)

// Adapt is kube.API over a clientset (e.g. fake.NewClientset(objects...)).
func Adapt(cs kubernetes.Interface) kube.API { return api{cs} }

type api struct{ cs kubernetes.Interface }

func (a api) ListPods(ctx context.Context, namespace string, opts metav1.ListOptions) (*corev1.PodList, error) {
	return a.cs.CoreV1().Pods(namespace).List(ctx, opts)
}

func (a api) ListEvents(ctx context.Context, namespace string, opts metav1.ListOptions) (*corev1.EventList, error) {
	return a.cs.CoreV1().Events(namespace).List(ctx, opts)
}

func (a api) PodLogs(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	return a.cs.CoreV1().Pods(namespace).GetLogs(pod, opts).Stream(ctx)
}

func (a api) GetConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	return a.cs.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (a api) GetSecret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	return a.cs.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (a api) GetDeployment(ctx context.Context, namespace, name string) (*appsv1.Deployment, error) {
	return a.cs.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (a api) PatchDeployment(ctx context.Context, namespace, name string, pt types.PatchType, patch []byte) error {
	_, err := a.cs.AppsV1().Deployments(namespace).Patch(ctx, name, pt, patch, metav1.PatchOptions{})
	return err
}

func (a api) GetIngress(ctx context.Context, namespace, name string) (*networkingv1.Ingress, error) {
	return a.cs.NetworkingV1().Ingresses(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (a api) PatchIngress(ctx context.Context, namespace, name string, pt types.PatchType, patch []byte) error {
	_, err := a.cs.NetworkingV1().Ingresses(namespace).Patch(ctx, name, pt, patch, metav1.PatchOptions{})
	return err
}

func (a api) ServerResources(_ context.Context, groupVersion string) (*metav1.APIResourceList, error) {
	return a.cs.Discovery().ServerResourcesForGroupVersion(groupVersion)
}
