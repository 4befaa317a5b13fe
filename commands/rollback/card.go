package rollback

import (
	"fmt"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/policy"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/store"
)

func (f *Flow) card(wf *store.Workflow, rb *Rollback, state string) chat.Message {
	title := fmt.Sprintf(":rewind: Rollback %s in %s via %s", rb.Service, rb.Env, rb.Via)
	if rb.Tag != "" {
		title += fmt.Sprintf(" → `%s`", rb.Tag)
	}
	status := map[string]string{Approval: ":hourglass_flowing_sand: waiting for approval", Act: ":hourglass_flowing_sand: rolling back", Follow: ":hourglass_flowing_sand: following Argo CD", Done: ":white_check_mark: done",
		commands.ResultCancelled: ":stop_sign: cancelled"}[state]
	if rb.Result == records.ResultFailed {
		status = ":x: failed"
	}
	dec := policy.Evaluate(rb.Need, rb.Approvals)
	approvals := fmt.Sprintf("%d/%d", len(dec.Counted), rb.Need.Approvals)
	if len(dec.Counted) > 0 {
		approvals += " — " + commands.Mentions(dec.Counted)
	}
	if rb.Need.Approvals == 0 {
		approvals = "not required in " + rb.Env
	}
	fields := []string{"*Requested by*\n" + chat.Mention(rb.Requester), "*Approvals*\n" + approvals, "*Running before*\n`" + commands.OrDash(rb.Current) + "`"}
	if rb.Via == ViaArgoCD {
		fields = append(fields, fmt.Sprintf("*History id*\n#%d", rb.HistoryID))
	}
	blocks := []chat.Block{{Section: &chat.Section{Text: "*" + title + "*\n" + status}}, {Section: &chat.Section{Fields: fields}}}
	if rb.Note != "" {
		blocks = append(blocks, chat.Block{Section: &chat.Section{Text: rb.Note}})
	}
	if rb.Freeze != "" {
		blocks = append(blocks, chat.Block{Context: []string{":snowflake: " + rb.Freeze}})
	}
	var btns []chat.Button
	if state == Approval && rb.Need.Approvals > 0 && !dec.Satisfied {
		btns = append(btns, chat.Button{Text: "Approve rollback", Action: "rollback.approve", Value: wf.ID, Style: chat.StyleDanger})
	}
	if !wf.Done && (state == Card || state == Approval || state == Act || state == Follow) {
		btns = append(btns, chat.Button{Text: "Cancel", Action: commands.ActionCancel, Value: wf.ID, Confirm: "Cancel the " + commands.English().Msg(What(rb)) + "?"})
	}
	if len(btns) > 0 {
		blocks = append(blocks, chat.Block{Actions: btns})
	}
	blocks = append(blocks, chat.Block{Context: []string{"workflow `" + wf.ID + "`"}})
	return chat.Message{Text: commands.StripMarks(title) + " — " + commands.StripMarks(status), Blocks: blocks}
}

// ingressBackend is the service of rule 0, path 0 (the playbook's patch path).
