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
	"github.com/nexo-org/nexo-bot/i18n"
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
	RateNote    i18n.Msg
	// Deploys shortly before the onset (or the end), newest first.
	Deploys     []SuspectDeploy
	DeployNotes []i18n.Msg
	// Errors are the top error messages from Loki.
	Errors    []loki.ErrorGroup
	LogQL     string
	ErrorNote i18n.Msg
	// ConfigMissing: the service has no ConfigMap of that name (one quiet line).
	ConfigMissing bool
	// Config is the ConfigMap in force, flattened; Notable keys are pool/limit/timeout ones.
	ConfigName string
	Config     []ConfigLine
	ConfigNote i18n.Msg
	// Stable is the last stable version (Rollback button), "" when unknown.
	Stable     string
	Current    string
	StableNote i18n.Msg
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
		inv.RateNote = i18n.M("incident.inv.no_prom")
	} else {
		pctx, cancel := part()
		q := config.Expand(cfg.Prometheus.ErrorRateQuery, service, env, "namespace", ns)
		pts, err := d.Prom.Range(pctx, q, inv.Start, inv.End, w.Step)
		cancel()
		switch {
		case err != nil:
			ref := commands.NewRef()
			d.Log.Warn("investigation: prometheus", "query", q, "ref", ref, "err", err)
			inv.RateNote = i18n.M("incident.inv.prom_failed", "Ref", ref)
		case len(pts) == 0:
			inv.RateNote = i18n.M("incident.inv.no_rate_data", "Service", service, "Namespace", ns, "Window", i18n.Span(inv.End.Sub(inv.Start)))
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
				inv.RateNote = i18n.M("incident.inv.spike", "At", clockAt(on), "Before", percent(inv.Before), "Now", percent(inv.Now), "Peak", percent(maxOf(pts)))
			} else {
				inv.RateNote = i18n.M("incident.inv.no_spike", "Window", i18n.Span(inv.End.Sub(inv.Start)), "Now", percent(inv.Now), "Threshold", percent(cfg.Prometheus.ErrorRateThreshold))
			}
		}
	}
	ref := inv.End
	if inv.Onset != nil {
		ref = *inv.Onset
	}

	// 2. Deploys shortly before.
	inv.Deploys, inv.DeployNotes = suspectDeploys(ctx, d, service, env, inv.Start, inv.End, ref)

	// 3. Top errors.
	key := "app"
	if k, v, ok := strings.Cut(cfg.Kubernetes.LabelSelector, "="); ok && v == "{service}" && !strings.ContainsAny(k, ",!") {
		key = strings.TrimSpace(k)
	}
	inv.LogQL = fmt.Sprintf(`{namespace=%q, %s=%q, level="error"} | json`, ns, key, service)
	if d.Loki == nil {
		inv.ErrorNote = i18n.M("incident.inv.no_loki")
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
			ref := commands.NewRef()
			d.Log.Warn("investigation: loki", "logql", inv.LogQL, "ref", ref, "err", err)
			inv.ErrorNote = i18n.M("incident.inv.loki_failed", "Ref", ref)
		case len(entries) == 0:
			inv.ErrorNote = i18n.M("incident.inv.no_errors", "LogQL", inv.LogQL, "Since", clockAt(from))
		default:
			inv.Errors = loki.GroupErrors(entries, "")
			if len(inv.Errors) > 5 {
				inv.Errors = inv.Errors[:5]
			}
			inv.ErrorNote = i18n.M("incident.inv.error_lines", "Count", len(entries), "Since", clockAt(from), "Distinct", len(loki.GroupErrors(entries, "")))
		}
	}

	// 4. Config in force.
	inv.ConfigName = config.Expand(cfg.Kubernetes.ConfigMap, service, env, "namespace", ns)
	if d.Kube == nil {
		inv.ConfigNote = i18n.M("incident.inv.no_kube")
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
			inv.ConfigNote = i18n.M("incident.inv.config_failed", "Namespace", ns, "Name", inv.ConfigName, "Ref", ref)
		default:
			inv.Config = FlattenConfigMap(cm.Data)
		}
	}

	// 5. Last stable version.
	if d.GitOps == nil {
		inv.StableNote = i18n.M("incident.inv.no_gitops")
	} else {
		hctx, cancel := part()
		rows, err := history.Of(hctx, d, service, env)
		cancel()
		if err != nil {
			ref := commands.NewRef()
			d.Log.Warn("investigation: history", "service", service, "env", env, "ref", ref, "err", err)
			inv.StableNote = i18n.M("incident.inv.history_failed", "Ref", ref)
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
			inv.StableNote = i18n.M("incident.inv.no_stable")
		}
	}
	return inv
}

