//go:build integration

package argocdtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/nexo-org/nexo-bot/integrations/kubetest"
)

// Version is the Argo CD release scripts/argocd/build.sh builds.
const Version = "v3.6.1"

// Account is the local Argo CD account nexo uses (docs/install.md).
const Account = "nexo"

// Namespace is where Argo CD's objects live.
const Namespace = "argocd"

// BuildHint is what to run when the binary is missing.
const BuildHint = "run scripts/argocd/build.sh (builds Argo CD " + Version + " into tools/argocd/bin/)"

// readyTimeout bounds the wait for the API server after start.
const readyTimeout = 120 * time.Second

// Server is a running Argo CD.
type Server struct {
	// URL is argocd-server's plain-HTTP base URL on 127.0.0.1.
	URL string
	// AdminToken is a session token of the built-in admin (role:admin).
	AdminToken string
	// Token is an API token of Account, bound only to the policy in
	// Policy: what nexo is given.
	Token string
	// Policy is argocd-rbac-cm's policy.csv, as read from docs/install.md.
	Policy string
	// Kube is the kube-apiserver Argo CD runs against (and deploys to).
	Kube *kubetest.Server
	// Dir holds the kubeconfig, data paths and the components' logs.
	Dir string

	procs []*kubetest.Proc
	hc    *http.Client
}

var (
	shared   *Server
	startErr error
	once     sync.Once
	mu       sync.Mutex
)

// Start returns the test binary's shared Argo CD, starting it (and the
// kube-apiserver under it) on first use. A missing binary or a failed start
// fails the test: the integration tier never skips.
func Start(t testing.TB) *Server {
	t.Helper()
	kube := kubetest.Start(t)
	once.Do(func() {
		s, err := start(kube)
		mu.Lock()
		shared, startErr = s, err
		mu.Unlock()
	})
	mu.Lock()
	defer mu.Unlock()
	if startErr != nil {
		t.Fatalf("argocdtest: %v", startErr)
	}
	return shared
}

// Main runs the tests, then stops Argo CD and the kube-apiserver. Call it
// from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	kubetest.Stop()
	os.Exit(code)
}

// Stop ends the shared Argo CD (if started) and removes its directory.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		shared.stop()
		shared = nil
	}
}

// Binaries finds the argocd binary and the folder with the CRDs and the
// repo server's wrapper scripts (see the package doc).
func Binaries() (bin, dir string, err error) {
	dir = os.Getenv("ARGOCD_BIN_DIR")
	if dir == "" {
		root, err := kubetest.RepoRoot()
		if err != nil {
			return "", "", err
		}
		dir = filepath.Join(root, "tools", "argocd", "bin")
	}
	bin = filepath.Join(dir, "argocd-"+Version)
	for _, f := range []string{bin, filepath.Join(dir, "crds", "application-crd.yaml"), filepath.Join(dir, "git-verify-wrapper.sh")} {
		if _, err := os.Stat(f); err != nil {
			return "", "", fmt.Errorf("%s not found: %s", f, BuildHint)
		}
	}
	return bin, dir, nil
}

// installDoc is where the RBAC nexo needs is documented.
const installDoc = "docs/install.md"

var csvBlock = regexp.MustCompile("(?s)argocd-rbac-cm[^\n]*\n.*?```csv\n(.*?)```")

// RBACPolicy reads the policy.csv that docs/install.md tells operators to
// put in argocd-rbac-cm: the first ```csv block after "argocd-rbac-cm".
func RBACPolicy() (string, error) {
	root, err := kubetest.RepoRoot()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(root, installDoc))
	if err != nil {
		return "", err
	}
	m := csvBlock.FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("%s has no ```csv block after argocd-rbac-cm", installDoc)
	}
	return string(m[1]), nil
}

