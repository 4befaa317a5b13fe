package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// Every subcommand, including those other files register, answers --help
// with its usage on stdout and exit 0.
func TestEveryCommandHasHelp(t *testing.T) {
	cases := [][]string{{"--help"}, {"-h"}, {"help"}, {"config", "check", "--help"}, {"config", "--help"}, {"serve", "-h"}}
	for name := range subcommands {
		cases = append(cases, []string{name, "--help"})
	}
	for _, args := range cases {
		code, stdout, stderr := runCmd(t, args...)
		if code != 0 || !strings.HasPrefix(stdout, "usage: nexo-bot") || stderr != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 0 and a usage on stdout only", args, code, stdout, stderr)
		}
		if strings.Count(stdout, "usage:") != 1 {
			t.Errorf("%v: usage printed %d times", args, strings.Count(stdout, "usage:"))
		}
	}
}

func TestTopLevelUsageListsEveryCommand(t *testing.T) {
	_, stdout, _ := runCmd(t, "--help")
	for name := range subcommands {
		if !strings.Contains(stdout, "  "+name) {
			t.Errorf("usage does not list %s:\n%s", name, stdout)
		}
	}
	if strings.Contains(stdout, "sandbox") && !strings.Contains(stdout, "cmd/nexo-sandbox") {
		t.Errorf("usage offers a sandbox subcommand:\n%s", stdout)
	}
}

func TestBadInvocations(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage: nexo-bot"},
		{[]string{"sandbox"}, 2, `unknown command "sandbox"`},
		{[]string{"serve", "--nope"}, 2, "flag provided but not defined: -nope"},
		{[]string{"serve", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"config"}, 2, "usage: nexo-bot config check"},
		{[]string{"version", "x"}, 2, "usage: nexo-bot version"},
	} {
		code, _, stderr := runCmd(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}

// serve and config check without a config file point at the example.
func TestMissingConfigPointsAtTheExample(t *testing.T) {
	t.Setenv("NEXO_CONFIG", "")
	t.Chdir(t.TempDir())
	for _, args := range [][]string{{"serve"}, {"config", "check"}} {
		code, _, stderr := runCmd(t, args...)
		if code != 1 || !strings.HasPrefix(stderr, "config: nexo.yaml does not exist") || !strings.Contains(stderr, "docs/examples/nexo.yaml") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

// serve names each missing token's variable once, before opening anything.
func TestServeNamesMissingTokens(t *testing.T) {
	for _, v := range []string{"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "ARGOCD_AUTH_TOKEN"} {
		t.Setenv(v, "")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "nexo.db")
	cfg := filepath.Join(dir, "nexo.yaml")
	yaml := "store: {backend: bolt, path: '" + db + "'}\nargocd: {server: https://argocd.example.com}\nservices:\n  - {name: nexo-be}\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCmd(t, "serve", "--config", cfg)
	if code != 1 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"SLACK_BOT_TOKEN is not set", "SLACK_APP_TOKEN is not set", "ARGOCD_AUTH_TOKEN is not set", "make run"} {
		if strings.Count(stderr, want) != 1 {
			t.Errorf("stderr says %q %d times, want once:\n%s", want, strings.Count(stderr, want), stderr)
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("the store was opened before the tokens were checked")
	}
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-1")
	t.Setenv("SLACK_APP_TOKEN", "xapp-1")
	_, _, stderr = runCmd(t, "serve", "--config", cfg)
	if !strings.Contains(stderr, "ARGOCD_AUTH_TOKEN is not set") || strings.Contains(stderr, "SLACK_") {
		t.Errorf("with the Slack tokens set: %s", stderr)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, stdout, _ := runCmd(t, args...)
		if code != 0 || stdout != "nexo-bot "+version+"\n" {
			t.Errorf("%v: %d %q", args, code, stdout)
		}
	}
}
