package wire

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nexo-org/nexo-bot/config"
)

// repeatsPrefix tells an error that says a prefix twice in a row, e.g.
// "argocd: argocd: a token is required".
func repeatsPrefix(msg string) bool {
	parts := strings.Split(msg, ": ")
	for i := 1; i < len(parts)-1; i++ {
		if parts[i] == parts[i-1] {
			return true
		}
	}
	return false
}

func TestRepeatsPrefix(t *testing.T) {
	for s, want := range map[string]bool{
		"argocd: argocd: a token is required":         true,
		"nexo-bot: registry: registry: base URL":      true,
		"argocd: a token is required":                 false,
		"kube: list pods in nexo-qa (app=x): timeout": false,
	} {
		if got := repeatsPrefix(s); got != want {
			t.Errorf("%q: matched %v, want %v", s, got, want)
		}
	}
}

// Every error Build returns for a bad config or a missing token names what
// to fix once, without repeating its prefix.
func TestBuildErrorsNameTheirCauseOnce(t *testing.T) {
	base := func(t *testing.T, extra string) *config.Config {
		t.Helper()
		yaml := "store: {backend: bolt, path: '" + filepath.Join(t.TempDir(), "nexo.db") + "'}\nservices:\n  - {name: nexo-be}\n" + extra
		cfg, err := config.Parse([]byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	slack := config.Secrets{SlackBotToken: "xoxb-1", SlackAppToken: "xapp-1"}
	for _, tc := range []struct {
		name    string
		extra   string
		sec     config.Secrets
		noSlack bool
		want    []string
	}{
		{"no slack tokens", "", config.Secrets{}, false, []string{"SLACK_BOT_TOKEN is not set", "SLACK_APP_TOKEN is not set"}},
		{"app token in the bot token", "", config.Secrets{SlackBotToken: "xapp-1", SlackAppToken: "xapp-1"}, false, []string{"SLACK_BOT_TOKEN must be a bot token (xoxb-…)"}},
		{"http mode without signing secret", "slack: {mode: http}\n", config.Secrets{SlackBotToken: "xoxb-1"}, false, []string{"SLACK_SIGNING_SECRET is not set"}},
		{"argocd without token", "argocd: {server: https://argocd.example.com}\n", slack, false, []string{"ARGOCD_AUTH_TOKEN is not set", "https://argocd.example.com"}},
		{"argocd without token, no slack", "argocd: {server: https://argocd.example.com}\n", config.Secrets{}, true, []string{"ARGOCD_AUTH_TOKEN is not set"}},
		{"argocd token with whitespace", "argocd: {server: https://argocd.example.com}\n", config.Secrets{ArgoCDToken: "a b"}, true, []string{"argocd: the token contains whitespace"}},
		{"registry token", "", config.Secrets{RegistryToken: "a\nb"}, true, []string{"registry: token or username contains forbidden characters"}},
		{"github owner", "github: {owner: nexo-org/x, repo: nexo-gitops}\n", config.Secrets{}, true, []string{"github: Owner and Repo"}},
		{"gitops remote", "gitops: {repo_url: 'https://tok@github.com/nexo-org/g.git', workdir: /tmp/x}\n", config.Secrets{}, true, []string{"gitops: RepoURL must not carry credentials"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base(t, tc.extra)
			_, err := Build(context.Background(), cfg, tc.sec, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), NoSlack: tc.noSlack})
			if err == nil {
				t.Fatal("Build accepted it")
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			if repeatsPrefix(msg) {
				t.Errorf("error repeats its prefix: %q", msg)
			}
		})
	}
}
