package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/internal/wire"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/store/boltstore"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code = run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

func seedAudit(t *testing.T, dbPath string) {
	t.Helper()
	st, err := boltstore.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	at := time.Date(2026, 2, 17, 9, 0, 0, 0, time.UTC)
	for i, e := range []store.AuditEntry{
		{Actor: "U0CAROL01", Action: "promote.request", Service: "nexo-be", Env: "staging", Target: "change-1", Outcome: "ok", Detail: "2026.02.17"},
		{Actor: "U0BOB0001", Action: "promote.approve", Service: "nexo-be", Env: "staging", Target: "change-1", Outcome: "refused", Detail: "not in platform-team"},
		{Actor: "nexo", Action: "promote.merge", Service: "nexo-be", Env: "staging", Target: "PR #7", Outcome: "ok"},
		{Actor: "U0ALICE01", Action: "rollback.request", Service: "nexo-fe", Env: "production", Outcome: "ok"},
	} {
		e.Time = at.Add(time.Duration(i) * time.Minute)
		if err := st.AppendAudit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
}

// `nexo-bot dora` and `nexo-bot audit` next to a running bot that holds
// the bolt file: they read through the bot's API, with the same output as
// a direct read, and say exactly what to do when they cannot.
func TestReadOnlyCommandsBesideARunningBot(t *testing.T) {
	cfgPath, dbPath := doraConfig(t, true)
	seedAudit(t, dbPath)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, append(raw, fmt.Sprintf("server: {listen: %q}\n", ln.Addr().String())...), 0o600); err != nil {
		t.Fatal(err)
	}
	period := []string{"--since", "2026-01-15", "--until", "2026-02-20", "--config", cfgPath}
	commands := map[string][]string{
		"dora text":  append([]string{"dora", "nexo-be", "prod"}, period...),
		"dora json":  append([]string{"dora", "nexo-be", "--format", "json"}, period...),
		"dora csv":   append([]string{"dora", "all", "--format", "csv"}, period...),
		"audit text": {"audit", "nexo-be", "--config", cfgPath},
		"audit json": {"audit", "nexo-be", "--limit", "2", "--format", "json", "--config", cfgPath},
	}
	direct := map[string]string{}
	for name, args := range commands {
		code, out, errs := runCLI(t, args...)
		if code != 0 || out == "" {
			t.Fatalf("%s without a bot: exit %d\n%s", name, code, errs)
		}
		direct[name] = out
	}
	if !strings.Contains(direct["audit text"], "promote.approve") || strings.Contains(direct["audit text"], "rollback.request") ||
		!strings.Contains(direct["audit json"], `"action": "promote.merge"`) || strings.Contains(direct["audit json"], "promote.request") {
		t.Fatalf("audit output:\n%s\n%s", direct["audit text"], direct["audit json"])
	}

	// The bot starts and holds the file.
	const token = "s3cret-api-token"
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rt, err := wire.Build(ctx, cfg, config.Secrets{SlackBotToken: "xoxb-test", APIToken: token}, wire.Options{NoSlack: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	srv := &http.Server{Handler: rt.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	// Without the token: the error says what to do.
	t.Setenv("NEXO_API_TOKEN", "")
	code, out, errs := runCLI(t, commands["audit text"]...)
	if code != 1 || out != "" || !strings.Contains(errs, "is locked by another process") || !strings.Contains(errs, "export NEXO_API_TOKEN") ||
		!strings.Contains(errs, "http://"+ln.Addr().String()) {
		t.Fatalf("locked, no token: exit %d\nstdout %q\nstderr %s", code, out, errs)
	}
	t.Logf("without NEXO_API_TOKEN: %s", strings.TrimSpace(errs))

	t.Setenv("NEXO_API_TOKEN", "wrong")
	code, _, errs = runCLI(t, commands["dora text"]...)
	if code != 1 || !strings.Contains(errs, "refused NEXO_API_TOKEN: export the same token the bot was started with") {
		t.Fatalf("wrong token: exit %d: %s", code, errs)
	}

	t.Setenv("NEXO_API_TOKEN", token)
	for name, args := range commands {
		code, out, errs := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%s beside the bot: exit %d\n%s", name, code, errs)
		}
		if !strings.Contains(errs, "held by the running bot; reading through its API at http://"+ln.Addr().String()) {
			t.Errorf("%s: no note about the API: %s", name, errs)
		}
		if out != direct[name] {
			t.Errorf("%s through the API differs from the direct read:\n--- direct\n%s\n--- api\n%s", name, direct[name], out)
		}
	}

	// --server naming a port where nothing answers.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String()
	dead.Close()
	code, _, errs = runCLI(t, append(commands["audit json"], "--server", deadURL)...)
	if code != 1 || !strings.Contains(errs, "the bot's API at "+deadURL+" does not answer") || !strings.Contains(errs, "pass --server URL") {
		t.Fatalf("--server to a closed port: exit %d: %s", code, errs)
	}
	// --server to the bot works without touching the file.
	code, out, errs = runCLI(t, append(commands["audit json"], "--server", "http://"+ln.Addr().String())...)
	if code != 0 || out != direct["audit json"] {
		t.Fatalf("--server: exit %d: %s\n%s", code, errs, out)
	}
}
