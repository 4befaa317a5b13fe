package binbench

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/nexo-org/nexo-bot/bot/slackfake"
	"github.com/nexo-org/nexo-bot/integrations/argocdfake"
	"github.com/nexo-org/nexo-bot/integrations/githubfake"
	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopstest"
	"github.com/nexo-org/nexo-bot/integrations/registryfake"
)

// idleSettle is how long a process runs after connecting before its
// resident memory is read.
const idleSettle = 2 * time.Second

// binDir holds the binaries built once per `go test` run.
var (
	binDir   string
	binOnce  sync.Map // package → *builtBinary
	repoRoot = filepath.Join("..", "..")
)

type builtBinary struct {
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "nexo-binbench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = d
	code := m.Run()
	_ = os.RemoveAll(d)
	os.Exit(code)
}

// build compiles a command as `make build` does (static, trimmed, -s -w).
func build(b *testing.B, pkg string) string {
	b.Helper()
	v, _ := binOnce.LoadOrStore(pkg, &builtBinary{})
	bb := v.(*builtBinary)
	bb.once.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		bb.path = filepath.Join(binDir, filepath.Base(pkg))
		cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags", "-s -w", "-o", bb.path, pkg)
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			bb.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if bb.err != nil {
		b.Fatal(bb.err)
	}
	return bb.path
}

func fileMiB(b *testing.B, path string) float64 {
	b.Helper()
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return float64(st.Size()) / (1 << 20)
}

// rssMiB reads VmRSS from /proc/<pid>/status.
func rssMiB(b *testing.B, pid int) float64 {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// stop sends SIGINT and waits for a clean exit; it returns how long that took.
func stop(b *testing.B, cmd *exec.Cmd, output func() string) time.Duration {
	b.Helper()
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			b.Fatalf("%s did not exit cleanly after SIGINT: %v\n%s", filepath.Base(cmd.Path), err, output())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		b.Fatalf("%s still running 30 s after SIGINT\n%s", filepath.Base(cmd.Path), output())
	}
	return time.Since(start)
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	sb strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sb.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sb.String()
}

// setKey sets a scalar at a dotted path of a YAML mapping, adding the last
// key when it is absent.
func setKey(b *testing.B, doc *yaml.Node, path, value string) {
	b.Helper()
	n := doc
	if n.Kind == yaml.DocumentNode {
		n = n.Content[0]
	}
	keys := strings.Split(path, ".")
	for i, k := range keys {
		last := i == len(keys)-1
		found := false
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == k {
				if last {
					n.Content[j+1] = &yaml.Node{Kind: yaml.ScalarNode, Value: value}
				}
				n, found = n.Content[j+1], true
				break
			}
		}
		switch {
		case !found && last && n.Kind == yaml.MappingNode:
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, &yaml.Node{Kind: yaml.ScalarNode, Value: value})
		case !found:
			b.Fatalf("docs/examples/nexo.yaml has no %s", path)
		}
	}
}

