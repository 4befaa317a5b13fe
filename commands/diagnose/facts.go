package diagnose

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/kube"
	"github.com/nexo-org/nexo-bot/integrations/registry"
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
	// Timeout bounds each source of a diagnosis (Argo CD, pods,
	// events, rollout, registry, logs, Prometheus).
	Timeout = 10 * time.Second
	// CrashLogLines is how many lines of the previous container's log a
	// CrashLoopBackOff verdict shows.
	CrashLogLines = 50
	// MaxSuggestedTags is how many nearest tags a missing-tag verdict lists,
	// each with its Fix button.
	MaxSuggestedTags = 3
	// maxEvidenceEvents is how many events the card shows.
	maxEvidenceEvents = 8
)

// Facts is everything a diagnosis gathered. Judge reads only this,
// so verdicts are table-testable without any server.
type Facts struct {
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
	Missing i18n.Msg
}

// Verdict is a diagnosis' conclusion, in catalog messages rendered for
// the reader by Card.
type Verdict struct {
	Cause string
	// Line is the one-sentence verdict shown first.
	Line i18n.Msg
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
	Details []i18n.Msg
	// Log is the marked log tail (CrashLoopBackOff).
	Log string
}

// The sources a diagnosis reads that are not configured.
var (
	errNoArgoCD = errors.New("argocd is not configured")
	errNoKube   = errors.New("kubernetes is not configured")
	errNoGitOps = errors.New("gitops is not configured")
)

// errMsg is what a diagnosis shows of a source it could not read: the
// catalog's sentence for a source not configured, else the error cut to a
// card's width (it names what failed, as the server said it).
func errMsg(err error) any {
	switch {
	case err == nil:
		return "-"
	case errors.Is(err, errNoArgoCD):
		return i18n.M("diagnose.not_configured.argocd")
	case errors.Is(err, errNoKube):
		return i18n.M("diagnose.not_configured.kubernetes")
	case errors.Is(err, errNoGitOps):
		return i18n.M("diagnose.not_configured.gitops")
	}
	return commands.ShortErr(err)
}

// errText is errMsg for a reader.
func errText(t i18n.T, err error) string {
	if m, ok := errMsg(err).(i18n.Msg); ok {
		return t.Msg(m)
	}
	return errMsg(err).(string)
}

// Gather reads every source in parallel, each bounded by
// Timeout, then asks the follow-up questions the problem found
// calls for (registry, previous log, Prometheus). service and env must be
// resolved names: the namespace, selector and Deployment come from config.
func Gather(ctx context.Context, d *commands.Deps, service, env string) *Facts {
	cfg := d.Config
	f := &Facts{
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
			cctx, cancel := context.WithTimeout(ctx, Timeout)
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
		f.AppErr = errNoArgoCD
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
		f.PodsErr, f.EventsErr, f.RolloutErr = errNoKube, errNoKube, errNoKube
	}
	if d.GitOps != nil {
		tasks = append(tasks, bounded(func(ctx context.Context) {
			if err := d.GitOps.Sync(ctx); err != nil {
				f.GitErr = err
				return
			}
			f.GitTag, f.GitErr = commands.ReadTag(ctx, d, service, env)
			if prev, ok := cfg.PreviousEnv(env); ok {
				if t, err := commands.ReadTag(ctx, d, service, prev.Name); err == nil {
					f.PrevEnv, f.PrevEnvTag = prev.Name, t
				}
			}
		}))
	} else {
		f.GitErr = errNoGitOps
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
