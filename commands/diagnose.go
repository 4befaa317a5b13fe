package commands

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands/policy"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/kube"
	"github.com/nexo-org/nexo-bot/integrations/registry"
	"github.com/nexo-org/nexo-bot/store"
	corev1 "k8s.io/api/core/v1"
)

// Causes a diagnosis can name, most specific first.
const (
	CauseImagePull       = "ImagePullBackOff"
	CauseConfigError     = "CreateContainerConfigError"
	CauseOOMKilled       = "OOMKilled"
	CauseCrashLoop       = "CrashLoopBackOff"
	CausePending         = "Pending"
	CauseComparisonError = "ComparisonError"
	CauseSyncFailed      = "SyncFailed"
	CauseRolloutStuck    = "ProgressDeadlineExceeded"
	CauseNoPods          = "NoPods"
	CauseProgressing     = "Progressing"
	CauseHealthy         = "Healthy"
	CauseUnknown         = "Unknown"
)

// Diagnosis limits.
const (
	// DiagnoseTimeout bounds each source of a diagnosis (Argo CD, pods,
	// events, rollout, registry, logs, Prometheus).
	DiagnoseTimeout = 10 * time.Second
	// CrashLogLines is how many lines of the previous container's log a
	// CrashLoopBackOff verdict shows.
	CrashLogLines = 50
	// MaxSuggestedTags is how many nearest tags a missing-tag verdict lists.
	MaxSuggestedTags = 5
	// maxFixButtons is how many "Fix tag" buttons a verdict offers.
	maxFixButtons = 3
	// maxEvidenceEvents is how many events the card shows.
	maxEvidenceEvents = 8
)

// DiagnoseFacts is everything a diagnosis gathered. Judge reads only this,
// so verdicts are table-testable without any server.
type DiagnoseFacts struct {
	Service, Env string
	Namespace    string // from config
	Selector     string // from config
	Deployment   string // from config
	AppName      string
	Now          time.Time

	App     *argocd.Application
	AppErr  error
	Tree    *argocd.ResourceTree
	TreeErr error

	Pods       []corev1.Pod
	PodsErr    error
	Events     []corev1.Event // this workload's events, Warnings first, newest first
	EventsErr  error
	Rollout    *kube.RolloutStatus
	RolloutErr error

	// GitTag is the tag the values file wants; PrevEnvTag the tag of the
	// environment before (the usual promotion source).
	GitTag     string
	GitErr     error
	PrevEnv    string
	PrevEnvTag string

	// ImageRepo is the service's configured registry repository.
	ImageRepo string
	// Registry answers, filled for an ImagePullBackOff on ImageRepo.
	TagChecked   bool
	TagExists    bool
	TagErr       error
	RegistryTags []string // the repository's tags (for suggestions)

	// PreviousLog is the previous container's log (CrashLoopBackOff).
	PreviousLog string
	LogErr      error

	// MemoryPeak is the max working set over the last hour (OOMKilled),
	// when Prometheus answered.
	MemoryPeak   float64
	MemoryPeakOK bool
	MemoryErr    error
}

// PodProblem is the most telling problem found among the pods.
type PodProblem struct {
	Cause     string
	Pod       string
	Container string
	Image     string
	Reason    string // the kubelet's reason
	Message   string // the kubelet's message
	Restarts  int32
	ExitCode  int32
	// MemoryLimit and MemoryRequest are the container's, in bytes (0: none).
	MemoryLimit   int64
	MemoryRequest int64
	// Missing names what a CreateContainerConfigError lacks ("Secret nexo-be-db").
	Missing string
}

// Verdict is a diagnosis' conclusion.
type Verdict struct {
	Cause string
	// Line is the one-sentence verdict shown first.
	Line string
	// Good is true when nothing is wrong.
	Good    bool
	Problem *PodProblem
	// BadTag and Suggestions are set when an image tag does not exist.
	BadTag      string
	Suggestions []string
	// Fixable: a "Fix tag" PR may be offered (the tag is missing and git
	// still wants it).
	Fixable bool
	// Details are cause-specific evidence lines (mrkdwn).
	Details []string
	// Log is the marked log tail (CrashLoopBackOff).
	Log string
}

func init() {
	setupHooks = append(setupHooks, func(ctx context.Context, a *App) error {
		d := a.deps
		a.Router.Register(DiagnoseSpec(d))
		a.Router.OnClick("diagnose.fix", func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
			parts := strings.Split(c.Value, "|")
			if len(parts) != 3 {
				return Refuse("That button is malformed."), nil
			}
			// The router's guard cannot see the env in this button's value:
			// check membership and the env's channel policy here.
			if why := (&Authz{D: d}).check(ctx, c.UserID, c.ChannelID, parts[1]); why != "" {
				Audit(ctx, d, c.UserID, "diagnose.fix.authz", parts[0], parts[1], c.ChannelID, "refused", why)
				return Refuse("%s", why), nil
			}
			_, err := StartFix(ctx, d, FixRequest{Service: parts[0], Env: parts[1], Tag: parts[2], Requester: c.UserID, Channel: c.ChannelID})
			if err != nil {
				return RefusalReply(err)
			}
			return nil, nil
		})
		return nil
	})
}

