package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/rest"
)

// API is the slice of the Kubernetes REST API that Client calls, one method
// a request. restAPI is the real one, over client-go's REST client with a
// scheme of only core/v1, apps/v1 and networking/v1; package
// kube/clientset adapts a client-go kubernetes.Interface (its fake
// clientset in unit tests) to it.
//
// Why not client-go's typed clients: every one of them imports
// k8s.io/client-go/kubernetes/scheme, which registers all 50-odd API group
// versions (their generated code stays in the binary), and
// k8s.io/client-go/gentype, which imports k8s.io/client-go/testing. Measured
// on a program that only builds the clients: full clientset 27.0 MB, the
// three typed clients 26.7 MB, this REST client 14.8 MB (stripped).
type API interface {
	ListPods(ctx context.Context, namespace string, opts metav1.ListOptions) (*corev1.PodList, error)
	ListEvents(ctx context.Context, namespace string, opts metav1.ListOptions) (*corev1.EventList, error)
	// PodLogs streams a container's log (GET pods/{name}/log).
	PodLogs(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error)
	GetConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error)
	GetSecret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
	GetDeployment(ctx context.Context, namespace, name string) (*appsv1.Deployment, error)
	PatchDeployment(ctx context.Context, namespace, name string, pt types.PatchType, patch []byte) error
	GetIngress(ctx context.Context, namespace, name string) (*networkingv1.Ingress, error)
	PatchIngress(ctx context.Context, namespace, name string, pt types.PatchType, patch []byte) error
	// ServerResources is discovery for one group version (GET
	// /apis/{group}/{version}); a group version the server does not serve is
	// a NotFound error.
	ServerResources(ctx context.Context, groupVersion string) (*metav1.APIResourceList, error)
}

// scheme knows only the API groups nexo reads and patches.
var (
	scheme     = runtime.NewScheme()
	codecs     = serializer.NewCodecFactory(scheme)
	paramCodec = runtime.NewParameterCodec(scheme)
)

func init() {
	utilruntime.Must(corev1.AddToScheme(scheme))
	utilruntime.Must(appsv1.AddToScheme(scheme))
	utilruntime.Must(networkingv1.AddToScheme(scheme))
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
}

// restAPI is API over one REST client per API group, sharing one HTTP client.
type restAPI struct {
	core, apps, networking rest.Interface
}

var _ API = (*restAPI)(nil)

func newRESTAPI(cfg *rest.Config, hc *http.Client) (*restAPI, error) {
	client := func(gv schema.GroupVersion, apiPath string) (rest.Interface, error) {
		c := rest.CopyConfig(cfg)
		c.GroupVersion = &gv
		c.APIPath = apiPath
		c.NegotiatedSerializer = codecs.WithoutConversion()
		rc, err := rest.RESTClientForConfigAndClient(c, hc)
		if err != nil {
			return nil, fmt.Errorf("kube: %s client: %w", gv, err)
		}
		return rc, nil
	}
	var a restAPI
	var err error
	if a.core, err = client(corev1.SchemeGroupVersion, "/api"); err != nil {
		return nil, err
	}
	if a.apps, err = client(appsv1.SchemeGroupVersion, "/apis"); err != nil {
		return nil, err
	}
	if a.networking, err = client(networkingv1.SchemeGroupVersion, "/apis"); err != nil {
		return nil, err
	}
	return &a, nil
}

func (a *restAPI) ListPods(ctx context.Context, namespace string, opts metav1.ListOptions) (*corev1.PodList, error) {
	var out corev1.PodList
	err := a.core.Get().Namespace(namespace).Resource("pods").VersionedParams(&opts, paramCodec).Do(ctx).Into(&out)
	return &out, err
}

func (a *restAPI) ListEvents(ctx context.Context, namespace string, opts metav1.ListOptions) (*corev1.EventList, error) {
	var out corev1.EventList
	err := a.core.Get().Namespace(namespace).Resource("events").VersionedParams(&opts, paramCodec).Do(ctx).Into(&out)
	return &out, err
}

func (a *restAPI) PodLogs(ctx context.Context, namespace, pod string, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
	return a.core.Get().Namespace(namespace).Resource("pods").Name(pod).SubResource("log").VersionedParams(opts, paramCodec).Stream(ctx)
}

func (a *restAPI) GetConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	var out corev1.ConfigMap
	err := a.core.Get().Namespace(namespace).Resource("configmaps").Name(name).Do(ctx).Into(&out)
	return &out, err
}

func (a *restAPI) GetSecret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	var out corev1.Secret
	err := a.core.Get().Namespace(namespace).Resource("secrets").Name(name).Do(ctx).Into(&out)
	return &out, err
}

func (a *restAPI) GetDeployment(ctx context.Context, namespace, name string) (*appsv1.Deployment, error) {
	var out appsv1.Deployment
	err := a.apps.Get().Namespace(namespace).Resource("deployments").Name(name).Do(ctx).Into(&out)
	return &out, err
}

func (a *restAPI) PatchDeployment(ctx context.Context, namespace, name string, pt types.PatchType, patch []byte) error {
	return a.apps.Patch(pt).Namespace(namespace).Resource("deployments").Name(name).Body(patch).Do(ctx).Error()
}

func (a *restAPI) GetIngress(ctx context.Context, namespace, name string) (*networkingv1.Ingress, error) {
	var out networkingv1.Ingress
	err := a.networking.Get().Namespace(namespace).Resource("ingresses").Name(name).Do(ctx).Into(&out)
	return &out, err
}

func (a *restAPI) PatchIngress(ctx context.Context, namespace, name string, pt types.PatchType, patch []byte) error {
	return a.networking.Patch(pt).Namespace(namespace).Resource("ingresses").Name(name).Body(patch).Do(ctx).Error()
}

func (a *restAPI) ServerResources(ctx context.Context, groupVersion string) (*metav1.APIResourceList, error) {
	body, err := a.core.Get().AbsPath("/apis", groupVersion).Do(ctx).Raw()
	if err != nil {
		return nil, err
	}
	var out metav1.APIResourceList
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("decode discovery of %s: %w", groupVersion, err)
	}
	return &out, nil
}
