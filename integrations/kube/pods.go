package kube

// What `kubectl get pods` says of a pod: the facts the diagnosis and the
// pods view read, and kubectl's table of them.

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nexo-org/nexo-bot/internal/text"
	corev1 "k8s.io/api/core/v1"
)

// PodsTable is `kubectl get pods`' table: NAME READY STATUS RESTARTS AGE.
func PodsTable(pods []corev1.Pod, now time.Time) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tREADY\tSTATUS\tRESTARTS\tAGE") //i18n:verbatim kubectl's column names, as people know them
	for _, p := range pods {
		r, t := PodReady(p)
		restarts := fmt.Sprint(PodRestarts(p))
		if last := LastRestart(p); !last.IsZero() && PodRestarts(p) > 0 {
			restarts += " (" + Age(now.Sub(last)) + " ago)"
		}
		fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%s\t%s\n", p.Name, r, t, PodStatus(p), restarts, Age(now.Sub(p.CreationTimestamp.Time)))
	}
	tw.Flush()
	return text.TrimLines(b.String())
}

// PodReady counts the ready containers of a pod and its containers.
func PodReady(p corev1.Pod) (ready, total int) {
	total = len(p.Spec.Containers)
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Ready {
			ready++
		}
	}
	if total == 0 {
		total = len(p.Status.ContainerStatuses)
	}
	return ready, total
}

// PodRestarts sums the restarts of a pod's containers.
func PodRestarts(p corev1.Pod) int32 {
	var n int32
	for _, cs := range p.Status.ContainerStatuses {
		n += cs.RestartCount
	}
	return n
}

// LastRestart is when a container of the pod last terminated.
func LastRestart(p corev1.Pod) time.Time {
	var t time.Time
	for _, cs := range p.Status.ContainerStatuses {
		if term := cs.LastTerminationState.Terminated; term != nil && term.FinishedAt.Time.After(t) {
			t = term.FinishedAt.Time
		}
	}
	return t
}

// PodStatus is the STATUS column of `kubectl get pods`: the waiting or
// terminated reason of a container (Init:… for init containers),
// Terminating, or the phase.
func PodStatus(p corev1.Pod) string {
	reason := string(p.Status.Phase)
	if p.Status.Reason != "" {
		reason = p.Status.Reason
	}
	for i, cs := range p.Status.InitContainerStatuses {
		switch {
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
			continue
		case cs.State.Terminated != nil:
			if cs.State.Terminated.Reason != "" {
				return "Init:" + cs.State.Terminated.Reason
			}
			return fmt.Sprintf("Init:ExitCode:%d", cs.State.Terminated.ExitCode)
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "PodInitializing":
			return "Init:" + cs.State.Waiting.Reason
		default:
			return fmt.Sprintf("Init:%d/%d", i, len(p.Spec.InitContainers))
		}
	}
	running := false
	for i := len(p.Status.ContainerStatuses) - 1; i >= 0; i-- {
		cs := p.Status.ContainerStatuses[i]
		switch {
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
			reason = cs.State.Waiting.Reason
		case cs.State.Terminated != nil && cs.State.Terminated.Reason != "":
			reason = cs.State.Terminated.Reason
		case cs.State.Terminated != nil:
			reason = fmt.Sprintf("ExitCode:%d", cs.State.Terminated.ExitCode)
		case cs.Ready && cs.State.Running != nil:
			running = true
		}
	}
	if running && reason == "Completed" {
		reason = "Running"
	}
	if p.DeletionTimestamp != nil {
		reason = "Terminating"
	}
	return reason
}

// Age is kubectl's AGE column: "45s", "12m", "5h", "3d".
func Age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
