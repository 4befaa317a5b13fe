// Command nexo-bot is the nexo Slack ChatOps bot: the serving binary. It
// links no fake; the simulated platform is cmd/nexo-sandbox.
//
//	nexo-bot serve         [--config nexo.yaml]   the bot (socket or http mode)
//	nexo-bot config check  [--config nexo.yaml]   validate a config
//	nexo-bot dora …                               DORA report in the terminal
//	nexo-bot audit <service> …                    a service's audit log in the terminal
//	nexo-bot version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/internal/wire"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// subcommands maps a command name to its implementation; files of this
// package add theirs in init (dora.go). Each prints its usage and returns 0
// on --help, 2 on bad flags or arguments.
var subcommands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) int{
	"serve":   serve,
	"config":  configCommand,
	"version": versionCommand,
}

// summaries are the lines of the top-level usage, in order; a command
// registered without one is still listed, after them.
var summaries = []struct{ name, text string }{
	{"serve", "run the bot (needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN)"},
	{"config check", "validate a config file"},
	{"dora", "DORA metrics report in the terminal"},
	{"audit", "a service's audit log in the terminal"},
	{"version", "print the version"},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	case "--version":
		return versionCommand(ctx, nil, stdout, stderr)
	}
	if fn, ok := subcommands[args[0]]; ok {
		return fn(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "nexo-bot: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, "usage: nexo-bot <command> [flags]\n\n")
	listed := map[string]bool{}
	for _, s := range summaries {
		fmt.Fprintf(w, "  %-14s %s\n", s.name, s.text)
		listed[strings.Fields(s.name)[0]] = true
	}
	var more []string
	for name := range subcommands {
		if !listed[name] {
			more = append(more, name)
		}
	}
	sort.Strings(more)
	for _, name := range more {
		fmt.Fprintf(w, "  %s\n", name)
	}
	fmt.Fprint(w, `
Each command takes --help. Config: --config PATH, else $NEXO_CONFIG, else
nexo.yaml; start from docs/examples/nexo.yaml (docs/configuration.md).
To try nexo without Slack: make run (the sandbox, cmd/nexo-sandbox).
`)
}

// newFlags is a command's flag set printing text as its usage: on stderr
// after a bad flag, on stdout for --help (see parseFlags).
func newFlags(name, text string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), text) }
	return fs
}

// parseFlags runs parse (fs.Parse, or parseInterleaved) with the usage
// printed once: on stdout after --help (code 0), on stderr after the flag
// package's error (code 2). done is true when the command must return code.
func parseFlags(fs *flag.FlagSet, stdout io.Writer, parse func() error) (code int, done bool) {
	usage := fs.Usage
	fs.Usage = func() {}
	err := parse()
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return 0, true
	case err != nil:
		fs.Usage()
		return 2, true
	}
	return 0, false
}

// defaultConfigPath is $NEXO_CONFIG, else nexo.yaml.
func defaultConfigPath() string {
	if p := os.Getenv("NEXO_CONFIG"); p != "" {
		return p
	}
	return "nexo.yaml"
}

// loadConfig is config.Load, with a missing file explained: where to pass
// another, and the example to start from.
func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("config: %s does not exist: pass --config PATH or set NEXO_CONFIG; to start one, copy docs/examples/nexo.yaml (every key: docs/configuration.md)", path)
	}
	return cfg, err
}

const versionUsage = `usage: nexo-bot version

Prints the version of this binary.
`

func versionCommand(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", versionUsage, stderr)
	if code, done := parseFlags(fs, stdout, func() error { return fs.Parse(args) }); done {
		return code
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	fmt.Fprintln(stdout, "nexo-bot", version)
	return 0
}

const configUsage = `usage: nexo-bot config check [--config PATH]

Validates a config file (unknown keys, wrong kinds, bad values) and prints its
environments, services and store. Exit 0 when valid, 1 when not.

  --config PATH   config file (default $NEXO_CONFIG, else nexo.yaml)
`

func configCommand(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprint(stdout, configUsage)
		return 0
	}
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprint(stderr, configUsage)
		return 2
	}
	return configCheck(args[1:], stdout, stderr)
}

func configCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("config check", configUsage, stderr)
	path := fs.String("config", defaultConfigPath(), "config file")
	if code, done := parseFlags(fs, stdout, func() error { return fs.Parse(args) }); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "nexo-bot config check: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	var envs []string
	for _, e := range cfg.Environments {
		s := e.Name
		if e.Policy.Approvals > 0 {
			s += fmt.Sprintf(" (%d× %s", e.Policy.Approvals, e.Policy.ApproverGroup)
			if e.Policy.Soak > 0 {
				s += ", soak " + e.Policy.Soak.String()
			}
			s += ")"
		}
		envs = append(envs, s)
	}
	fmt.Fprintf(stdout, "ok: %s\n  environments: %s\n  services: %s\n  store: %s\n", *path, strings.Join(envs, " → "), strings.Join(cfg.ServiceNames(), ", "), cfg.Store.Backend)
	return 0
}

func newLogger(w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("NEXO_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

const serveUsage = `usage: nexo-bot serve [--config PATH]

Runs the bot: Slack over Socket Mode (slack.mode: socket) or Slack's HTTP
requests on server.listen (slack.mode: http), the workflow engine and timers,
and /healthz, /readyz, /metrics and /hooks/alertmanager on server.listen.
SIGINT or SIGTERM drains the workflows and stops.

  --config PATH   config file (default $NEXO_CONFIG, else nexo.yaml; start
                  from docs/examples/nexo.yaml)

Tokens come from the environment only: SLACK_BOT_TOKEN (xoxb-…) and
SLACK_APP_TOKEN (xapp-…, socket mode) or SLACK_SIGNING_SECRET (http mode);
GITHUB_TOKEN, ARGOCD_AUTH_TOKEN (when argocd.server is set), REGISTRY_TOKEN,
PAGERDUTY_ROUTING_KEY, ALERTMANAGER_WEBHOOK_TOKEN, LOKI_TOKEN and
PROMETHEUS_TOKEN as configured. See docs/install.md.
`

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("serve", serveUsage, stderr)
	path := fs.String("config", defaultConfigPath(), "config file")
	if code, done := parseFlags(fs, stdout, func() error { return fs.Parse(args) }); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "nexo-bot serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	log := newLogger(stderr)
	cfg, err := loadConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	sec := config.SecretsFromEnv()
	if err := config.CheckSecrets(cfg, sec, true); err != nil {
		fmt.Fprintf(stderr, "nexo-bot: %v\n  To try nexo without Slack, run `make run` with no tokens set (the sandbox).\n", err)
		return 1
	}
	ln, err := listenServer(cfg.Server.Listen)
	if err != nil {
		fmt.Fprintln(stderr, "nexo-bot:", err)
		return 1
	}
	buildCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	rt, err := wire.Build(buildCtx, cfg, sec, wire.Options{Logger: log})
	cancel()
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		fmt.Fprintln(stderr, "nexo-bot:", err)
		return 1
	}
	defer rt.Close()
	ctx, stopServing := context.WithCancelCause(ctx)
	defer stopServing(nil)
	srv := serveHTTP(ln, rt.Handler(), log, stopServing)
	log.Info("nexo started", "version", version, "listen", cfg.Server.Listen, "store", cfg.Store.Backend, "mode", cfg.Slack.Mode, "replica", rt.Engine.Owner())
	err = rt.Run(ctx)
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error("stopped", "err", err)
		fmt.Fprintln(stderr, "nexo-bot:", err)
		return 1
	}
	log.Info("nexo stopped")
	return 0
}
