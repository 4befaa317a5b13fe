// Package config loads and validates nexo.yaml. Tokens never live in the
// file: they come from the environment (see Secrets).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is the whole nexo.yaml.
type Config struct {
	Slack        Slack         `yaml:"slack"`
	Server       Server        `yaml:"server"`
	Store        Store         `yaml:"store"`
	Workflow     Workflow      `yaml:"workflow"`
	GitOps       GitOps        `yaml:"gitops"`
	GitHub       GitHub        `yaml:"github"`
	ArgoCD       ArgoCD        `yaml:"argocd"`
	Kubernetes   Kubernetes    `yaml:"kubernetes"`
	Prometheus   Prometheus    `yaml:"prometheus"`
	Loki         Loki          `yaml:"loki"`
	Registry     Registry      `yaml:"registry"`
	PagerDuty    PagerDuty     `yaml:"pagerduty"`
	AWS          AWS           `yaml:"aws"`
	Hotfix       Hotfix        `yaml:"hotfix"`
	Incidents    Incidents     `yaml:"incidents"`
	DORA         DORA          `yaml:"dora"`
	Tags         Tags          `yaml:"tags"`
	Environments []Environment `yaml:"environments"`
	Services     []Service     `yaml:"services"`
	Groups       Groups        `yaml:"groups"`
	// Freezes are the change freezes (see Freeze).
	Freezes []Freeze `yaml:"freezes"`
	// Admins may run every command in every channel (user ids or group names).
	Admins []string `yaml:"admins"`
	// Timezone tells the time in texts outside Slack: post-mortem files,
	// the CLI, PR bodies (an IANA name; default UTC). In Slack each reader
	// sees their own time zone.
	Timezone string `yaml:"timezone"`
}

// Slack is the chat side.
type Slack struct {
	// APIURL is the Web API base, ending in "/api/" (default Slack's).
	APIURL string `yaml:"api_url"`
	// Channel is the default channel for workflow threads (id or #name).
	Channel string `yaml:"channel"`
	// Mode is "socket" (default) or "http" (Events API over HTTP).
	Mode string `yaml:"mode"`
	// Command is the slash command (default "/nexo").
	Command string `yaml:"command"`
	// Workers bounds concurrent envelope handling (default 16).
	Workers int `yaml:"workers"`
	// Connections is how many socket-mode connections to open (default 1, max 10).
	Connections int `yaml:"connections"`
	// Locale is the language nexo speaks: "en" (default) or "pt-BR".
	Locale string `yaml:"locale"`
	// ChannelLocales overrides Locale per channel (channel id, or name
	// with or without "#") .
	ChannelLocales map[string]string `yaml:"channel_locales"`
}

// Server is nexo's own HTTP listener: /healthz, /readyz, /metrics, the
// Alertmanager webhook and, in http mode, Slack's requests.
type Server struct {
	// Listen is the address (default ":8080"); an explicit "" turns the
	// listener off (no health checks, metrics or API then).
	Listen string `yaml:"listen"`
}

// Workflow tunes the workflow engine shared by every replica.
type Workflow struct {
	// LeaseTTL is how long a replica's hold on a workflow lasts without
	// renewal (default 30s). Each replica's heartbeat is renewed every
	// sixth of it and expires after half of it; a dead replica's work moves
	// to a live one within that.
	LeaseTTL Duration `yaml:"lease_ttl"`
}

// Store selects the persistence backend.
type Store struct {
	Backend  string `yaml:"backend"`   // "bolt" (default) or "redis"
	Path     string `yaml:"path"`      // bolt file, default "nexo.db"
	RedisURL string `yaml:"redis_url"` // redis://, rediss://, redis+sentinel://, redis+cluster://
	// RedisPrefix starts every Redis key (and is the cluster hash tag),
	// default "nexo": two installations (staging, production) can share
	// one Redis with different prefixes.
	RedisPrefix string `yaml:"redis_prefix"`
}

// GitOps is the repository of Helm values.
type GitOps struct {
	RepoURL     string `yaml:"repo_url"`
	Branch      string `yaml:"branch"`      // default "main"
	ValuesPath  string `yaml:"values_path"` // default "helm/{service}/values-{env}.yaml"
	TagKey      string `yaml:"tag_key"`     // default ".image.tag"
	Workdir     string `yaml:"workdir"`     // local clone, default a folder under the OS cache dir
	AuthorName  string `yaml:"author_name"`
	AuthorEmail string `yaml:"author_email"`
	// Timeout bounds one git command (default 60s).
	Timeout Duration `yaml:"timeout"`
}

