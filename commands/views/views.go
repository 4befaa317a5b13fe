package views

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/history"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/kube"
	"github.com/nexo-org/nexo-bot/internal/text"
	corev1 "k8s.io/api/core/v1"
)

// Limits of the read-only views.
const (
	// MaxInlineLogLines is the most log lines shown in a message; longer
	// output is uploaded as a file.
	MaxInlineLogLines = 100
	// LogPreviewLines is how many last lines accompany an uploaded log.
	LogPreviewLines = 20
	// LogLinesPerPod is how many lines /nexo logs reads from each pod.
	LogLinesPerPod = 500
	// MaxLogPods bounds how many pods /nexo logs reads.
	MaxLogPods = 10
	// MaxLogSince caps --since.
	MaxLogSince = 24 * time.Hour
	// DefaultLogSince is --since when not given.
	DefaultLogSince = 10 * time.Minute
	// MaxGrepLen bounds --grep.
	MaxGrepLen = 200
	// viewTimeout bounds each read of a view.
	viewTimeout = 15 * time.Second
)

// HistorySpec is `/nexo history <service> <env>`.
func HistorySpec(d *commands.Deps) *commands.Spec {
	return &commands.Spec{
		Name:    "history",
		Args:    []string{"service", "env"},
		Summary: "views.history.summary",
		Help:    "views.history.help",
		Run: func(ctx context.Context, r commands.Request) (*chat.Reply, error) {
			svc, env, err := commands.ResolveTarget(d.Config, r.Args.Words[0], r.Args.Words[1])
			if err != nil {
				return nil, err
			}
			if d.GitOps == nil {
				return nil, commands.Refuse("views.no_gitops_refusal")
			}
			ctx, cancel := context.WithTimeout(ctx, viewTimeout)
			defer cancel()
			rows, err := history.Of(ctx, d, svc.Name, env.Name)
			if err != nil {
				return nil, err
			}
			return commands.InChannel(HistoryCard(d.T(r.ChannelID), d.Config, svc.Name, env.Name, rows)), nil
		},
	}
}

// HistoryCard renders history rows as a table, for a reader. The table is
// a code block, where Slack renders no date token: its times are in the
// config's timezone, said below it.
func HistoryCard(t i18n.T, cfg *config.Config, service, env string, rows []history.Row) chat.Message {
	m := chat.Message{
		Text:   t.N("views.history.fallback", len(rows), "Service", service, "Env", env),
		Blocks: []chat.Block{{Section: &chat.Section{Text: t.S("views.history.title", "Service", service, "Env", env)}}},
	}
	if len(rows) == 0 {
		m.Blocks = append(m.Blocks, chat.Block{Context: []string{t.S("views.history.empty")}})
		return m
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, t.S("views.history.columns"))
	for _, r := range rows {
		id := "-"
		if r.ID > 0 || r.Current {
			id = fmt.Sprint(r.ID)
		}
		mark := ""
		switch {
		case r.Current:
			mark = t.S("views.history.current")
		case r.Stable:
			mark = t.S("views.history.stable")
		}
		deployed := t.Date(r.DeployedAt) + " " + r.DeployedAt.In(t.Zone()).Format("15:04")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", id, deployed, commands.ShortSHA(r.Revision), commands.OrDash(r.Tag), commands.Clip(commands.OrDash(r.Subject), 60), mark)
	}
	tw.Flush()
	m.Blocks = append(m.Blocks,
		chat.Block{Code: text.TrimLines(b.String())},
		chat.Block{Context: []string{t.S("views.history.context", "App", cfg.AppName(service, env), "Path", cfg.ValuesPath(service, env),
			"Zone", t.Zone().String(), "Command", cfg.Slack.Command, "Service", service, "Env", env)}})
	return m
}

// DiffReport is what git wants against what runs.
type DiffReport struct {
	Service, Env, AppName, ValuesPath string
	GitTag                            string
	GitHead                           string
	GitErr                            error
	App                               *argocd.Application
	AppErr                            error
	// RunningTag is the tag of the service's image among Argo CD's images.
	RunningTag string
	OutOfSync  []argocd.ResourceStatus
}

