package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/nexo-org/nexo-bot/sandbox"
)

func init() { subcommands["sandbox"] = runSandbox }

// runSandbox is `nexo-bot sandbox [--addr 127.0.0.1:8080] [--data DIR]`:
// nexo and its simulated platform, with the web console, until ctx ends
// (Ctrl-C).
func runSandbox(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", sandbox.DefaultAddr, "console listen address")
	data := fs.String("data", "", "folder for the git repos, store and log (default: a temporary folder removed on exit)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "nexo-bot sandbox: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	started := time.Now()
	sb, err := sandbox.Start(ctx, sandbox.Options{Addr: *addr, DataDir: *data})
	if err != nil {
		fmt.Fprintln(stderr, "nexo-bot sandbox:", err)
		return 1
	}
	fmt.Fprintf(stdout, `nexo sandbox is running (started in %s)

  Console:   %s
  Data:      %s (log: nexo.log)
  Try:       /nexo promote nexo-be staging   as carol-dev, then Approve as paula-platform

Everything is simulated in this process: Slack, GitHub, Argo CD, Kubernetes,
the registry, Prometheus, Loki, PagerDuty and Secrets Manager. Ctrl-C stops it.
`, time.Since(started).Round(time.Millisecond), sb.URL(), sb.DataDir)
	select {
	case <-ctx.Done():
	case <-sb.Done():
		fmt.Fprintln(stderr, "nexo-bot sandbox: nexo stopped:", sb.Err())
	}
	fmt.Fprintln(stdout, "\nstopping…")
	if err := sb.Close(); err != nil {
		fmt.Fprintln(stderr, "nexo-bot sandbox:", err)
		return 1
	}
	fmt.Fprintln(stdout, "stopped.")
	return 0
}