// GitHub hosts the GitOps repo's pull requests and the services' sources.
type GitHub struct {
	BaseURL string `yaml:"base_url"` // default "https://api.github.com/"
	Owner   string `yaml:"owner"`
	Repo    string `yaml:"repo"`
	// MergeMethod is "squash" (default), "merge" or "rebase".
	MergeMethod string `yaml:"merge_method"`
}

// ArgoCD is argocd-server's REST API.
type ArgoCD struct {
	Server   string `yaml:"server"`
	Insecure bool   `yaml:"insecure"`
	AppName  string `yaml:"app_name"` // default "{service}-{env}"
	// SyncTimeout bounds waiting for Synced+Healthy after a sync (default 10m).
	SyncTimeout Duration `yaml:"sync_timeout"`
	// PollInterval is how often a running change, rollback or rotation
	// looks at Argo CD (and Prometheus) while it waits; unset: 10s for
	// changes, 5s for rollbacks and rotations.
	PollInterval Duration `yaml:"poll_interval"`
}

// Kubernetes is the cluster API.
type Kubernetes struct {
	Kubeconfig    string `yaml:"kubeconfig"` // empty: in-cluster, then $KUBECONFIG
	Context       string `yaml:"context"`
	Namespace     string `yaml:"namespace"`      // default "nexo-{env}"
	LabelSelector string `yaml:"label_selector"` // default "app={service}"
	Deployment    string `yaml:"deployment"`     // default "{service}"
	ConfigMap     string `yaml:"configmap"`      // default "{service}-config"
}

// Prometheus is the metrics API.
type Prometheus struct {
	URL string `yaml:"url"`
	// ErrorRateQuery is a PromQL template (placeholders {service},
	// {namespace}, {env}) giving errors ÷ requests.
	ErrorRateQuery string `yaml:"error_rate_query"`
	// LatencyQuery gives p95 latency in seconds.
	LatencyQuery string `yaml:"latency_query"`
	// ErrorRateThreshold is the breach level, a fraction (default 0.01 = 1%).
	ErrorRateThreshold float64 `yaml:"error_rate_threshold"`
}

// Loki is the logs API.
type Loki struct {
	URL    string `yaml:"url"`
	Tenant string `yaml:"tenant"` // X-Scope-OrgID, optional
}

// Registry is the container registry (OCI distribution API).
type Registry struct {
	URL string `yaml:"url"` // default "https://ghcr.io"
	// Repository is the image repository template (default "nexo-org/{service}").
	Repository string `yaml:"repository"`
}

// PagerDuty pages on-call through the Events API v2.
type PagerDuty struct {
	URL string `yaml:"url"` // default "https://events.pagerduty.com"
	// RoutingKey is the Events API v2 integration key; $PAGERDUTY_ROUTING_KEY
	// wins over it (prefer the environment: it keeps the key out of the file).
	RoutingKey string `yaml:"routing_key"`
}

// AWS is the secret store for rotations.
type AWS struct {
	Region   string `yaml:"region"`
	Endpoint string `yaml:"endpoint"` // override, e.g. a VPC endpoint
}

// Hotfix is the fast track's policy.
type Hotfix struct {
	Approvals     int    `yaml:"approvals"`      // default 2
	ApproverGroup string `yaml:"approver_group"` // default "sre-team"
	// Requesters are the groups whose members may ask for a hotfix
	// (default: members of any configured group).
	Requesters []string   `yaml:"requesters"`
	SLA        Duration   `yaml:"sla"`       // default 15m
	Reminders  []Duration `yaml:"reminders"` // default [5m, 10m]
}

// Incidents configures scenario 5.
type Incidents struct {
	Channel         string   `yaml:"channel"`          // central announcement channel
	ChannelTemplate string   `yaml:"channel_template"` // default "inc-{date}-{slug}"
	OnCallGroup     string   `yaml:"oncall_group"`     // default "sre-team"
	JaegerURL       string   `yaml:"jaeger_url"`       // template with {trace_id}
	UpdateReminder  Duration `yaml:"update_reminder"`  // default 30m
	RepageAfter     Duration `yaml:"repage_after"`     // default 10m
	AutoDeclare     []string `yaml:"auto_declare"`     // alert severities declared automatically
	PostmortemPath  string   `yaml:"postmortem_path"`  // default "incidents/{date}-{slug}.md"
}

