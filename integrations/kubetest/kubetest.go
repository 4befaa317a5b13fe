//go:build integration

package kubetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
)

// BuildHint is what to run when a binary is missing.
const BuildHint = "run scripts/kube/build-apiserver.sh (builds kube-apiserver into tools/kube-apiserver/bin/ and installs etcd)"

// readyTimeout bounds the wait for /readyz after start.
const readyTimeout = 90 * time.Second

// Server is a running etcd plus kube-apiserver.
type Server struct {
	// URL is the API server's https URL on 127.0.0.1.
	URL string
	// AdminToken is a bearer token in group system:masters.
	AdminToken string
	// Dir holds certificates, keys, tokens.csv, etcd data and logs.
	Dir string

	etcd, apiserver *Proc
}

var (
	shared   *Server
	startErr error
	once     sync.Once
	mu       sync.Mutex
)

// Start returns the test binary's shared API server, starting it on first
// use. A missing binary or a failed start fails the test (it never skips:
// the integration tier must really run).
func Start(t testing.TB) *Server {
	t.Helper()
	once.Do(func() {
		s, err := start()
		mu.Lock()
		shared, startErr = s, err
		mu.Unlock()
	})
	mu.Lock()
	defer mu.Unlock()
	if startErr != nil {
		t.Fatalf("kubetest: %v", startErr)
	}
	return shared
}

// Main runs the tests and then stops the shared server. Call it from
// TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop ends the shared server (if started) and removes its directory.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		shared.stop()
		shared = nil
	}
}

// RestConfig is an admin client config (bearer token; the serving
// certificate is self-signed, so TLS verification is off).
func (s *Server) RestConfig() *rest.Config {
	return &rest.Config{
		Host:            s.URL,
		BearerToken:     s.AdminToken,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true},
		QPS:             200,
		Burst:           400,
		Timeout:         30 * time.Second,
	}
}

// Impersonate is RestConfig acting as user (e.g.
// "system:serviceaccount:nexo-staging:nexo-bot"). For a service-account
// user and no groups, the API server adds the service-account groups itself.
func (s *Server) Impersonate(user string, groups ...string) *rest.Config {
	cfg := s.RestConfig()
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	return cfg
}

// ServiceAccountUser is the user name of a service account.
func ServiceAccountUser(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// Kubeconfig writes a kubeconfig for the admin to path (for scripts and
// tools that want a file).
func (s *Server) Kubeconfig(path string) error {
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
  context: {cluster: kubetest, user: admin}
current-context: kubetest
`, s.URL, s.AdminToken)
	return os.WriteFile(path, []byte(cfg), 0o600)
}

// RepoRoot walks up from the working directory to the main module's go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/nexo-org/nexo-bot\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root (go.mod of github.com/nexo-org/nexo-bot) not found")
		}
		dir = parent
	}
}

// Binaries finds kube-apiserver and etcd (see the package doc).
func Binaries() (apiserver, etcd string, err error) {
	apiserver = os.Getenv("KUBE_APISERVER_BIN")
	if apiserver == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", "", err
		}
		apiserver = filepath.Join(root, "tools", "kube-apiserver", "bin", "kube-apiserver")
	}
	if _, err := os.Stat(apiserver); err != nil {
		return "", "", fmt.Errorf("kube-apiserver not found at %s: %s", apiserver, BuildHint)
	}
	etcd = os.Getenv("ETCD_BIN")
	if etcd == "" {
		etcd, err = exec.LookPath("etcd")
		if err != nil {
			return "", "", fmt.Errorf("etcd not on PATH: %s", BuildHint)
		}
	}
	return apiserver, etcd, nil
}

func start() (*Server, error) {
	apiserverBin, etcdBin, err := Binaries()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port can be taken between probe and bind
		s, err := startOnce(apiserverBin, etcdBin)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startOnce(apiserverBin, etcdBin string) (s *Server, err error) {
	dir, err := os.MkdirTemp("", "nexo-kubetest-")
	if err != nil {
		return nil, err
	}
	s = &Server{Dir: dir}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	ports, err := FreePorts(3)
	if err != nil {
		return nil, err
	}
	token, err := randomHex(24)
	if err != nil {
		return nil, err
	}
	s.AdminToken = token
	if err := os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(token+",admin,1,system:masters\n"), 0o600); err != nil {
		return nil, err
	}
	if err := writeServiceAccountKeys(dir); err != nil {
		return nil, err
	}

	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	s.etcd, err = Launch(dir, "etcd.log", nil, etcdBin,
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL,
		"--advertise-client-urls", etcdURL,
		"--listen-peer-urls", "http://127.0.0.1:"+strconv.Itoa(ports[1]),
		"--initial-advertise-peer-urls", "http://127.0.0.1:"+strconv.Itoa(ports[1]),
		"--initial-cluster", "default=http://127.0.0.1:"+strconv.Itoa(ports[1]),
		"--log-level", "warn",
	)
	if err != nil {
		return nil, err
	}
	s.URL = "https://127.0.0.1:" + strconv.Itoa(ports[2])
	s.apiserver, err = Launch(dir, "kube-apiserver.log", nil, apiserverBin,
		"--etcd-servers="+etcdURL,
		"--secure-port="+strconv.Itoa(ports[2]),
		"--bind-address=127.0.0.1",
		"--cert-dir="+filepath.Join(dir, "certs"),
		"--token-auth-file="+filepath.Join(dir, "tokens.csv"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file="+filepath.Join(dir, "sa.key"),
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--disable-admission-plugins=ServiceAccount",
		"--v=0",
	)
	if err != nil {
		return nil, err
	}
	if err := s.waitReady(readyTimeout); err != nil {
		return nil, fmt.Errorf("%w\n--- kube-apiserver.log (tail) ---\n%s\n--- etcd.log (tail) ---\n%s",
			err, Tail(filepath.Join(dir, "kube-apiserver.log")), Tail(filepath.Join(dir, "etcd.log")))
	}
	return s, nil
}

func (s *Server) waitReady(timeout time.Duration) error {
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for time.Now().Before(deadline) {
		if s.apiserver.Exited() || s.etcd.Exited() {
			return errors.New("kube-apiserver or etcd exited during start")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+s.AdminToken)
		resp, err := hc.Do(req)
		if err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.TrimSpace(string(b)) == "ok" {
				cancel()
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
		} else {
			last = err.Error()
		}
		cancel()
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("kube-apiserver not ready after %s: last /readyz: %s", timeout, last)
}

func (s *Server) stop() {
	for _, p := range []*Proc{s.apiserver, s.etcd} {
		p.Stop()
	}
	if s.Dir != "" {
		_ = os.RemoveAll(s.Dir)
	}
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// writeServiceAccountKeys writes sa.key (PKCS#1 RSA private key) and sa.pub
// (PKIX public key), as `openssl genrsa` and `openssl rsa -pubout` would.
func writeServiceAccountKeys(dir string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	if err := os.WriteFile(filepath.Join(dir, "sa.key"), priv, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "sa.pub"), pub, 0o644)
}

func isAlreadyExists(err error) bool { return apierrors.IsAlreadyExists(err) }
