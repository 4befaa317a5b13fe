package diagnose

import (
	"fmt"
	"strings"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/kube"
)

// Card renders the verdict first, then the evidence, for a reader.
func Card(t i18n.T, f *Facts, v Verdict) chat.Message {
	icon := ":red_circle:"
	switch {
	case v.Good:
		icon = ":large_green_circle:"
	case v.Cause == CauseProgressing:
		icon = ":large_blue_circle:"
	case v.Cause == CauseUnknown:
		icon = ":grey_question:"
	}
	line := t.Msg(v.Line)
	m := chat.Message{
		Text:   t.S("diagnose.card.fallback", "Service", f.Service, "Env", f.Env, "Line", commands.StripMarks(line)),
		Blocks: []chat.Block{{Section: &chat.Section{Text: t.S("diagnose.card.title", "Icon", icon, "Service", f.Service, "Env", f.Env, "Line", line)}}},
	}
	for _, d := range v.Details {
		m.Blocks = append(m.Blocks, chat.Block{Section: &chat.Section{Text: t.Msg(d)}})
	}
	if v.Log != "" {
		m.Blocks = append(m.Blocks, chat.Block{Code: v.Log})
	}
	if v.Fixable {
		var btns []chat.Button
		primary := 0 // the previous environment's tag, the usual source, else the newest
		for i, tag := range v.Suggestions {
			if tag == f.PrevEnvTag {
				primary = i
			}
		}
		for i, tag := range v.Suggestions {
			// Action ids must be unique within a block; the router routes
			// "<ActionFixTag>.<n>" to the ActionFixTag handler.
			action := commands.ActionFixTag
			if i > 0 {
				action = fmt.Sprintf("%s.%d", commands.ActionFixTag, i+1)
			}
			b := chat.Button{Text: t.S("diagnose.fix.button", "Tag", tag), Action: action, Value: strings.Join([]string{f.Service, f.Env, tag}, "|"),
				Confirm: t.S("diagnose.fix.confirm", "Service", f.Service, "Env", f.Env, "From", v.BadTag, "To", tag)}
			if i == primary {
				b.Style = chat.StylePrimary
			}
			btns = append(btns, b)
		}
		m.Blocks = append(m.Blocks, chat.Block{Actions: btns})
	}
	m.Blocks = append(m.Blocks, chat.Block{Divider: true})
	m.Blocks = append(m.Blocks, chat.Block{Section: &chat.Section{Fields: evidenceFields(t, f)}})
	if f.PodsErr == nil && len(f.Pods) > 0 {
		m.Blocks = append(m.Blocks, chat.Block{Code: kube.PodsTable(f.Pods, f.Now)},
			chat.Block{Context: []string{t.S("diagnose.card.restarts_note")}})
	}
	if lines := eventLines(t, f); len(lines) > 0 {
		m.Blocks = append(m.Blocks, chat.Block{Section: &chat.Section{Text: t.S("diagnose.card.events") + "\n" + strings.Join(lines, "\n")}})
	}
	m.Blocks = append(m.Blocks, chat.Block{Context: []string{t.S("diagnose.card.context", "App", f.AppName, "Namespace", f.Namespace, "Selector", f.Selector)}})
	return m
}

func evidenceFields(t i18n.T, f *Facts) []string {
	var fields []string
	if f.App != nil {
		st := f.App.Status
		app := fmt.Sprintf("%s\n%s %s · %s", t.S("diagnose.field.argocd"), commands.HealthEmoji(st.Health.Status), commands.OrDash(st.Health.Status), commands.OrDash(st.Sync.Status))
		if msg := f.App.HealthMessage(); msg != "" {
			app += "\n" + commands.Clip(msg, 120)
		}
		for _, c := range st.Conditions {
			app += fmt.Sprintf("\n%s: %s", c.Type, commands.Clip(c.Message, 150))
		}
		fields = append(fields, app)
		op := t.S("diagnose.field.last_operation") + "\n"
		if o := st.OperationState; o != nil {
			op += fmt.Sprintf("%s: %s", o.Phase, commands.Clip(o.Message, 120))
			if o.FinishedAt != nil {
				op += " (" + t.Ago(f.Now, *o.FinishedAt) + ")"
			}
		} else {
			op += "-"
		}
		fields = append(fields, op)
	} else {
		fields = append(fields, t.S("diagnose.field.argocd")+"\n_"+errText(t, f.AppErr)+"_")
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
		tree := t.S("diagnose.field.resources") + "\n" + t.S("diagnose.resources.count", "Total", len(f.Tree.Nodes))
		if len(bad) > 0 {
			tree += t.S("diagnose.resources.not_healthy", "List", commands.Clip(strings.Join(bad, ", "), 200))
		}
		if badPods > 0 {
			tree += t.S("diagnose.resources.pods_not_healthy", "Bad", badPods, "Total", pods)
		}
		fields = append(fields, tree)
	}
	rollout := t.S("diagnose.field.rollout") + "\n"
	switch {
	case f.Rollout != nil && f.Rollout.Done && f.App != nil && f.App.Status.Health.Status != "" && f.App.Status.Health.Status != "Healthy":
		// Never "successfully rolled out" beside Argo CD's "Degraded: exceeded
		// its progress deadline": the two disagree, say so.
		fields = append(fields, rollout+t.S("diagnose.rollout_disagrees", "Health", f.App.Status.Health.Status))
	case f.Rollout != nil:
		fields = append(fields, rollout+f.Rollout.Message)
	case f.RolloutErr != nil:
		fields = append(fields, rollout+"_"+errText(t, f.RolloutErr)+"_")
	}
	gitLine := t.S("diagnose.field.git") + "\n"
	if f.GitErr != nil {
		gitLine += "_" + errText(t, f.GitErr) + "_"
	} else {
		gitLine += "`" + f.GitTag + "`"
		if running := argocd.RunningTag(f.App, f.ImageRepo); running != "" && running != f.GitTag {
			gitLine += t.S("diagnose.argo_reports", "Tag", running)
		}
	}
	fields = append(fields, gitLine)
	if f.PodsErr != nil {
		fields = append(fields, t.S("diagnose.field.pods")+"\n_"+errText(t, f.PodsErr)+"_")
	}
	return fields
}

func eventLines(t i18n.T, f *Facts) []string {
	if f.EventsErr != nil {
		return []string{t.S("diagnose.card.events_unread", "Error", errText(t, f.EventsErr))}
	}
	var out []string
	for i, e := range f.Events {
		if i == maxEvidenceEvents {
			out = append(out, t.S("diagnose.card.more_events", "More", len(f.Events)-i))
			break
		}
		count := ""
		if e.Count > 1 {
			count = t.N("diagnose.card.seen", int(e.Count))
		}
		out = append(out, fmt.Sprintf("`%s` %s *%s* %s/%s: %s%s", t.Ago(f.Now, kube.EventTime(e)), e.Type, e.Reason,
			strings.ToLower(e.InvolvedObject.Kind), e.InvolvedObject.Name, commands.Clip(e.Message, 200), count))
	}
	return out
}
