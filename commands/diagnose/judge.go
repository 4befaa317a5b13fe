package diagnose

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/nexo-org/nexo-bot/commands"
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
func Judge(f *Facts) Verdict {
	app := f.App
	if p := FindProblem(f.Pods); p != nil {
		return judgePod(f, p)
	}
	if app != nil {
		for _, c := range app.Status.Conditions {
			if c.Type == "ComparisonError" {
				return Verdict{Cause: CauseComparisonError,
					Line:    fmt.Sprintf("Argo CD cannot compare `%s` with git (ComparisonError): %s", f.AppName, commands.Clip(c.Message, 300)),
					Details: []string{"Argo CD could not render the desired state from git: check the values file and the chart at the synced revision."}}
			}
		}
		if op := app.Status.OperationState; op != nil && (op.Phase == "Failed" || op.Phase == "Error") {
			v := Verdict{Cause: CauseSyncFailed, Line: fmt.Sprintf("Argo CD's last sync of `%s` ended in %s: %s", f.AppName, op.Phase, commands.Clip(op.Message, 300))}
			if op.SyncResult != nil {
				for _, r := range op.SyncResult.Resources {
					if r.Status != "" && r.Status != "Synced" {
						v.Details = append(v.Details, fmt.Sprintf("%s `%s`: %s %s", r.Kind, r.Name, r.Status, commands.Clip(r.Message, 200)))
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
			return Verdict{Cause: CauseProgressing, Line: fmt.Sprintf("`%s` is still rolling out: %s", f.AppName, commands.Clip(msg, 200))}
		}
		return Verdict{Cause: CauseUnknown, Line: fmt.Sprintf("No known cause found: Argo CD says %s / %s%s", commands.OrDash(app.Status.Health.Status), commands.OrDash(app.Status.Sync.Status), prefixed(": ", app.HealthMessage()))}
	}
	if f.Rollout != nil && f.Rollout.Done && f.PodsErr == nil {
		return Verdict{Cause: CauseHealthy, Good: true, Line: fmt.Sprintf("The pods of %s in %s are running and the rollout is complete (Argo CD not read: %s).", f.Service, f.Env, shortErrOr(f.AppErr))}
	}
	return Verdict{Cause: CauseUnknown, Line: "No known cause found; see the evidence below."}
}

func healthyLine(f *Facts) string {
	line := fmt.Sprintf("`%s` is Synced and Healthy", f.AppName)
	if tag := commands.RunningTag(f.App, f.ImageRepo); tag != "" {
		line += fmt.Sprintf(" on `%s`", tag)
	}
	if h := commands.LastHistory(f.App); h != nil {
		line += fmt.Sprintf("; last deploy %s (`%s`, revision `%s`)", commands.Ago(f.Now, h.DeployedAt), h.DeployedAt.UTC().Format("2006-01-02 15:04Z"), commands.ShortSHA(h.Revision))
	}
	return line + "."
}

func judgePod(f *Facts, p *PodProblem) Verdict {
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
				v.Details = append(v.Details, "Nearest existing tags: "+commands.CodeList(v.Suggestions))
			} else {
				v.Details = append(v.Details, fmt.Sprintf("The registry lists no tags for `%s`.", repo))
			}
			switch {
			case f.GitErr != nil:
				v.Details = append(v.Details, "The values file could not be read: "+commands.ShortErr(f.GitErr))
			case f.GitTag != tag:
				v.Details = append(v.Details, fmt.Sprintf("Git already wants `%s`: Argo CD has not synced it yet.", f.GitTag))
			default:
				v.Fixable = len(v.Suggestions) > 0
			}
		case f.TagChecked:
			v.Line = fmt.Sprintf("%s: `%s` exists in the registry, so the pull itself fails (pull secret, network or node) for %s.", p.Reason, p.Image, where)
			if m := pullFailure(f.Events, p.Pod); m != "" {
				v.Details = append(v.Details, "Kubelet: "+commands.Clip(m, 400))
			}
		case f.TagErr != nil:
			v.Line = fmt.Sprintf("%s on `%s` (%s); the registry could not be asked: %s", p.Reason, p.Image, where, commands.ShortErr(f.TagErr))
		default:
			v.Line = fmt.Sprintf("%s on `%s` (%s); that image is not in nexo's registry repository `%s`, so it was not checked.", p.Reason, p.Image, where, f.ImageRepo)
		}
		if p.Message != "" {
			v.Details = append(v.Details, "Kubelet: "+commands.Clip(p.Message, 300))
		}
	case CauseConfigError:
		if p.Missing != "" {
			v.Line = fmt.Sprintf("%s: %s is missing in `%s` (%s).", p.Reason, p.Missing, f.Namespace, where)
		} else {
			v.Line = fmt.Sprintf("%s for %s: %s", p.Reason, where, commands.Clip(p.Message, 300))
		}
		v.Details = append(v.Details, "Kubelet: "+commands.Clip(p.Message, 300),
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
			use += " · Prometheus did not answer: " + commands.ShortErr(f.MemoryErr)
		default:
			use += " · it reached the limit when it was killed"
		}
		v.Details = append(v.Details, use, "Raise `resources.limits.memory` in the values file, or find what grows.")
	case CauseCrashLoop:
		v.Line = fmt.Sprintf("CrashLoopBackOff: %s keeps crashing (exit code %d, %d restarts).", where, p.ExitCode, p.Restarts)
		switch {
		case f.LogErr != nil:
			v.Details = append(v.Details, "The previous container's log could not be read: "+commands.ShortErr(f.LogErr))
		case strings.TrimSpace(f.PreviousLog) == "":
			v.Details = append(v.Details, "The previous container wrote no log.")
		default:
			marked, lastErr := MarkErrorLines(f.PreviousLog, CrashLogLines)
			v.Log = marked
			if lastErr != "" {
				v.Line = strings.TrimSuffix(v.Line, ".") + fmt.Sprintf(" — last error: `%s`", commands.Clip(lastErr, 160))
			}
			v.Details = append(v.Details, fmt.Sprintf("Last %d lines of the previous container's log (error lines marked ▶):", CrashLogLines))
		}
	case CausePending:
		v.Line = fmt.Sprintf("Pending: %s cannot be scheduled: %s", where, commands.Clip(commands.OrDash(p.Message), 300))
		seen := map[string]bool{}
		for _, e := range f.Events {
			if e.Reason == "FailedScheduling" && !seen[e.Message] {
				seen[e.Message] = true
				v.Details = append(v.Details, fmt.Sprintf("FailedScheduling (%s): %s", commands.Ago(f.Now, kube.EventTime(e)), commands.Clip(e.Message, 300)))
			}
		}
		if len(v.Details) == 0 {
			v.Details = append(v.Details, "No FailedScheduling events were found.")
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

func bytesOrNone(n int64) string {
	if n <= 0 {
		return "none"
	}
	return HumanBytes(n)
}