// suspectDeploys joins Argo CD's history and nexo's deployment records
// between start and end, newest first; those within SuspectDeployWindow
// before ref are marked.
func suspectDeploys(ctx context.Context, d *commands.Deps, service, env string, start, end, ref time.Time) ([]SuspectDeploy, []i18n.Msg) {
	var out []SuspectDeploy
	var notes []i18n.Msg
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
		notes = append(notes, i18n.M("incident.inv.no_argocd"))
	} else {
		actx, cancel := context.WithTimeout(ctx, partTimeout)
		app, err := d.ArgoCD.GetApp(actx, d.Config.AppName(service, env), "")
		cancel()
		if err != nil {
			ref := commands.NewRef()
			d.Log.Warn("investigation: argocd", "service", service, "env", env, "ref", ref, "err", err)
			notes = append(notes, i18n.M("incident.inv.argocd_failed", "Ref", ref))
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
		notes = append(notes, i18n.M("incident.inv.no_deploys", "Service", service, "Env", env, "Window", i18n.Span(end.Sub(start))))
	}
	return out, notes
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

// Message renders the investigation for a reader of the incident
// channel: moments as Slack date tokens, except in code blocks (which
// Slack shows as typed), where times are in the config's timezone.
func (inv *Investigation) Message(d *commands.Deps, t i18n.T, service, env string) chat.Message {
	var blocks []chat.Block
	blocks = append(blocks, chat.Block{Header: t.S("incident.inv.header")})
	// The sparkline (inline code, which Slack draws in red) only under a
	// spike: "no spike found" stays calm.
	rateNote := say(t, inv.RateNote)
	rate := ":bar_chart: " + rateNote
	if inv.Onset != nil {
		rate = ":chart_with_upwards_trend: " + rateNote
		if sp := sparkline(inv.Points, 60); sp != "" {
			rate += "\n`" + sp + "`"
		}
	}
	blocks = append(blocks, chat.Block{Section: &chat.Section{Text: rate}})

	var dl []string
	for _, x := range inv.Deploys {
		line := fmt.Sprintf("%s  %-18s %s", t.Clock(x.Time), commands.OrDash(x.Tag), commands.ShortSHA(x.Revision))
		if x.Who != "" {
			line += "  " + commands.StripMarks(x.Who)
		}
		if x.Kind != "" {
			line += " (" + kindName(t, x.Kind) + ")"
		}
		if x.Suspect {
			id := "incident.inv.suspect_spike"
			if inv.Onset == nil {
				id = "incident.inv.suspect_declaration"
			}
			line += "  " + t.S(id, "Before", i18n.Span(x.Before.Round(time.Minute)))
		}
		dl = append(dl, line)
	}
	deploys := t.S("incident.inv.deploys", "App", d.Config.AppName(service, env))
	var notes []string
	for _, n := range inv.DeployNotes {
		notes = append(notes, say(t, n))
	}
	if len(notes) > 0 {
		deploys += "\n" + strings.Join(notes, " ")
	}
	blocks = append(blocks, chat.Block{Section: &chat.Section{Text: deploys}})
	if len(dl) > 0 {
		if len(dl) > 8 {
			dl = dl[:8]
		}
		blocks = append(blocks, chat.Block{Code: strings.Join(dl, "\n")})
	}

	logs := t.S("incident.inv.errors", "LogQL", inv.LogQL) + "\n" + say(t, inv.ErrorNote)
	blocks = append(blocks, chat.Block{Section: &chat.Section{Text: logs}})
	if len(inv.Errors) > 0 {
		var lines []string
		for _, g := range inv.Errors {
			line := t.S("incident.inv.error_line", "Times", g.Count, "Message", commands.Clip(g.Message, 150), "At", t.WhenTime(g.First))
			if len(g.TraceIDs) > 0 {
				var ts []string
				for _, id := range g.TraceIDs {
					ts = append(ts, traceLink(d.Config.Incidents.JaegerURL, id))
				}
				line += " — " + t.S("incident.inv.traces", "Links", strings.Join(ts, ", "))
			}
			lines = append(lines, line)
		}
		blocks = append(blocks, chat.Block{Section: &chat.Section{Text: strings.Join(lines, "\n")}})
	}

	if inv.ConfigMissing {
		blocks = append(blocks, chat.Block{Context: []string{t.S("incident.inv.config_missing", "Name", inv.ConfigName, "Service", service, "Env", env)}})
	} else {
		cfgText := t.S("incident.inv.config", "Name", inv.ConfigName)
		if inv.ConfigNote.ID != "" {
			cfgText += "\n" + say(t, inv.ConfigNote)
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
			lines = append(lines[:25], t.N("incident.inv.config_more", len(lines)-25))
		}
		blocks = append(blocks, chat.Block{Code: strings.Join(lines, "\n")})
	}

	if inv.Stable != "" {
		txt := t.S("incident.inv.stable", "Stable", inv.Stable, "Current", commands.OrDash(inv.Current))
		blocks = append(blocks, chat.Block{Section: &chat.Section{Text: txt}},
			chat.Block{Actions: []chat.Button{{Text: t.S("incident.button.rollback", "Tag", inv.Stable), Action: commands.ActionRollbackStart, Value: service + "|" + env + "|" + inv.Stable, Style: chat.StyleDanger}}})
	} else {
		blocks = append(blocks, chat.Block{Context: []string{":rewind: " + say(t, inv.StableNote)}})
	}
	summary := t.S("incident.inv.summary", "Rate", rateNote)
	for _, x := range inv.Deploys {
		if x.Suspect {
			summary += " " + t.S("incident.inv.summary_deploy", "Tag", commands.OrDash(x.Tag), "At", t.WhenTime(x.Time), "Before", i18n.Span(x.Before.Round(time.Minute)))
			break
		}
	}
	if len(inv.Errors) > 0 {
		summary += " " + t.S("incident.inv.summary_error", "Message", inv.Errors[0].Message, "Times", inv.Errors[0].Count)
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
	t := d.T(s.Channel)
	if _, err := d.Chat.Post(ctx, s.Channel, "", inv.Message(d, t, s.Service, s.Env)); err != nil {
		return err
	}
	if inv.Onset != nil {
		timeline(ctx, d, id, store.TimelineEntry{Key: "onset", Time: *inv.Onset, Kind: "onset", Actor: "nexo",
			Text: t.S("incident.timeline.onset", "Rate", pct(t, inv.Now))})
	}
	for _, x := range inv.Deploys {
		if x.Suspect {
			timeline(ctx, d, id, store.TimelineEntry{Key: "suspect:" + x.Time.Format(time.RFC3339) + x.Tag, Time: x.Time, Kind: "deploy", Actor: x.Who,
				Text: t.S("incident.timeline.suspect", "Tag", commands.OrDash(x.Tag))})
		}
	}
	if len(inv.Errors) > 0 {
		g := inv.Errors[0]
		timeline(ctx, d, id, store.TimelineEntry{Key: "top-error", Time: g.First, Kind: "logs", Actor: "nexo", Text: t.S("incident.timeline.top_error", "Message", commands.Clip(g.Message, 120), "Times", g.Count)})
	}
	_, err = mutate(ctx, d, id, func(x *State) error {
		x.Investigated = true
		x.Onset = inv.Onset
		return nil
	})
	return err
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
