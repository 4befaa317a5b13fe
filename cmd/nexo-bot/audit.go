package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nexo-org/nexo-bot/api"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/store/storeopen"
)

const auditUsageText = `usage: nexo-bot audit <service> [flags]

  --limit N            newest N entries (default 20, at most 1000)
  --format text|json
  --config PATH        config file (default $NEXO_CONFIG, else nexo.yaml)
  --server URL         read through a running bot's API (default $NEXO_API_URL)

The audit log of a service, newest first, as /nexo audit shows it in Slack:
requests, approvals, rejections, merges, rollbacks and every refusal. When
a running bot holds the bolt file, the log comes from that bot's API on
server.listen (export NEXO_API_TOKEN, the bot's token); the output is the
same.
`

func init() {
	subcommands["audit"] = auditCommand
}

// auditCommand is `nexo-bot audit`: exit 0 on success, 1 when the log
// cannot be read, 2 on bad flags or arguments.
func auditCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("audit", auditUsageText, stderr)
	cfgPath := fs.String("config", defaultConfigPath(), "config file")
	limit := fs.Int("limit", api.AuditDefaultLimit, "newest N entries")
	format := fs.String("format", "text", "text or json")
	server := fs.String("server", "", "a running bot's base URL (its server.listen)")
	var words []string
	if code, done := parseFlags(fs, stdout, func() (err error) { words, err = parseInterleaved(fs, args); return err }); done {
		return code
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "nexo-bot audit: --format must be text or json, got %q\n", *format)
		return 2
	}
	if len(words) != 1 {
		fs.Usage()
		return 2
	}
	if *limit < 1 || *limit > api.AuditMaxLimit {
		fmt.Fprintf(stderr, "nexo-bot audit: --limit takes a number from 1 to %d, got %d\n", api.AuditMaxLimit, *limit)
		return 2
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if _, err := commands.ResolveService(cfg, words[0]); err != nil {
		fmt.Fprintln(stderr, "nexo-bot audit:", plain(err.Error()))
		return 2
	}

	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rp, err := openReadPath(ctx, cfg, *server, stderr, func(ctx context.Context, c config.Store) (store.Store, func(), error) {
		octx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		st, err := storeopen.Open(octx, c)
		if err != nil {
			return nil, nil, err
		}
		return st, func() { _ = st.Close() }, nil
	})
	if err != nil {
		fmt.Fprintln(stderr, "nexo-bot audit:", err)
		return 1
	}
	defer rp.Close()
	var res api.AuditResponse
	if rp.API != nil {
		if res, err = rp.API.Audit(ctx, words[0], *limit); err != nil {
			msg, refusal := rp.explain(err)
			fmt.Fprintln(stderr, "nexo-bot audit:", plain(msg))
			if refusal {
				return 2
			}
			return 1
		}
	} else if res, err = api.Audit(ctx, cfg, rp.Store, words[0], *limit); err != nil {
		fmt.Fprintln(stderr, "nexo-bot audit:", plain(err.Error()))
		var refusal *commands.Refusal
		if errors.As(err, &refusal) {
			return 2
		}
		return 1
	}
	var out []byte
	if *format == "json" {
		out, err = json.MarshalIndent(res, "", "  ")
		out = append(out, '\n')
	} else {
		out, err = auditText(res)
	}
	if err != nil {
		fmt.Fprintln(stderr, "nexo-bot audit:", err)
		return 1
	}
	if _, err := stdout.Write(out); err != nil {
		return 1
	}
	return 0
}

// auditText renders the log as aligned columns: time (UTC), actor,
// action, env, target, outcome, detail.
func auditText(res api.AuditResponse) ([]byte, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "Audit log of %s (newest first, %d entries, limit %d)\n", res.Service, len(res.Entries), res.Limit)
	if len(res.Entries) == 0 {
		b.WriteString("Nothing recorded yet.\n")
		return []byte(b.String()), nil
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME (UTC)\tACTOR\tACTION\tENV\tTARGET\tOUTCOME\tDETAIL")
	for _, e := range res.Entries {
		dash := func(s string) string {
			if s == "" {
				return "-"
			}
			return s
		}
		detail := strings.Join(strings.Fields(e.Detail), " ")
		if len(detail) > 160 {
			detail = detail[:157] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format(time.DateTime), dash(e.Actor), e.Action, dash(e.Env), dash(e.Target), dash(e.Outcome), dash(detail))
	}
	if err := tw.Flush(); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}