// DORA configures scenario 7.
type DORA struct {
	Bands string `yaml:"bands"` // "2023" (default), "2021", "2024"
	Env   string `yaml:"env"`   // default "production"
	// Digest is when the weekly digest is posted to each team's channel:
	// a weekday and a time, "Mon 09:00", in the config's timezone. Empty:
	// no digest.
	Digest string `yaml:"digest"`
	// MetricsRefresh is how often the /metrics DORA gauges read their
	// sources again (default 1m, at least 10s).
	MetricsRefresh Duration `yaml:"metrics_refresh"`
}

// Tags is the image tag policy.
type Tags struct {
	// Pattern is a regular expression (default CalVer YYYY.MM.DD[-suffix]).
	Pattern string `yaml:"pattern"`
}

// Environment is one stage of the pipeline, in promotion order.
type Environment struct {
	Name      string   `yaml:"name"`
	Aliases   []string `yaml:"aliases"`
	Namespace string   `yaml:"namespace"` // overrides kubernetes.namespace
	AppName   string   `yaml:"app_name"`  // overrides argocd.app_name
	// ValuesFile overrides the {env} part of gitops.values_path (e.g. "prod").
	ValuesFile string `yaml:"values_file"`
	Policy     Policy `yaml:"policy"`
	// AutoPromote promotes here from the previous environment by itself once
	// the previous one is Healthy on a new tag for After.
	AutoPromote *AutoPromote `yaml:"auto_promote"`
	// WatchWindow is how long the error rate is watched after a deploy.
	WatchWindow Duration   `yaml:"watch_window"`
	BlueGreen   *BlueGreen `yaml:"bluegreen"`
}

// Policy is who may change an environment and when.
type Policy struct {
	Approvals     int    `yaml:"approvals"`
	ApproverGroup string `yaml:"approver_group"`
	// Requesters are the groups whose members may ask for a change here
	// (promotion, fix, backfill, rollback, rotation); default: members of
	// any configured group. Approvers stay ApproverGroup.
	Requesters []string `yaml:"requesters"`
	// Soak is how long the same tag must have been Healthy in the previous
	// environment before it may come here.
	Soak Duration `yaml:"soak"`
	// RollbackApprovals for /nexo rollback (default 1 where Approvals > 0).
	RollbackApprovals *int `yaml:"rollback_approvals"`
	// RotationApprovals for /nexo rotate-secret (default 1).
	RotationApprovals *int `yaml:"rotation_approvals"`
	// Channels, when set, are the only channels mutating commands for this
	// environment are accepted from.
	Channels []string `yaml:"channels"`
}

// AutoPromote configures the timer-driven promotion.
type AutoPromote struct {
	After Duration `yaml:"after"` // default 5m
}

// BlueGreen configures the instant rollback path.
type BlueGreen struct {
	Ingress   string `yaml:"ingress"`    // default "{service}-ingress"
	HealthURL string `yaml:"health_url"` // checked after the switch
}

// Service is one deployable.
type Service struct {
	Name string `yaml:"name"`
	// Repo is the source repository "owner/name" (commits for changelogs and lead time).
	Repo string `yaml:"repo"`
	// Owners are user ids or group names.
	Owners []string `yaml:"owners"`
	// Channel is the service's channel (default slack.channel).
	Channel string `yaml:"channel"`
	// Image overrides registry.repository for this service.
	Image   string   `yaml:"image"`
	Secrets []Secret `yaml:"secrets"`
}

// Secret is a rotatable database credential.
type Secret struct {
	Name string `yaml:"name"`
	// SecretID is the AWS Secrets Manager id template (default "nexo/{env}/database").
	SecretID string `yaml:"secret_id"`
	// ExternalSecret is the ExternalSecret to force-sync (default "{service}-{secret}").
	ExternalSecret string `yaml:"external_secret"`
	// KubernetesSecret is the Secret it produces (default = ExternalSecret).
	KubernetesSecret string `yaml:"kubernetes_secret"`
	// SuccessLog is the line the pods print after reconnecting.
	SuccessLog string `yaml:"success_log"`
	// MaxAge is the rotation policy (default 30d).
	MaxAge Duration `yaml:"max_age"`
	// Charset is "base64" (default) or "urlsafe" (no quoting needed).
	Charset string `yaml:"charset"`
}

// Groups maps a group name to Slack user ids (U…) and user-group ids (S…).
type Groups map[string][]string

// Load reads, decodes, defaults and validates a config file.
func Load(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(raw)
}