// InSync reports whether git's tag runs and nothing is OutOfSync.
func (r *DiffReport) InSync() bool {
	return r.GitErr == nil && r.AppErr == nil && r.GitTag == r.RunningTag && len(r.OutOfSync) == 0 &&
		r.App.Status.Sync.Status == "Synced"
}

// CollectDiff reads the values file and the Argo CD app in parallel.
func CollectDiff(ctx context.Context, d *commands.Deps, service, env string) *DiffReport {
	cfg := d.Config
	r := &DiffReport{Service: service, Env: env, AppName: cfg.AppName(service, env), ValuesPath: cfg.ValuesPath(service, env)}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if d.GitOps == nil {
			r.GitErr = errNoGitOps
			return
		}
		ctx, cancel := context.WithTimeout(ctx, viewTimeout)
		defer cancel()
		if r.GitErr = d.GitOps.Sync(ctx); r.GitErr != nil {
			return
		}
		r.GitHead, _ = d.GitOps.Head(ctx)
		r.GitTag, r.GitErr = commands.ReadTag(ctx, d, service, env)
	}()
	go func() {
		defer wg.Done()
		if d.ArgoCD == nil {
			r.AppErr = errNoArgoCD
			return
		}
		ctx, cancel := context.WithTimeout(ctx, viewTimeout)
		defer cancel()
		r.App, r.AppErr = d.ArgoCD.GetApp(ctx, r.AppName, "")
	}()
	wg.Wait()
	if r.App != nil {
		r.RunningTag = argocd.RunningTag(r.App, cfg.ImageRepository(service))
		for _, res := range r.App.Status.Resources {
			if res.Status == "OutOfSync" {
				r.OutOfSync = append(r.OutOfSync, res)
			}
		}
	}
	return r
}

// DiffSpec is `/nexo diff <service> <env>`.
func DiffSpec(d *commands.Deps) *commands.Spec {
	return &commands.Spec{
		Name:    "diff",
		Args:    []string{"service", "env"},
		Summary: "views.diff.summary",
		Help:    "views.diff.help",
		Run: func(ctx context.Context, r commands.Request) (*chat.Reply, error) {
			svc, env, err := commands.ResolveTarget(d.Config, r.Args.Words[0], r.Args.Words[1])
			if err != nil {
				return nil, err
			}
			return commands.InChannel(DiffCard(d.T(r.ChannelID), CollectDiff(ctx, d, svc.Name, env.Name))), nil
		},
	}
}

// DiffCard renders a DiffReport, for a reader.
func DiffCard(t i18n.T, r *DiffReport) chat.Message {
	var line string
	switch {
	case r.GitErr != nil:
		line = t.S("views.diff.git_unread", "Error", errText(t, r.GitErr))
	case r.AppErr != nil:
		line = t.S("views.diff.argo_unread", "Error", errText(t, r.AppErr))
	case r.InSync():
		line = t.S("views.diff.in_sync", "Git", r.GitTag, "Running", r.RunningTag)
	case r.GitTag != r.RunningTag:
		line = t.S("views.diff.differs", "Git", r.GitTag, "Running", commands.OrDash(r.RunningTag))
	default:
		line = t.N("views.diff.same_tag", len(r.OutOfSync), "Git", r.GitTag, "Sync", commands.OrDash(r.App.Status.Sync.Status))
	}
	m := chat.Message{
		Text:   t.S("views.diff.fallback", "Service", r.Service, "Env", r.Env, "Git", commands.OrDash(r.GitTag), "Running", commands.OrDash(r.RunningTag), "OutOfSync", len(r.OutOfSync)),
		Blocks: []chat.Block{{Section: &chat.Section{Text: t.S("views.diff.title", "Service", r.Service, "Env", r.Env, "Line", line)}}},
	}
	gitField := t.S("views.diff.git_field", "Path", r.ValuesPath) + "\n"
	if r.GitErr != nil {
		gitField += "_" + errText(t, r.GitErr) + "_"
	} else {
		gitField += t.S("views.diff.git_tag", "Tag", r.GitTag, "Head", commands.ShortSHA(r.GitHead))
	}
	argoField := t.S("views.diff.argo_field", "App", r.AppName) + "\n"
	if r.AppErr != nil {
		argoField += "_" + errText(t, r.AppErr) + "_"
	} else {
		st := r.App.Status
		argoField += t.S("views.diff.argo_state", "Sync", commands.OrDash(st.Sync.Status), "Emoji", commands.HealthEmoji(st.Health.Status), "Health", commands.OrDash(st.Health.Status), "Revision", commands.ShortSHA(st.Sync.Revision))
		if len(st.Summary.Images) > 0 {
			argoField += "\n" + t.S("views.diff.images", "List", commands.CodeList(st.Summary.Images))
		}
	}
	m.Blocks = append(m.Blocks, chat.Block{Section: &chat.Section{Fields: []string{gitField, argoField}}})
	if len(r.OutOfSync) > 0 {
		var b strings.Builder
		for _, res := range r.OutOfSync {
			kind := res.Kind
			if res.Group != "" {
				kind = res.Group + "/" + res.Kind
			}
			fmt.Fprintf(&b, "%s  %s/%s", res.Status, kind, res.Name)
			if res.Health != nil && res.Health.Status != "" {
				fmt.Fprintf(&b, "  (%s)", res.Health.Status)
			}
			b.WriteByte('\n')
		}
		m.Blocks = append(m.Blocks, chat.Block{Section: &chat.Section{Text: t.S("views.diff.out_of_sync")}}, chat.Block{Code: strings.TrimRight(b.String(), "\n")})
	}
	return m
}

