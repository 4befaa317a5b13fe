package diagnose

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/kube"
	"github.com/nexo-org/nexo-bot/integrations/registry"
	corev1 "k8s.io/api/core/v1"
)

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
// "nexo-be-db" not found` → "Secret nexo-be-db"; the zero Msg when the
// message names none.
func MissingReference(msg string) i18n.Msg {
	if m := missingKey.FindStringSubmatch(msg); m != nil {
		return i18n.M("diagnose.missing.key", "Key", m[1], "Kind", kindName(m[2]), "Name", m[4])
	}
	if m := missingObject.FindStringSubmatch(msg); m != nil {
		return i18n.M("diagnose.missing.object", "Kind", kindName(m[1]), "Name", m[2])
	}
	return i18n.Msg{}
}

func kindName(s string) string {
	if strings.EqualFold(s, "configmap") {
		return "ConfigMap"
	}
	return "Secret"
}

// Judge names the cause from the gathered facts. Pure: same facts, same
// verdict (in catalog messages, rendered for the reader by Card).
func Judge(f *Facts) Verdict {
	app := f.App
	if p := FindProblem(f.Pods); p != nil {
		return judgePod(f, p)
	}
	if app != nil {
		for _, c := range app.Status.Conditions {
			if c.Type == "ComparisonError" {
				return Verdict{Cause: CauseComparisonError,
					Line:    i18n.M("diagnose.comparison.line", "App", f.AppName, "Message", commands.Clip(c.Message, 300)),
					Details: []i18n.Msg{i18n.M("diagnose.comparison.detail")}}
			}
		}
		if op := app.Status.OperationState; op != nil && (op.Phase == "Failed" || op.Phase == "Error") {
			v := Verdict{Cause: CauseSyncFailed, Line: i18n.M("diagnose.sync_failed.line", "App", f.AppName, "Phase", op.Phase, "Message", commands.Clip(op.Message, 300))}
			if op.SyncResult != nil {
				for _, r := range op.SyncResult.Resources {
					if r.Status != "" && r.Status != "Synced" {
						v.Details = append(v.Details, i18n.M("diagnose.sync_failed.resource", "Kind", r.Kind, "Name", r.Name, "Status", r.Status, "Message", commands.Clip(r.Message, 200)))
					}
				}
			}
			return v
		}
	}
	if f.Rollout != nil && f.Rollout.Failed {
		return Verdict{Cause: CauseRolloutStuck, Line: i18n.M("diagnose.rollout_stuck", "Deployment", f.Deployment, "Message", f.Rollout.Message)}
	}
	if f.PodsErr == nil && len(f.Pods) == 0 && (app == nil || app.Status.Health.Status != "Healthy") {
		return Verdict{Cause: CauseNoPods, Line: i18n.M("diagnose.no_pods.line", "Selector", f.Selector, "Namespace", f.Namespace),
			Details: []i18n.Msg{i18n.M("diagnose.no_pods.detail")}}
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
			return Verdict{Cause: CauseProgressing, Line: i18n.M("diagnose.progressing", "App", f.AppName, "Message", commands.Clip(msg, 200))}
		}
		return Verdict{Cause: CauseUnknown, Line: i18n.M("diagnose.unknown.argocd", "Health", commands.OrDash(app.Status.Health.Status), "Sync", commands.OrDash(app.Status.Sync.Status), "Message", prefixed(": ", app.HealthMessage()))}
	}
	if f.Rollout != nil && f.Rollout.Done && f.PodsErr == nil {
		return Verdict{Cause: CauseHealthy, Good: true, Line: i18n.M("diagnose.healthy.no_argocd", "Service", f.Service, "Env", f.Env, "Error", errMsg(f.AppErr))}
	}
	return Verdict{Cause: CauseUnknown, Line: i18n.M("diagnose.unknown.line")}
}