// DiagnoseSpec is `/nexo diagnose <service> <env>`.
func DiagnoseSpec(d *Deps) *Spec {
	return &Spec{
		Name:    "diagnose",
		Aliases: []string{"why"},
		Usage:   "diagnose <service> <env>",
		Summary: "Why a deploy failed: Argo CD, pods, events, rollout, registry — one verdict, then the evidence",
		Help: "Reads the Argo CD app `<service>-<env>`, the pods labelled `app=<service>` in the env's namespace, its events (Warnings first) and the Deployment's rollout, then names the cause: " +
			"ImagePullBackOff (and whether the tag exists in the registry, with a *Fix tag* button opening the fix PR), CrashLoopBackOff (the previous container's last 50 log lines), OOMKilled (memory limit against use), Pending (scheduling events), CreateContainerConfigError (the missing Secret or ConfigMap), ComparisonError, or Healthy with the last deploy.\n" +
			"Read only: the fix PR goes through the env's approvals like a promotion.\nExample: `/nexo diagnose nexo-be staging`",
		Run: func(ctx context.Context, r Request) (*chat.Reply, error) {
			if len(r.Args.Words) != 2 {
				return Refuse("Usage: `%s diagnose <service> <env>`", d.Config.Slack.Command), nil
			}
			svc, err := ResolveService(d.Config, r.Args.Words[0])
			if err != nil {
				return RefusalReply(err)
			}
			env, err := ResolveEnv(d.Config, r.Args.Words[1])
			if err != nil {
				return RefusalReply(err)
			}
			if d.Kube == nil && d.ArgoCD == nil {
				return Refuse("Neither Kubernetes nor Argo CD is configured, so there is nothing to diagnose from."), nil
			}
			f := GatherDiagnosis(ctx, d, svc.Name, env.Name)
			return InChannel(DiagnoseCard(d.Config, f, Judge(f))), nil
		},
	}
}

// GatherDiagnosis reads every source in parallel, each bounded by
// DiagnoseTimeout, then asks the follow-up questions the problem found
// calls for (registry, previous log, Prometheus). service and env must be
// resolved names: the namespace, selector and Deployment come from config.
func GatherDiagnosis(ctx context.Context, d *Deps, service, env string) *DiagnoseFacts {
	cfg := d.Config
	f := &DiagnoseFacts{
		Service: service, Env: env,
		Namespace:  cfg.Namespace(service, env),
		Selector:   config.Expand(cfg.Kubernetes.LabelSelector, service, env),
		Deployment: config.Expand(cfg.Kubernetes.Deployment, service, env),
		AppName:    cfg.AppName(service, env),
		ImageRepo:  cfg.ImageRepository(service),
		Now:        d.Clock().Now(),
	}
	bounded := func(fn func(ctx context.Context)) func() {
		return func() {
			cctx, cancel := context.WithTimeout(ctx, DiagnoseTimeout)
			defer cancel()
			fn(cctx)
		}
	}
	var tasks []func()
	if d.ArgoCD != nil {
		tasks = append(tasks,
			bounded(func(ctx context.Context) { f.App, f.AppErr = d.ArgoCD.GetApp(ctx, f.AppName, "") }),
			bounded(func(ctx context.Context) { f.Tree, f.TreeErr = d.ArgoCD.ResourceTree(ctx, f.AppName) }))
	} else {
		f.AppErr = errors.New("argocd is not configured")
	}
	if d.Kube != nil {
		tasks = append(tasks,
			bounded(func(ctx context.Context) { f.Pods, f.PodsErr = d.Kube.Pods(ctx, f.Namespace, f.Selector) }),
			bounded(func(ctx context.Context) {
				var all []corev1.Event
				all, f.EventsErr = d.Kube.Events(ctx, f.Namespace)
				f.Events = all // filtered below, once the pods are known
			}),
			bounded(func(ctx context.Context) {
				st, err := d.Kube.RolloutStatus(ctx, f.Namespace, f.Deployment)
				if err == nil {
					f.Rollout = &st
				}
				f.RolloutErr = err
			}))
	} else {
		err := errors.New("kubernetes is not configured")
		f.PodsErr, f.EventsErr, f.RolloutErr = err, err, err
	}
	if d.GitOps != nil {
		tasks = append(tasks, bounded(func(ctx context.Context) {
			if err := d.GitOps.Sync(ctx); err != nil {
				f.GitErr = err
				return
			}
			f.GitTag, f.GitErr = ReadTag(ctx, d, service, env)
			if prev, ok := cfg.PreviousEnv(env); ok {
				if t, err := ReadTag(ctx, d, service, prev.Name); err == nil {
					f.PrevEnv, f.PrevEnvTag = prev.Name, t
				}
			}
		}))
	} else {
		f.GitErr = errors.New("gitops is not configured")
	}
	runAll(tasks)
	f.Events = WorkloadEvents(f.Events, f.Deployment, f.Pods)

	p := FindProblem(f.Pods)
	if p == nil {
		return f
	}
	var follow []func()
	switch p.Cause {
	case CauseImagePull:
		_, repo, tag, err := registry.SplitImage(p.Image)
		if err != nil || tag == "" || repo != f.ImageRepo || d.Registry == nil {
			break
		}
		follow = append(follow, bounded(func(ctx context.Context) {
			f.TagExists, f.TagErr = d.Registry.TagExists(ctx, repo, tag)
			f.TagChecked = f.TagErr == nil
			if f.TagChecked && !f.TagExists {
				f.RegistryTags, _ = d.Registry.Tags(ctx, repo)
			}
		}))
	case CauseCrashLoop:
		follow = append(follow, bounded(func(ctx context.Context) {
			f.PreviousLog, f.LogErr = d.Kube.Logs(ctx, f.Namespace, p.Pod, p.Container, true, CrashLogLines, 0)
		}))
	case CauseOOMKilled:
		if d.Prom != nil {
			follow = append(follow, bounded(func(ctx context.Context) {
				q := MemoryPeakQuery(f.Namespace, p.Pod, p.Container)
				f.MemoryPeak, f.MemoryPeakOK, f.MemoryErr = d.Prom.Scalar(ctx, q, f.Now)
			}))
		}
	}
	runAll(follow)
	return f
}

