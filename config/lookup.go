package config

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// Env returns the environment named name or one of its aliases.
func (c *Config) Env(name string) (*Environment, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	for i := range c.Environments {
		e := &c.Environments[i]
		if e.Name == name {
			return e, true
		}
		for _, a := range e.Aliases {
			if a == name {
				return e, true
			}
		}
	}
	return nil, false
}

// EnvNames lists environment names and aliases (for "did you mean").
func (c *Config) EnvNames() []string {
	var out []string
	for _, e := range c.Environments {
		out = append(out, e.Name)
		out = append(out, e.Aliases...)
	}
	return out
}

// EnvIndex is the position of env in promotion order, or -1.
func (c *Config) EnvIndex(env string) int {
	for i, e := range c.Environments {
		if e.Name == env {
			return i
		}
	}
	return -1
}

// PreviousEnv returns the environment before env in promotion order.
func (c *Config) PreviousEnv(env string) (*Environment, bool) {
	i := c.EnvIndex(env)
	if i <= 0 {
		return nil, false
	}
	return &c.Environments[i-1], true
}

// NextEnv returns the environment after env in promotion order.
func (c *Config) NextEnv(env string) (*Environment, bool) {
	i := c.EnvIndex(env)
	if i < 0 || i+1 >= len(c.Environments) {
		return nil, false
	}
	return &c.Environments[i+1], true
}

// Service returns the configured service.
func (c *Config) Service(name string) (*Service, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	for i := range c.Services {
		if c.Services[i].Name == name {
			return &c.Services[i], true
		}
	}
	return nil, false
}

// ServiceNames lists the configured services.
func (c *Config) ServiceNames() []string {
	out := make([]string, 0, len(c.Services))
	for _, s := range c.Services {
		out = append(out, s.Name)
	}
	return out
}

