// Package e2e starts the real nexo — wire.Build from a config, real
// clients, the socket-mode transport — against the in-repo fakes of Slack,
// GitHub, Argo CD, the registry and Prometheus, and a real bare git repo
// seeded like the playbook's nexo-gitops. Tests drive it like users do:
// slash commands and button clicks through the fake Slack.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/bot/slackfake"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/argocdfake"
	"github.com/nexo-org/nexo-bot/integrations/githubfake"
	"github.com/nexo-org/nexo-bot/integrations/gitops/gitopstest"
	"github.com/nexo-org/nexo-bot/integrations/registryfake"
	"github.com/nexo-org/nexo-bot/internal/wire"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/store/boltstore"
	"github.com/nexo-org/nexo-bot/store/redisstore"
	"github.com/nexo-org/nexo-bot/workflow"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Users of the example config (docs/examples/nexo.yaml).
const (
	Alice   = "U0ALICE01" // sre-team
	Bob     = "U0BOB0001" // sre-team
	Carol   = "U0CAROL01" // developers: asks, approves nothing
	Platf   = "U0PLATF01" // platform-team
	Channel = "C0DEPLOYS"
)

// Start time of the simulated clock: the playbook's deploy day.
var Start = time.Date(2026, 2, 18, 10, 0, 0, 0, time.UTC)

// Options shape an environment.
type Options struct {
	// Redis runs the store on Redis (RedisURL, else REDIS_URL, else
	// 127.0.0.1:6379) with a unique prefix instead of bbolt.
	Redis bool
	// RedisURL overrides REDIS_URL (e.g. a redis+sentinel:// topology).
	RedisURL string
	// Mutate edits the config before the bot starts.
	Mutate func(c *config.Config)
	// Prometheus, when set, is the prometheus.url.
	PrometheusURL string
	// Override replaces integrations after they are built (e.g. a
	// Kubernetes clientset).
	Override func(d *commands.Deps)
	// WallClock makes the fakes (Argo CD's history and operation times)
	// follow the wall clock instead of Env.Clock: for nexo processes,
	// which run on the wall clock.
	WallClock bool
	// ArgoCDURL and ArgoCDToken point nexo at a real argocd-server (the
	// integration tier) instead of argocdfake; Env.Argo is then nil.
	ArgoCDURL, ArgoCDToken string
	// Remote replaces the seeded GitOps remote (e.g. one that a real Argo
	// CD deploys from); nil: gitopstest.SeedPlaybook.
	Remote *gitopstest.Remote
	// ClockStart is the simulated clock's start (default Start). A real
	// Argo CD stamps history with the wall clock: start at time.Now().
	ClockStart time.Time
	// Locale is slack.locale (default en); Env.Cat speaks it.
	Locale string
}

// Env is a running nexo and its simulated platform.
type Env struct {
	T        testing.TB
	Slack    *slackfake.Server
	Argo     *argocdfake.Server
	Registry *registryfake.Server
	GitHub   *githubfake.Server
	Remote   *gitopstest.Remote
	Config   *config.Config
	Secrets  config.Secrets
	Clock    *workflow.ManualClock
	Store    store.Store
	Runtime  *wire.Runtime
	Logs     *LogBuffer
	// Cat is the catalog in the bot's locale: tests expect its sentences.
	Cat i18n.T

	// BeforeStep is installed on every (re)started engine; see
	// workflow.Engine.BeforeStep.
	BeforeStep func(wf *store.Workflow) error

	cancel context.CancelFunc
	done   chan error
	opts   Options
}

// LogBuffer keeps everything the bot logged.
type LogBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