func runAll(tasks []func()) {
	var wg sync.WaitGroup
	for _, t := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t()
		}()
	}
	wg.Wait()
}

// MemoryPeakQuery is the PromQL of a container's peak working set over the
// last hour (cAdvisor's container_memory_working_set_bytes).
func MemoryPeakQuery(namespace, pod, container string) string {
	return fmt.Sprintf(`max(max_over_time(container_memory_working_set_bytes{namespace=%s,pod=%s,container=%s}[1h]))`,
		promString(namespace), promString(pod), promString(container))
}

// promString quotes a PromQL string literal.
func promString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// WorkloadEvents keeps the events about the Deployment, its ReplicaSets
// and its pods (current ones, and earlier ones named like them), Warnings
// first, newest first.
func WorkloadEvents(events []corev1.Event, deployment string, pods []corev1.Pod) []corev1.Event {
	names := map[string]bool{}
	for _, p := range pods {
		names[p.Name] = true
	}
	rsPrefix := deployment + "-"
	var out []corev1.Event
	for _, e := range events {
		o := e.InvolvedObject
		keep := false
		switch o.Kind {
		case "Deployment":
			keep = o.Name == deployment
		case "ReplicaSet":
			keep = strings.HasPrefix(o.Name, rsPrefix) && !strings.Contains(o.Name[len(rsPrefix):], "-")
		case "Pod":
			if names[o.Name] {
				keep = true
			} else if rest, ok := strings.CutPrefix(o.Name, rsPrefix); ok {
				keep = strings.Count(rest, "-") == 1
			}
		case "HorizontalPodAutoscaler", "PodDisruptionBudget", "Service":
			keep = o.Name == deployment
		}
		if keep {
			out = append(out, e)
		}
	}
	// Warnings first, then newest first (as `kubectl get events
	// --sort-by=.lastTimestamp`, reversed).
	sort.SliceStable(out, func(i, j int) bool {
		wi, wj := out[i].Type == corev1.EventTypeWarning, out[j].Type == corev1.EventTypeWarning
		if wi != wj {
			return wi
		}
		return kube.EventTime(out[i]).After(kube.EventTime(out[j]))
	})
	return out
}

// Problem priorities: lower is more telling.
var causeRank = map[string]int{
	CauseImagePull: 1, CauseConfigError: 2, CauseOOMKilled: 3, CauseCrashLoop: 4, CausePending: 5,
}

// FindProblem picks the most telling problem among pods: an image that
// cannot be pulled, a missing Secret or ConfigMap, an OOM kill, a crash
// loop, then a pod that cannot be scheduled. Nil when the pods look fine.
func FindProblem(pods []corev1.Pod) *PodProblem {
	var best *PodProblem
	consider := func(p *PodProblem) {
		if p != nil && (best == nil || causeRank[p.Cause] < causeRank[best.Cause]) {
			best = p
		}
	}
	for i := range pods {
		pod := &pods[i]
		if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded {
			continue
		}
		statuses := append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
		for _, cs := range statuses {
			consider(containerProblem(pod, cs))
		}
		if pod.Status.Phase == corev1.PodPending {
			for _, c := range pod.Status.Conditions {
				if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
					consider(&PodProblem{Cause: CausePending, Pod: pod.Name, Reason: c.Reason, Message: c.Message})
				}
			}
		}
	}
	return best
}

var imagePullReasons = map[string]bool{"ImagePullBackOff": true, "ErrImagePull": true, "InvalidImageName": true, "ErrImageNeverPull": true}