func prefixed(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

func healthyLine(f *Facts) i18n.Msg {
	var on, last i18n.Msg
	if tag := argocd.RunningTag(f.App, f.ImageRepo); tag != "" {
		on = i18n.M("diagnose.healthy.on", "Tag", tag)
	}
	if h := argocd.LastHistory(f.App); h != nil {
		last = i18n.M("diagnose.healthy.last", "Ago", i18n.Since{Now: f.Now, At: h.DeployedAt}, "When", i18n.Moment(h.DeployedAt), "Revision", commands.ShortSHA(h.Revision))
	}
	return i18n.M("diagnose.healthy.line", "App", f.AppName, "On", on, "Last", last)
}

func judgePod(f *Facts, p *PodProblem) Verdict {
	v := Verdict{Cause: p.Cause, Problem: p}
	where := i18n.M("diagnose.where.pod", "Pod", p.Pod)
	if p.Container != "" {
		where = i18n.M("diagnose.where.container", "Container", p.Container, "Pod", p.Pod)
	}
	restarts := i18n.M("diagnose.restarts", "Count", int(p.Restarts))
	kubelet := func(msg string, n int) i18n.Msg { return i18n.M("diagnose.kubelet", "Message", commands.Clip(msg, n)) }
	switch p.Cause {
	case CauseImagePull:
		_, repo, tag, err := registry.SplitImage(p.Image)
		switch {
		case err != nil:
			v.Line = i18n.M("diagnose.image_pull.invalid", "Reason", p.Reason, "Image", p.Image, "Where", where, "Error", commands.ShortErr(err))
		case f.TagChecked && !f.TagExists:
			v.BadTag = tag
			v.Line = i18n.M("diagnose.image_pull.missing", "Reason", p.Reason, "Tag", tag, "Repo", repo, "Where", where)
			v.Suggestions = suggestTags(f, tag)
			if len(v.Suggestions) > 0 {
				v.Details = append(v.Details, i18n.M("diagnose.image_pull.nearest", "List", commands.CodeList(v.Suggestions)))
			} else {
				v.Details = append(v.Details, i18n.M("diagnose.image_pull.no_tags", "Repo", repo))
			}
			switch {
			case f.GitErr != nil:
				v.Details = append(v.Details, i18n.M("diagnose.image_pull.git_unread", "Error", errMsg(f.GitErr)))
			case f.GitTag != tag:
				v.Details = append(v.Details, i18n.M("diagnose.image_pull.git_ahead", "Tag", f.GitTag))
			default:
				v.Fixable = len(v.Suggestions) > 0
			}
		case f.TagChecked:
			v.Line = i18n.M("diagnose.image_pull.pull_fails", "Reason", p.Reason, "Image", p.Image, "Where", where)
			if m := pullFailure(f.Events, p.Pod); m != "" {
				v.Details = append(v.Details, kubelet(m, 400))
			}
		case f.TagErr != nil:
			v.Line = i18n.M("diagnose.image_pull.registry_down", "Reason", p.Reason, "Image", p.Image, "Where", where, "Error", commands.ShortErr(f.TagErr))
		default:
			v.Line = i18n.M("diagnose.image_pull.not_checked", "Reason", p.Reason, "Image", p.Image, "Where", where, "Repo", f.ImageRepo)
		}
		if p.Message != "" {
			v.Details = append(v.Details, kubelet(p.Message, 300))
		}
	case CauseConfigError:
		if p.Missing.ID != "" {
			v.Line = i18n.M("diagnose.config_error.missing", "Reason", p.Reason, "Missing", p.Missing, "Namespace", f.Namespace, "Where", where)
		} else {
			v.Line = i18n.M("diagnose.config_error.unnamed", "Reason", p.Reason, "Where", where, "Message", commands.Clip(p.Message, 300))
		}
		v.Details = append(v.Details, kubelet(p.Message, 300), i18n.M("diagnose.config_error.fix"))
	case CauseOOMKilled:
		var of i18n.Msg
		if p.MemoryLimit > 0 {
			of = i18n.M("diagnose.oom.of", "Limit", HumanBytes(p.MemoryLimit))
		}
		v.Line = i18n.M("diagnose.oom.line", "Where", where, "Of", of, "Code", p.ExitCode, "Restarts", restarts)
		var more i18n.Msg
		switch {
		case f.MemoryPeakOK && p.MemoryLimit > 0:
			more = i18n.M("diagnose.oom.peak_share", "Peak", HumanBytes(int64(f.MemoryPeak)), "Percent", fmt.Sprintf("%.0f", 100*f.MemoryPeak/float64(p.MemoryLimit)))
		case f.MemoryPeakOK:
			more = i18n.M("diagnose.oom.peak", "Peak", HumanBytes(int64(f.MemoryPeak)))
		case f.MemoryErr != nil:
			more = i18n.M("diagnose.oom.prom_down", "Error", commands.ShortErr(f.MemoryErr))
		default:
			more = i18n.M("diagnose.oom.at_limit")
		}
		v.Details = append(v.Details, i18n.M("diagnose.oom.use", "Limit", bytesOrNone(p.MemoryLimit), "Request", bytesOrNone(p.MemoryRequest), "More", more),
			i18n.M("diagnose.oom.fix"))
	case CauseCrashLoop:
		v.Line = i18n.M("diagnose.crash.line", "Where", where, "Code", p.ExitCode, "Restarts", restarts)
		switch {
		case f.LogErr != nil:
			v.Details = append(v.Details, i18n.M("diagnose.crash.log_unread", "Error", commands.ShortErr(f.LogErr)))
		case strings.TrimSpace(f.PreviousLog) == "":
			v.Details = append(v.Details, i18n.M("diagnose.crash.no_log"))
		default:
			marked, lastErr := MarkErrorLines(f.PreviousLog, CrashLogLines)
			v.Log = marked
			if lastErr != "" {
				v.Line = i18n.M("diagnose.crash.line_error", "Where", where, "Code", p.ExitCode, "Restarts", restarts, "Error", commands.Clip(lastErr, 160))
			}
			v.Details = append(v.Details, i18n.M("diagnose.crash.log_head", "Lines", CrashLogLines))
		}
	case CausePending:
		v.Line = i18n.M("diagnose.pending.line", "Where", where, "Message", commands.Clip(commands.OrDash(p.Message), 300))
		seen := map[string]bool{}
		for _, e := range f.Events {
			if e.Reason == "FailedScheduling" && !seen[e.Message] {
				seen[e.Message] = true
				v.Details = append(v.Details, i18n.M("diagnose.pending.event", "Ago", i18n.Since{Now: f.Now, At: kube.EventTime(e)}, "Message", commands.Clip(e.Message, 300)))
			}
		}
		if len(v.Details) == 0 {
			v.Details = append(v.Details, i18n.M("diagnose.pending.none"))
		}
	}
	return v
}

// suggestTags picks the existing tags to offer for a missing one — the
// tag of the previous environment (the usual promotion source) when it
// exists, then registry.NearestTags — and lists them newest first. The
// card shows the same tags as its Fix buttons.
func suggestTags(f *Facts, bad string) []string {
	var out []string
	if f.PrevEnvTag != "" && f.PrevEnvTag != bad && slices.Contains(f.RegistryTags, f.PrevEnvTag) {
		out = append(out, f.PrevEnvTag)
	}
	for _, t := range registry.NearestTags(f.RegistryTags, bad, MaxSuggestedTags+1) {
		if t != bad && !slices.Contains(out, t) && len(out) < MaxSuggestedTags {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(b, a) }) // CalVer: newest first
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
		b.WriteString(commands.Clip(l, 300))
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

func bytesOrNone(n int64) any {
	if n <= 0 {
		return i18n.M("diagnose.none")
	}
	return HumanBytes(n)
}
