package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

func chartDir(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "deploy", "helm", "nexo-bot")
}

func docs(t *testing.T, manifests string) map[string][][]byte {
	t.Helper()
	out := map[string][][]byte{}
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifests)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		var meta struct{ Kind string }
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatal(err)
		}
		if meta.Kind != "" {
			out[meta.Kind] = append(out[meta.Kind], doc)
		}
	}
}

func renderChart(t *testing.T, sets ...string) (map[string][][]byte, error) {
	t.Helper()
	m, err := Render(chartDir(t), "nexo-bot", "nexo-system", nil, sets)
	if err != nil {
		return nil, err
	}
	return docs(t, m), nil
}

func TestRoleRulesAreExactlyTheNeededOnes(t *testing.T) {
	d, err := renderChart(t, "existingSecret=tokens", "rbac.secretNames={nexo-be-db-credentials}", "rbac.namespaces={nexo-staging,nexo-production}")
	if err != nil {
		t.Fatal(err)
	}
	if len(d["ClusterRole"])+len(d["ClusterRoleBinding"]) != 0 {
		t.Fatal("chart grants something cluster-wide")
	}
	if len(d["Role"]) != 2 || len(d["RoleBinding"]) != 2 {
		t.Fatalf("roles %d bindings %d, want 2 each", len(d["Role"]), len(d["RoleBinding"]))
	}
	want := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list", "watch", "patch"}},
		{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses"}, Verbs: []string{"get", "patch"}},
		{APIGroups: []string{"external-secrets.io"}, Resources: []string{"externalsecrets"}, Verbs: []string{"get", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{"nexo-be-db-credentials"}, Verbs: []string{"get"}},
	}
	var namespaces []string
	for _, doc := range d["Role"] {
		var r rbacv1.Role
		if err := yaml.UnmarshalStrict(doc, &r); err != nil {
			t.Fatal(err)
		}
		namespaces = append(namespaces, r.Namespace)
		if !reflect.DeepEqual(r.Rules, want) {
			t.Fatalf("role %s rules:\n%+v\nwant\n%+v", r.Namespace, r.Rules, want)
		}
	}
	if strings.Join(namespaces, ",") != "nexo-staging,nexo-production" {
		t.Fatalf("role namespaces: %v", namespaces)
	}
	for _, doc := range d["RoleBinding"] {
		var b rbacv1.RoleBinding
		if err := yaml.UnmarshalStrict(doc, &b); err != nil {
			t.Fatal(err)
		}
		if len(b.Subjects) != 1 || b.Subjects[0].Kind != "ServiceAccount" || b.Subjects[0].Name != "nexo-bot" || b.Subjects[0].Namespace != "nexo-system" || b.RoleRef.Kind != "Role" {
			t.Fatalf("binding %s: %+v %+v", b.Namespace, b.Subjects, b.RoleRef)
		}
	}

	// No rotation secrets configured: no access to Secrets at all.
	d, err = renderChart(t, "existingSecret=tokens")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range d["Role"] {
		var r rbacv1.Role
		if err := yaml.UnmarshalStrict(doc, &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Rules) != len(want)-1 {
			t.Fatalf("rules without secretNames: %+v", r.Rules)
		}
		for _, rule := range r.Rules {
			for _, res := range rule.Resources {
				if res == "secrets" {
					t.Fatalf("secrets granted without secretNames: %+v", rule)
				}
			}
		}
	}
}

func TestDeploymentIsHardened(t *testing.T) {
	d, err := renderChart(t, "existingSecret=tokens")
	if err != nil {
		t.Fatal(err)
	}
	if len(d["Deployment"]) != 1 {
		t.Fatalf("deployments: %d", len(d["Deployment"]))
	}
	var dep appsv1.Deployment
	if err := yaml.UnmarshalStrict(d["Deployment"][0], &dep); err != nil {
		t.Fatal(err)
	}
	ps := dep.Spec.Template.Spec
	c := ps.Containers[0]
	sc := c.SecurityContext
	switch {
	case ps.SecurityContext == nil || ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot:
		t.Fatal("pod not runAsNonRoot")
	case ps.SecurityContext.SeccompProfile == nil || ps.SecurityContext.SeccompProfile.Type != "RuntimeDefault":
		t.Fatal("no RuntimeDefault seccomp")
	case sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Fatal("root filesystem writable")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Fatal("privilege escalation allowed")
	case sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) != 0:
		t.Fatalf("capabilities: %+v", sc.Capabilities)
	case c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz":
		t.Fatal("probes")
	case c.Ports[0].ContainerPort != 8080:
		t.Fatal("port")
	case c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero():
		t.Fatal("resources")
	case len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != "tokens":
		t.Fatal("tokens secret not referenced")
	case *dep.Spec.Replicas != 1:
		t.Fatal("replicas")
	}
	if len(d["ServiceAccount"]) != 1 || len(d["ConfigMap"]) != 1 || len(d["Secret"]) != 0 {
		t.Fatalf("objects: sa %d cm %d secret %d", len(d["ServiceAccount"]), len(d["ConfigMap"]), len(d["Secret"]))
	}
	if !bytes.Contains(d["ConfigMap"][0], []byte("nexo.yaml")) || !bytes.Contains(d["ConfigMap"][0], []byte("backend: bolt")) {
		t.Fatalf("configmap:\n%s", d["ConfigMap"][0])
	}
}

func TestBadValuesFail(t *testing.T) {
	for _, tc := range []struct {
		sets []string
		want string
	}{
		{nil, "existingSecret is required"},
		{[]string{"existingSecret=t", "replicaCount=2"}, "redis"},
		{[]string{"existingSecret=t", "store.backend=redis"}, "redisUrl"},
		{[]string{"existingSecret=t", "store.backend=mysql"}, "store/backend"},
		{[]string{"existingSecret=t", "replicaCount=-1"}, "replicaCount"},
		{[]string{"existingSecret=t", "rbac.namespaces={Bad_NS}"}, "namespaces"},
		{[]string{"existingSecret=t", "unknownKey=1"}, "unknownKey"},
		{[]string{"existingSecret=t", "config.store.backend=redis"}, "config"},
	} {
		_, err := renderChart(t, tc.sets...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error mentioning %q", tc.sets, err, tc.want)
		}
	}
	// Several replicas with redis are fine.
	d, err := renderChart(t, "existingSecret=t", "replicaCount=3", "store.backend=redis", "store.redisUrl=redis://redis:6379/0")
	if err != nil {
		t.Fatal(err)
	}
	var dep appsv1.Deployment
	if err := yaml.Unmarshal(d["Deployment"][0], &dep); err != nil || *dep.Spec.Replicas != 3 {
		t.Fatalf("replicas with redis: %v", err)
	}
	if len(d["PersistentVolumeClaim"]) != 0 {
		t.Fatal("pvc rendered for redis")
	}
}

func TestTemplateFailCatchesReplicasWithoutSchema(t *testing.T) {
	// The template's fail guards replicas>1 with bolt even when the schema
	// check is skipped (helm --skip-schema-validation).
	_, err := render(chartDir(t), "r", "ns", nil, []string{"existingSecret=t", "replicaCount=2"}, true)
	if err == nil || !strings.Contains(err.Error(), "replicaCount 2 needs store.backend: redis") {
		t.Fatalf("template fail: %v", err)
	}
	if _, err := render(chartDir(t), "r", "ns", nil, []string{"existingSecret=t", "replicaCount=2", "store.backend=redis", "store.redisUrl=redis://r:6379"}, true); err != nil {
		t.Fatal(err)
	}
}
