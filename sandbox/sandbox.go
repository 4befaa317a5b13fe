// Package sandbox runs nexo with its whole platform simulated in one
// process: the fake Slack (socket mode, the real transport), GitHub, Argo CD,
// the container registry, Prometheus, Loki, PagerDuty, Secrets Manager and a
// client-go fake Kubernetes, a real bare git repository seeded with the
// playbook's services and weeks of history, and the embedded bolt store. The
// bot itself is built by wire.Build from a config whose URLs point at the
// fakes, so the real clients run. A web console (console.go) shows the
// channel like Slack and lets people type commands, click buttons, switch
// users and break things.
package sandbox

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/nexo-org/nexo-bot/bot/slackfake"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/argocdfake"
	"github.com/nexo-org/nexo-bot/integrations/githubfake"
	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopsseed"
	"github.com/nexo-org/nexo-bot/integrations/kube"
	"github.com/nexo-org/nexo-bot/integrations/loki/memserver"
	"github.com/nexo-org/nexo-bot/integrations/pagerdutyfake"
	"github.com/nexo-org/nexo-bot/integrations/promfake"
	"github.com/nexo-org/nexo-bot/integrations/registryfake"
	"github.com/nexo-org/nexo-bot/integrations/secretstore"
	"github.com/nexo-org/nexo-bot/integrations/secretstorefake"
	"github.com/nexo-org/nexo-bot/internal/wire"
	"k8s.io/client-go/kubernetes/fake"
)

// The workspace's people: the ids of docs/examples/nexo.yaml's groups.
const (
	Alice = "U0ALICE01" // alice-sre, sre-team
	Bob   = "U0BOB0001" // bob-sre, sre-team
	Carol = "U0CAROL01" // carol-dev, developers
	Paula = "U0PLATF01" // paula-platform, platform-team
	// Deploys is #deploys, where nexo posts; Incidents is #incidents.
	Deploys   = "C0DEPLOYS"
	Incidents = "C0INCIDNT"
	// OnCall is the sre-team on-call user group.
	OnCall = "S0SREONCALL"
)

// Users are the console's people, in the user switcher's order.
var Users = []slackfake.User{
	{ID: Carol, Name: "carol-dev", RealName: "Carol (dev)"},
	{ID: Paula, Name: "paula-platform", RealName: "Paula (platform)"},
	{ID: Alice, Name: "alice-sre", RealName: "Alice (SRE)"},
	{ID: Bob, Name: "bob-sre", RealName: "Bob (SRE)"},
}

// configYAML mirrors docs/examples/nexo.yaml (a test keeps them equal).
//
//go:embed nexo.yaml
var configYAML []byte

// DefaultAddr is the console's default listen address.
const DefaultAddr = "127.0.0.1:8080"

// Options configure Start.
type Options struct {
	// Addr is the console's listen address (default DefaultAddr; use
	// "127.0.0.1:0" for a random port).
	Addr string
	// DataDir holds the git remote, the bot's clone, the store and the log.
	// Empty: a temporary folder removed by Close. It must be empty or absent.
	DataDir string
	// Log receives nexo's JSON logs (default DataDir/nexo.log).
	Log io.Writer
	// ProgressAfter is how long an Argo CD sync runs (default 4s).
	ProgressAfter time.Duration
	// PollEvery is how often workflows poll Argo CD (default 1s).
	PollEvery time.Duration
}

// Sandbox is a running nexo with its simulated platform and console.
type Sandbox struct {
	Slack    *slackfake.Server
	GitHub   *githubfake.Server
	Argo     *argocdfake.Server
	Registry *registryfake.Server
	Prom     *promfake.Server
	Loki     *memserver.Server
	LokiURL  string
	Pager    *pagerdutyfake.Server
	Secrets  *secretstorefake.Server
	Kube     *fake.Clientset
	Cluster  *Cluster
	Config   *config.Config
	Runtime  *wire.Runtime
	// Remote is the bare GitOps repository; Releases its CalVer tags.
	Remote   string
	Releases []string
	DataDir  string

	tags   map[string]string // "service/env" → tag running
	breaks map[string]*breakage

	console  *Console
	lokiSrv  *httptest.Server
	argoTime *shiftClock
	argo     *argocd.HTTPClient
	httpSrv  *http.Server
	listener net.Listener
	logFile  *os.File
	tempDir  bool
	cancel   context.CancelFunc
	stopped  chan struct{}
	runErr   error
	closers  []func()
	mu       sync.Mutex
	closed   bool
}

