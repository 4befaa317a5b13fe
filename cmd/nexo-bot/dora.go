package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/api"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/dora"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/integrations/github"
	"github.com/nexo-org/nexo-bot/integrations/gitops"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/store/storeopen"
)

// doraTimeout bounds a terminal report: opening the store, fetching the
// GitOps repository, reading its history and the compare calls.
const doraTimeout = 3 * time.Minute

const doraUsageText = `usage: nexo-bot dora <service|all> [env] [flags]

  --since YYYY-MM-DD   first day (default: 30 days before --until)
  --until YYYY-MM-DD   day after the last (exclusive; default: tomorrow)
  --tz Area/City       time zone of the days and weeks (default: the config's timezone, UTC)
  --format text|json|csv
  --png FILE           also write the chart (weekly deployments, lead time)
  --config PATH        config file (default $NEXO_CONFIG, else nexo.yaml)
  --server URL         read through a running bot's API (default $NEXO_API_URL)

Reads nexo's deployment and incident records from the configured store and
the GitOps repository's history (GITHUB_TOKEN for https remotes and for lead
times from the compare API). Env defaults to dora.env, bands to dora.bands.
When a running bot holds the bolt file, the report comes from that bot's
API on server.listen (export NEXO_API_TOKEN, the bot's token); the output
is the same.
`

func init() {
	subcommands["dora"] = doraCommand
}

// doraCommand is `nexo-bot dora`: exit 0 on success, 1 when the report
// cannot be made, 2 on bad flags or arguments.
func doraCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("dora", doraUsageText, stderr)
	cfgPath := fs.String("config", defaultConfigPath(), "config file")
	since := fs.String("since", "", "first day, YYYY-MM-DD")
	until := fs.String("until", "", "day after the last, YYYY-MM-DD")
	tz := fs.String("tz", "", "IANA time zone")
	format := fs.String("format", "text", "text, json or csv")
	pngPath := fs.String("png", "", "write the chart to this file")
	server := fs.String("server", "", "a running bot's base URL (its server.listen)")

	var words []string
	if code, done := parseFlags(fs, stdout, func() (err error) { words, err = parseInterleaved(fs, args); return err }); done {
		return code
	}
	switch *format {
	case "text", "json", "csv":
	default:
		fmt.Fprintf(stderr, "nexo-bot dora: --format must be text, json or csv, got %q\n", *format)
		return 2
	}
	if len(words) == 0 || len(words) > 2 {
		fs.Usage()
		return 2
	}

	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	q, err := dora.ParseQuery(cfg, words, *since, *until, *tz, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "nexo-bot dora:", plain(err.Error()))
		return 2
	}

	ctx, cancel := context.WithTimeout(ctx, doraTimeout)
	defer cancel()
	rp, err := openReadPath(ctx, cfg, *server, stderr, func(ctx context.Context, c config.Store) (store.Store, func(), error) {
		return openDoraStore(ctx, c, stderr)
	})
	if err != nil {
		fmt.Fprintln(stderr, "nexo-bot dora:", err)
		return 1
	}
	defer rp.Close()
	var res api.DoraResponse
	if rp.API != nil {
		env := ""
		if len(words) == 2 {
			env = words[1]
		}
		res, err = rp.API.Dora(ctx, words[0], env, *since, *until, *tz)
		if err != nil {
			msg, refusal := rp.explain(err)
			fmt.Fprintln(stderr, "nexo-bot dora:", plain(msg))
			if refusal {
				return 2
			}
			return 1
		}
	} else if res, err = doraDirect(ctx, cfg, rp.Store, q, stderr); err != nil {
		fmt.Fprintln(stderr, "nexo-bot dora:", plain(err.Error()))
		var refusal *commands.Refusal
		if errors.As(err, &refusal) {
			return 2
		}
		return 1
	}
	for _, n := range res.Notes {
		fmt.Fprintln(stderr, "note:", n)
	}

	var out []byte
	switch *format {
	case "text":
		out = []byte(dora.RenderText(res.Report))
	case "json":
		out, err = dora.RenderJSON(res.Report)
		out = append(out, '\n')
	case "csv":
		out, err = dora.RenderCSV(res.Report)
	}
	if err != nil {
		fmt.Fprintln(stderr, "nexo-bot dora:", err)
		return 1
	}
	if *pngPath != "" {
		img, err := dora.ChartPNG(res.Report)
		if err == nil {
			err = os.WriteFile(*pngPath, img, 0o644)
		}
		if err != nil {
			fmt.Fprintln(stderr, "nexo-bot dora: chart:", err)
			return 1
		}
	}
	if _, err := stdout.Write(out); err != nil {
		return 1
	}
	return 0
}

