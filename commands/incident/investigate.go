package incident

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/history"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/integrations/gitops"
	"github.com/nexo-org/nexo-bot/integrations/loki"
	"github.com/nexo-org/nexo-bot/integrations/prom"
	"github.com/nexo-org/nexo-bot/store"
	"gopkg.in/yaml.v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Investigation window and resolution.
const (
	InvestigationWindow   = 2 * time.Hour
	InvestigationStep     = time.Minute
	InvestigationBaseline = 30 // points (minutes) of the window taken as the baseline
	// SuspectDeployWindow is how long before the onset a deploy is a suspect.
	SuspectDeployWindow = 30 * time.Minute
	// partTimeout bounds each system's part of the investigation.
	partTimeout = 20 * time.Second
)

// Investigation is what nexo found by itself after a declaration.
type Investigation struct {
	Start, End time.Time
	// ErrorRate: the series, the onset and a one-line summary.
	Points      []prom.Point
	Onset       *time.Time
	Before, Now float64
	RateNote    string
	// Deploys shortly before the onset (or the end), newest first.
	Deploys    []SuspectDeploy
	DeployNote string
	// Errors are the top error messages from Loki.
	Errors    []loki.ErrorGroup
	LogQL     string
	ErrorNote string
	// ConfigMissing: the service has no ConfigMap of that name (one quiet line).
	ConfigMissing bool
	// Config is the ConfigMap in force, flattened; Notable keys are pool/limit/timeout ones.
	ConfigName string
	Config     []ConfigLine
	ConfigNote string
	// Stable is the last stable version (Rollback button), "" when unknown.
	Stable     string
	Current    string
	StableNote string
}

// SuspectDeploy is a deploy near the onset.
type SuspectDeploy struct {
	Time     time.Time
	Tag      string
	Revision string
	Source   string // "argocd", "nexo", or both
	Who      string
	Kind     string
	// Before is how long before the onset it happened (negative: after).
	Before time.Duration
	// Suspect marks deploys within SuspectDeployWindow before the onset.
	Suspect bool
}

// ConfigLine is one flattened key of the ConfigMap.
type ConfigLine struct {
	Key, Value string
	Notable    bool
}

var notableKey = regexp.MustCompile(`(?i)(pool|limit|timeout|max|min|conn|size|replica|thread|worker)`)

// Investigate gathers the error-rate onset, the deploys before it, the top
// errors, the config in force and the last stable version. Each part
// degrades to a one-line note when its system is not configured or fails.
func Investigate(ctx context.Context, d *commands.Deps, service, env string, end time.Time) *Investigation {
	return InvestigateWindow(ctx, d, service, env, Window{Start: end.Add(-InvestigationWindow), End: end, Step: InvestigationStep, Baseline: InvestigationBaseline})
}

// Window is the time range an investigation looks at.
type Window struct {
	Start, End time.Time
	// Step is the error-rate resolution; Baseline how many first points
	// are the baseline of the onset detection.
	Step     time.Duration
	Baseline int
}

