// Command nexo-bot is the nexo Slack ChatOps bot.
//
//	nexo-bot serve         [--config nexo.yaml]   the bot (socket or http mode)
//	nexo-bot sandbox       [--addr 127.0.0.1:8080] everything simulated, with a web console
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
	"strings"
	"syscall"
	"time"

	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/internal/wire"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// subcommands registered by other files of this package (sandbox, dora).
var subcommands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) int{}

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
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "config":
		if len(args) < 2 || args[1] != "check" {
			fmt.Fprintln(stderr, "usage: nexo-bot config check [--config nexo.yaml]")
			return 2
		}
		return configCheck(args[2:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "nexo-bot", version)
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	}
	if fn, ok := subcommands[args[0]]; ok {
		return fn(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "nexo-bot: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: nexo-bot <command> [flags]

  serve          run the bot (needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN)
  sandbox        run nexo with a simulated platform and a web console
  config check   validate a config file
  dora           DORA metrics report in the terminal
  audit          a service's audit log in the terminal
  version        print the version

Config: --config PATH, else $NEXO_CONFIG, else nexo.yaml. See docs/configuration.md.
`)
}

func configPath(fs *flag.FlagSet, args []string) (string, error) {
	def := os.Getenv("NEXO_CONFIG")
	if def == "" {
		def = "nexo.yaml"
	}
	p := fs.String("config", def, "config file")
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	return *p, nil
}

func configCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path, err := configPath(fs, args)
	if err != nil {
		return 2
	}
	cfg, err := config.Load(path)
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
	fmt.Fprintf(stdout, "ok: %s\n  environments: %s\n  services: %s\n  store: %s\n", path, strings.Join(envs, " → "), strings.Join(cfg.ServiceNames(), ", "), cfg.Store.Backend)
	return 0
}

func newLogger(w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("NEXO_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

func serve(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path, err := configPath(fs, args)
	if err != nil {
		return 2
	}
	log := newLogger(stderr)
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	sec := config.SecretsFromEnv()
	if cfg.Slack.Mode == "http" && (sec.SlackBotToken == "" || sec.SlackSigningSecret == "") {
		fmt.Fprintln(stderr, "nexo-bot: slack.mode is http: set SLACK_BOT_TOKEN (xoxb-…) and SLACK_SIGNING_SECRET; Slack's requests arrive on "+cfg.Server.Listen+" under /slack/events, /slack/interactive and /slack/commands.")
		return 1
	}
	if sec.SlackBotToken == "" || (cfg.Slack.Mode != "http" && sec.SlackAppToken == "") {
		fmt.Fprintln(stderr, "nexo-bot: set SLACK_BOT_TOKEN (xoxb-…) and SLACK_APP_TOKEN (xapp-…, with connections:write) to connect to Slack;\n  or run `nexo-bot sandbox` (what `make run` does without tokens) to try nexo with a simulated platform.")
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
