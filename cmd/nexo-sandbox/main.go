// Command nexo-sandbox runs nexo with its whole platform simulated in one
// process (Slack, GitHub, Argo CD, Kubernetes, the registry, Prometheus,
// Loki, PagerDuty, Secrets Manager) and a web console. It is its own binary
// so that the serving one, cmd/nexo-bot, links none of the fakes.
//
//	nexo-sandbox [--addr 127.0.0.1:8080] [--data DIR]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nexo-org/nexo-bot/sandbox"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// addrEnv overrides the default console address.
const addrEnv = "NEXO_SANDBOX_ADDR"

// viaMakeEnv is set by `make run`, so a hint names the make variable.
const viaMakeEnv = "NEXO_VIA_MAKE"

const usageText = `usage: nexo-sandbox [--addr HOST:PORT] [--data DIR]

Runs nexo with a simulated platform (Slack, GitHub, Argo CD, Kubernetes, the
registry, Prometheus, Loki, PagerDuty, Secrets Manager) and a web console that
behaves like a Slack channel. Ctrl-C stops it. See docs/sandbox.md.

  --addr HOST:PORT  console address (default $NEXO_SANDBOX_ADDR, else 127.0.0.1:8080)
  --data DIR        keep the git repos, store and log in DIR (empty or absent;
                    default: a temporary folder removed on exit)
  --version         print the version
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command: 0 after a clean stop, 1 when the sandbox cannot start
// or stop cleanly, 2 on bad flags or arguments.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("nexo-sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), usageText) }
	def := os.Getenv(addrEnv)
	if def == "" {
		def = sandbox.DefaultAddr
	}
	addr := fs.String("addr", def, "console address")
	data := fs.String("data", "", "folder for the git repos, store and log")
	showVersion := fs.Bool("version", false, "print the version")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return 0
		}
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, "nexo-sandbox", version)
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "nexo-sandbox: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	started := time.Now()
	sb, err := sandbox.Start(ctx, sandbox.Options{Addr: *addr, DataDir: *data})
	if err != nil {
		var inUse *sandbox.AddrInUseError
		if errors.As(err, &inUse) {
			fmt.Fprintln(stderr, "nexo-sandbox:", addrHint(inUse))
			return 1
		}
		fmt.Fprintln(stderr, "nexo-sandbox:", err)
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
		fmt.Fprintln(stderr, "nexo-sandbox: nexo stopped:", sb.Err())
	}
	fmt.Fprintln(stdout, "\nstopping…")
	stopping := time.Now()
	if err := sb.Close(); err != nil {
		fmt.Fprintln(stderr, "nexo-sandbox:", err)
		return 1
	}
	fmt.Fprintf(stdout, "stopped (%s).\n", time.Since(stopping).Round(time.Millisecond))
	return 0
}

// addrHint is the one sentence for a console address already taken: it
// names the address once and how to choose another (a free one, when found).
func addrHint(e *sandbox.AddrInUseError) string {
	next := e.Free
	if next == "" {
		next = "HOST:PORT"
	}
	if os.Getenv(viaMakeEnv) != "" {
		return fmt.Sprintf("console address %s is in use; run `make run ADDR=%s`", e.Addr, next)
	}
	return fmt.Sprintf("console address %s is in use; run `nexo-sandbox --addr %s` (or `make run ADDR=%s`)", e.Addr, next, next)
}
