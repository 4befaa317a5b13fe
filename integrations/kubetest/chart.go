//go:build integration

package kubetest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
)

// HelmTemplate renders the chart at chartDir (relative to the repository
// root, e.g. "deploy/helm/nexo-bot") with tools/kube-apiserver/bin/helm-template
// (Helm's own library: schema validation, sprig, fail), as `helm template
// --namespace namespace release chartDir --set ...` would. A failed render
// fails the test; use HelmTemplateErr to expect one.
func HelmTemplate(t testing.TB, release, namespace, chartDir string, sets ...string) []byte {
	t.Helper()
	out, err := HelmTemplateErr(release, namespace, chartDir, sets...)
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	return out
}

// HelmTemplateErr is HelmTemplate returning the renderer's error.
func HelmTemplateErr(release, namespace, chartDir string, sets ...string) ([]byte, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	bin := os.Getenv("HELM_TEMPLATE_BIN")
	if bin == "" {
		bin = filepath.Join(root, "tools", "kube-apiserver", "bin", "helm-template")
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("helm-template not found at %s: %s", bin, BuildHint)
	}
	args := []string{"-name", release, "-namespace", namespace}
	for _, s := range sets {
		args = append(args, "-set", s)
	}
	args = append(args, filepath.Join(root, chartDir))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("helm-template %v: %w: %s", args, err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// Objects splits a YAML stream into objects, skipping empty documents.
func Objects(manifests []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(manifests)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		obj := &unstructured.Unstructured{}
		if err := utilyaml.Unmarshal(doc, &obj.Object); err != nil {
			return nil, err
		}
		if len(obj.Object) == 0 || obj.GetKind() == "" {
			continue
		}
		out = append(out, obj)
	}
}

// Apply creates the objects as the admin (an object that exists already is
// left as it is), mapping kinds to resources through discovery.
func (s *Server) Apply(t testing.TB, objs []*unstructured.Unstructured) {
	t.Helper()
	cfg := s.RestConfig()
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := restmapper.GetAPIGroupResources(disc)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDiscoveryRESTMapper(groups)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("kubetest: map %s: %v", gvk, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = dyn.Resource(m.Resource).Namespace(obj.GetNamespace()).Create(ctx, obj, metav1.CreateOptions{})
		cancel()
		if err != nil && !isAlreadyExists(err) {
			t.Fatalf("kubetest: create %s %s/%s: %v", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
		}
	}
}