// PodsSpec is `/nexo pods <service> <env>`.
func PodsSpec(d *commands.Deps) *commands.Spec {
	return &commands.Spec{
		Name:    "pods",
		Args:    []string{"service", "env"},
		Summary: "views.pods.summary",
		Help:    "views.pods.help",
		Run: func(ctx context.Context, r commands.Request) (*chat.Reply, error) {
			svc, env, err := commands.ResolveTarget(d.Config, r.Args.Words[0], r.Args.Words[1])
			if err != nil {
				return nil, err
			}
			if d.Kube == nil {
				return nil, commands.Refuse("views.no_kube_refusal")
			}
			ns := d.Config.Namespace(svc.Name, env.Name)
			sel := config.Expand(d.Config.Kubernetes.LabelSelector, svc.Name, env.Name)
			ctx, cancel := context.WithTimeout(ctx, viewTimeout)
			defer cancel()
			pods, err := d.Kube.Pods(ctx, ns, sel)
			if err != nil {
				return nil, err
			}
			return commands.InChannel(PodsCard(d.T(r.ChannelID), svc.Name, env.Name, ns, sel, pods, d.Clock().Now())), nil
		},
	}
}

// PodsCard renders the pods table, for a reader.
func PodsCard(t i18n.T, service, env, namespace, selector string, pods []corev1.Pod, now time.Time) chat.Message {
	ready := 0
	for _, p := range pods {
		if r, n := kube.PodReady(p); r == n && n > 0 {
			ready++
		}
	}
	m := chat.Message{
		Text:   t.N("views.pods.fallback", len(pods), "Service", service, "Env", env, "Ready", ready),
		Blocks: []chat.Block{{Section: &chat.Section{Text: t.S("views.pods.title", "Service", service, "Env", env, "Ready", ready, "Total", len(pods))}}},
	}
	if len(pods) == 0 {
		m.Blocks = append(m.Blocks, chat.Block{Section: &chat.Section{Text: t.S("views.pods.none", "Selector", selector, "Namespace", namespace)}})
	} else {
		m.Blocks = append(m.Blocks, chat.Block{Code: kube.PodsTable(pods, now)})
	}
	m.Blocks = append(m.Blocks, chat.Block{Context: []string{t.S("views.where", "Namespace", namespace, "Selector", selector)}})
	return m
}