func containerProblem(pod *corev1.Pod, cs corev1.ContainerStatus) *PodProblem {
	p := &PodProblem{Pod: pod.Name, Container: cs.Name, Image: cs.Image, Restarts: cs.RestartCount}
	spec := containerSpec(pod, cs.Name)
	if spec != nil {
		if spec.Image != "" {
			p.Image = spec.Image // the reference as written, not the resolved one
		}
		if q, ok := spec.Resources.Limits[corev1.ResourceMemory]; ok {
			p.MemoryLimit = q.Value()
		}
		if q, ok := spec.Resources.Requests[corev1.ResourceMemory]; ok {
			p.MemoryRequest = q.Value()
		}
	}
	last := cs.LastTerminationState.Terminated
	switch {
	case cs.State.Waiting != nil && imagePullReasons[cs.State.Waiting.Reason]:
		p.Cause, p.Reason, p.Message = CauseImagePull, cs.State.Waiting.Reason, cs.State.Waiting.Message
	case cs.State.Waiting != nil && (cs.State.Waiting.Reason == "CreateContainerConfigError" || cs.State.Waiting.Reason == "CreateContainerError"):
		p.Cause, p.Reason, p.Message = CauseConfigError, cs.State.Waiting.Reason, cs.State.Waiting.Message
		p.Missing = MissingReference(cs.State.Waiting.Message)
	case cs.State.Terminated != nil && cs.State.Terminated.Reason == "OOMKilled":
		p.Cause, p.Reason, p.ExitCode, p.Message = CauseOOMKilled, "OOMKilled", cs.State.Terminated.ExitCode, cs.State.Terminated.Message
	case last != nil && last.Reason == "OOMKilled" && (cs.State.Waiting != nil || cs.RestartCount > 0):
		p.Cause, p.Reason, p.ExitCode, p.Message = CauseOOMKilled, "OOMKilled", last.ExitCode, last.Message
	case cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff":
		p.Cause, p.Reason, p.Message = CauseCrashLoop, "CrashLoopBackOff", cs.State.Waiting.Message
		if last != nil {
			p.ExitCode = last.ExitCode
			if last.Reason != "" {
				p.Reason = "CrashLoopBackOff (last: " + last.Reason + ")"
			}
		}
	default:
		return nil
	}
	return p
}

func containerSpec(pod *corev1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

var (
	missingObject = regexp.MustCompile(`(?i)\b(secret|configmap)s? "([^"]+)" not found`)
	missingKey    = regexp.MustCompile(`(?i)couldn't find key (\S+) in (Secret|ConfigMap) ([^/\s]+)/(\S+)`)
)

// MissingReference names the Secret or ConfigMap (and key) a
// CreateContainerConfigError message says is missing, e.g. `secret
// "nexo-be-db" not found` → "Secret nexo-be-db".
func MissingReference(msg string) string {
	if m := missingKey.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("key %s in %s %s", m[1], kindName(m[2]), m[4])
	}
	if m := missingObject.FindStringSubmatch(msg); m != nil {
		return kindName(m[1]) + " " + m[2]
	}
	return ""
}

func kindName(s string) string {
	if strings.EqualFold(s, "configmap") {
		return "ConfigMap"
	}
	return "Secret"
}

// Judge names the cause from the gathered facts. Pure: same facts, same
// verdict.
func Judge(f *DiagnoseFacts) Verdict {
	app := f.App
	if p := FindProblem(f.Pods); p != nil {
		return judgePod(f, p)
	}
	if app != nil {
		for _, c := range app.Status.Conditions {
			if c.Type == "ComparisonError" {
				return Verdict{Cause: CauseComparisonError,
					Line:    fmt.Sprintf("Argo CD cannot compare `%s` with git (ComparisonError): %s", f.AppName, clip(c.Message, 300)),
					Details: []string{"Argo CD could not render the desired state from git: check the values file and the chart at the synced revision."}}
			}
		}
		if op := app.Status.OperationState; op != nil && (op.Phase == "Failed" || op.Phase == "Error") {
			v := Verdict{Cause: CauseSyncFailed, Line: fmt.Sprintf("Argo CD's last sync of `%s` ended in %s: %s", f.AppName, op.Phase, clip(op.Message, 300))}
			if op.SyncResult != nil {
				for _, r := range op.SyncResult.Resources {
					if r.Status != "" && r.Status != "Synced" {
						v.Details = append(v.Details, fmt.Sprintf("%s `%s`: %s %s", r.Kind, r.Name, r.Status, clip(r.Message, 200)))
					}
				}
			}
			return v
		}
	}
	if f.Rollout != nil && f.Rollout.Failed {
		return Verdict{Cause: CauseRolloutStuck, Line: fmt.Sprintf("The rollout of `%s` is stuck: %s", f.Deployment, f.Rollout.Message)}
	}
	if f.PodsErr == nil && len(f.Pods) == 0 && (app == nil || app.Status.Health.Status != "Healthy") {
		return Verdict{Cause: CauseNoPods, Line: fmt.Sprintf("No pods match `%s` in `%s`.", f.Selector, f.Namespace),
			Details: []string{"The Deployment may be scaled to zero, missing, or labelled differently than `kubernetes.label_selector`."}}
	}
	if app != nil {
		switch app.Status.Health.Status {
		case "Healthy":
			if app.Status.Sync.Status == "Synced" && (f.Rollout == nil || f.Rollout.Done) {
				return Verdict{Cause: CauseHealthy, Good: true, Line: healthyLine(f)}
			}
		case "Progressing":
			msg := app.HealthMessage()
			if f.Rollout != nil {
				msg = f.Rollout.Message
			}
			return Verdict{Cause: CauseProgressing, Line: fmt.Sprintf("`%s` is still rolling out: %s", f.AppName, clip(msg, 200))}
		}
		return Verdict{Cause: CauseUnknown, Line: fmt.Sprintf("No known cause found: Argo CD says %s / %s%s", orDash(app.Status.Health.Status), orDash(app.Status.Sync.Status), prefixed(": ", app.HealthMessage()))}
	}
	if f.Rollout != nil && f.Rollout.Done && f.PodsErr == nil {
		return Verdict{Cause: CauseHealthy, Good: true, Line: fmt.Sprintf("The pods of %s in %s are running and the rollout is complete (Argo CD not read: %s).", f.Service, f.Env, shortErrOr(f.AppErr))}
	}
	return Verdict{Cause: CauseUnknown, Line: "No known cause found; see the evidence below."}
}

