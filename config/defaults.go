package config

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/i18n"
)

// DefaultTagPattern is CalVer YYYY.MM.DD with an optional -suffix.
const DefaultTagPattern = `^[0-9]{4}\.(0[1-9]|1[0-2])\.(0[1-9]|[12][0-9]|3[01])(-[a-z0-9][a-z0-9.-]{0,62})?$`

// Default templates and values, from the playbook.
const (
	DefaultErrorRateQuery = `sum(rate(http_requests_errors_total{namespace="{namespace}",service="{service}"}[5m])) / sum(rate(http_requests_total{namespace="{namespace}",service="{service}"}[5m]))`
	DefaultLatencyQuery   = `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="{namespace}",service="{service}"}[5m])))`
)

// ApplyDefaults fills every unset key with the playbook's default. When no
// environments are configured, the playbook's four are used.
func (c *Config) ApplyDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	defD := func(d *Duration, v time.Duration) {
		if *d == 0 {
			*d = Duration(v)
		}
	}
	def(&c.Slack.APIURL, "https://slack.com/api/")
	if !strings.HasSuffix(c.Slack.APIURL, "/") {
		c.Slack.APIURL += "/"
	}
	// Slack's Web API lives under /api/: a bare host means its /api/.
	if u, err := url.Parse(c.Slack.APIURL); err == nil && u.Host != "" && u.Path == "/" {
		c.Slack.APIURL += "api/"
	}
	def(&c.Slack.Mode, "socket")
	def(&c.Slack.Command, "/nexo")
	if l, ok := i18n.Normalize(c.Slack.Locale); ok {
		c.Slack.Locale = l
	}
	for ch, loc := range c.Slack.ChannelLocales {
		if l, ok := i18n.Normalize(loc); ok {
			c.Slack.ChannelLocales[ch] = l
		}
	}
	def(&c.Timezone, "UTC")
	if c.Slack.Workers == 0 {
		c.Slack.Workers = 16
	}
	if c.Slack.Connections == 0 {
		c.Slack.Connections = 1
	}
	def(&c.Server.Listen, ":8080")
	defD(&c.Workflow.LeaseTTL, 30*time.Second)
	def(&c.Store.Backend, "bolt")
	def(&c.Store.Path, "nexo.db")
	def(&c.Store.RedisPrefix, "nexo")
	def(&c.GitOps.Branch, "main")
	def(&c.GitOps.ValuesPath, "helm/{service}/values-{env}.yaml")
	def(&c.GitOps.TagKey, ".image.tag")
	def(&c.GitOps.AuthorName, "nexo")
	def(&c.GitOps.AuthorEmail, "nexo@users.noreply.github.com")
	defD(&c.GitOps.Timeout, 60*time.Second)
	if c.GitOps.Workdir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		c.GitOps.Workdir = filepath.Join(dir, "nexo", "gitops")
	}
	def(&c.GitHub.BaseURL, "https://api.github.com/")
	if !strings.HasSuffix(c.GitHub.BaseURL, "/") {
		c.GitHub.BaseURL += "/"
	}
	def(&c.GitHub.MergeMethod, "squash")
	def(&c.ArgoCD.AppName, "{service}-{env}")
	defD(&c.ArgoCD.SyncTimeout, 10*time.Minute)
	def(&c.Kubernetes.Namespace, "nexo-{env}")
	def(&c.Kubernetes.LabelSelector, "app={service}")
	def(&c.Kubernetes.Deployment, "{service}")
	def(&c.Kubernetes.ConfigMap, "{service}-config")
	def(&c.Prometheus.ErrorRateQuery, DefaultErrorRateQuery)
	def(&c.Prometheus.LatencyQuery, DefaultLatencyQuery)
	if c.Prometheus.ErrorRateThreshold == 0 {
		c.Prometheus.ErrorRateThreshold = 0.01
	}
	def(&c.Registry.URL, "https://ghcr.io")
	c.Registry.URL = strings.TrimRight(c.Registry.URL, "/")
	def(&c.Registry.Repository, "nexo-org/{service}")
	def(&c.PagerDuty.URL, "https://events.pagerduty.com")
	def(&c.AWS.Region, "us-east-1")
	if c.Hotfix.Approvals == 0 {
		c.Hotfix.Approvals = 2
	}
	def(&c.Hotfix.ApproverGroup, "sre-team")
	defD(&c.Hotfix.SLA, 15*time.Minute)
	if len(c.Hotfix.Reminders) == 0 {
		c.Hotfix.Reminders = []Duration{Duration(5 * time.Minute), Duration(10 * time.Minute)}
	}
	def(&c.Incidents.ChannelTemplate, "inc-{date}-{slug}")
	def(&c.Incidents.OnCallGroup, "sre-team")
	defD(&c.Incidents.UpdateReminder, 30*time.Minute)
	defD(&c.Incidents.RepageAfter, 10*time.Minute)
	def(&c.Incidents.PostmortemPath, "incidents/{date}-{slug}.md")
	def(&c.DORA.Bands, "2023")
	def(&c.DORA.Env, "production")
	defD(&c.DORA.MetricsRefresh, time.Minute)
	def(&c.Tags.Pattern, DefaultTagPattern)

	if len(c.Environments) == 0 {
		c.Environments = PlaybookEnvironments()
	}
	for i := range c.Environments {
		e := &c.Environments[i]
		if e.AutoPromote != nil {
			defD(&e.AutoPromote.After, 5*time.Minute)
		}
		if e.WatchWindow == 0 {
			if e.Name == "production" {
				e.WatchWindow = Duration(30 * time.Minute)
			} else {
				e.WatchWindow = Duration(5 * time.Minute)
			}
		}
		if e.BlueGreen != nil {
			def(&e.BlueGreen.Ingress, "{service}-ingress")
		}
	}
	for i := range c.Services {
		s := &c.Services[i]
		for j := range s.Secrets {
			x := &s.Secrets[j]
			def(&x.SecretID, "nexo/{env}/database")
			def(&x.ExternalSecret, "{service}-"+x.Name)
			def(&x.KubernetesSecret, x.ExternalSecret)
			def(&x.SuccessLog, "Database connected successfully")
			defD(&x.MaxAge, 30*24*time.Hour)
			def(&x.Charset, "base64")
		}
	}
}