// GroupNames lists group names, sorted.
func (c *Config) GroupNames() []string {
	out := make([]string, 0, len(c.Groups))
	for k := range c.Groups {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Expand fills {service}, {env} and extra placeholders (pairs of name,
// value) in a template.
func Expand(tmpl, service, env string, extra ...string) string {
	pairs := []string{"{service}", service, "{env}", env}
	for i := 0; i+1 < len(extra); i += 2 {
		pairs = append(pairs, "{"+extra[i]+"}", extra[i+1])
	}
	return strings.NewReplacer(pairs...).Replace(tmpl)
}

// ValuesPath is the values file of service in env, inside the GitOps repo.
func (c *Config) ValuesPath(service, env string) string {
	file := env
	if e, ok := c.Env(env); ok && e.ValuesFile != "" {
		file = e.ValuesFile
	}
	return Expand(c.GitOps.ValuesPath, service, file)
}

// AppName is the Argo CD application of service in env.
func (c *Config) AppName(service, env string) string {
	if e, ok := c.Env(env); ok && e.AppName != "" {
		return Expand(e.AppName, service, env)
	}
	return Expand(c.ArgoCD.AppName, service, env)
}

// Namespace is the Kubernetes namespace of env.
func (c *Config) Namespace(service, env string) string {
	if e, ok := c.Env(env); ok && e.Namespace != "" {
		return Expand(e.Namespace, service, env)
	}
	return Expand(c.Kubernetes.Namespace, service, env)
}

// Namespaces lists every environment's namespace (for RBAC and caches).
func (c *Config) Namespaces() []string {
	var out []string
	for _, e := range c.Environments {
		out = append(out, c.Namespace("", e.Name))
	}
	return out
}

// ImageRepository is the registry repository of a service.
func (c *Config) ImageRepository(service string) string {
	if s, ok := c.Service(service); ok && s.Image != "" {
		return Expand(s.Image, service, "")
	}
	return Expand(c.Registry.Repository, service, "")
}

// ServiceChannel is where a service's threads go.
func (c *Config) ServiceChannel(service string) string {
	if s, ok := c.Service(service); ok && s.Channel != "" {
		return s.Channel
	}
	return c.Slack.Channel
}

// Secrets are the tokens, read only from the environment.
type Secrets struct {
	SlackBotToken       string // SLACK_BOT_TOKEN (xoxb-)
	SlackAppToken       string // SLACK_APP_TOKEN (xapp-), socket mode
	SlackSigningSecret  string // SLACK_SIGNING_SECRET, http mode
	GitHubToken         string // GITHUB_TOKEN
	ArgoCDToken         string // ARGOCD_AUTH_TOKEN
	RegistryToken       string // REGISTRY_TOKEN (falls back to GITHUB_TOKEN for ghcr.io)
	PagerDutyRoutingKey string // PAGERDUTY_ROUTING_KEY
	AlertmanagerToken   string // ALERTMANAGER_WEBHOOK_TOKEN
	LokiToken           string // LOKI_TOKEN (optional bearer)
	PrometheusToken     string // PROMETHEUS_TOKEN (optional bearer)
	APIToken            string // NEXO_API_TOKEN: bearer token of the read-only /api/v1 (off when empty)
}

// SecretsFromEnv reads the tokens from the process environment.
func SecretsFromEnv() Secrets {
	s := Secrets{
		SlackBotToken:       os.Getenv("SLACK_BOT_TOKEN"),
		SlackAppToken:       os.Getenv("SLACK_APP_TOKEN"),
		SlackSigningSecret:  os.Getenv("SLACK_SIGNING_SECRET"),
		GitHubToken:         os.Getenv("GITHUB_TOKEN"),
		ArgoCDToken:         os.Getenv("ARGOCD_AUTH_TOKEN"),
		RegistryToken:       os.Getenv("REGISTRY_TOKEN"),
		PagerDutyRoutingKey: os.Getenv("PAGERDUTY_ROUTING_KEY"),
		AlertmanagerToken:   os.Getenv("ALERTMANAGER_WEBHOOK_TOKEN"),
		LokiToken:           os.Getenv("LOKI_TOKEN"),
		PrometheusToken:     os.Getenv("PROMETHEUS_TOKEN"),
		APIToken:            os.Getenv("NEXO_API_TOKEN"),
	}
	if s.RegistryToken == "" {
		s.RegistryToken = s.GitHubToken
	}
	return s
}

// MissingSecretsError names the environment variables a config needs and the
// environment lacks (or holds in the wrong form), one sentence each.
type MissingSecretsError struct {
	Problems []string
}

func (e *MissingSecretsError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0]
	}
	return strings.Join(e.Problems, "\n  ")
}

// CheckSecrets reports the tokens cfg needs that s lacks, naming each
// variable: SLACK_BOT_TOKEN and SLACK_APP_TOKEN in socket mode (or
// SLACK_SIGNING_SECRET in http mode) when withSlack, ARGOCD_AUTH_TOKEN when
// argocd.server is set. Optional tokens (GITHUB_TOKEN, REGISTRY_TOKEN, …) are
// not checked. Nil when nothing is missing.
func CheckSecrets(cfg *Config, s Secrets, withSlack bool) error {
	var p []string
	if withSlack {
		switch {
		case s.SlackBotToken == "":
			p = append(p, "SLACK_BOT_TOKEN is not set: the bot token (xoxb-…) from the Slack app's OAuth & Permissions page")
		case !strings.HasPrefix(s.SlackBotToken, "xoxb-"):
			p = append(p, "SLACK_BOT_TOKEN must be a bot token (xoxb-…), not a user or app token")
		}
		if cfg.Slack.Mode == "http" {
			if s.SlackSigningSecret == "" {
				p = append(p, "SLACK_SIGNING_SECRET is not set: slack.mode is http, and the signing secret (Basic Information page) verifies Slack's requests")
			}
		} else {
			switch {
			case s.SlackAppToken == "":
				p = append(p, "SLACK_APP_TOKEN is not set: the app-level token (xapp-…, scope connections:write) that opens the Socket Mode connection")
			case !strings.HasPrefix(s.SlackAppToken, "xapp-"):
				p = append(p, "SLACK_APP_TOKEN must be an app-level token (xapp-…, scope connections:write) for Socket Mode")
			}
		}
	}
	if cfg.ArgoCD.Server != "" && s.ArgoCDToken == "" {
		p = append(p, fmt.Sprintf("ARGOCD_AUTH_TOKEN is not set: argocd.server is %s; create a token for nexo's Argo CD account (docs/argocd.md)", cfg.ArgoCD.Server))
	}
	if len(p) == 0 {
		return nil
	}
	return &MissingSecretsError{Problems: p}
}

// Zone is the configured time zone (UTC when it does not load).
func (c *Config) Zone() *time.Location {
	if z, err := time.LoadLocation(c.Timezone); err == nil {
		return z
	}
	return time.UTC
}

// LocaleOf is the locale of a channel: slack.channel_locales by id or
// name (name with or without "#"), else slack.locale.
func (c *Config) LocaleOf(channelID, channelName string) string {
	for _, k := range []string{channelID, channelName, "#" + channelName, strings.TrimPrefix(channelName, "#")} {
		if k == "" || k == "#" {
			continue
		}
		if l, ok := c.Slack.ChannelLocales[k]; ok {
			return l
		}
	}
	return c.Slack.Locale
}