func healthyLine(f *DiagnoseFacts) string {
	line := fmt.Sprintf("`%s` is Synced and Healthy", f.AppName)
	if tag := RunningTag(f.App, f.ImageRepo); tag != "" {
		line += fmt.Sprintf(" on `%s`", tag)
	}
	if h := LastHistory(f.App); h != nil {
		line += fmt.Sprintf("; last deploy %s (`%s`, revision `%s`)", Ago(f.Now, h.DeployedAt), h.DeployedAt.UTC().Format("2006-01-02 15:04Z"), short(h.Revision))
	}
	return line + "."
}

// RunningTag is the tag of repo's image among the images Argo CD reports.
func RunningTag(app *argocd.Application, repo string) string {
	if app == nil {
		return ""
	}
	for _, img := range app.Status.Summary.Images {
		if _, r, tag, err := registry.SplitImage(img); err == nil && r == repo {
			return tag
		}
	}
	return ""
}

func judgePod(f *DiagnoseFacts, p *PodProblem) Verdict {
	v := Verdict{Cause: p.Cause, Problem: p}
	where := fmt.Sprintf("pod `%s`", p.Pod)
	if p.Container != "" {
		where = fmt.Sprintf("container `%s` of pod `%s`", p.Container, p.Pod)
	}
	switch p.Cause {
	case CauseImagePull:
		_, repo, tag, err := registry.SplitImage(p.Image)
		switch {
		case err != nil:
			v.Line = fmt.Sprintf("%s: the image reference `%s` of %s is invalid: %s", p.Reason, p.Image, where, err)
		case f.TagChecked && !f.TagExists:
			v.BadTag = tag
			v.Line = fmt.Sprintf("%s: image tag `%s` does not exist in `%s` (%s).", p.Reason, tag, repo, where)
			v.Suggestions = suggestTags(f, tag)
			if len(v.Suggestions) > 0 {
				v.Details = append(v.Details, "Nearest existing tags: "+codeList(v.Suggestions))
			} else {
				v.Details = append(v.Details, fmt.Sprintf("The registry lists no tags for `%s`.", repo))
			}
			switch {
			case f.GitErr != nil:
				v.Details = append(v.Details, "The values file could not be read: "+shortErr(f.GitErr))
			case f.GitTag != tag:
				v.Details = append(v.Details, fmt.Sprintf("Git already wants `%s`: Argo CD has not synced it yet.", f.GitTag))
			default:
				v.Fixable = len(v.Suggestions) > 0
			}
		case f.TagChecked:
			v.Line = fmt.Sprintf("%s: `%s` exists in the registry, so the pull itself fails (pull secret, network or node) for %s.", p.Reason, p.Image, where)
			if m := pullFailure(f.Events, p.Pod); m != "" {
				v.Details = append(v.Details, "Kubelet: "+clip(m, 400))
			}
		case f.TagErr != nil:
			v.Line = fmt.Sprintf("%s on `%s` (%s); the registry could not be asked: %s", p.Reason, p.Image, where, shortErr(f.TagErr))
		default:
			v.Line = fmt.Sprintf("%s on `%s` (%s); that image is not in nexo's registry repository `%s`, so it was not checked.", p.Reason, p.Image, where, f.ImageRepo)
		}
		if p.Message != "" {
			v.Details = append(v.Details, "Kubelet: "+clip(p.Message, 300))
		}
	case CauseConfigError:
		if p.Missing != "" {
			v.Line = fmt.Sprintf("%s: %s is missing in `%s` (%s).", p.Reason, p.Missing, f.Namespace, where)
		} else {
			v.Line = fmt.Sprintf("%s for %s: %s", p.Reason, where, clip(p.Message, 300))
		}
		v.Details = append(v.Details, "Kubelet: "+clip(p.Message, 300),
			"Create it (or fix its ExternalSecret), or correct the reference in the values file; the pod starts by itself once it exists.")
	case CauseOOMKilled:
		line := fmt.Sprintf("OOMKilled: %s was killed for using more memory than its limit", where)
		if p.MemoryLimit > 0 {
			line += " of " + HumanBytes(p.MemoryLimit)
		}
		v.Line = line + fmt.Sprintf(" (exit code %d, %d restarts).", p.ExitCode, p.Restarts)
		use := fmt.Sprintf("Limit %s · request %s", bytesOrNone(p.MemoryLimit), bytesOrNone(p.MemoryRequest))
		switch {
		case f.MemoryPeakOK && p.MemoryLimit > 0:
			use += fmt.Sprintf(" · peak working set over the last hour %s (%.0f%% of the limit)", HumanBytes(int64(f.MemoryPeak)), 100*f.MemoryPeak/float64(p.MemoryLimit))
		case f.MemoryPeakOK:
			use += " · peak working set over the last hour " + HumanBytes(int64(f.MemoryPeak))
		case f.MemoryErr != nil:
			use += " · Prometheus did not answer: " + shortErr(f.MemoryErr)
		default:
			use += " · it reached the limit when it was killed"
		}
		v.Details = append(v.Details, use, "Raise `resources.limits.memory` in the values file, or find what grows.")
	case CauseCrashLoop:
		v.Line = fmt.Sprintf("CrashLoopBackOff: %s keeps crashing (exit code %d, %d restarts).", where, p.ExitCode, p.Restarts)
		switch {
		case f.LogErr != nil:
			v.Details = append(v.Details, "The previous container's log could not be read: "+shortErr(f.LogErr))
		case strings.TrimSpace(f.PreviousLog) == "":
			v.Details = append(v.Details, "The previous container wrote no log.")
		default:
			marked, lastErr := MarkErrorLines(f.PreviousLog, CrashLogLines)
			v.Log = marked
			if lastErr != "" {
				v.Line = strings.TrimSuffix(v.Line, ".") + fmt.Sprintf(" — last error: `%s`", clip(lastErr, 160))
			}
			v.Details = append(v.Details, fmt.Sprintf("Last %d lines of the previous container's log (error lines marked ▶):", CrashLogLines))
		}
	case CausePending:
		v.Line = fmt.Sprintf("Pending: %s cannot be scheduled: %s", where, clip(orDash(p.Message), 300))
		seen := map[string]bool{}
		for _, e := range f.Events {
			if e.Reason == "FailedScheduling" && !seen[e.Message] {
				seen[e.Message] = true
				v.Details = append(v.Details, fmt.Sprintf("FailedScheduling (%s): %s", Ago(f.Now, kube.EventTime(e)), clip(e.Message, 300)))
			}
		}
		if len(v.Details) == 0 {
			v.Details = append(v.Details, "No FailedScheduling events were found.")
		}
	}
	return v
}