// PlaybookEnvironments are the playbook's four environments and policies.
func PlaybookEnvironments() []Environment {
	one := 1
	return []Environment{
		{Name: "develop", Aliases: []string{"dev"}},
		{Name: "qa", AutoPromote: &AutoPromote{After: Duration(5 * time.Minute)}},
		{Name: "staging", Aliases: []string{"stg"}, Policy: Policy{Approvals: 1, ApproverGroup: "platform-team", Soak: Duration(30 * time.Minute)}},
		{Name: "production", Aliases: []string{"prod"}, ValuesFile: "prod", Policy: Policy{Approvals: 2, ApproverGroup: "sre-team", Soak: Duration(24 * time.Hour), RollbackApprovals: &one}},
	}
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Validate reports every bad value with its key path.
func (c *Config) Validate() Problems {
	var p Problems
	c.validateStore(&p)
	c.validateSlack(&p)
	c.validateEndpoints(&p)
	c.validateGitOps(&p)
	c.validatePolicies(&p)
	c.validateEnvironments(&p)
	c.validateServices(&p)
	c.validateGroups(&p)
	c.validateFreezes(&p)
	return p
}

func (c *Config) validateStore(p *Problems) {
	switch c.Store.Backend {
	case "bolt":
	case "redis":
		if c.Store.RedisURL == "" {
			p.add("store.redis_url", "required when store.backend is redis")
		}
	default:
		p.add("store.backend", "must be bolt or redis, got %q", c.Store.Backend)
	}
	if c.Store.RedisURL != "" {
		if u, err := url.Parse(c.Store.RedisURL); err != nil || !map[string]bool{"redis": true, "rediss": true, "redis+sentinel": true, "redis+cluster": true, "unix": true}[u.Scheme] {
			p.add("store.redis_url", "must be a redis://, rediss://, redis+sentinel:// or redis+cluster:// URL")
		}
	}
}

func (c *Config) validateSlack(p *Problems) {
	if _, ok := i18n.Normalize(c.Slack.Locale); !ok {
		p.add("slack.locale", "must be one of %s, got %q", strings.Join(i18n.Locales, ", "), c.Slack.Locale)
	}
	for ch, loc := range c.Slack.ChannelLocales {
		if _, ok := i18n.Normalize(loc); !ok {
			p.add("slack.channel_locales."+ch, "must be one of %s, got %q", strings.Join(i18n.Locales, ", "), loc)
		}
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		p.add("timezone", "not a time zone: %q (use an IANA name such as America/Sao_Paulo or UTC)", c.Timezone)
	}
	switch c.Slack.Mode {
	case "socket", "http":
	default:
		p.add("slack.mode", "must be socket or http, got %q", c.Slack.Mode)
	}
	if c.Slack.Mode == "http" && c.Server.Listen == "" {
		p.add("server.listen", "required when slack.mode is http (Slack's requests arrive there)")
	}
	if d := c.ArgoCD.PollInterval.D(); d != 0 && (d < 100*time.Millisecond || d > 10*time.Minute) {
		p.add("argocd.poll_interval", "must be between 100ms and 10m, got %s", d)
	}
	if d := c.Workflow.LeaseTTL.D(); d < time.Second || d > 10*time.Minute {
		p.add("workflow.lease_ttl", "must be between 1s and 10m, got %s", d)
	}
	if c.Slack.Connections < 1 || c.Slack.Connections > 10 {
		p.add("slack.connections", "must be 1 to 10 (Slack allows 10 socket-mode connections per app)")
	}
	if c.Slack.Workers < 1 || c.Slack.Workers > 1024 {
		p.add("slack.workers", "must be 1 to 1024")
	}
}

// validateEndpoints checks every outside system's URL.
func (c *Config) validateEndpoints(p *Problems) {
	checkURL := func(path, v string, required bool) {
		if v == "" {
			if required {
				p.add(path, "required")
			}
			return
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add(path, "must be an http(s) URL, got %q", v)
		}
	}
	checkURL("slack.api_url", c.Slack.APIURL, true)
	checkURL("github.base_url", c.GitHub.BaseURL, true)
	checkURL("argocd.server", c.ArgoCD.Server, false)
	checkURL("prometheus.url", c.Prometheus.URL, false)
	checkURL("loki.url", c.Loki.URL, false)
	checkURL("registry.url", c.Registry.URL, true)
	checkURL("pagerduty.url", c.PagerDuty.URL, true)
	checkURL("aws.endpoint", c.AWS.Endpoint, false)
}

func (c *Config) validateGitOps(p *Problems) {
	if c.GitOps.RepoURL != "" {
		if err := checkRepoURL(c.GitOps.RepoURL); err != nil {
			p.add("gitops.repo_url", "%v", err)
		}
	}
	if vp := c.GitOps.ValuesPath; !strings.Contains(vp, "{service}") || !strings.Contains(vp, "{env}") {
		p.add("gitops.values_path", "must contain {service} and {env}")
	}
	if vp := c.GitOps.ValuesPath; filepath.IsAbs(vp) || strings.Contains(vp, "..") {
		p.add("gitops.values_path", "must be a relative path inside the repository")
	}
	if !strings.HasPrefix(c.GitOps.TagKey, ".") || strings.Contains(c.GitOps.TagKey, "..") || len(c.GitOps.TagKey) < 2 {
		p.add("gitops.tag_key", "must be a yq-style path such as .image.tag")
	}
	switch c.GitHub.MergeMethod {
	case "squash", "merge", "rebase":
	default:
		p.add("github.merge_method", "must be squash, merge or rebase")
	}
	if (c.GitHub.Owner == "") != (c.GitHub.Repo == "") {
		p.add("github.repo", "github.owner and github.repo go together")
	}
	if _, err := regexp.Compile(c.Tags.Pattern); err != nil {
		p.add("tags.pattern", "not a regular expression: %v", err)
	}
}

// validatePolicies checks the thresholds and the groups the policies name.
func (c *Config) validatePolicies(p *Problems) {
	if c.Prometheus.ErrorRateThreshold <= 0 || c.Prometheus.ErrorRateThreshold >= 1 {
		p.add("prometheus.error_rate_threshold", "must be a fraction between 0 and 1 (0.01 = 1%%)")
	}
	switch c.DORA.Bands {
	case "2021", "2023", "2024":
	default:
		p.add("dora.bands", "must be 2021, 2023 or 2024")
	}
	if c.DORA.Digest != "" {
		if _, err := ParseWeekly(c.DORA.Digest); err != nil {
			p.add("dora.digest", "%v", err)
		}
	}
	if c.DORA.MetricsRefresh.D() < 10*time.Second {
		p.add("dora.metrics_refresh", "must be at least 10s (every refresh reads every record), got %s", c.DORA.MetricsRefresh)
	}
	if c.Hotfix.Approvals < 0 {
		p.add("hotfix.approvals", "must not be negative")
	}
	c.checkGroup(p, "hotfix.approver_group", c.Hotfix.ApproverGroup)
	for j, g := range c.Hotfix.Requesters {
		c.checkGroup(p, fmt.Sprintf("hotfix.requesters[%d]", j), g)
	}
	c.checkGroup(p, "incidents.oncall_group", c.Incidents.OnCallGroup)
}

// checkGroup reports a group name that is not configured (when groups are).
func (c *Config) checkGroup(p *Problems, path, name string) {
	if len(c.Groups) == 0 {
		return
	}
	if _, ok := c.Groups[name]; !ok {
		p.add(path, "unknown group %q%s", name, suggest(name, c.GroupNames()))
	}
}

func (c *Config) validateEnvironments(p *Problems) {
	seen := map[string]string{}
	claim := func(path, name string) {
		if prev, ok := seen[name]; ok {
			p.add(path, "%q is already used by %s", name, prev)
			return
		}
		seen[name] = path
	}
	for i, e := range c.Environments {
		path := fmt.Sprintf("environments[%d]", i)
		if !nameRE.MatchString(e.Name) {
			p.add(path+".name", "must be a lowercase DNS label, got %q", e.Name)
		}
		claim(path+".name", e.Name)
		for j, a := range e.Aliases {
			if !nameRE.MatchString(a) {
				p.add(fmt.Sprintf("%s.aliases[%d]", path, j), "must be a lowercase DNS label, got %q", a)
			}
			claim(fmt.Sprintf("%s.aliases[%d]", path, j), a)
		}
		if e.Policy.Approvals < 0 {
			p.add(path+".policy.approvals", "must not be negative")
		}
		if e.Policy.Approvals > 0 && e.Policy.ApproverGroup == "" {
			p.add(path+".policy.approver_group", "required when approvals > 0")
		}
		if e.Policy.ApproverGroup != "" {
			c.checkGroup(p, path+".policy.approver_group", e.Policy.ApproverGroup)
		}
		for j, g := range e.Policy.Requesters {
			c.checkGroup(p, fmt.Sprintf("%s.policy.requesters[%d]", path, j), g)
		}
		if e.AutoPromote != nil && i == 0 {
			p.add(path+".auto_promote", "the first environment has no previous one to promote from")
		}
		if e.ValuesFile != "" && !nameRE.MatchString(e.ValuesFile) {
			p.add(path+".values_file", "must be a lowercase name, got %q", e.ValuesFile)
		}
	}
	if len(c.Environments) == 0 {
		p.add("environments", "at least one environment is required")
	}
}

func (c *Config) validateServices(p *Problems) {
	svcSeen := map[string]bool{}
	for i, s := range c.Services {
		path := fmt.Sprintf("services[%d]", i)
		if !nameRE.MatchString(s.Name) {
			p.add(path+".name", "must be a lowercase DNS label, got %q", s.Name)
		}
		if svcSeen[s.Name] {
			p.add(path+".name", "duplicate service %q", s.Name)
		}
		svcSeen[s.Name] = true
		if s.Repo != "" && strings.Count(s.Repo, "/") != 1 {
			p.add(path+".repo", "must be owner/name, got %q", s.Repo)
		}
		for j, sec := range s.Secrets {
			sp := fmt.Sprintf("%s.secrets[%d]", path, j)
			if !nameRE.MatchString(sec.Name) {
				p.add(sp+".name", "must be a lowercase DNS label, got %q", sec.Name)
			}
			if sec.Charset != "base64" && sec.Charset != "urlsafe" {
				p.add(sp+".charset", "must be base64 or urlsafe")
			}
		}
	}
}

var slackIDRE = regexp.MustCompile(`^[USW][A-Z0-9]{2,}$`)

func (c *Config) validateGroups(p *Problems) {
	for name, members := range c.Groups {
		if !nameRE.MatchString(name) {
			p.add("groups."+name, "group names must be lowercase DNS labels")
		}
		for j, m := range members {
			if !slackIDRE.MatchString(m) {
				p.add(fmt.Sprintf("groups.%s[%d]", name, j), "must be a Slack user id (U…/W…) or user-group id (S…), got %q", m)
			}
		}
	}
}

func checkRepoURL(v string) error {
	switch {
	case strings.HasPrefix(v, "https://"), strings.HasPrefix(v, "http://"), strings.HasPrefix(v, "ssh://"), strings.HasPrefix(v, "file://"):
		if _, err := url.Parse(v); err != nil {
			return fmt.Errorf("not a URL: %v", err)
		}
		return nil
	case strings.HasPrefix(v, "git@") && strings.Contains(v, ":"):
		return nil
	case filepath.IsAbs(v), strings.HasPrefix(v, "./"), strings.HasPrefix(v, "../"):
		return nil
	}
	return fmt.Errorf("must be https://, ssh://, git@host:path, file:// or a local path, got %q", v)
}