// InvestigateWindow is Investigate over an explicit window (tests on real
// servers use seconds instead of hours).
func InvestigateWindow(ctx context.Context, d *commands.Deps, service, env string, w Window) *Investigation {
	cfg := d.Config
	inv := &Investigation{End: w.End.UTC(), Start: w.Start.UTC()}
	ns := cfg.Namespace(service, env)
	part := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, partTimeout) }

	// 1. When did it start?
	if d.Prom == nil {
		inv.RateNote = "Prometheus is not configured (prometheus.url): no error-rate onset."
	} else {
		pctx, cancel := part()
		q := config.Expand(cfg.Prometheus.ErrorRateQuery, service, env, "namespace", ns)
		pts, err := d.Prom.Range(pctx, q, inv.Start, inv.End, w.Step)
		cancel()
		switch {
		case err != nil:
			inv.RateNote = "Prometheus did not answer: " + commands.Clip(err.Error(), 150)
		case len(pts) == 0:
			inv.RateNote = "Prometheus has no error-rate data for " + service + " in " + ns + " over the last 2h."
		default:
			inv.Points = pts
			base := w.Baseline
			if base > len(pts)/2 {
				base = len(pts) / 2
			}
			inv.Before = prom.Median(pts[:base])
			inv.Now = pts[len(pts)-1].Value
			if on, ok := prom.DetectOnset(pts, cfg.Prometheus.ErrorRateThreshold, base); ok {
				on = on.UTC()
				inv.Onset = &on
				inv.RateNote = fmt.Sprintf("Error rate spike began at *%s UTC*: %s → %s (peak %s).", on.Format("15:04"), pct(inv.Before), pct(inv.Now), pct(maxOf(pts)))
			} else {
				inv.RateNote = fmt.Sprintf("No error-rate spike found in the last 2h (now %s, threshold %s).", pct(inv.Now), pct(cfg.Prometheus.ErrorRateThreshold))
			}
		}
	}
	ref := inv.End
	if inv.Onset != nil {
		ref = *inv.Onset
	}

	// 2. Deploys shortly before.
	inv.Deploys, inv.DeployNote = suspectDeploys(ctx, d, service, env, inv.Start, inv.End, ref)

	// 3. Top errors.
	key := "app"
	if k, v, ok := strings.Cut(cfg.Kubernetes.LabelSelector, "="); ok && v == "{service}" && !strings.ContainsAny(k, ",!") {
		key = strings.TrimSpace(k)
	}
	inv.LogQL = fmt.Sprintf(`{namespace=%q, %s=%q, level="error"} | json`, ns, key, service)
	if d.Loki == nil {
		inv.ErrorNote = "Loki is not configured (loki.url): no error logs."
	} else {
		lctx, cancel := part()
		from := inv.Start
		if lead := 10 * time.Minute; inv.Onset != nil && inv.Onset.Add(-lead).After(from) {
			from = inv.Onset.Add(-lead)
		}
		entries, err := d.Loki.QueryRange(lctx, loki.Query{LogQL: inv.LogQL, Start: from, End: inv.End.Add(time.Minute), Limit: 1000})
		cancel()
		switch {
		case err != nil:
			inv.ErrorNote = "Loki did not answer: " + commands.Clip(err.Error(), 150)
		case len(entries) == 0:
			inv.ErrorNote = "No error logs in Loki for " + inv.LogQL + " since " + from.Format("15:04") + " UTC."
		default:
			inv.Errors = loki.GroupErrors(entries, "")
			if len(inv.Errors) > 5 {
				inv.Errors = inv.Errors[:5]
			}
			inv.ErrorNote = fmt.Sprintf("%d error lines since %s UTC, %d distinct.", len(entries), from.Format("15:04"), len(loki.GroupErrors(entries, "")))
		}
	}

	// 4. Config in force.
	inv.ConfigName = config.Expand(cfg.Kubernetes.ConfigMap, service, env, "namespace", ns)
	if d.Kube == nil {
		inv.ConfigNote = "Kubernetes is not configured: no ConfigMap."
	} else {
		kctx, cancel := part()
		cm, err := d.Kube.ConfigMap(kctx, ns, inv.ConfigName)
		cancel()
		switch {
		case apierrors.IsNotFound(err):
			inv.ConfigMissing = true
		case err != nil:
			ref := commands.NewRef()
			d.Log.Warn("investigation: configmap", "namespace", ns, "name", inv.ConfigName, "ref", ref, "err", err)
			inv.ConfigNote = fmt.Sprintf("ConfigMap %s/%s could not be read (reference `%s`).", ns, inv.ConfigName, ref)
		default:
			inv.Config = FlattenConfigMap(cm.Data)
		}
	}

	// 5. Last stable version.
	if d.GitOps == nil {
		inv.StableNote = "The GitOps repo is not configured: no rollback target."
	} else {
		hctx, cancel := part()
		rows, err := history.Of(hctx, d, service, env)
		cancel()
		if err != nil {
			inv.StableNote = "The history could not be read: " + commands.Clip(err.Error(), 120)
		}
		for _, r := range rows {
			if r.Current && inv.Current == "" {
				inv.Current = r.Tag
			}
			if r.Stable && inv.Stable == "" {
				inv.Stable = r.Tag
			}
		}
		if err == nil && inv.Stable == "" {
			inv.StableNote = "No earlier version was found in the history."
		}
	}
	return inv
}