// Write implements io.Writer.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns the logs so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// New builds the platform and starts nexo.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	start := Start
	if !o.ClockStart.IsZero() {
		start = o.ClockStart
	}
	e := &Env{T: t, opts: o, Clock: workflow.NewManualClock(start), Logs: &LogBuffer{}}
	e.Remote = o.Remote
	if e.Remote == nil {
		e.Remote = gitopstest.SeedPlaybook(t)
	}
	e.Slack = slackfake.New(slackfake.Options{PingInterval: 2 * time.Second})
	t.Cleanup(e.Slack.Close)
	for _, u := range []slackfake.User{{ID: Alice, Name: "alice-sre"}, {ID: Bob, Name: "bob-sre"}, {ID: Carol, Name: "carol-dev"}, {ID: Platf, Name: "paula-platform"}} {
		e.Slack.AddUser(u)
	}
	e.Slack.AddUserGroup("S0SREONCALL", Alice, Bob)
	e.Slack.AddChannel(Channel, "deploys", Alice, Bob, Carol, Platf)

	e.Registry = registryfake.New(registryfake.Options{})
	t.Cleanup(e.Registry.Close)
	for _, svc := range gitopstest.PlaybookServices {
		e.Registry.AddTags("nexo-org/"+svc, "2026.01.20", "2026.01.27", "2026.02.03", "2026.02.10", "2026.02.17", "2026.02.17-hotfix", "2026.02.18")
	}

	e.GitHub = githubfake.New(githubfake.Options{Owner: "nexo-org", Repo: "nexo-gitops", RemotePath: e.Remote.Path})
	t.Cleanup(e.GitHub.Close)
	// nexo-be's source history between the releases (changelogs, lead time).
	day := func(s string) time.Time { d, _ := time.Parse("2006.01.02", s); return d }
	e.GitHub.AddCommits("nexo-org/nexo-be",
		githubfake.FixtureCommit{Message: "feat(nexo-be): release 2026.02.10", Date: day("2026.02.10").Add(9 * time.Hour), Refs: []string{"2026.02.10"}},
		githubfake.FixtureCommit{Message: "feat(nexo-be): adiciona webhook de pagamentos\n\nCloses #123", Date: day("2026.02.16").Add(14 * time.Hour)},
		githubfake.FixtureCommit{Message: "fix: Validação de signature", Date: day("2026.02.16").Add(16 * time.Hour)},
		githubfake.FixtureCommit{Message: "perf: Otimização de queries", Date: day("2026.02.17").Add(8 * time.Hour), Refs: []string{"2026.02.17"}},
	)

	valuesPath := func(app string) string {
		for _, svc := range gitopstest.PlaybookServices {
			for _, env := range gitopstest.PlaybookEnvs {
				if app == svc+"-"+env {
					return gitopstest.PlaybookValuesPath(svc, env)
				}
			}
		}
		return ""
	}
	argoURL, argoToken := o.ArgoCDURL, o.ArgoCDToken
	if argoURL == "" {
		e.startArgoFake(valuesPath)
		argoURL, argoToken = e.Argo.URL(), e.Argo.Token()
	}

	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "examples", "nexo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Slack.APIURL = e.Slack.APIURL()
	cfg.Slack.Channel = Channel
	cfg.GitOps.RepoURL = e.Remote.URL
	cfg.GitOps.Workdir = filepath.Join(t.TempDir(), "gitops")
	cfg.GitHub.BaseURL = e.GitHub.URL() + "/"
	cfg.ArgoCD.Server = argoURL
	cfg.Registry.URL = e.Registry.URL()
	cfg.Prometheus.URL = o.PrometheusURL
	cfg.Loki.URL = ""
	cfg.Kubernetes.Kubeconfig = filepath.Join(t.TempDir(), "no-kubeconfig")
	cfg.Services[0].Secrets = nil
	if o.Locale != "" {
		cfg.Slack.Locale = o.Locale
	}
	if o.Mutate != nil {
		o.Mutate(cfg)
	}
	e.Config = cfg
	e.Cat = i18n.Default().WithZone(cfg.Zone()).In(cfg.Slack.Locale)
	e.Secrets = config.Secrets{SlackBotToken: "xoxb-e2e", SlackAppToken: "xapp-e2e", GitHubToken: e.GitHub.Token(), ArgoCDToken: argoToken}

	if o.Redis {
		url := o.RedisURL
		if url == "" {
			url = os.Getenv("REDIS_URL")
		}
		if url == "" {
			url = "redis://127.0.0.1:6379/0"
		}
		st, err := redisstore.OpenURL(url, fmt.Sprintf("e2e-%d", time.Now().UnixNano()))
		if err != nil {
			t.Fatalf("redis: %v", err)
		}
		e.Store = st
	} else {
		st, err := boltstore.Open(filepath.Join(t.TempDir(), "nexo.db"))
		if err != nil {
			t.Fatal(err)
		}
		e.Store = st
	}
	t.Cleanup(func() { e.Store.Close() })
	e.StartBot()
	t.Cleanup(e.StopBot)
	return e
}

