// Package wire builds nexo from a config and the environment's tokens: the
// store, the real clients of every configured system, the commands and the
// Slack transport. cmd/nexo-bot, the end-to-end tests and the sandbox
// (cmd/nexo-sandbox) all go through it, so what is tested is what runs.
package wire

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nexo-org/nexo-bot/alerts"
	"github.com/nexo-org/nexo-bot/api"
	"github.com/nexo-org/nexo-bot/bot"
	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/dora/gauges"
	"github.com/nexo-org/nexo-bot/commands/scenarios"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/github"
	"github.com/nexo-org/nexo-bot/integrations/gitops"
	"github.com/nexo-org/nexo-bot/integrations/kube"
	"github.com/nexo-org/nexo-bot/integrations/loki"
	"github.com/nexo-org/nexo-bot/integrations/pagerduty"
	"github.com/nexo-org/nexo-bot/integrations/prom"
	"github.com/nexo-org/nexo-bot/integrations/registry"
	"github.com/nexo-org/nexo-bot/integrations/secretstore"
	"github.com/nexo-org/nexo-bot/internal/dorametrics"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/store/storeopen"
	"github.com/nexo-org/nexo-bot/workflow"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options tune the build (tests and the sandbox set them).
type Options struct {
	Logger *slog.Logger
	// Registry receives nexo's metrics (default: a new registry).
	Registry *prometheus.Registry
	// Clock replaces the wall clock (tests).
	Clock workflow.Clock
	// Store replaces the configured store (tests sharing one store).
	Store store.Store
	// Owner names this replica in leases, timer claims and heartbeats
	// (default DefaultOwner()).
	Owner string
	// Chat replaces the Slack Web API chat (the sandbox console).
	Chat chat.Chat
	// Override lets a caller replace integrations after they are built.
	Override func(d *commands.Deps)
	// PollEvery overrides the change workflow's Argo CD / Prometheus poll.
	PollEvery time.Duration
	// NoSlack builds everything but the socket-mode transport.
	NoSlack bool
	// SlackPace overrides the per-channel posting pace (tests against the
	// fake Slack; the default is Slack's one message per second).
	SlackPace time.Duration
	// WrapHandler wraps the router before the Slack transport gets it
	// (tests count what each replica handles).
	WrapHandler func(chat.Handler) chat.Handler
}

// Runtime is a built nexo.
type Runtime struct {
	Config *config.Config
	Deps   *commands.Deps
	// Router is the command layer every transport calls.
	Router  *commands.Router
	Engine  *workflow.Engine
	Bot     *bot.Bot
	Store   store.Store
	Metrics *prometheus.Registry
	Log     *slog.Logger
	// DORA keeps the figures of the /metrics DORA gauges (started by Start).
	DORA *gauges.Tracker

	ready atomic.Bool
	// doraDone is closed when the DORA tracker started by Start stops.
	doraDone chan struct{}
	// alertToken guards POST /hooks/alertmanager (ALERTMANAGER_WEBHOOK_TOKEN).
	alertToken string
	// apiToken guards GET /api/v1/ (NEXO_API_TOKEN; empty: the API is off).
	apiToken string
}