// doraDirect computes the report from the store and the GitOps history
// itself (what the bot's API does on its side).
func doraDirect(ctx context.Context, cfg *config.Config, st store.Store, q dora.Query, stderr io.Writer) (api.DoraResponse, error) {
	sec := config.SecretsFromEnv()
	level := slog.LevelError
	if os.Getenv("NEXO_DEBUG") != "" {
		level = slog.LevelDebug
	}
	d := &commands.Deps{Config: cfg, Store: st, Log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))}
	if cfg.GitOps.RepoURL != "" {
		repo, err := gitops.NewCLI(gitops.CLIOptions{
			RepoURL: cfg.GitOps.RepoURL, Branch: cfg.GitOps.Branch, Workdir: cfg.GitOps.Workdir,
			AuthorName: cfg.GitOps.AuthorName, AuthorEmail: cfg.GitOps.AuthorEmail, Token: sec.GitHubToken, Timeout: cfg.GitOps.Timeout.D(),
		})
		if err != nil {
			return api.DoraResponse{}, err
		}
		d.GitOps = repo
	}
	if cfg.GitHub.Owner != "" && sec.GitHubToken != "" {
		gh, err := github.NewClient(github.Options{BaseURL: cfg.GitHub.BaseURL, Token: sec.GitHubToken, Owner: cfg.GitHub.Owner, Repo: cfg.GitHub.Repo, Timeout: 30 * time.Second})
		if err != nil {
			return api.DoraResponse{}, err
		}
		d.GitHub = gh
	}
	res, err := dora.Measure(ctx, d, q)
	if err != nil {
		return api.DoraResponse{}, err
	}
	return api.DoraResponse{Report: res.Report, Notes: res.Notes, Recorded: res.Recorded, Imported: res.Imported}, nil
}

// parseInterleaved parses flags placed before, between or after the
// positional words (`dora nexo-be prod --since …`), which flag.Parse alone
// stops at.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var words []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return words, nil
		}
		// fs.Parse consumed a "--": everything after it is positional.
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(words, rest...), nil
		}
		words = append(words, rest[0])
		args = rest[1:]
	}
}

// openDoraStore opens the configured store. A bolt file that does not
// exist yet is not created: the report then has no records (only the GitOps
// history), through a throwaway store in a temporary directory.
func openDoraStore(ctx context.Context, c config.Store, stderr io.Writer) (store.Store, func(), error) {
	octx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if b := strings.ToLower(strings.TrimSpace(c.Backend)); b == "" || b == "bolt" {
		path := c.Path
		if path == "" {
			path = "nexo.db"
		}
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stderr, "note: no store at %s: no nexo records, GitOps history only\n", path)
			dir, err := os.MkdirTemp("", "nexo-dora-")
			if err != nil {
				return nil, nil, err
			}
			st, err := storeopen.Open(octx, config.Store{Backend: "bolt", Path: filepath.Join(dir, "empty.db")})
			if err != nil {
				_ = os.RemoveAll(dir)
				return nil, nil, err
			}
			return st, func() { _ = st.Close(); _ = os.RemoveAll(dir) }, nil
		}
	}
	st, err := storeopen.Open(octx, c)
	if err != nil {
		return nil, nil, err
	}
	return st, func() { _ = st.Close() }, nil
}

// plain drops the Slack code marks of a refusal for the terminal.
func plain(s string) string { return strings.ReplaceAll(s, "`", "") }
