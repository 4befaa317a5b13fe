package rotation

import (
	"strings"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/policy"
	"github.com/nexo-org/nexo-bot/commands/rotation/steps"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/store"
)

var (
	rotateForward = []string{steps.StepPrepare, steps.StepStageNew, steps.StepAlterDB, steps.StepVerifyDB, steps.StepPromote, steps.StepSync, steps.StepWaitSecret, steps.StepRestart, steps.StepWaitRollout, steps.StepVerifyLogs}
	compensating  = []string{steps.StepRestoreDB, steps.StepRestoreStore, steps.StepResync, steps.StepRestartAgain}
)

// stepLines renders each step with a mark and its latest status, for a
// reader (step names are the steps' ids, as in docs/rotation.md).
func stepLines(t i18n.T, st *steps.State, names []string) []string {
	last := map[string]steps.Entry{}
	for _, e := range st.Log {
		last[e.Step] = e
	}
	var out []string
	for _, s := range names {
		entry, seen := last[s]
		status := entry.Status
		word, detail, _ := strings.Cut(status, ": ")
		mark := ":white_small_square:"
		switch {
		case !seen || status == steps.StatusQueued:
		case status == steps.StatusDone:
			mark = ":white_check_mark:"
		case word == steps.StatusFailed:
			mark = ":x:"
		case word == steps.StatusRetrying:
			mark = ":warning:"
		default:
			mark = ":hourglass_flowing_sand:"
		}
		line := mark + " " + s
		if seen && status != steps.StatusDone && status != steps.StatusQueued {
			line += " — " + commands.Clip(statusText(t, word, steps.Why(entry.Reason, detail)), 160)
		}
		out = append(out, line)
	}
	return out
}

// statusText is a step's status for a reader: the catalog's word, with
// why the step failed (steps.Why); a status it does not know as logged.
func statusText(t i18n.T, word string, why any) string {
	switch word {
	case steps.StatusStarted, steps.StatusWaiting, steps.StatusStopped:
		return t.S("rotation.status." + word)
	case steps.StatusRetrying, steps.StatusFailed:
		return t.S("rotation.status."+word, "Error", why)
	}
	if m, ok := why.(i18n.Msg); ok {
		return word + ": " + t.Msg(m)
	}
	if why != "" {
		return word + ": " + why.(string)
	}
	return word
}

func (f *Flow) card(wf *store.Workflow, job *Job, state string) chat.Message {
	t := f.D.T(wf.Channel)
	title := t.S("rotation.card.title", "Secret", job.Secret, "Service", job.Service, "Env", job.Env)
	status := t.S("rotation.card.waiting")
	switch {
	case job.Result == ResultDone:
		status = t.S("rotation.card.done")
	case job.Result == ResultRolledBack:
		status = t.S("rotation.card.rolled_back")
	case job.Result == ResultFailed || state == Failed:
		status = t.S("rotation.card.failed")
	case job.Result == ResultCancelled || state == Cancelled:
		status = t.S("rotation.card.cancelled")
	case state == Run && job.Rotation.Phase == steps.PhaseRollingBack:
		status = t.S("rotation.card.rolling_back")
	case state == Run:
		status = t.S("rotation.card.rotating")
	}
	dec := policy.Evaluate(job.Need, job.Approvals)
	approvals := t.S("rotation.card.approvals", "Got", len(dec.Counted), "Need", job.Need.Approvals, "Group", job.Need.Group)
	if len(dec.Counted) > 0 {
		approvals += " — " + commands.Mentions(dec.Counted)
	}
	if job.Need.Approvals == 0 {
		approvals = t.S("rotation.card.not_required", "Env", job.Env)
	}
	fields := []string{
		t.S("rotation.card.requested_by") + "\n" + chat.Mention(job.Requester),
		t.S("rotation.card.approvals_field") + "\n" + approvals,
		t.S("rotation.card.secrets_manager") + "\n`" + job.SecretID + "`",
		t.S("rotation.card.kubernetes") + "\n`" + job.Rotation.Spec.Namespace + "/" + job.Rotation.Spec.KubernetesSecret + "` → `" + job.Rotation.Spec.Deployment + "`",
	}
	blocks := []chat.Block{
		{Section: &chat.Section{Text: "*" + title + "*\n" + status}},
		{Section: &chat.Section{Fields: fields}},
	}
	if state != Approval && state != Card && state != Cancelled {
		blocks = append(blocks, chat.Block{Section: &chat.Section{Text: strings.Join(stepLines(t, job.Rotation, rotateForward), "\n")}})
		if job.Rotation.Phase == steps.PhaseRollingBack || job.Rotation.FailedStep != "" && job.Rotation.Altered {
			blocks = append(blocks, chat.Block{Section: &chat.Section{Text: t.S("rotation.card.rollback") + "\n" + strings.Join(stepLines(t, job.Rotation, compensating), "\n")}})
		}
	}
	if job.Summary != "" {
		blocks = append(blocks, chat.Block{Context: []string{t.Msg(steps.Summary(job.Rotation))}})
	}
	if (state == Approval || state == Card || state == Run) && job.Result == "" && job.CancelledBy == "" {
		var btns []chat.Button
		if state != Run && job.Need.Approvals > 0 && !dec.Satisfied {
			btns = append(btns, chat.Button{Text: t.S("rotation.card.approve"), Action: "rotate.approve", Value: wf.ID, Style: chat.StylePrimary,
				Confirm: t.S("rotation.card.approve_confirm", "Service", job.Service, "Env", job.Env)})
		}
		cancel := chat.Button{Text: t.S("rotation.card.cancel"), Action: commands.ActionCancel, Value: wf.ID, Style: chat.StyleDanger}
		if state == Run {
			cancel.Confirm = t.S("rotation.card.cancel_confirm")
		}
		btns = append(btns, cancel)
		blocks = append(blocks, chat.Block{Actions: btns})
	}
	blocks = append(blocks, chat.Block{Context: []string{t.S("rotation.card.context", "ID", wf.ID)}})
	text := strings.NewReplacer(":key: ", "", "`", "").Replace(title) + " — " + strings.Trim(commands.StripMarks(strings.NewReplacer(":rewind: ", "", ":no_entry: ", "").Replace(status)), " ")
	return chat.Message{Text: text, Blocks: blocks}
}