// suspectDeploys joins Argo CD's history and nexo's deployment records
// between start and end, newest first; those within SuspectDeployWindow
// before ref are marked.
func suspectDeploys(ctx context.Context, d *commands.Deps, service, env string, start, end, ref time.Time) ([]SuspectDeploy, string) {
	var out []SuspectDeploy
	var notes []string
	add := func(sd SuspectDeploy) {
		for i := range out {
			o := &out[i]
			// The same deploy seen by Argo CD and by nexo: one line.
			if o.Source != sd.Source && ((o.Revision != "" && o.Revision == sd.Revision) || (o.Tag != "" && o.Tag == sd.Tag)) && absDur(o.Time.Sub(sd.Time)) < 15*time.Minute {
				o.Source = "argocd+nexo"
				if o.Who == "" {
					o.Who = sd.Who
				}
				if o.Kind == "" {
					o.Kind = sd.Kind
				}
				if o.Tag == "" {
					o.Tag = sd.Tag
				}
				return
			}
		}
		out = append(out, sd)
	}
	if d.ArgoCD == nil {
		notes = append(notes, "Argo CD is not configured: deploys from nexo's records only.")
	} else {
		actx, cancel := context.WithTimeout(ctx, partTimeout)
		app, err := d.ArgoCD.GetApp(actx, d.Config.AppName(service, env), "")
		cancel()
		if err != nil {
			notes = append(notes, "Argo CD did not answer: "+commands.Clip(err.Error(), 120))
		} else {
			path := d.Config.ValuesPath(service, env)
			for _, h := range app.Status.History {
				if h.DeployedAt.Before(start) || h.DeployedAt.After(end) {
					continue
				}
				tag := ""
				if d.GitOps != nil {
					if doc, err := d.GitOps.ShowFile(ctx, h.Revision, path); err == nil {
						tag = tagOf(d, doc)
					}
				}
				who := ""
				if h.InitiatedBy != nil {
					who = h.InitiatedBy.Username
				}
				add(SuspectDeploy{Time: h.DeployedAt.UTC(), Tag: tag, Revision: h.Revision, Source: "argocd", Who: who})
			}
		}
	}
	if d.Store == nil {
		// no records to read
	} else if docs, err := d.Store.ListDocs(ctx, records.DeploymentsCollection); err == nil {
		for _, doc := range docs {
			var dep records.Deployment
			if doc.Decode(&dep) != nil || dep.Service != service || dep.Env != env || dep.Result == records.ResultPending {
				continue
			}
			at := dep.DeployedAt()
			if at.Before(start) || at.After(end) {
				continue
			}
			add(SuspectDeploy{Time: at.UTC(), Tag: dep.Tag, Revision: dep.GitOpsSHA, Source: "nexo", Who: chat.Mention(dep.Requester), Kind: dep.Kind})
		}
	}
	for i := range out {
		out[i].Before = ref.Sub(out[i].Time)
		out[i].Suspect = out[i].Before >= 0 && out[i].Before <= SuspectDeployWindow
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	if len(out) == 0 {
		notes = append(notes, "No deploys of "+service+" in "+env+" in the last 2h.")
	}
	return out, strings.Join(notes, " ")
}

func tagOf(d *commands.Deps, doc []byte) string {
	t, _ := gitops.GetTag(doc, d.Config.GitOps.TagKey)
	return t
}

// FlattenConfigMap lists a ConfigMap's keys; values that are YAML or JSON
// documents are flattened into dotted keys (database.pool.max). Keys about
// pools, limits and timeouts are marked notable.
func FlattenConfigMap(data map[string]string) []ConfigLine {
	var out []ConfigLine
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := data[k]
		var doc any
		if strings.Contains(v, "\n") || strings.HasPrefix(strings.TrimSpace(v), "{") {
			if yaml.Unmarshal([]byte(v), &doc) == nil {
				if m, ok := doc.(map[string]any); ok {
					flatten("", m, &out)
					continue
				}
			}
		}
		out = append(out, ConfigLine{Key: k, Value: commands.Clip(strings.TrimSpace(v), 80), Notable: notableKey.MatchString(k)})
	}
	return out
}