// startArgoFake starts argocdfake with the playbook's applications.
func (e *Env) startArgoFake(valuesPath func(app string) string) {
	t := e.T
	now := e.Clock.Now
	if e.opts.WallClock {
		now = time.Now
	}
	e.Argo = argocdfake.New(argocdfake.Options{
		Now:             now,
		ResolveRevision: argocdfake.GitResolver(e.Remote.Path, valuesPath),
	})
	t.Cleanup(e.Argo.Close)
	head := e.Remote.Head(t, "main")
	for _, svc := range gitopstest.PlaybookServices {
		for _, env := range gitopstest.PlaybookEnvs {
			e.Argo.AddApp(svc+"-"+env, argocdfake.AppSpec{
				Namespace: "nexo-" + env, RepoURL: e.Remote.URL, Path: "helm/" + svc,
				AutoSync: env == "develop" || env == "qa", Revision: head,
				Images: []string{"ghcr.io/nexo-org/" + svc + ":" + gitopstest.PlaybookTag(svc, env)},
			})
		}
	}
}

// StartBot builds and runs nexo (again, after StopBot: a restart).
func (e *Env) StartBot() {
	e.T.Helper()
	before := e.Slack.TotalConnections()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewJSONHandler(io.MultiWriter(e.Logs), &slog.HandlerOptions{Level: slog.LevelInfo}))
	rt, err := wire.Build(ctx, e.Config, e.Secrets, wire.Options{Logger: log, Clock: e.Clock, Store: nopClose{e.Store}, Owner: fmt.Sprintf("e2e-%d", time.Now().UnixNano()), PollEvery: 10 * time.Second, Override: e.opts.Override, SlackPace: 20 * time.Millisecond})
	if err != nil {
		cancel()
		e.T.Fatal(err)
	}
	rt.Engine.PollInterval = 5 * time.Millisecond
	rt.Engine.LeaseTTL = 2 * time.Second
	rt.Engine.BeforeStep = e.BeforeStep
	e.Runtime, e.cancel = rt, cancel
	e.done = make(chan error, 1)
	go func() { e.done <- rt.Run(ctx) }()
	// This bot's connection, not the one of the bot before a restart.
	if !e.Slack.WaitFor(func() bool { return e.Slack.TotalConnections() > before }, 5*time.Second) {
		e.T.Fatal("the bot never opened a socket-mode connection")
	}
}

// StopBot stops nexo (cancel and drain) without touching the store.
func (e *Env) StopBot() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	select {
	case <-e.done:
	case <-time.After(30 * time.Second):
		e.T.Error("the bot did not stop within 30s")
	}
	e.cancel = nil
}

// Command sends `/nexo <text>` and waits for its ack.
func (e *Env) Command(user, text string) string {
	e.T.Helper()
	id := e.Slack.SendSlashCommand(user, Channel, text)
	if _, err := e.Slack.WaitAck(id, 3*time.Second); err != nil {
		e.T.Fatal(err)
	}
	return id
}

// Eventually advances the simulated clock by step until cond holds (at most
// max steps), letting the timer loop fire in between.
func (e *Env) Eventually(what string, step time.Duration, max int, cond func() bool) {
	e.T.Helper()
	for i := 0; i < max; i++ {
		if e.settle(cond) {
			return
		}
		e.Clock.Advance(step)
	}
	if !e.settle(cond) {
		e.T.Fatalf("timed out waiting for %s (simulated %s)", what, time.Duration(max)*step)
	}
}

// settle waits a little real time for cond.
func (e *Env) settle(cond func() bool) bool {
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cond()
}

// Words are the fixed pieces of the catalog message id in the bot's
// locale (with the data given): what Find, WaitFind and Ephemeral look
// for, e.g. e.Ephemeral(Carol, e.Words("policy.own_approval")...).
func (e *Env) Words(id string, kv ...any) []string {
	e.T.Helper()
	w := e.Cat.Fixed(id, kv...)
	if len(w) == 0 || strings.HasPrefix(w[0], "⟦") {
		e.T.Fatalf("catalog message %q has no fixed text in %s", id, e.Cat.Locale)
	}
	return w
}

// EachLocale runs a scenario once per locale nexo speaks, as subtests
// named after the locale: the e2e suite passes in every language.
func EachLocale(t *testing.T, run func(t *testing.T, locale string)) {
	for _, loc := range i18n.Locales {
		t.Run(loc, func(t *testing.T) { run(t, loc) })
	}
}

