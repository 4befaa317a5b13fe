package rotation

import (
	"fmt"
	"strings"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/policy"
	"github.com/nexo-org/nexo-bot/commands/rotation/steps"
	"github.com/nexo-org/nexo-bot/store"
)

var (
	rotateForward = []string{steps.StepPrepare, steps.StepStageNew, steps.StepAlterDB, steps.StepVerifyDB, steps.StepPromote, steps.StepSync, steps.StepWaitSecret, steps.StepRestart, steps.StepWaitRollout, steps.StepVerifyLogs}
	compensating  = []string{steps.StepRestoreDB, steps.StepRestoreStore, steps.StepResync, steps.StepRestartAgain}
)

// stepLines renders each step with a mark and its latest status.
func stepLines(st *steps.State, names []string) []string {
	last := map[string]string{}
	for _, e := range st.Log {
		last[e.Step] = e.Status
	}
	var out []string
	for _, s := range names {
		status, seen := last[s]
		mark := ":white_small_square:"
		switch {
		case !seen || status == "queued":
		case status == "done":
			mark = ":white_check_mark:"
		case strings.HasPrefix(status, "failed"):
			mark = ":x:"
		case strings.HasPrefix(status, "retrying"):
			mark = ":warning:"
		default:
			mark = ":hourglass_flowing_sand:"
		}
		line := mark + " " + s
		if seen && status != "done" && status != "queued" {
			line += " — " + commands.Clip(status, 160)
		}
		out = append(out, line)
	}
	return out
}

func (f *Flow) card(wf *store.Workflow, job *Job, state string) chat.Message {
	title := fmt.Sprintf(":key: Rotate `%s` of %s in %s", job.Secret, job.Service, job.Env)
	status := ":hourglass_flowing_sand: *Waiting for approval*"
	switch {
	case job.Result == ResultDone:
		status = ":white_check_mark: *Done*"
	case job.Result == ResultRolledBack:
		status = ":rewind: *Failed and rolled back*"
	case job.Result == ResultFailed || state == Failed:
		status = ":x: *Failed*"
	case job.Result == ResultCancelled || state == Cancelled:
		status = ":no_entry: *Cancelled*"
	case state == Run && job.Rotation.Phase == steps.PhaseRollingBack:
		status = ":rewind: *Rolling back*"
	case state == Run:
		status = ":hourglass_flowing_sand: *Rotating*"
	}
	dec := policy.Evaluate(job.Need, job.Approvals)
	approvals := fmt.Sprintf("%d/%d from %s", len(dec.Counted), job.Need.Approvals, job.Need.Group)
	if len(dec.Counted) > 0 {
		approvals += " — " + commands.Mentions(dec.Counted)
	}
	if job.Need.Approvals == 0 {
		approvals = "not required in " + job.Env
	}
	fields := []string{
		"*Requested by*\n" + chat.Mention(job.Requester),
		"*Approvals*\n" + approvals,
		"*Secrets Manager*\n`" + job.SecretID + "`",
		"*Kubernetes*\n`" + job.Rotation.Spec.Namespace + "/" + job.Rotation.Spec.KubernetesSecret + "` → `" + job.Rotation.Spec.Deployment + "`",
	}
	blocks := []chat.Block{
		{Section: &chat.Section{Text: "*" + title + "*\n" + status}},
		{Section: &chat.Section{Fields: fields}},
	}
	if state != Approval && state != Card && state != Cancelled {
		blocks = append(blocks, chat.Block{Section: &chat.Section{Text: strings.Join(stepLines(job.Rotation, rotateForward), "\n")}})
		if job.Rotation.Phase == steps.PhaseRollingBack || job.Rotation.FailedStep != "" && job.Rotation.Altered {
			blocks = append(blocks, chat.Block{Section: &chat.Section{Text: "*Rollback*\n" + strings.Join(stepLines(job.Rotation, compensating), "\n")}})
		}
	}
	if job.Summary != "" {
		blocks = append(blocks, chat.Block{Context: []string{job.Summary}})
	}
	if (state == Approval || state == Card || state == Run) && job.Result == "" && job.CancelledBy == "" {
		var btns []chat.Button
		if state != Run && job.Need.Approvals > 0 && !dec.Satisfied {
			btns = append(btns, chat.Button{Text: "Approve", Action: "rotate.approve", Value: wf.ID, Style: chat.StylePrimary,
				Confirm: fmt.Sprintf("This changes the database password of %s in %s and restarts its pods.", job.Service, job.Env)})
		}
		cancel := chat.Button{Text: "Cancel", Action: commands.ActionCancel, Value: wf.ID, Style: chat.StyleDanger}
		if state == Run {
			cancel.Confirm = "Stop the rotation? If the database password was changed already, nexo restores the old one everywhere first."
		}
		btns = append(btns, cancel)
		blocks = append(blocks, chat.Block{Actions: btns})
	}
	blocks = append(blocks, chat.Block{Context: []string{"workflow `" + wf.ID + "` · the password is never shown · docs/rotation.md"}})
	text := strings.NewReplacer(":key: ", "", "`", "").Replace(title) + " — " + strings.Trim(commands.StripMarks(strings.NewReplacer(":rewind: ", "", ":no_entry: ", "").Replace(status)), " ")
	return chat.Message{Text: text, Blocks: blocks}
}