func flatten(prefix string, m map[string]any, out *[]ConfigLine) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		key := prefix + k
		switch x := m[k].(type) {
		case map[string]any:
			flatten(key+".", x, out)
		default:
			*out = append(*out, ConfigLine{Key: key, Value: commands.Clip(fmt.Sprint(x), 80), Notable: notableKey.MatchString(key)})
		}
	}
}

// Message renders the investigation for the incident channel.
func (inv *Investigation) Message(d *commands.Deps, service, env string) chat.Message {
	var blocks []chat.Block
	blocks = append(blocks, chat.Block{Header: ":mag: Investigation"})
	// The sparkline (inline code, which Slack draws in red) only under a
	// spike: "no spike found" stays calm.
	rate := ":bar_chart: " + inv.RateNote
	if inv.Onset != nil {
		rate = ":chart_with_upwards_trend: " + inv.RateNote
		if sp := sparkline(inv.Points, 60); sp != "" {
			rate += "\n`" + sp + "`"
		}
	}
	blocks = append(blocks, chat.Block{Section: &chat.Section{Text: rate}})

	var dl []string
	for _, x := range inv.Deploys {
		line := fmt.Sprintf("%s UTC  %-18s %s", x.Time.Format("15:04"), commands.OrDash(x.Tag), commands.ShortSHA(x.Revision))
		if x.Who != "" {
			line += "  " + commands.StripMarks(x.Who)
		}
		if x.Kind != "" {
			line += " (" + x.Kind + ")"
		}
		if x.Suspect {
			what := "spike"
			if inv.Onset == nil {
				what = "declaration"
			}
			line += fmt.Sprintf("  ← DEPLOY %s before %s!", commands.Minutes(x.Before), what)
		}
		dl = append(dl, line)
	}
	deploys := ":rocket: *Deploys* (Argo CD " + d.Config.AppName(service, env) + " and nexo's records)"
	if inv.DeployNote != "" {
		deploys += "\n" + inv.DeployNote
	}
	blocks = append(blocks, chat.Block{Section: &chat.Section{Text: deploys}})
	if len(dl) > 0 {
		if len(dl) > 8 {
			dl = dl[:8]
		}
		blocks = append(blocks, chat.Block{Code: strings.Join(dl, "\n")})
	}

	logs := ":scroll: *Top errors* `" + inv.LogQL + "`\n" + inv.ErrorNote
	blocks = append(blocks, chat.Block{Section: &chat.Section{Text: logs}})
	if len(inv.Errors) > 0 {
		var lines []string
		for _, g := range inv.Errors {
			line := fmt.Sprintf("• *%d×* %s (first %s UTC)", g.Count, commands.Clip(g.Message, 150), g.First.UTC().Format("15:04:05"))
			if len(g.TraceIDs) > 0 {
				var ts []string
				for _, id := range g.TraceIDs {
					ts = append(ts, traceLink(d.Config.Incidents.JaegerURL, id))
				}
				line += " — traces: " + strings.Join(ts, ", ")
			}
			lines = append(lines, line)
		}
		blocks = append(blocks, chat.Block{Section: &chat.Section{Text: strings.Join(lines, "\n")}})
	}

	if inv.ConfigMissing {
		blocks = append(blocks, chat.Block{Context: []string{":gear: No ConfigMap `" + inv.ConfigName + "` for " + service + " in " + env + "."}})
	} else {
		cfgText := ":gear: *Config in force* `" + inv.ConfigName + "`"
		if inv.ConfigNote != "" {
			cfgText += "\n" + inv.ConfigNote
		}
		blocks = append(blocks, chat.Block{Section: &chat.Section{Text: cfgText}})
	}
	if len(inv.Config) > 0 {
		var lines []string
		for _, c := range inv.Config {
			l := c.Key + ": " + c.Value
			if c.Notable {
				l += "   ← pool/limit/timeout"
			}
			lines = append(lines, l)
		}
		if len(lines) > 25 {
			lines = append(lines[:25], fmt.Sprintf("… %d more keys", len(lines)-25))
		}
		blocks = append(blocks, chat.Block{Code: strings.Join(lines, "\n")})
	}

	if inv.Stable != "" {
		txt := fmt.Sprintf(":rewind: Last stable version: `%s` (running `%s`).", inv.Stable, commands.OrDash(inv.Current))
		blocks = append(blocks, chat.Block{Section: &chat.Section{Text: txt}},
			chat.Block{Actions: []chat.Button{{Text: "Rollback to " + inv.Stable, Action: commands.ActionRollbackStart, Value: service + "|" + env + "|" + inv.Stable, Style: chat.StyleDanger}}})
	} else {
		blocks = append(blocks, chat.Block{Context: []string{":rewind: " + inv.StableNote}})
	}
	summary := "Investigation: " + inv.RateNote
	for _, x := range inv.Deploys {
		if x.Suspect {
			summary += fmt.Sprintf(" DEPLOY %s (%s) %s before the spike!", commands.OrDash(x.Tag), x.Time.Format("15:04"), commands.Minutes(x.Before))
			break
		}
	}
	if len(inv.Errors) > 0 {
		summary += fmt.Sprintf(" Top error: %s (%d×).", inv.Errors[0].Message, inv.Errors[0].Count)
	}
	return chat.Message{Text: commands.StripMarks(summary), Blocks: blocks}
}