// LogsSpec is `/nexo logs <service> <env> [--since 10m] [--grep text] [--previous]`.
func LogsSpec(d *commands.Deps) *commands.Spec {
	return &commands.Spec{
		Name:     "logs",
		Args:     []string{"service", "env"},
		Summary:  "views.logs.summary",
		Help:     "views.logs.help",
		HelpData: []any{"MaxPods", MaxLogPods, "PerPod", LogLinesPerPod, "MaxSince", i18n.Span(MaxLogSince), "Inline", MaxInlineLogLines},
		Flags:    []commands.Flag{{Name: "since", Value: "10m"}, {Name: "grep", Value: "text"}, {Name: "previous"}},
		Run: func(ctx context.Context, r commands.Request) (*chat.Reply, error) {
			svc, env, err := commands.ResolveTarget(d.Config, r.Args.Words[0], r.Args.Words[1])
			if err != nil {
				return nil, err
			}
			if d.Kube == nil {
				return nil, commands.Refuse("views.no_kube_refusal")
			}
			q, err := ParseLogsQuery(r.Args)
			if err != nil {
				return nil, err
			}
			res, err := TailLogs(ctx, d, svc.Name, env.Name, q)
			if err != nil {
				return nil, err
			}
			m, file := LogsMessage(d.T(r.ChannelID), svc.Name, env.Name, q, res)
			if file != nil {
				if err := d.Chat.Upload(ctx, r.ChannelID, "", file.Name, file.Title, file.Content); err != nil {
					return nil, fmt.Errorf("uploading the log: %w", err)
				}
			}
			return commands.InChannel(m), nil
		},
	}
}

// LogsQuery is a parsed /nexo logs request.
type LogsQuery struct {
	Since    time.Duration
	Capped   bool // --since was above MaxLogSince
	Grep     string
	Previous bool
}

// ParseLogsQuery reads --since (config.ParseDuration, at most 24h), --grep
// (plain text) and --previous. Errors are refusals.
func ParseLogsQuery(a commands.Args) (LogsQuery, error) {
	q := LogsQuery{Since: DefaultLogSince, Previous: a.Has("previous")}
	if a.Has("since") {
		s, err := config.ParseDuration(strings.TrimSpace(a.Flag("since")))
		if err != nil {
			return q, commands.Refuse("views.logs.since_bad", "Value", commands.Clip(a.Flag("since"), 40))
		}
		if s <= 0 {
			return q, commands.Refuse("views.logs.since_positive")
		}
		q.Since = s
	}
	if q.Since > MaxLogSince {
		q.Since, q.Capped = MaxLogSince, true
	}
	if a.Has("grep") {
		q.Grep = a.Flag("grep")
		if strings.TrimSpace(q.Grep) == "" {
			return q, commands.Refuse("views.logs.grep_empty")
		}
		if len(q.Grep) > MaxGrepLen {
			return q, commands.Refuse("views.logs.grep_long", "Max", MaxGrepLen)
		}
	}
	return q, nil
}

// LogsResult is what TailLogs read.
type LogsResult struct {
	Namespace, Selector string
	Pods                []string // pods read
	Skipped             int      // pods beyond MaxLogPods
	Lines               []string // prefixed with the pod when several
	Errors              []string // per-pod failures
}

// TailLogs reads the main container of each pod of service in env (at
// most MaxLogPods, in parallel), keeps the lines matching q.Grep (plain
// case-insensitive substring) and returns them pod by pod.
func TailLogs(ctx context.Context, d *commands.Deps, service, env string, q LogsQuery) (*LogsResult, error) {
	res := &LogsResult{Namespace: d.Config.Namespace(service, env), Selector: config.Expand(d.Config.Kubernetes.LabelSelector, service, env)}
	lctx, cancel := context.WithTimeout(ctx, viewTimeout)
	defer cancel()
	pods, err := d.Kube.Pods(lctx, res.Namespace, res.Selector)
	if err != nil {
		return nil, err
	}
	if len(pods) > MaxLogPods {
		res.Skipped = len(pods) - MaxLogPods
		pods = pods[:MaxLogPods]
	}
	type podLog struct {
		lines []string
		err   error
	}
	out := make([]podLog, len(pods))
	var wg sync.WaitGroup
	needle := strings.ToLower(q.Grep)
	for i, p := range pods {
		res.Pods = append(res.Pods, p.Name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			text, err := d.Kube.Logs(lctx, res.Namespace, p.Name, mainContainer(p, service), q.Previous, LogLinesPerPod, q.Since)
			if err != nil {
				out[i].err = err
				return
			}
			for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
				l = strings.TrimRight(l, "\r")
				if l == "" || (needle != "" && !strings.Contains(strings.ToLower(l), needle)) {
					continue
				}
				out[i].lines = append(out[i].lines, l)
			}
		}()
	}
	wg.Wait()
	for i, p := range pods {
		if out[i].err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("%s: %s", p.Name, commands.Clip(out[i].err.Error(), 160)))
			continue
		}
		for _, l := range out[i].lines {
			if len(pods) > 1 {
				l = "[" + podSuffix(p.Name) + "] " + l
			}
			res.Lines = append(res.Lines, l)
		}
	}
	return res, nil
}