// servingConfig is docs/examples/nexo.yaml with Slack, GitHub, Argo CD and
// the registry pointed at in-process fakes, the GitOps remote at a local
// bare repository, and the systems nexo only calls on demand (Kubernetes,
// Prometheus, Loki, AWS) at a closed local port.
func servingConfig(b *testing.B, dir string, slack *slackfake.Server) (path string, env []string) {
	b.Helper()
	remote := gitopstest.SeedPlaybook(b)
	gh := githubfake.New(githubfake.Options{Owner: "nexo-org", Repo: "nexo-gitops", RemotePath: remote.Path})
	b.Cleanup(gh.Close)
	argo := argocdfake.New(argocdfake.Options{})
	b.Cleanup(argo.Close)
	reg := registryfake.New(registryfake.Options{})
	b.Cleanup(reg.Close)

	raw, err := os.ReadFile(filepath.Join(repoRoot, "docs", "examples", "nexo.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		b.Fatal(err)
	}
	closed := "http://127.0.0.1:9"
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: bench}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`), 0o600); err != nil {
		b.Fatal(err)
	}
	for k, v := range map[string]string{
		"slack.api_url":         slack.APIURL(),
		"server.listen":         "127.0.0.1:0",
		"store.path":            filepath.Join(dir, "nexo.db"),
		"gitops.repo_url":       remote.URL,
		"github.base_url":       gh.URL() + "/",
		"argocd.server":         argo.URL(),
		"registry.url":          reg.URL(),
		"prometheus.url":        closed,
		"loki.url":              closed,
		"kubernetes.kubeconfig": kubeconfig,
		"aws.endpoint":          closed,
	} {
		setKey(b, &doc, k, v)
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		b.Fatal(err)
	}
	path = filepath.Join(dir, "nexo.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		b.Fatal(err)
	}
	env = append(os.Environ(),
		"SLACK_BOT_TOKEN=xoxb-bench", "SLACK_APP_TOKEN=xapp-bench",
		"GITHUB_TOKEN="+gh.Token(), "ARGOCD_AUTH_TOKEN="+argo.Token(),
		"NEXO_CONFIG=", "AWS_ACCESS_KEY_ID=AKIABENCH0000000000", "AWS_SECRET_ACCESS_KEY=bench", "HOME="+dir,
		"XDG_CONFIG_HOME="+dir,
	)
	return path, env
}

// checkLog fails on an error nexo logged and, once, shows its warnings (what
// the example config leaves unreachable on purpose).
func checkLog(b *testing.B, log string, show bool) {
	b.Helper()
	for _, line := range strings.Split(log, "\n") {
		switch {
		case strings.Contains(line, `"level":"ERROR"`):
			b.Fatalf("nexo logged an error:\n%s", log)
		case show && strings.Contains(line, `"level":"WARN"`):
			b.Log(line)
		}
	}
	if !strings.Contains(log, `"msg":"nexo started"`) || !strings.Contains(log, `"msg":"nexo stopped"`) {
		b.Fatalf("nexo did not log its start and clean stop:\n%s", log)
	}
}

// BenchmarkServingBinary: nexo-bot serve with the example config, against
// the fake Slack. Goals (issue 17): ≤ 30 MiB file, < 40 MiB idle RSS,
// < 300 ms start → socket connected.
func BenchmarkServingBinary(b *testing.B) {
	bin := build(b, "./cmd/nexo-bot")
	slack := slackfake.New(slackfake.Options{})
	b.Cleanup(slack.Close)
	dir := b.TempDir()
	cfg, env := servingConfig(b, dir, slack)
	var startTotal, stopTotal time.Duration
	var rss float64
	for i := 0; i < b.N; i++ {
		before := slack.TotalConnections()
		out := &lockedBuffer{}
		cmd := exec.Command(bin, "serve", "--config", cfg)
		cmd.Env, cmd.Stdout, cmd.Stderr, cmd.Dir = env, out, out, dir
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		if !slack.WaitFor(func() bool { return slack.TotalConnections() > before && slack.Connections() > 0 }, 20*time.Second) {
			_ = cmd.Process.Kill()
			b.Fatalf("nexo-bot never connected to the fake Slack:\n%s", out.String())
		}
		startTotal += time.Since(start)
		if i == b.N-1 {
			time.Sleep(idleSettle)
			rss = rssMiB(b, cmd.Process.Pid)
		}
		stopTotal += stop(b, cmd, out.String)
		checkLog(b, out.String(), i == b.N-1)
	}
	n := float64(b.N)
	b.ReportMetric(fileMiB(b, bin), "MiB-file")
	b.ReportMetric(rss, "MiB-idle-RSS")
	b.ReportMetric(float64(startTotal.Milliseconds())/n, "ms-start-to-socket")
	b.ReportMetric(float64(stopTotal.Milliseconds())/n, "ms-SIGINT-to-exit")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkSandboxBinary: nexo-sandbox until its console answers (after
// nexo's socket-mode connection to the in-process fake Slack), idle, then
// SIGINT with a browser-like event stream open. Goal (issue 17): stop < 2 s.
func BenchmarkSandboxBinary(b *testing.B) {
	bin := build(b, "./cmd/nexo-sandbox")
	var startTotal, stopTotal time.Duration
	var rss float64
	for i := 0; i < b.N; i++ {
		out := &lockedBuffer{}
		cmd := exec.Command(bin, "--addr", "127.0.0.1:0", "--data", filepath.Join(b.TempDir(), "data"))
		pipe, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		cmd.Stderr = out
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		url := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(pipe)
			for sc.Scan() {
				line := sc.Text()
				fmt.Fprintln(out, line)
				if f := strings.Fields(line); len(f) == 2 && f[0] == "Console:" {
					url <- f[1]
				}
			}
		}()
		var console string
		select {
		case console = <-url:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			b.Fatalf("nexo-sandbox never printed its console address:\n%s", out.String())
		}
		startTotal += time.Since(start)
		// A browser tab keeps the console's event stream open.
		resp, err := http.Get(console + "/api/events")
		if err != nil {
			b.Fatal(err)
		}
		go func() { _, _ = io.Copy(io.Discard, resp.Body) }()
		if i == b.N-1 {
			time.Sleep(idleSettle)
			rss = rssMiB(b, cmd.Process.Pid)
		}
		stopTotal += stop(b, cmd, out.String)
		resp.Body.Close()
		if !strings.Contains(out.String(), "stopped (") {
			b.Fatalf("nexo-sandbox did not report a clean stop:\n%s", out.String())
		}
	}
	n := float64(b.N)
	b.ReportMetric(fileMiB(b, bin), "MiB-file")
	b.ReportMetric(rss, "MiB-idle-RSS")
	b.ReportMetric(float64(startTotal.Milliseconds())/n, "ms-start-to-console")
	b.ReportMetric(float64(stopTotal.Milliseconds())/n, "ms-SIGINT-to-exit")
	b.ReportMetric(0, "ns/op")
}