// Build wires everything; nothing is started yet.
func Build(ctx context.Context, cfg *config.Config, sec config.Secrets, o Options) (*Runtime, error) {
	// Missing tokens are named before anything is opened.
	if err := config.CheckSecrets(cfg, sec, !o.NoSlack && o.Chat == nil); err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	reg := o.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	st := o.Store
	if st == nil {
		var err error
		if st, err = storeopen.Open(ctx, cfg.Store); err != nil {
			return nil, err
		}
	}
	owner := o.Owner
	if owner == "" {
		owner = DefaultOwner()
	}
	engine := workflow.New(st, o.Clock, log, owner)
	if ttl := cfg.Workflow.LeaseTTL.D(); ttl > 0 {
		engine.LeaseTTL = ttl
	}
	rt := &Runtime{Config: cfg, Engine: engine, Store: st, Metrics: reg, Log: log, alertToken: sec.AlertmanagerToken, apiToken: sec.APIToken}

	poll := o.PollEvery
	if poll <= 0 {
		poll = cfg.ArgoCD.PollInterval.D() // argocd.poll_interval; 0: each flow's default
	}
	d := &commands.Deps{Config: cfg, Store: st, Engine: engine, Log: log, PollEvery: poll}
	missing, err := buildIntegrations(ctx, d, cfg, sec, log)
	if err != nil {
		return nil, err
	}
	metrics, err := bot.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	if err := registerReplicaGauge(reg, engine); err != nil {
		return nil, err
	}
	var slackChat *bot.SlackChat
	if o.Chat != nil {
		d.Chat = o.Chat
	} else {
		slackChat, err = bot.NewSlackChat(bot.ChatOptions{APIURL: cfg.Slack.APIURL, BotToken: sec.SlackBotToken, Logger: log, Metrics: metrics, PaceInterval: o.SlackPace})
		if err != nil {
			return nil, err
		}
		d.Chat = slackChat
	}
	if o.Override != nil {
		o.Override(d)
	}
	missing.warn(d, log)
	router, err := scenarios.Setup(ctx, d)
	if err != nil {
		return nil, err
	}
	rt.Deps, rt.Router = d, router
	rt.DORA = gauges.NewTracker(d, gauges.Options{Refresh: cfg.DORA.MetricsRefresh.D()})
	d.OnDeployFinished(rt.DORA.OnDeployFinished)
	if err := dorametrics.Register(reg, rt.DORA); err != nil {
		return nil, fmt.Errorf("registering the DORA gauges: %w", err)
	}
	if !o.NoSlack && o.Chat == nil {
		var handler chat.Handler = router
		if o.WrapHandler != nil {
			handler = o.WrapHandler(handler)
		}
		if rt.Bot, err = buildBot(cfg, sec, st, handler, slackChat, log, metrics); err != nil {
			return nil, err
		}
	}
	return rt, nil
}

// unavailable says why optional integrations could not be built; it is
// logged only for those still missing once Options.Override ran (the
// sandbox puts its own Kubernetes and secret store in).
type unavailable struct{ kube, secrets error }

func (u unavailable) warn(d *commands.Deps, log *slog.Logger) {
	if u.kube != nil && d.Kube == nil {
		log.Warn("kubernetes not available; diagnose, blue/green and rotation are off", "err", u.kube)
	}
	if u.secrets != nil && d.Secrets == nil {
		log.Warn("secret store not available; rotate-secret is off", "err", u.secrets)
	}
}

// buildIntegrations builds the client of every configured system. Each
// integration's errors carry its own prefix ("argocd: …"): they are returned
// as they are, never wrapped in the prefix again.
func buildIntegrations(ctx context.Context, d *commands.Deps, cfg *config.Config, sec config.Secrets, log *slog.Logger) (unavailable, error) {
	var missing unavailable
	var err error
	if d.GitOps, err = buildGitOps(cfg, sec); err != nil {
		return missing, err
	}
	if d.GitHub, err = buildGitHub(cfg, sec); err != nil {
		return missing, err
	}
	if cfg.ArgoCD.Server != "" {
		if d.ArgoCD, err = argocd.NewClient(argocd.Options{Server: cfg.ArgoCD.Server, Token: sec.ArgoCDToken, Insecure: cfg.ArgoCD.Insecure, Timeout: 30 * time.Second}); err != nil {
			return missing, err
		}
	}
	if d.Registry, err = registry.NewClient(registry.Options{BaseURL: cfg.Registry.URL, Token: sec.RegistryToken, Timeout: 15 * time.Second}); err != nil {
		return missing, err
	}
	if cfg.Prometheus.URL != "" {
		if d.Prom, err = prom.NewClient(cfg.Prometheus.URL, prom.Options{Timeout: 15 * time.Second, BearerToken: sec.PrometheusToken, Logger: log}); err != nil {
			return missing, err
		}
	}
	if cfg.Loki.URL != "" {
		if d.Loki, err = loki.NewClient(cfg.Loki.URL, loki.Options{Timeout: 15 * time.Second, Tenant: cfg.Loki.Tenant, BearerToken: sec.LokiToken}); err != nil {
			return missing, err
		}
	}
	routingKey := sec.PagerDutyRoutingKey
	if routingKey == "" {
		routingKey = cfg.PagerDuty.RoutingKey
	}
	if routingKey != "" {
		if d.Pager, err = pagerduty.NewClient(cfg.PagerDuty.URL, routingKey, 10*time.Second); err != nil {
			return missing, err
		}
	}
	if k, err := buildKube(cfg); err != nil {
		missing.kube = err
	} else {
		d.Kube = k
	}
	if hasSecrets(cfg) {
		ss, err := secretstore.NewAWS(ctx, secretstore.AWSOptions{Region: cfg.AWS.Region, Endpoint: cfg.AWS.Endpoint, Timeout: 15 * time.Second})
		if err != nil {
			missing.secrets = err
		} else {
			d.Secrets = ss
		}
	}
	return missing, nil
}