// mainContainer is the container named like the service, else the first.
func mainContainer(p corev1.Pod, service string) string {
	for _, c := range p.Spec.Containers {
		if c.Name == service {
			return c.Name
		}
	}
	if len(p.Spec.Containers) > 0 {
		return p.Spec.Containers[0].Name
	}
	return ""
}

// podSuffix is the part of a pod name after its ReplicaSet hash's dash.
func podSuffix(name string) string {
	if i := strings.LastIndex(name, "-"); i >= 0 && i+1 < len(name) {
		return name[i+1:]
	}
	return name
}

// LogFile is an upload.
type LogFile struct {
	Name, Title string
	Content     []byte
}

// LogsMessage renders a LogsResult for a reader: up to MaxInlineLogLines
// inline, else the last LogPreviewLines inline and the whole as a file.
func LogsMessage(t i18n.T, service, env string, q LogsQuery, res *LogsResult) (chat.Message, *LogFile) {
	what := t.S("views.logs.last", "Since", i18n.Span(q.Since))
	if q.Previous {
		what += t.S("views.logs.previous")
	}
	if q.Grep != "" {
		what += t.S("views.logs.grep", "Grep", q.Grep)
	}
	lines := i18n.M("views.logs.lines", "Count", len(res.Lines))
	head := t.S("views.logs.head", "Service", service, "Env", env, "What", what, "Lines", lines, "Pods", i18n.M("views.logs.pods", "Count", len(res.Pods)))
	m := chat.Message{Text: t.S("views.logs.fallback", "Service", service, "Env", env, "Lines", lines)}
	m.Blocks = append(m.Blocks, chat.Block{Section: &chat.Section{Text: head}})
	var file *LogFile
	switch {
	case len(res.Lines) == 0:
		m.Blocks = append(m.Blocks, chat.Block{Section: &chat.Section{Text: t.S("views.logs.none")}})
	case len(res.Lines) <= MaxInlineLogLines:
		m.Blocks = append(m.Blocks, chat.Block{Code: clipLines(res.Lines)})
	default:
		name := fmt.Sprintf("%s-%s-logs.txt", service, env)
		file = &LogFile{Name: name, Title: t.S("views.logs.file_title", "Service", service, "Env", env, "What", what), Content: []byte(strings.Join(res.Lines, "\n") + "\n")}
		m.Blocks = append(m.Blocks,
			chat.Block{Section: &chat.Section{Text: t.S("views.logs.uploaded", "Lines", lines, "Max", MaxInlineLogLines, "File", name, "Preview", LogPreviewLines)}},
			chat.Block{Code: clipLines(res.Lines[len(res.Lines)-LogPreviewLines:])})
	}
	var notes []string
	if q.Capped {
		notes = append(notes, t.S("views.logs.capped", "Max", i18n.Span(MaxLogSince)))
	}
	if res.Skipped > 0 {
		notes = append(notes, t.N("views.logs.skipped", res.Skipped, "Max", MaxLogPods))
	}
	for _, e := range res.Errors {
		notes = append(notes, t.S("views.logs.unread", "What", e))
	}
	notes = append(notes, t.S("views.where", "Namespace", res.Namespace, "Selector", res.Selector))
	m.Blocks = append(m.Blocks, chat.Block{Context: notes})
	return m, file
}

func clipLines(lines []string) string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = commands.Clip(l, 300)
	}
	return strings.Join(out, "\n")
}