// suggestTags orders the existing tags to offer for a missing one: the tag
// of the previous environment first (the usual promotion source) when it
// exists, then registry.NearestTags.
func suggestTags(f *DiagnoseFacts, bad string) []string {
	var out []string
	if f.PrevEnvTag != "" && f.PrevEnvTag != bad && slices.Contains(f.RegistryTags, f.PrevEnvTag) {
		out = append(out, f.PrevEnvTag)
	}
	for _, t := range registry.NearestTags(f.RegistryTags, bad, MaxSuggestedTags+1) {
		if t != bad && !slices.Contains(out, t) && len(out) < MaxSuggestedTags {
			out = append(out, t)
		}
	}
	return out
}

// pullFailure is the kubelet's most telling pull error for pod: "Failed to
// pull image …: <why>" rather than "Error: ImagePullBackOff".
func pullFailure(events []corev1.Event, pod string) string {
	msg := ""
	for _, e := range events {
		if e.InvolvedObject.Name != pod || e.Reason != "Failed" {
			continue
		}
		if strings.HasPrefix(e.Message, "Failed to pull image") {
			return e.Message
		}
		if msg == "" {
			msg = e.Message
		}
	}
	return msg
}

// errorLine recognises log lines worth marking.
var errorLine = regexp.MustCompile(`(?i)(\b(error|fatal|panic|exception|traceback|critical)\b|level=(error|fatal)|"level":\s*"(error|fatal)"|\bERR\b|\bFAILED\b|segmentation fault|killed)`)

// MarkErrorLines keeps the last max lines of a log and prefixes error
// lines with "▶ " (others with two spaces). It returns the marked text and
// the last error line.
func MarkErrorLines(log string, max int) (marked, lastError string) {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	if max > 0 && len(lines) > max {
		lines = lines[len(lines)-max:]
	}
	var b strings.Builder
	for i, l := range lines {
		l = strings.TrimRight(l, "\r")
		if i > 0 {
			b.WriteByte('\n')
		}
		if errorLine.MatchString(l) {
			b.WriteString("▶ ")
			lastError = strings.TrimSpace(l)
		} else {
			b.WriteString("  ")
		}
		b.WriteString(clip(l, 300))
	}
	return b.String(), lastError
}

// HumanBytes formats bytes with binary units, as Kubernetes quantities do
// (512Mi, 1Gi, 1.5Gi).
func HumanBytes(n int64) string {
	units := []string{"Ki", "Mi", "Gi", "Ti"}
	if n < 1024 {
		return strconv.FormatInt(n, 10)
	}
	v, u := float64(n), ""
	for _, unit := range units {
		if v < 1024 {
			break
		}
		v /= 1024
		u = unit
	}
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d%s", int64(v), u)
	}
	return fmt.Sprintf("%.1f%s", v, u)
}

func bytesOrNone(n int64) string {
	if n <= 0 {
		return "none"
	}
	return HumanBytes(n)
}

func codeList(items []string) string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = "`" + s + "`"
	}
	return strings.Join(out, ", ")
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

func shortErrOr(err error) string {
	if err == nil {
		return "-"
	}
	return shortErr(err)
}

