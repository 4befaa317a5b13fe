package replicas_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"

	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/internal/e2e"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/store/redisstore"
)

// The built nexo-bot binary, once per test binary.
var nexoBin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if nexoBin.dir != "" {
		_ = os.RemoveAll(nexoBin.dir)
	}
	os.Exit(code)
}

// nexoBinary builds ./cmd/nexo-bot (the serving binary, as shipped) into a
// temporary directory the first time a test needs it.
func nexoBinary(tb testing.TB) string {
	tb.Helper()
	nexoBin.once.Do(func() {
		nexoBin.dir, nexoBin.err = os.MkdirTemp("", "nexo-bin-")
		if nexoBin.err != nil {
			return
		}
		nexoBin.path = filepath.Join(nexoBin.dir, "nexo-bot")
		goTool := "go"
		if root := os.Getenv("GOROOT"); root != "" {
			goTool = filepath.Join(root, "bin", "go")
		}
		start := time.Now()
		out, err := exec.Command(goTool, "build", "-o", nexoBin.path, "github.com/nexo-org/nexo-bot/cmd/nexo-bot").CombinedOutput()
		if err != nil {
			nexoBin.err = fmt.Errorf("go build ./cmd/nexo-bot: %v\n%s", err, out)
			return
		}
		fmt.Fprintf(os.Stderr, "built nexo-bot for the process tests in %s\n", time.Since(start).Round(time.Millisecond))
	})
	if nexoBin.err != nil {
		tb.Fatal(nexoBin.err)
	}
	return nexoBin.path
}

// cluster is nexo running as OS processes of the built binary (`serve`),
// each with its own config file, Socket Mode connection, git workdir and
// HTTP listener, all on the fakes of one e2e.Env and one Redis prefix.
type cluster struct {
	tb     testing.TB
	e      *e2e.Env
	rdb    redis.UniversalClient
	prefix string
	url    string
	bin    string
	dir    string
	base   *config.Config

	mu    sync.Mutex
	procs []*nexoProc
	n     int
}

// nexoProc is one running nexo-bot process.
type nexoProc struct {
	name   string
	cmd    *exec.Cmd
	owner  string // its workflow-engine owner, from its start log
	listen string
	logs   *e2e.LogBuffer
	done   chan struct{}
	exit   error
	gone   bool // killed or stopped by the test
}

func newCluster(tb testing.TB, mutate func(c *config.Config)) *cluster {
	tb.Helper()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	return newClusterOn(tb, url, mutate)
}

// newClusterOn is newCluster on the Redis at url (any store.redis_url form).
func newClusterOn(tb testing.TB, url string, mutate func(c *config.Config)) *cluster {
	tb.Helper()
	e := e2e.New(tb, e2e.Options{Redis: true, RedisURL: url, WallClock: true, Mutate: mutate})
	e.StopBot()
	rs, ok := e.Store.(*redisstore.Store)
	if !ok {
		tb.Fatal("the process tests need the Redis store")
	}
	c := &cluster{tb: tb, e: e, rdb: rs.Client(), prefix: rs.Prefix(), url: url, bin: nexoBinary(tb), dir: tb.TempDir(), base: e.Config}
	tb.Cleanup(c.stopAll)
	return c
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// start launches one more replica and waits until it runs: its start log
// names its owner and it has opened its Socket Mode connection.
func (c *cluster) start() *nexoProc {
	c.tb.Helper()
	p, err := c.tryStart()
	if err != nil {
		c.tb.Fatal(err)
	}
	return p
}

// tryStart is start without failing the test (callable from any goroutine).
func (c *cluster) tryStart() (*nexoProc, error) {
	c.mu.Lock()
	c.n++
	name := fmt.Sprintf("p%d", c.n)
	c.mu.Unlock()
	cfg := *c.base
	cfg.Store = config.Store{Backend: "redis", RedisURL: c.url, RedisPrefix: c.prefix}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cfg.Server.Listen = addr
	cfg.GitOps.Workdir = filepath.Join(c.dir, "gitops-"+name)
	raw, err := yaml.Marshal(&cfg)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(c.dir, name+".yaml")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return nil, err
	}
	p := &nexoProc{name: name, listen: cfg.Server.Listen, logs: &e2e.LogBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(c.bin, "serve", "--config", path)
	p.cmd.Env = append(cleanEnv(),
		"SLACK_BOT_TOKEN="+c.e.Secrets.SlackBotToken, "SLACK_APP_TOKEN="+c.e.Secrets.SlackAppToken,
		"GITHUB_TOKEN="+c.e.Secrets.GitHubToken, "ARGOCD_AUTH_TOKEN="+c.e.Secrets.ArgoCDToken)
	p.cmd.Stdout = p.logs
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	before := c.e.Slack.TotalConnections()
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	started := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			_, _ = p.logs.Write([]byte(line + "\n"))
			if strings.Contains(line, `"msg":"nexo started"`) {
				var m struct {
					Replica string `json:"replica"`
				}
				if json.Unmarshal([]byte(line), &m) == nil {
					select {
					case started <- m.Replica:
					default:
					}
				}
			}
		}
	}()
	go func() {
		p.exit = p.cmd.Wait()
		close(p.done)
	}()
	select {
	case p.owner = <-started:
	case <-p.done:
		return nil, fmt.Errorf("replica %s exited at start (%v):\n%s", name, p.exit, p.logs.String())
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		return nil, fmt.Errorf("replica %s did not start within 30s:\n%s", name, p.logs.String())
	}
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	if !c.e.Slack.WaitFor(func() bool { return c.e.Slack.TotalConnections() > before }, 15*time.Second) {
		return nil, fmt.Errorf("replica %s never opened a socket-mode connection:\n%s", name, p.logs.String())
	}
	return p, nil
}