// buildBot is the Slack transport of the configured mode.
func buildBot(cfg *config.Config, sec config.Secrets, st store.Store, handler chat.Handler, slackChat *bot.SlackChat, log *slog.Logger, metrics *bot.Metrics) (*bot.Bot, error) {
	httpMode := cfg.Slack.Mode == "http" // the tokens were checked in Build
	return bot.New(bot.Options{
		APIURL: cfg.Slack.APIURL, BotToken: sec.SlackBotToken, AppToken: sec.SlackAppToken,
		Handler: handler, Dedupe: st, Chat: slackChat, Workers: cfg.Slack.Workers,
		Connections: cfg.Slack.Connections, Logger: log, Metrics: metrics,
		HTTP: httpMode, SigningSecret: sec.SlackSigningSecret,
	})
}

// DefaultOwner names this process in leases, timer claims and heartbeats:
// hostname, pid and a random suffix, so a container restarted in the same
// pod (same hostname, often pid 1) never inherits the dead one's claims.
func DefaultOwner() string {
	h, _ := os.Hostname()
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", h, os.Getpid(), hex.EncodeToString(b[:]))
}

// registerReplicaGauge exports nexo_replicas_alive: the replicas whose
// heartbeat this one saw at its last beat (itself included).
func registerReplicaGauge(reg prometheus.Registerer, engine *workflow.Engine) error {
	g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "nexo_replicas_alive",
		Help: "Replicas with a current heartbeat in the state store, as seen by this one at its last heartbeat (itself included).",
	}, func() float64 { return float64(len(engine.Peers())) })
	err := reg.Register(g)
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		return nil // several runtimes on one registry (tests): the first one reports
	}
	return err
}

func hasSecrets(cfg *config.Config) bool {
	for _, s := range cfg.Services {
		if len(s.Secrets) > 0 {
			return true
		}
	}
	return false
}

func buildGitOps(cfg *config.Config, sec config.Secrets) (gitops.Repo, error) {
	if cfg.GitOps.RepoURL == "" {
		return nil, nil
	}
	repo, err := gitops.NewCLI(gitops.CLIOptions{
		RepoURL: cfg.GitOps.RepoURL, Branch: cfg.GitOps.Branch, Workdir: cfg.GitOps.Workdir,
		AuthorName: cfg.GitOps.AuthorName, AuthorEmail: cfg.GitOps.AuthorEmail, Token: sec.GitHubToken, Timeout: cfg.GitOps.Timeout.D(),
	})
	if err != nil {
		return nil, err
	}
	return repo, nil
}

