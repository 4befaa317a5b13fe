package diagnose

import (
	"fmt"
	"strings"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/integrations/kube"
)

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
	return commands.ShortErr(err)
}

// Card renders the verdict first, then the evidence.
func Card(cfg *config.Config, f *Facts, v Verdict) chat.Message {
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
		Text:   fmt.Sprintf("%s in %s: %s", f.Service, f.Env, commands.StripMarks(v.Line)),
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
		primary := 0 // the previous environment's tag, the usual source, else the newest
		for i, t := range v.Suggestions {
			if t == f.PrevEnvTag {
				primary = i
			}
		}
		for i, t := range v.Suggestions {
			// Action ids must be unique within a block; the router routes
			// "<ActionFixTag>.<n>" to the ActionFixTag handler.
			action := commands.ActionFixTag
			if i > 0 {
				action = fmt.Sprintf("%s.%d", commands.ActionFixTag, i+1)
			}
			b := chat.Button{Text: "Fix tag → " + t, Action: action, Value: strings.Join([]string{f.Service, f.Env, t}, "|"),
				Confirm: fmt.Sprintf("Open the fix PR setting %s in %s from %s to %s?", f.Service, f.Env, v.BadTag, t)}
			if i == primary {
				b.Style = chat.StylePrimary
			}
			btns = append(btns, b)
		}
		m.Blocks = append(m.Blocks, chat.Block{Actions: btns})
	}
	m.Blocks = append(m.Blocks, chat.Block{Divider: true})
	m.Blocks = append(m.Blocks, chat.Block{Section: &chat.Section{Fields: evidenceFields(f)}})
	if f.PodsErr == nil && len(f.Pods) > 0 {
		m.Blocks = append(m.Blocks, chat.Block{Code: commands.PodsTable(f.Pods, f.Now)},
			chat.Block{Context: []string{"RESTARTS counts each container restart since the pod started; an event's \"seen N times\" is how often Kubernetes reported it (a BackOff repeats while the container keeps failing)."}})
	}
	if lines := eventLines(f); len(lines) > 0 {
		m.Blocks = append(m.Blocks, chat.Block{Section: &chat.Section{Text: "*Events* (Warnings first)\n" + strings.Join(lines, "\n")}})
	}
	m.Blocks = append(m.Blocks, chat.Block{Context: []string{fmt.Sprintf("Argo CD app `%s` · namespace `%s` · pods `%s` · read only", f.AppName, f.Namespace, f.Selector)}})
	return m
}

func evidenceFields(f *Facts) []string {
	var fields []string
	if f.App != nil {
		st := f.App.Status
		app := fmt.Sprintf("*Argo CD*\n%s %s · %s", commands.HealthEmoji(st.Health.Status), commands.OrDash(st.Health.Status), commands.OrDash(st.Sync.Status))
		if msg := f.App.HealthMessage(); msg != "" {
			app += "\n" + commands.Clip(msg, 120)
		}
		for _, c := range st.Conditions {
			app += fmt.Sprintf("\n%s: %s", c.Type, commands.Clip(c.Message, 150))
		}
		fields = append(fields, app)
		op := "*Last operation*\n"
		if o := st.OperationState; o != nil {
			op += fmt.Sprintf("%s: %s", o.Phase, commands.Clip(o.Message, 120))
			if o.FinishedAt != nil {
				op += " (" + commands.Ago(f.Now, *o.FinishedAt) + ")"
			}
		} else {
			op += "-"
		}
		fields = append(fields, op)
	} else {
		fields = append(fields, "*Argo CD*\n_"+shortErrOr(f.AppErr)+"_")
	}
	if f.Tree != nil {
		// Pods are named once, in the pods table (from Kubernetes): the tree
		// names the other resources and counts its pods.
		var bad []string
		pods, badPods := 0, 0
		for _, n := range f.Tree.Nodes {
			unhealthy := n.Health != nil && n.Health.Status != "" && n.Health.Status != "Healthy"
			switch {
			case n.Kind == "Pod":
				pods++
				if unhealthy {
					badPods++
				}
			case unhealthy:
				bad = append(bad, fmt.Sprintf("%s/%s %s", n.Kind, n.Name, n.Health.Status))
			}
		}
		tree := fmt.Sprintf("*Resources*\n%d in the tree", len(f.Tree.Nodes))
		if len(bad) > 0 {
			tree += ", not Healthy: " + commands.Clip(strings.Join(bad, ", "), 200)
		}
		if badPods > 0 {
			tree += fmt.Sprintf("; %d of %d pods not Healthy (the table below)", badPods, pods)
		}
		fields = append(fields, tree)
	}
	switch {
	case f.Rollout != nil && f.Rollout.Done && f.App != nil && f.App.Status.Health.Status != "" && f.App.Status.Health.Status != "Healthy":
		// Never "successfully rolled out" beside Argo CD's "Degraded: exceeded
		// its progress deadline": the two disagree, say so.
		fields = append(fields, fmt.Sprintf("*Rollout*\nThe Deployment counts every replica updated and available, yet Argo CD says %s: trust the pods below.", f.App.Status.Health.Status))
	case f.Rollout != nil:
		fields = append(fields, "*Rollout*\n"+f.Rollout.Message)
	case f.RolloutErr != nil:
		fields = append(fields, "*Rollout*\n_"+commands.ShortErr(f.RolloutErr)+"_")
	}
	gitLine := "*Git wants*\n"
	if f.GitErr != nil {
		gitLine += "_" + commands.ShortErr(f.GitErr) + "_"
	} else {
		gitLine += "`" + f.GitTag + "`"
		if running := commands.RunningTag(f.App, f.ImageRepo); running != "" && running != f.GitTag {
			gitLine += fmt.Sprintf(" (Argo CD reports `%s`)", running)
		}
	}
	fields = append(fields, gitLine)
	if f.PodsErr != nil {
		fields = append(fields, "*Pods*\n_"+commands.ShortErr(f.PodsErr)+"_")
	}
	return fields
}

func eventLines(f *Facts) []string {
	if f.EventsErr != nil {
		return []string{"_events: " + commands.ShortErr(f.EventsErr) + "_"}
	}
	var out []string
	for i, e := range f.Events {
		if i == maxEvidenceEvents {
			out = append(out, fmt.Sprintf("… and %d more", len(f.Events)-i))
			break
		}
		count := ""
		if e.Count > 1 {
			count = fmt.Sprintf(" (seen %d times)", e.Count)
		}
		out = append(out, fmt.Sprintf("`%s` %s *%s* %s/%s: %s%s", commands.Ago(f.Now, kube.EventTime(e)), e.Type, e.Reason,
			strings.ToLower(e.InvolvedObject.Kind), e.InvolvedObject.Name, commands.Clip(e.Message, 200), count))
	}
	return out
}