func traceLink(tmpl, id string) string {
	if tmpl == "" {
		return "`" + id + "`"
	}
	return "<" + strings.ReplaceAll(tmpl, "{trace_id}", id) + "|" + id + ">"
}

// RunInvestigation investigates an incident once, posts the result in its
// channel and adds the onset and suspect deploys to the timeline.
func RunInvestigation(ctx context.Context, d *commands.Deps, id string) error {
	s, err := Load(ctx, d, id)
	if err != nil {
		return err
	}
	if s.Investigated {
		return nil
	}
	inv := Investigate(ctx, d, s.Service, s.Env, s.DeclaredAt)
	if _, err := d.Chat.Post(ctx, s.Channel, "", inv.Message(d, s.Service, s.Env)); err != nil {
		return err
	}
	if inv.Onset != nil {
		timeline(ctx, d, id, store.TimelineEntry{Key: "onset", Time: *inv.Onset, Kind: "onset", Actor: "nexo",
			Text: fmt.Sprintf("Error rate spike (%s)", pct(inv.Now))})
	}
	for _, x := range inv.Deploys {
		if x.Suspect {
			timeline(ctx, d, id, store.TimelineEntry{Key: "suspect:" + x.Time.Format(time.RFC3339) + x.Tag, Time: x.Time, Kind: "deploy", Actor: x.Who,
				Text: fmt.Sprintf("Deploy %s", commands.OrDash(x.Tag))})
		}
	}
	if len(inv.Errors) > 0 {
		g := inv.Errors[0]
		timeline(ctx, d, id, store.TimelineEntry{Key: "top-error", Time: g.First, Kind: "logs", Actor: "nexo", Text: fmt.Sprintf("First error log: %s (%d× since)", commands.Clip(g.Message, 120), g.Count)})
	}
	_, err = mutate(ctx, d, id, func(x *State) error {
		x.Investigated = true
		x.Onset = inv.Onset
		return nil
	})
	return err
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", v*100)
}

func maxOf(pts []prom.Point) float64 {
	m := 0.0
	for _, p := range pts {
		if p.Value > m {
			m = p.Value
		}
	}
	return m
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// sparkline draws the last n points with block characters.
func sparkline(pts []prom.Point, n int) string {
	if len(pts) < 2 {
		return ""
	}
	if len(pts) > n {
		pts = pts[len(pts)-n:]
	}
	bars := []rune("▁▂▃▄▅▆▇█")
	hi := maxOf(pts)
	var b strings.Builder
	for _, p := range pts {
		i := 0
		if hi > 0 && !math.IsNaN(p.Value) {
			i = int(p.Value / hi * float64(len(bars)-1))
		}
		b.WriteRune(bars[i])
	}
	return b.String()
}