// AddrInUseError is Start's error when another process listens on the
// console address. Free is a nearby port that was free a moment ago (empty
// when none was found).
type AddrInUseError struct {
	Addr, Free string
}

func (e *AddrInUseError) Error() string {
	return fmt.Sprintf("console address %s is in use", e.Addr)
}

// listen opens the console's listener; a taken address is an
// *AddrInUseError naming the next free port of the ten that follow.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("sandbox: console address %s: %w", addr, err)
	}
	e := &AddrInUseError{Addr: addr}
	host, port, splitErr := net.SplitHostPort(addr)
	n, convErr := strconv.Atoi(port)
	if splitErr == nil && convErr == nil && n > 0 {
		for p := n + 1; p <= n+10 && p <= 65535; p++ {
			try := net.JoinHostPort(host, strconv.Itoa(p))
			if l, err := net.Listen("tcp", try); err == nil {
				_ = l.Close()
				e.Free = try
				break
			}
		}
	}
	return nil, e
}

// Start builds the platform and nexo, starts them and serves the console.
func Start(ctx context.Context, o Options) (sb *Sandbox, err error) {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.ProgressAfter <= 0 {
		o.ProgressAfter = 4 * time.Second
	}
	if o.PollEvery <= 0 {
		o.PollEvery = time.Second
	}
	s := &Sandbox{stopped: make(chan struct{})}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := s.prepareDir(o.DataDir); err != nil {
		return nil, err
	}
	logw := o.Log
	if logw == nil {
		f, err := os.OpenFile(filepath.Join(s.DataDir, "nexo.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, err
		}
		s.logFile, logw = f, f
	}
	log := slog.New(slog.NewJSONHandler(logw, &slog.HandlerOptions{Level: slog.LevelInfo}))

	ln, err := listen(o.Addr)
	if err != nil {
		return nil, err
	}
	s.listener = ln

	now := time.Now().UTC()
	s.Releases = gitopsseed.WeeklyReleases(now.AddDate(0, 0, -3), 5)
	if s.Remote, err = gitopsseed.SeedReleases(s.DataDir, s.Releases); err != nil {
		return nil, err
	}
	steps, err := gitopsseed.Schedule(s.Releases)
	if err != nil {
		return nil, err
	}
	// nexo-fe's last release also reached staging (a day and a half ago),
	// so a production promotion can be tried too.
	last := s.Releases[len(s.Releases)-1]
	lastDay, _ := time.Parse("2006.01.02", last)
	extra := gitopsseed.Step{Service: "nexo-fe", Env: "staging", Tag: last, At: lastDay.Add(38*time.Hour + 7*time.Minute)}
	if _, err := gitopsseed.Commit(s.Remote, map[string]string{gitopsseed.ValuesPath(extra.Service, extra.Env): gitopsseed.Values(extra.Service, extra.Env, extra.Tag)},
		"promote(nexo-fe): staging → "+last, "nexo <nexo@users.noreply.github.com>", extra.At); err != nil {
		return nil, err
	}
	steps = append(steps, extra)
	s.tags = map[string]string{}
	for _, svc := range gitopsseed.Services {
		for _, env := range gitopsseed.Envs {
			s.tags[svc+"/"+env] = s.Releases[0]
		}
	}
	for _, st := range steps {
		s.tags[st.Service+"/"+st.Env] = st.Tag
	}
	if err := s.startFakes(steps); err != nil {
		return nil, err
	}
	cfg, sec, err := s.config()
	if err != nil {
		return nil, err
	}
	s.Config = cfg

	buildCtx, cancelBuild := context.WithTimeout(ctx, 30*time.Second)
	defer cancelBuild()
	ss, err := secretstore.NewAWS(buildCtx, secretstore.AWSOptions{
		Region: cfg.AWS.Region, Endpoint: cfg.AWS.Endpoint, AccessKeyID: "AKIASANDBOX000000000", SecretAccessKey: "sandbox-secret-key", Timeout: 10 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	rt, err := wire.Build(buildCtx, cfg, sec, wire.Options{
		Logger: log, Owner: "sandbox", PollEvery: o.PollEvery,
		Override: func(d *commands.Deps) {
			d.Kube = s.Cluster
			d.Secrets = ss
		},
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox: building nexo: %w", err)
	}
	s.Runtime = rt
	s.closers = append(s.closers, func() { _ = rt.Close() })
	if err := seedHistory(buildCtx, rt.Store, steps, now); err != nil {
		return nil, fmt.Errorf("sandbox: seeding DORA history: %w", err)
	}

	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() {
		s.runErr = rt.Run(runCtx)
		close(s.stopped)
	}()
	if !s.Slack.WaitFor(func() bool { return s.Slack.CallCount("apps.connections.open") > 0 }, 10*time.Second) {
		return nil, errors.New("sandbox: nexo never opened its socket-mode connection to the fake Slack")
	}

	s.console = NewConsole(s)
	s.closers = append(s.closers, s.console.Close)
	s.httpSrv = &http.Server{Handler: s.console, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.httpSrv.Serve(ln) }()
	return s, nil
}

func (s *Sandbox) prepareDir(dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "nexo-sandbox-")
		if err != nil {
			return err
		}
		s.DataDir, s.tempDir = d, true
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return err
		}
	case err != nil:
		return err
	case len(entries) > 0:
		return fmt.Errorf("sandbox: %s is not empty: the sandbox seeds a fresh platform each run; remove it or choose another --data", abs)
	}
	s.DataDir = abs
	return nil
}

// URL is the console's address.
func (s *Sandbox) URL() string { return "http://" + s.listener.Addr().String() }

// Console is the web console.
func (s *Sandbox) Console() *Console { return s.console }

// Done is closed when nexo stops (after Close, or on its own: see Err).
func (s *Sandbox) Done() <-chan struct{} { return s.stopped }

// Err is nexo's exit error once Done is closed.
func (s *Sandbox) Err() error {
	select {
	case <-s.stopped:
		return s.runErr
	default:
		return nil
	}
}

// Close stops the console, nexo (draining its workflows) and every fake,
// and removes the temporary folder.
func (s *Sandbox) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	var err error
	// The console's event streams end first: http.Server.Shutdown waits
	// for open connections, and a browser tab keeps one open.
	if s.console != nil {
		s.console.Close()
	}
	if s.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.httpSrv.Shutdown(ctx)
		cancel()
	} else if s.listener != nil {
		_ = s.listener.Close()
	}
	if s.cancel != nil {
		s.cancel()
		select {
		case <-s.stopped:
			if e := s.runErr; e != nil && !errors.Is(e, context.Canceled) {
				err = e
			}
		case <-time.After(30 * time.Second):
			err = errors.New("sandbox: nexo did not stop within 30s")
		}
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	if s.logFile != nil {
		_ = s.logFile.Close()
	}
	if s.tempDir && s.DataDir != "" {
		_ = os.RemoveAll(s.DataDir)
	}
	return err
}

// shiftClock is the fake Argo CD's clock: the wall clock, or a chosen time
// while apps are seeded so their history starts in the past.
type shiftClock struct {
	mu sync.Mutex
	at time.Time
}

func (c *shiftClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() {
		return c.at
	}
	return time.Now()
}

func (c *shiftClock) set(t time.Time) {
	c.mu.Lock()
	c.at = t
	c.mu.Unlock()
}

// kubeOptions are the Kubernetes client's options in the sandbox.
var kubeOptions = kube.Options{Timeout: 10 * time.Second}