// Parse decodes, defaults and validates a config document.
func Parse(raw []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("config: not valid YAML: %w", err)
	}
	var problems Problems
	if len(root.Content) > 0 {
		checkKeys(root.Content[0], reflect.TypeOf(Config{}), "", &problems)
	}
	if len(problems) > 0 {
		return nil, problems
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) { // an empty file is all defaults
		return nil, fmt.Errorf("config: %w", err)
	}
	listenOff := explicitlyEmpty(&root, "server", "listen")
	c.ApplyDefaults()
	if listenOff {
		c.Server.Listen = "" // no HTTP listener at all
	}
	if p := c.Validate(); len(p) > 0 {
		return nil, p
	}
	return &c, nil
}

// explicitlyEmpty reports whether the document sets the key at path to
// an empty string (`listen: ""`), which is not the same as leaving it out.
func explicitlyEmpty(root *yaml.Node, path ...string) bool {
	if len(root.Content) == 0 {
		return false
	}
	n := root.Content[0]
	for i, key := range path {
		if n.Kind != yaml.MappingNode {
			return false
		}
		var next *yaml.Node
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == key {
				next = n.Content[j+1]
			}
		}
		if next == nil {
			return false
		}
		if i == len(path)-1 {
			return next.Kind == yaml.ScalarNode && next.Value == "" && next.Tag == "!!str"
		}
		n = next
	}
	return false
}

// Problem is one rejected key.
type Problem struct {
	Path   string
	Reason string
}

// Problems is every rejected key, reported together.
type Problems []Problem

func (p Problems) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	if len(p) > 1 {
		fmt.Fprintf(&b, "%d problems:", len(p))
	}
	for _, x := range p {
		if len(p) > 1 {
			b.WriteString("\n  ")
		}
		fmt.Fprintf(&b, "%s: %s", x.Path, x.Reason)
	}
	return b.String()
}

func (p *Problems) add(path, format string, args ...any) {
	*p = append(*p, Problem{Path: path, Reason: fmt.Sprintf(format, args...)})
}

// checkKeys walks the YAML tree against the Go type and reports unknown keys
// and wrong kinds with their path (e.g. environments[2].policy.aprovals).
func checkKeys(n *yaml.Node, t reflect.Type, path string, p *Problems) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if t == reflect.TypeOf(Duration(0)) {
		var d Duration
		if err := n.Decode(&d); err != nil {
			p.add(orRoot(path), "%v", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if n.Tag == "!!null" {
				return
			}
			p.add(orRoot(path), "expected a mapping, got %s", kindName(n))
			return
		}
		fields := map[string]reflect.Type{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if name != "" && name != "-" {
				fields[name] = f.Type
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, n.Content[i+1]
			ft, ok := fields[k]
			if !ok {
				p.add(join(path, k), "unknown key%s", suggest(k, keys(fields)))
				continue
			}
			checkKeys(v, ft, join(path, k), p)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			if n.Tag == "!!null" {
				return
			}
			p.add(orRoot(path), "expected a list, got %s", kindName(n))
			return
		}
		for i, c := range n.Content {
			checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), p)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			if n.Tag == "!!null" {
				return
			}
			p.add(orRoot(path), "expected a mapping, got %s", kindName(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkKeys(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), p)
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			p.add(orRoot(path), "expected a string, got %s", kindName(n))
		}
	case reflect.Int, reflect.Int64:
		var v int64
		if n.Kind != yaml.ScalarNode || n.Decode(&v) != nil {
			p.add(orRoot(path), "expected a whole number, got %q", n.Value)
		}
	case reflect.Float64:
		var v float64
		if n.Kind != yaml.ScalarNode || n.Decode(&v) != nil {
			p.add(orRoot(path), "expected a number, got %q", n.Value)
		}
	case reflect.Bool:
		var v bool
		if n.Kind != yaml.ScalarNode || n.Decode(&v) != nil {
			p.add(orRoot(path), "expected true or false, got %q", n.Value)
		}
	}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

func orRoot(p string) string {
	if p == "" {
		return "(top level)"
	}
	return p
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func keys(m map[string]reflect.Type) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func suggest(k string, known []string) string {
	if s := Closest(k, known); s != "" {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// Closest returns the candidate nearest to s by edit distance when it is
// near enough to be a likely typo, else "".
func Closest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := Levenshtein(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	limit := 2
	if len(s) > 8 {
		limit = 3
	}
	if bestD <= limit && bestD < len(s) {
		return best
	}
	return ""
}

// Levenshtein is the edit distance between two strings (by rune).
func Levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