// DiagnoseCard renders the verdict first, then the evidence.
func DiagnoseCard(cfg *config.Config, f *DiagnoseFacts, v Verdict) chat.Message {
	icon := ":red_circle:"
	switch {
	case v.Good:
		icon = ":large_green_circle:"
	case v.Cause == CauseProgressing:
		icon = ":large_blue_circle:"
	case v.Cause == CauseUnknown:
		icon = ":grey_question:"
	}
	m := chat.Message{
		Text:   fmt.Sprintf("%s in %s: %s", f.Service, f.Env, stripMarks(v.Line)),
		Blocks: []chat.Block{{Section: &chat.Section{Text: fmt.Sprintf("%s *%s in %s* — %s", icon, f.Service, f.Env, v.Line)}}},
	}
	for _, d := range v.Details {
		m.Blocks = append(m.Blocks, chat.Block{Section: &chat.Section{Text: d}})
	}
	if v.Log != "" {
		m.Blocks = append(m.Blocks, chat.Block{Code: v.Log})
	}
	if v.Fixable {
		var btns []chat.Button
		for i, t := range v.Suggestions {
			if i == maxFixButtons {
				break
			}
			// Action ids must be unique within a block; the router routes
			// "diagnose.fix.<n>" to the "diagnose.fix" handler.
			action := "diagnose.fix"
			if i > 0 {
				action = fmt.Sprintf("diagnose.fix.%d", i+1)
			}
			b := chat.Button{Text: "Fix tag → " + t, Action: action, Value: strings.Join([]string{f.Service, f.Env, t}, "|"),
				Confirm: fmt.Sprintf("Open the fix PR setting %s in %s from %s to %s?", f.Service, f.Env, v.BadTag, t)}
			if i == 0 {
				b.Style = chat.StylePrimary
			}
			btns = append(btns, b)
		}
		m.Blocks = append(m.Blocks, chat.Block{Actions: btns})
	}
	m.Blocks = append(m.Blocks, chat.Block{Divider: true})
	m.Blocks = append(m.Blocks, chat.Block{Section: &chat.Section{Fields: evidenceFields(f)}})
	if f.PodsErr == nil && len(f.Pods) > 0 {
		m.Blocks = append(m.Blocks, chat.Block{Code: PodsTable(f.Pods, f.Now)})
	}
	if lines := eventLines(f); len(lines) > 0 {
		m.Blocks = append(m.Blocks, chat.Block{Section: &chat.Section{Text: "*Events* (Warnings first)\n" + strings.Join(lines, "\n")}})
	}
	m.Blocks = append(m.Blocks, chat.Block{Context: []string{fmt.Sprintf("Argo CD app `%s` · namespace `%s` · pods `%s` · read only", f.AppName, f.Namespace, f.Selector)}})
	return m
}

func evidenceFields(f *DiagnoseFacts) []string {
	var fields []string
	if f.App != nil {
		st := f.App.Status
		app := fmt.Sprintf("*Argo CD*\n%s %s · %s", HealthEmoji(st.Health.Status), orDash(st.Health.Status), orDash(st.Sync.Status))
		if msg := f.App.HealthMessage(); msg != "" {
			app += "\n" + clip(msg, 120)
		}
		for _, c := range st.Conditions {
			app += fmt.Sprintf("\n%s: %s", c.Type, clip(c.Message, 150))
		}
		fields = append(fields, app)
		op := "*Last operation*\n"
		if o := st.OperationState; o != nil {
			op += fmt.Sprintf("%s: %s", o.Phase, clip(o.Message, 120))
			if o.FinishedAt != nil {
				op += " (" + Ago(f.Now, *o.FinishedAt) + ")"
			}
		} else {
			op += "-"
		}
		fields = append(fields, op)
	} else {
		fields = append(fields, "*Argo CD*\n_"+shortErrOr(f.AppErr)+"_")
	}
	if f.Tree != nil {
		var bad []string
		for _, n := range f.Tree.Nodes {
			if n.Health != nil && n.Health.Status != "" && n.Health.Status != "Healthy" {
				bad = append(bad, fmt.Sprintf("%s/%s %s", n.Kind, n.Name, n.Health.Status))
			}
		}
		tree := fmt.Sprintf("*Resources*\n%d in the tree", len(f.Tree.Nodes))
		if len(bad) > 0 {
			tree += ", not Healthy: " + clip(strings.Join(bad, ", "), 200)
		}
		fields = append(fields, tree)
	}
	switch {
	case f.Rollout != nil:
		fields = append(fields, "*Rollout*\n"+f.Rollout.Message)
	case f.RolloutErr != nil:
		fields = append(fields, "*Rollout*\n_"+shortErr(f.RolloutErr)+"_")
	}
	gitLine := "*Git wants*\n"
	if f.GitErr != nil {
		gitLine += "_" + shortErr(f.GitErr) + "_"
	} else {
		gitLine += "`" + f.GitTag + "`"
		if running := RunningTag(f.App, f.ImageRepo); running != "" && running != f.GitTag {
			gitLine += fmt.Sprintf(" (Argo CD reports `%s`)", running)
		}
	}
	fields = append(fields, gitLine)
	if f.PodsErr != nil {
		fields = append(fields, "*Pods*\n_"+shortErr(f.PodsErr)+"_")
	}
	return fields
}