func buildGitHub(cfg *config.Config, sec config.Secrets) (github.Client, error) {
	if cfg.GitHub.Owner == "" {
		return nil, nil
	}
	c, err := github.NewClient(github.Options{BaseURL: cfg.GitHub.BaseURL, Token: sec.GitHubToken, Owner: cfg.GitHub.Owner, Repo: cfg.GitHub.Repo, Timeout: 30 * time.Second})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func buildKube(cfg *config.Config) (kube.Cluster, error) {
	return kube.New(kube.Options{Kubeconfig: cfg.Kubernetes.Kubeconfig, Context: cfg.Kubernetes.Context, Timeout: 15 * time.Second})
}

// Start resumes open workflows and runs the timer loop and the heartbeat
// until ctx ends.
func (rt *Runtime) Start(ctx context.Context) error {
	if err := rt.Engine.Resume(ctx); err != nil {
		return fmt.Errorf("resuming workflows: %w", err)
	}
	rt.Engine.Run(ctx)
	done := make(chan struct{})
	rt.doraDone = done
	go func() {
		defer close(done)
		rt.DORA.Run(ctx)
	}()
	rt.ready.Store(true)
	return nil
}

// Run starts the engine and the Slack transport and blocks until ctx ends,
// then drains.
func (rt *Runtime) Run(ctx context.Context) error {
	if err := rt.Start(ctx); err != nil {
		return err
	}
	var err error
	if rt.Bot != nil {
		err = rt.Bot.Run(ctx)
	} else {
		<-ctx.Done()
	}
	rt.ready.Store(false)
	// Hand the work over: running steps finish, then the heartbeat is
	// retired so the other replicas take the rest at once.
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	if serr := rt.Engine.Shutdown(sctx); serr != nil {
		rt.Log.Warn("shutdown", "err", serr)
	}
	cancel()
	rt.Deps.Cards().Flush()
	rt.waitDORA()
	return err
}

// doraDrain bounds how long Run waits, after the shutdown of the engine,
// for a DORA refresh under way (a GitOps fetch is not cut short by a
// cancelled context); with ShutdownTimeout it stays within Kubernetes'
// default 30 s grace period.
const doraDrain = 5 * time.Second

// waitDORA waits for the DORA tracker started by Start to stop, so
// nothing reads the store or the GitOps clone after Run returns.
func (rt *Runtime) waitDORA() {
	if rt.doraDone == nil {
		return
	}
	select {
	case <-rt.doraDone:
	case <-time.After(doraDrain):
		rt.Log.Warn("the DORA gauges' refresh did not stop in time", "waited", doraDrain)
	}
}

// ShutdownTimeout bounds the wait for running steps at shutdown (under
// Kubernetes' default 30 s grace period).
const ShutdownTimeout = 20 * time.Second

// Close releases the store.
func (rt *Runtime) Close() error { return rt.Store.Close() }

// replicaLine is /readyz's second line: the live replicas this one sees.
func replicaLine(self string, peers []store.Replica) string {
	names := make([]string, 0, len(peers))
	for _, p := range peers {
		n := p.Owner
		if n == self {
			n += " (this replica)"
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		return "replicas alive: none seen yet (this replica: " + self + ")\n"
	}
	return fmt.Sprintf("replicas alive: %d: %s\n", len(names), strings.Join(names, ", "))
}

// Handler serves /healthz, /readyz, /metrics, the Alertmanager webhook and
// the read-only API (/api/v1/dora, /api/v1/audit).
func (rt *Runtime) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if !rt.ready.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		if err := rt.Store.Ping(ctx); err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n"+replicaLine(rt.Engine.Owner(), rt.Engine.Peers()))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(rt.Metrics, promhttp.HandlerOpts{}))
	if rt.Bot != nil && rt.Config.Slack.Mode == "http" {
		mux.Handle("POST /slack/", rt.Bot.HTTPHandler())
	}
	mux.Handle("POST /hooks/alertmanager", alerts.ForDeps(rt.alertToken, rt.Deps))
	mux.Handle("/api/v1/", api.New(rt.apiToken, rt.Deps, rt.Log))
	return mux
}
