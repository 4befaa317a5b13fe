package views

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
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
		Summary: "Deploy history: Argo CD's history joined with the git log of the values file",
		Help:    "Like `argocd app history` and `git log --oneline helm/<service>/values-<env>.yaml` side by side: newest first, the current deploy and the last stable version marked.\nExample: `/nexo history nexo-be production`",
		Run: func(ctx context.Context, r commands.Request) (*chat.Reply, error) {
			svc, env, err := commands.ResolveTarget(d.Config, r.Args.Words[0], r.Args.Words[1])
			if err != nil {
				return nil, err
			}
			if d.GitOps == nil {
				return nil, commands.Refusalf("The GitOps repository is not configured (gitops.repo_url).")
			}
			ctx, cancel := context.WithTimeout(ctx, viewTimeout)
			defer cancel()
			rows, err := commands.History(ctx, d, svc.Name, env.Name)
			if err != nil {
				return nil, err
			}
			return commands.InChannel(HistoryCard(d.Config, svc.Name, env.Name, rows)), nil
		},
	}
}

// HistoryCard renders history rows as a table.
func HistoryCard(cfg *config.Config, service, env string, rows []commands.HistoryRow) chat.Message {
	m := chat.Message{
		Text:   fmt.Sprintf("Deploy history of %s in %s (%d entries)", service, env, len(rows)),
		Blocks: []chat.Block{{Section: &chat.Section{Text: fmt.Sprintf(":scroll: *History of %s in %s*", service, env)}}},
	}
	if len(rows) == 0 {
		m.Blocks = append(m.Blocks, chat.Block{Context: []string{"No deploys found in Argo CD or in the git log."}})
		return m
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDEPLOYED\tREVISION\tTAG\tCOMMIT")
	for _, r := range rows {
		id := "-"
		if r.ID > 0 || r.Current {
			id = fmt.Sprint(r.ID)
		}
		mark := ""
		switch {
		case r.Current:
			mark = "← current"
		case r.Stable:
			mark = "← last stable"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", id, r.DeployedAt.UTC().Format("2006-01-02 15:04Z"), commands.ShortSHA(r.Revision), commands.OrDash(r.Tag), commands.Clip(commands.OrDash(r.Subject), 60), mark)
	}
	tw.Flush()
	m.Blocks = append(m.Blocks,
		chat.Block{Code: commands.TrimLines(b.String())},
		chat.Block{Context: []string{fmt.Sprintf("Argo CD app `%s` · `%s` · roll back with `%s rollback %s %s`", cfg.AppName(service, env), cfg.ValuesPath(service, env), cfg.Slack.Command, service, env)}})
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
			r.GitErr = errors.New("gitops is not configured")
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
			r.AppErr = errors.New("argocd is not configured")
			return
		}
		ctx, cancel := context.WithTimeout(ctx, viewTimeout)
		defer cancel()
		r.App, r.AppErr = d.ArgoCD.GetApp(ctx, r.AppName, "")
	}()
	wg.Wait()
	if r.App != nil {
		r.RunningTag = commands.RunningTag(r.App, cfg.ImageRepository(service))
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
		Summary: "What git wants against what runs: the image tag and OutOfSync resources",
		Help:    "Compares `image.tag` in the values file at the GitOps branch with the images Argo CD reports running, and lists the app's OutOfSync resources (like `argocd app diff`, without the manifests).\nExample: `/nexo diff nexo-be staging`",
		Run: func(ctx context.Context, r commands.Request) (*chat.Reply, error) {
			svc, env, err := commands.ResolveTarget(d.Config, r.Args.Words[0], r.Args.Words[1])
			if err != nil {
				return nil, err
			}
			return commands.InChannel(DiffCard(d.Config, CollectDiff(ctx, d, svc.Name, env.Name))), nil
		},
	}
}