func eventLines(f *DiagnoseFacts) []string {
	if f.EventsErr != nil {
		return []string{"_events: " + shortErr(f.EventsErr) + "_"}
	}
	var out []string
	for i, e := range f.Events {
		if i == maxEvidenceEvents {
			out = append(out, fmt.Sprintf("… and %d more", len(f.Events)-i))
			break
		}
		count := ""
		if e.Count > 1 {
			count = fmt.Sprintf(" (x%d)", e.Count)
		}
		out = append(out, fmt.Sprintf("`%s` %s *%s* %s/%s: %s%s", Ago(f.Now, kube.EventTime(e)), e.Type, e.Reason,
			strings.ToLower(e.InvolvedObject.Kind), e.InvolvedObject.Name, clip(e.Message, 200), count))
	}
	return out
}

// FixRequest asks for the playbook's fix PR of a missing image tag.
type FixRequest struct {
	Service, Env, Tag  string
	Requester, Channel string
}

// StartFix opens the fix PR of scenario 4: `fix(<svc>): corrige image tag
// em <env>` on branch `fix/<svc>-<env>-image-tag`, with the error and the
// correction in the body, through the env's approvals, merge, sync and
// rollout like a promotion. Everything is checked again (the button is not
// trusted): the tag in git must be missing from the registry and the new
// tag must exist.
func StartFix(ctx context.Context, d *Deps, fr FixRequest) (*store.Workflow, error) {
	cfg := d.Config
	svc, env, err := ResolveTarget(cfg, fr.Service, fr.Env)
	if err != nil {
		return nil, err
	}
	if err := ValidateTag(cfg, fr.Tag); err != nil {
		return nil, err
	}
	if d.Registry == nil {
		return nil, Refusalf("The registry is not configured, so nexo cannot check the tags; change the values file by hand.")
	}
	if d.GitOps == nil || d.GitHub == nil {
		return nil, Refusalf("GitOps and GitHub must be configured to open a fix PR.")
	}
	if err := d.GitOps.Sync(ctx); err != nil {
		return nil, fmt.Errorf("reading the GitOps repo: %w", err)
	}
	current, err := ReadTag(ctx, d, svc.Name, env.Name)
	if err != nil {
		return nil, fmt.Errorf("reading the tag of %s in %s: %w", svc.Name, env.Name, err)
	}
	if current == fr.Tag {
		return nil, Refusalf("%s in %s already wants `%s` in git; nothing to fix. Run `%s diagnose %s %s` again.", svc.Name, env.Name, fr.Tag, cfg.Slack.Command, svc.Name, env.Name)
	}
	repo := cfg.ImageRepository(svc.Name)
	rctx, cancel := context.WithTimeout(ctx, DiagnoseTimeout)
	defer cancel()
	if registry.ValidTag(current) {
		bad, err := d.Registry.TagExists(rctx, repo, current)
		if err != nil {
			return nil, fmt.Errorf("asking the registry about %s:%s: %w", repo, current, err)
		}
		if bad {
			return nil, Refusalf("`%s:%s` exists in the registry now, so it is not the missing tag; run `%s diagnose %s %s` again.", repo, current, cfg.Slack.Command, svc.Name, env.Name)
		}
	}
	ok, err := d.Registry.TagExists(rctx, repo, fr.Tag)
	if err != nil {
		return nil, fmt.Errorf("asking the registry about %s:%s: %w", repo, fr.Tag, err)
	}
	if !ok {
		return nil, Refusalf("The image `%s:%s` does not exist in the registry either.", repo, fr.Tag)
	}
	c := Change{
		Flavor: records.KindFix, Service: svc.Name, Env: env.Name, Tag: fr.Tag, Previous: current,
		Requester: fr.Requester, RequestedAt: d.Clock().Now(),
		Need:    policy.Requirement{Approvals: env.Policy.Approvals, Group: env.Policy.ApproverGroup, Requester: fr.Requester},
		Branch:  fmt.Sprintf("fix/%s-%s-image-tag", svc.Name, BranchEnv(cfg, env.Name)),
		Subject: fmt.Sprintf("fix(%s): corrige image tag em %s", svc.Name, env.Name),
		Reason:  fmt.Sprintf("tag %s does not exist", current),
	}
	c.Labels, c.Teams = PRLabelsAndTeams(cfg, env, records.KindFix)
	c.Body = FixBody(&c, repo, d.Clock().Now())
	wf, err := startChange(ctx, d, "fix", c, fr.Channel)
	if err != nil {
		return nil, err
	}
	Audit(ctx, d, fr.Requester, "fix.request", svc.Name, env.Name, wf.ID, "ok", current+" → "+fr.Tag)
	return wf, nil
}

// FixBody is the fix PR's body, in the playbook's words.
func FixBody(c *Change, repo string, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Erro: Tag %s não existe\n", c.Previous)
	fmt.Fprintf(&b, "Correção: Usa tag correta %s\n\n", c.Tag)
	fmt.Fprintf(&b, "The pods of %s in %s could not pull `%s:%s` (ImagePullBackOff): the registry has no such tag. `%s:%s` exists.\n", c.Service, c.Env, repo, c.Previous, repo, c.Tag)
	fmt.Fprintf(&b, "\nFound by /nexo diagnose %s %s.\nRequested-by: %s via nexo at %s\n", c.Service, c.Env, c.Requester, now.UTC().Format(time.RFC3339))
	return b.String()
}