func start(kube *kubetest.Server) (*Server, error) {
	bin, binDir, err := Binaries()
	if err != nil {
		return nil, err
	}
	redisBin := os.Getenv("REDIS_SERVER_BIN")
	if redisBin == "" {
		if redisBin, err = exec.LookPath("redis-server"); err != nil {
			return nil, fmt.Errorf("redis-server not on PATH: %s", BuildHint)
		}
	}
	policy, err := RBACPolicy()
	if err != nil {
		return nil, err
	}
	if err := setUpCluster(kube, bin, binDir, policy); err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a probed port can be taken before the bind
		s, err := startOnce(kube, bin, binDir, redisBin)
		if err == nil {
			s.Policy = policy
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// adminPassword is the built-in admin's password (loopback only, test only).
var adminPassword = randomHex(16)

// setUpCluster creates the CRDs, the namespace and the config objects, as
// Argo CD's install manifests would.
func setUpCluster(kube *kubetest.Server, bin, binDir, policy string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cs, err := kubernetes.NewForConfig(kube.RestConfig())
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(kube.RestConfig())
	if err != nil {
		return err
	}
	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	var names []string
	for _, f := range []string{"application-crd.yaml", "appproject-crd.yaml", "applicationset-crd.yaml"} {
		raw, err := os.ReadFile(filepath.Join(binDir, "crds", f))
		if err != nil {
			return err
		}
		var obj map[string]any
		if err := yaml.Unmarshal(raw, &obj); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		u := &unstructured.Unstructured{Object: obj}
		// Create, not apply: the CRDs are too large for a last-applied annotation.
		if _, err := crds.Create(ctx, u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create CRD %s: %w", u.GetName(), err)
		}
		names = append(names, u.GetName())
	}
	for _, n := range names {
		if err := waitEstablished(ctx, crds, n); err != nil {
			return err
		}
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	hash, err := bcrypt(bin, adminPassword)
	if err != nil {
		return err
	}
	labels := map[string]string{"app.kubernetes.io/part-of": "argocd"}
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: Namespace, Labels: labels}
	}
	cms := []*corev1.ConfigMap{
		{ObjectMeta: meta("argocd-cm"), Data: map[string]string{
			"accounts." + Account:    "apiKey",
			"timeout.reconciliation": "15s",
		}},
		{ObjectMeta: meta("argocd-rbac-cm"), Data: map[string]string{"policy.csv": policy, "policy.default": ""}},
		{ObjectMeta: meta("argocd-cmd-params-cm")},
	}
	for _, cm := range cms {
		if _, err := cs.CoreV1().ConfigMaps(Namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			if !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("configmap %s: %w", cm.Name, err)
			}
			if _, err := cs.CoreV1().ConfigMaps(Namespace).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("configmap %s: %w", cm.Name, err)
			}
		}
	}
	secret := &corev1.Secret{ObjectMeta: meta("argocd-secret"), StringData: map[string]string{
		"admin.password":      hash,
		"admin.passwordMtime": time.Now().UTC().Format(time.RFC3339),
		"server.secretkey":    randomHex(32),
	}}
	if _, err := cs.CoreV1().Secrets(Namespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("argocd-secret: %w", err)
		}
		if _, err := cs.CoreV1().Secrets(Namespace).Update(ctx, secret, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("argocd-secret: %w", err)
		}
	}
	return nil
}

func waitEstablished(ctx context.Context, crds dynamic.NamespaceableResourceInterface, name string) error {
	for {
		u, err := crds.Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CRD %s not established: %w", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// bcrypt hashes a password with `argocd account bcrypt`, as operators do.
func bcrypt(bin, password string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "account", "bcrypt", "--password", password)
	cmd.Env = append(os.Environ(), "ARGOCD_BINARY_NAME=argocd")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("argocd account bcrypt: %w: %s", err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

func startOnce(kube *kubetest.Server, bin, binDir, redisBin string) (s *Server, err error) {
	dir, err := os.MkdirTemp("", "nexo-argocdtest-")
	if err != nil {
		return nil, err
	}
	s = &Server{Dir: dir, Kube: kube, hc: &http.Client{Timeout: 30 * time.Second}}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	// redis, repo server + metrics, controller metrics, API server + metrics.
	ports, err := kubetest.FreePorts(6)
	if err != nil {
		return nil, err
	}
	p := func(i int) string { return strconv.Itoa(ports[i]) }
	redisAddr := "127.0.0.1:" + p(0)
	repoAddr := "127.0.0.1:" + p(1)

	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(kubeconfig, kube); err != nil {
		return nil, err
	}
	// The repo server runs git-verify-wrapper.sh (and git-ask-pass /
	// k8s-auth under these names) from PATH.
	pathDir := filepath.Join(dir, "path")
	for _, d := range []string{pathDir, filepath.Join(dir, "tls"), filepath.Join(dir, "ssh"), filepath.Join(dir, "gpg", "keys"), filepath.Join(dir, "gpg", "source"), filepath.Join(dir, "plugins"), filepath.Join(dir, "home"), filepath.Join(dir, "tmp"), filepath.Join(dir, "redis")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	for _, name := range []string{"argocd-git-ask-pass", "argocd-k8s-auth"} {
		if err := os.Symlink(bin, filepath.Join(pathDir, name)); err != nil {
			return nil, err
		}
	}
	env := func(component string, extra ...string) []string {
		return append([]string{
			"ARGOCD_BINARY_NAME=" + component,
			"ARGOCD_FAKE_IN_CLUSTER=true",
			"KUBECONFIG=" + kubeconfig,
			"ARGOCD_GPG_ENABLED=false",
			"ARGOCD_TLS_DATA_PATH=" + filepath.Join(dir, "tls"),
			"ARGOCD_SSH_DATA_PATH=" + filepath.Join(dir, "ssh"),
			"ARGOCD_GNUPGHOME=" + filepath.Join(dir, "gpg", "keys"),
			"ARGOCD_GPG_DATA_PATH=" + filepath.Join(dir, "gpg", "source"),
			"ARGOCD_PLUGINSOCKFILEPATH=" + filepath.Join(dir, "plugins"),
			"PATH=" + pathDir + string(os.PathListSeparator) + binDir + string(os.PathListSeparator) + os.Getenv("PATH"),
			"HOME=" + filepath.Join(dir, "home"),
			"TMPDIR=" + filepath.Join(dir, "tmp"),
			"GIT_CONFIG_NOSYSTEM=1",
		}, extra...)
	}
	launch := func(log string, e []string, b string, args ...string) error {
		proc, err := kubetest.Launch(dir, log, e, b, args...)
		if err != nil {
			return err
		}
		s.procs = append(s.procs, proc)
		return nil
	}
	if err := launch("redis.log", nil, redisBin, "--port", p(0), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", filepath.Join(dir, "redis")); err != nil {
		return nil, err
	}
	if err := launch("repo-server.log", env("argocd-repo-server"), bin,
		"--address", "127.0.0.1", "--port", p(1),
		"--metrics-address", "127.0.0.1", "--metrics-port", p(2),
		"--redis", redisAddr, "--loglevel", "info"); err != nil {
		return nil, err
	}
	if err := launch("application-controller.log", env("argocd-application-controller", "HOSTNAME=argocd-application-controller-0"), bin,
		"--kubeconfig", kubeconfig, "--namespace", Namespace,
		"--redis", redisAddr, "--repo-server", repoAddr,
		"--metrics-port", p(3),
		"--status-processors", "2", "--operation-processors", "2",
		"--app-resync", "15", "--hydrator-enabled=false", "--loglevel", "info"); err != nil {
		return nil, err
	}
	s.URL = "http://127.0.0.1:" + p(4)
	if err := launch("server.log", env("argocd-server"), bin,
		"--kubeconfig", kubeconfig, "--namespace", Namespace, "--insecure",
		"--address", "127.0.0.1", "--port", p(4),
		"--metrics-address", "127.0.0.1", "--metrics-port", p(5),
		"--redis", redisAddr, "--repo-server", repoAddr,
		"--dex-server", "http://127.0.0.1:1", "--hydrator-enabled=false", "--loglevel", "info"); err != nil {
		return nil, err
	}
	if err := s.waitReady(readyTimeout); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, s.Logs())
	}
	if err := s.login(); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, s.Logs())
	}
	return s, nil
}