// DiffCard renders a DiffReport.
func DiffCard(cfg *config.Config, r *DiffReport) chat.Message {
	var line string
	switch {
	case r.GitErr != nil:
		line = ":grey_question: git could not be read: " + commands.ShortErr(r.GitErr)
	case r.AppErr != nil:
		line = ":grey_question: Argo CD could not be read: " + commands.ShortErr(r.AppErr)
	case r.InSync():
		line = fmt.Sprintf(":large_green_circle: In sync: git wants `%s` and Argo CD runs `%s`.", r.GitTag, r.RunningTag)
	case r.GitTag != r.RunningTag:
		line = fmt.Sprintf(":warning: Git wants `%s`, Argo CD runs `%s`.", r.GitTag, commands.OrDash(r.RunningTag))
	default:
		line = fmt.Sprintf(":warning: Same tag `%s`, but Argo CD says %s with %d OutOfSync resource(s).", r.GitTag, commands.OrDash(r.App.Status.Sync.Status), len(r.OutOfSync))
	}
	m := chat.Message{
		Text:   fmt.Sprintf("diff %s %s: git wants %s, Argo CD runs %s, %d OutOfSync", r.Service, r.Env, commands.OrDash(r.GitTag), commands.OrDash(r.RunningTag), len(r.OutOfSync)),
		Blocks: []chat.Block{{Section: &chat.Section{Text: fmt.Sprintf("*%s in %s* — %s", r.Service, r.Env, line)}}},
	}
	gitField := "*Git* `" + r.ValuesPath + "`\n"
	if r.GitErr != nil {
		gitField += "_" + commands.ShortErr(r.GitErr) + "_"
	} else {
		gitField += fmt.Sprintf("tag `%s` at `%s`", r.GitTag, commands.ShortSHA(r.GitHead))
	}
	argoField := "*Argo CD* `" + r.AppName + "`\n"
	if r.AppErr != nil {
		argoField += "_" + commands.ShortErr(r.AppErr) + "_"
	} else {
		st := r.App.Status
		argoField += fmt.Sprintf("%s · %s %s at `%s`", commands.OrDash(st.Sync.Status), commands.HealthEmoji(st.Health.Status), commands.OrDash(st.Health.Status), commands.ShortSHA(st.Sync.Revision))
		if len(st.Summary.Images) > 0 {
			argoField += "\nimages: " + commands.CodeList(st.Summary.Images)
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
		m.Blocks = append(m.Blocks, chat.Block{Section: &chat.Section{Text: "*OutOfSync resources*"}}, chat.Block{Code: strings.TrimRight(b.String(), "\n")})
	}
	return m
}

// PodsSpec is `/nexo pods <service> <env>`.
func PodsSpec(d *commands.Deps) *commands.Spec {
	return &commands.Spec{
		Name:    "pods",
		Args:    []string{"service", "env"},
		Summary: "The service's pods: ready, status, restarts, age",
		Help:    "Like `kubectl get pods -n nexo-<env> -l app=<service>`; the namespace and the label come from the config.\nExample: `/nexo pods nexo-be staging`",
		Run: func(ctx context.Context, r commands.Request) (*chat.Reply, error) {
			svc, env, err := commands.ResolveTarget(d.Config, r.Args.Words[0], r.Args.Words[1])
			if err != nil {
				return nil, err
			}
			if d.Kube == nil {
				return nil, commands.Refusalf("Kubernetes is not configured (kubernetes.kubeconfig, or run nexo in the cluster).")
			}
			ns := d.Config.Namespace(svc.Name, env.Name)
			sel := config.Expand(d.Config.Kubernetes.LabelSelector, svc.Name, env.Name)
			ctx, cancel := context.WithTimeout(ctx, viewTimeout)
			defer cancel()
			pods, err := d.Kube.Pods(ctx, ns, sel)
			if err != nil {
				return nil, err
			}
			return commands.InChannel(PodsCard(svc.Name, env.Name, ns, sel, pods, d.Clock().Now())), nil
		},
	}
}

// PodsCard renders the pods table.
func PodsCard(service, env, namespace, selector string, pods []corev1.Pod, now time.Time) chat.Message {
	ready := 0
	for _, p := range pods {
		if r, t := commands.PodReady(p); r == t && t > 0 {
			ready++
		}
	}
	m := chat.Message{
		Text:   fmt.Sprintf("%s in %s: %d pods, %d ready", service, env, len(pods), ready),
		Blocks: []chat.Block{{Section: &chat.Section{Text: fmt.Sprintf("*Pods of %s in %s* — %d/%d ready", service, env, ready, len(pods))}}},
	}
	if len(pods) == 0 {
		m.Blocks = append(m.Blocks, chat.Block{Section: &chat.Section{Text: fmt.Sprintf("No pods match `%s` in `%s`.", selector, namespace)}})
	} else {
		m.Blocks = append(m.Blocks, chat.Block{Code: commands.PodsTable(pods, now)})
	}
	m.Blocks = append(m.Blocks, chat.Block{Context: []string{fmt.Sprintf("namespace `%s` · selector `%s`", namespace, selector)}})
	return m
}

// LogsSpec is `/nexo logs <service> <env> [--since 10m] [--grep text] [--previous]`.
func LogsSpec(d *commands.Deps) *commands.Spec {
	return &commands.Spec{
		Name:    "logs",
		Args:    []string{"service", "env"},
		Summary: "Tail the service's pod logs (capped; long output as a file)",
		Help:    fmt.Sprintf("Like `kubectl logs -l app=<service> --since 10m`: the main container of each pod (up to %d pods), %d lines each. `--since` is at most 24h; `--grep` keeps lines containing the text (plain, case-insensitive; not a regex); `--previous` reads the last terminated container. Up to %d lines are shown inline, more are uploaded as a file.\nExample: `/nexo logs nexo-be production --since 30m --grep timeout`", MaxLogPods, LogLinesPerPod, MaxInlineLogLines),
		Flags:   []commands.Flag{{Name: "since", Value: "10m"}, {Name: "grep", Value: "text"}, {Name: "previous"}},
		Run: func(ctx context.Context, r commands.Request) (*chat.Reply, error) {
			svc, env, err := commands.ResolveTarget(d.Config, r.Args.Words[0], r.Args.Words[1])
			if err != nil {
				return nil, err
			}
			if d.Kube == nil {
				return nil, commands.Refusalf("Kubernetes is not configured (kubernetes.kubeconfig, or run nexo in the cluster).")
			}
			q, err := ParseLogsQuery(r.Args)
			if err != nil {
				return nil, err
			}
			res, err := TailLogs(ctx, d, svc.Name, env.Name, q)
			if err != nil {
				return nil, err
			}
			m, file := LogsMessage(svc.Name, env.Name, q, res)
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
			return q, commands.Refusalf("`--since`: %s", err)
		}
		if s <= 0 {
			return q, commands.Refusalf("`--since` must be positive, e.g. `--since 10m`.")
		}
		q.Since = s
	}
	if q.Since > MaxLogSince {
		q.Since, q.Capped = MaxLogSince, true
	}
	if a.Has("grep") {
		q.Grep = a.Flag("grep")
		if strings.TrimSpace(q.Grep) == "" {
			return q, commands.Refusalf("`--grep` needs some text.")
		}
		if len(q.Grep) > MaxGrepLen {
			return q, commands.Refusalf("`--grep` is limited to %d characters.", MaxGrepLen)
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

// LogsMessage renders a LogsResult: up to MaxInlineLogLines inline, else
// the last LogPreviewLines inline and the whole as a file.
func LogsMessage(service, env string, q LogsQuery, res *LogsResult) (chat.Message, *LogFile) {
	what := fmt.Sprintf("last %s", commands.HumanDuration(q.Since))
	if q.Previous {
		what += ", previous containers"
	}
	if q.Grep != "" {
		what += fmt.Sprintf(", lines containing %q", q.Grep)
	}
	head := fmt.Sprintf(":page_facing_up: *Logs of %s in %s* (%s) — %d lines from %d pod(s)", service, env, what, len(res.Lines), len(res.Pods))
	m := chat.Message{Text: fmt.Sprintf("Logs of %s in %s: %d lines", service, env, len(res.Lines))}
	m.Blocks = append(m.Blocks, chat.Block{Section: &chat.Section{Text: head}})
	var file *LogFile
	switch {
	case len(res.Lines) == 0:
		m.Blocks = append(m.Blocks, chat.Block{Section: &chat.Section{Text: "No log lines."}})
	case len(res.Lines) <= MaxInlineLogLines:
		m.Blocks = append(m.Blocks, chat.Block{Code: clipLines(res.Lines)})
	default:
		name := fmt.Sprintf("%s-%s-logs.txt", service, env)
		file = &LogFile{Name: name, Title: fmt.Sprintf("Logs of %s in %s (%s)", service, env, what), Content: []byte(strings.Join(res.Lines, "\n") + "\n")}
		m.Blocks = append(m.Blocks,
			chat.Block{Section: &chat.Section{Text: fmt.Sprintf("%d lines is more than %d: the whole log is uploaded as `%s`. The last %d:", len(res.Lines), MaxInlineLogLines, name, LogPreviewLines)}},
			chat.Block{Code: clipLines(res.Lines[len(res.Lines)-LogPreviewLines:])})
	}
	var notes []string
	if q.Capped {
		notes = append(notes, "`--since` is capped at 24h")
	}
	if res.Skipped > 0 {
		notes = append(notes, fmt.Sprintf("%d more pods not read (max %d)", res.Skipped, MaxLogPods))
	}
	for _, e := range res.Errors {
		notes = append(notes, "could not read "+e)
	}
	notes = append(notes, fmt.Sprintf("namespace `%s` · selector `%s`", res.Namespace, res.Selector))
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