// cleanEnv is the test's environment without nexo's and Slack's variables.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "NEXO_"), strings.HasPrefix(k, "SLACK_"), k == "GITHUB_TOKEN", k == "ARGOCD_AUTH_TOKEN", k == "REGISTRY_TOKEN":
			continue
		}
		out = append(out, kv)
	}
	return out
}

// alive lists the replicas the test has not killed or stopped.
func (c *cluster) alive() []*nexoProc {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*nexoProc
	for _, p := range c.procs {
		if !p.gone {
			out = append(out, p)
		}
	}
	return out
}

func (c *cluster) byOwner(owner string) *nexoProc {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		if p.owner == owner {
			return p
		}
	}
	return nil
}

// signal sends sig and waits for the process to end.
func (p *nexoProc) signal(tb testing.TB, sig syscall.Signal) error {
	tb.Helper()
	p.gone = true
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		tb.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		tb.Errorf("replica %s did not end within 40s of %s", p.name, sig)
	}
	return p.exit
}

func (c *cluster) stopAll() {
	for _, p := range c.alive() {
		if err := p.signal(c.tb, syscall.SIGTERM); err != nil {
			c.tb.Errorf("replica %s: exit after SIGTERM: %v\n%s", p.name, err, tail(p.logs.String(), 30))
		}
	}
}

// lease reads a workflow lease: "<token>:<owner>" in Redis.
func (c *cluster) lease(wfID string) (owner string, token uint64, held bool) {
	v, err := c.rdb.Get(context.Background(), "{"+c.prefix+"}:lease:wf:"+wfID).Result()
	if err != nil {
		return "", 0, false
	}
	tok, own, ok := strings.Cut(v, ":")
	if !ok {
		return "", 0, false
	}
	n, _ := strconv.ParseUint(tok, 10, 64)
	return own, n, true
}

func (c *cluster) workflow(id string) *store.Workflow {
	c.tb.Helper()
	wf, err := c.e.Store.GetWorkflow(context.Background(), id)
	if err != nil {
		c.tb.Fatal(err)
	}
	return wf
}

// waitFor polls cond every 2ms.
func (c *cluster) waitFor(what string, within time.Duration, cond func() bool) {
	c.tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			c.tb.Fatalf("timed out after %s waiting for %s\n%s", within, what, c.dump())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// dump is what a failure shows: the workflows, the channel and the tail of
// every replica's log.
func (c *cluster) dump() string {
	var b strings.Builder
	wfs, _ := c.e.Store.ListWorkflows(context.Background(), store.WorkflowFilter{})
	for _, wf := range wfs {
		fmt.Fprintf(&b, "workflow %s %s state %s done %v fence %d\n", wf.ID, wf.Kind, wf.State, wf.Done, wf.Fence)
		for _, st := range wf.Steps[max(0, len(wf.Steps)-8):] {
			fmt.Fprintf(&b, "   %s %s %s %.200s\n", st.Time.Format(time.TimeOnly), st.State, st.Result, st.Detail)
		}
	}
	fmt.Fprintf(&b, "channel:\n%s", c.e.Dump())
	c.mu.Lock()
	procs := append([]*nexoProc(nil), c.procs...)
	c.mu.Unlock()
	for _, p := range procs {
		fmt.Fprintf(&b, "--- replica %s (%s, gone %v):\n%s\n", p.name, p.owner, p.gone, tail(p.logs.String(), 15))
	}
	return b.String()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