// Logs is the tail of every component's log (for failure messages).
func (s *Server) Logs() string {
	var b strings.Builder
	for _, f := range []string{"server.log", "application-controller.log", "repo-server.log", "redis.log"} {
		fmt.Fprintf(&b, "--- %s (tail) ---\n%s\n", f, kubetest.Tail(filepath.Join(s.Dir, f)))
	}
	return b.String()
}

func writeKubeconfig(path string, kube *kubetest.Server) error {
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kubetest
  cluster:
    server: %s
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: %s
contexts:
- name: kubetest
  context: {cluster: kubetest, user: admin, namespace: %s}
current-context: kubetest
`, kube.URL, kube.AdminToken, Namespace)
	return os.WriteFile(path, []byte(cfg), 0o600)
}

func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for time.Now().Before(deadline) {
		for _, p := range s.procs {
			if p.Exited() {
				return errors.New("an Argo CD component or redis exited during start")
			}
		}
		status, body, err := s.Do(context.Background(), "", http.MethodGet, "/healthz", nil)
		if err == nil && status == http.StatusOK {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("%d %s", status, strings.TrimSpace(string(body)))
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("argocd-server not ready after %s: last /healthz: %s", timeout, last)
}

// login takes an admin session and creates the nexo account's API token.
func (s *Server) login() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var sess struct {
		Token string `json:"token"`
	}
	if err := s.DoJSON(ctx, "", http.MethodPost, "/api/v1/session", map[string]string{"username": "admin", "password": adminPassword}, &sess); err != nil {
		return fmt.Errorf("admin login: %w", err)
	}
	s.AdminToken = sess.Token
	var tok struct {
		Token string `json:"token"`
	}
	if err := s.DoJSON(ctx, s.AdminToken, http.MethodPost, "/api/v1/account/"+Account+"/token", map[string]any{"name": Account, "id": "nexo-integration"}, &tok); err != nil {
		return fmt.Errorf("token of account %s: %w", Account, err)
	}
	if tok.Token == "" || sess.Token == "" {
		return errors.New("argocd-server returned an empty token")
	}
	s.Token = tok.Token
	return nil
}

// Do sends one request to argocd-server with token as Bearer (none when
// empty) and body as JSON, and returns the status and body.
func (s *Server) Do(ctx context.Context, token, method, path string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, r)
	if err != nil {
		return 0, nil, err
	}
	if method != http.MethodGet {
		// argocd-server answers 415 to anything else without it.
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	return resp.StatusCode, b, err
}

// DoJSON is Do that wants a 2xx and decodes the body into out.
func (s *Server) DoJSON(ctx context.Context, token, method, path string, body, out any) error {
	status, b, err := s.Do(ctx, token, method, path, body)
	if err != nil {
		return err
	}
	if status < 200 || status > 299 {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, status, strings.TrimSpace(string(b)))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

func (s *Server) stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].Stop()
	}
	if s.hc != nil {
		s.hc.CloseIdleConnections()
	}
	if s.Dir != "" {
		_ = os.RemoveAll(s.Dir)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