// Find returns the newest message in the channel whose text or blocks
// contain all of the words.
func (e *Env) Find(words ...string) (slackfake.Message, bool) {
	msgs := e.Slack.Messages(Channel)
	for i := len(msgs) - 1; i >= 0; i-- {
		if containsAll(Content(msgs[i]), words) {
			return msgs[i], true
		}
	}
	return slackfake.Message{}, false
}

// WaitFind waits (real time) for a message containing all words.
func (e *Env) WaitFind(words ...string) slackfake.Message {
	e.T.Helper()
	var m slackfake.Message
	ok := e.Slack.WaitFor(func() bool {
		var found bool
		m, found = e.Find(words...)
		return found
	}, 10*time.Second)
	if !ok {
		e.T.Fatalf("no message with %q; messages:\n%s", words, e.Dump())
	}
	return m
}

// Ephemeral waits for an ephemeral to user containing all words.
func (e *Env) Ephemeral(user string, words ...string) slackfake.Ephemeral {
	e.T.Helper()
	var got slackfake.Ephemeral
	ok := e.Slack.WaitFor(func() bool {
		for _, m := range e.Slack.Ephemerals(user) {
			if containsAll(m.Text+unescapeJSON(string(m.Blocks)), words) {
				got = m
				return true
			}
		}
		return false
	}, 10*time.Second)
	if !ok {
		e.T.Fatalf("no ephemeral to %s with %q; got %+v", user, words, e.Slack.Ephemerals(user))
	}
	return got
}

// Click presses a button (by action id) on a message, as user.
func (e *Env) Click(user string, m slackfake.Message, action string) {
	e.T.Helper()
	cur, ok := e.Slack.Message(m.Channel, m.TS)
	if !ok {
		e.T.Fatalf("message %s is gone", m.TS)
	}
	id, err := e.Slack.ClickButton(user, cur.Channel, cur.TS, action, "")
	if err != nil {
		e.T.Fatal(err)
	}
	if _, err := e.Slack.WaitAck(id, 3*time.Second); err != nil {
		e.T.Fatal(err)
	}
}

// PR returns the fake GitHub's pull request by number.
func (e *Env) PR(number int) githubfake.PR {
	e.T.Helper()
	for _, p := range e.GitHub.PullRequests() {
		if p.Number == number {
			return p
		}
	}
	e.T.Fatalf("no PR #%d", number)
	return githubfake.PR{}
}

// Content is a message's text and blocks as one string.
func Content(m slackfake.Message) string {
	return m.Text + "\n" + unescapeJSON(string(m.Blocks))
}

// unescapeJSON undoes encoding/json's HTML escaping so tests can look for
// mentions ("<@U…>") and links in block JSON.
func unescapeJSON(s string) string {
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(s)
}

// Dump lists the channel's messages (for failure output).
func (e *Env) Dump() string {
	var b strings.Builder
	for _, m := range e.Slack.Messages(Channel) {
		fmt.Fprintf(&b, "- ts=%s thread=%s %s\n", m.TS, m.ThreadTS, clip(m.Text, 200))
	}
	return b.String()
}

// Workflow loads the store's record of a workflow by id prefix match on kind.
func (e *Env) Workflows(kind string) []*store.Workflow {
	wfs, err := e.Store.ListWorkflows(context.Background(), store.WorkflowFilter{Kind: kind})
	if err != nil {
		e.T.Fatal(err)
	}
	return wfs
}

// Decode unmarshals a workflow's data.
func Decode(t testing.TB, wf *store.Workflow, out any) {
	t.Helper()
	if err := json.Unmarshal(wf.Data, out); err != nil {
		t.Fatal(err)
	}
}

func containsAll(s string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func repoRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}

// Scrape GETs /metrics from the running bot's HTTP handler and parses the
// text exposition.
func (e *Env) Scrape() map[string]*dto.MetricFamily {
	e.T.Helper()
	srv := httptest.NewServer(e.Runtime.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.T.Fatalf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		e.T.Fatalf("/metrics does not parse: %v", err)
	}
	return fams
}

// Sample is the value of the series of fam with exactly these label
// values (ok false when there is none).
func Sample(fam *dto.MetricFamily, labels map[string]string) (float64, bool) {
	if fam == nil {
		return 0, false
	}
	for _, m := range fam.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if maps.Equal(got, labels) {
			switch {
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			}
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// nopClose keeps the shared store open across bot restarts.
type nopClose struct{ store.Store }

func (nopClose) Close() error { return nil }
