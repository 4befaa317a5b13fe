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
	status := map[string]string{Approval: ":hourglass_flowing_sand: waiting for approval", Act: ":hourglass_flowing_sand: rolling back", Follow: ":hourglass_flowing_sand: following Argo CD", Done: ":white_check_mark: done"}[state]
	if rb.Result == records.ResultFailed {
		status = ":x: failed"
	}
	dec := policy.Evaluate(rb.Need, rb.Approvals)
	fields := []string{"*Requested by*\n" + chat.Mention(rb.Requester), fmt.Sprintf("*Approvals*\n%d/%d", len(dec.Counted), rb.Need.Approvals), "*Running before*\n`" + commands.OrDash(rb.Current) + "`"}
	if rb.Via == ViaArgoCD {
		fields = append(fields, fmt.Sprintf("*History id*\n#%d", rb.HistoryID))
	}
	blocks := []chat.Block{{Section: &chat.Section{Text: "*" + title + "*\n" + status}}, {Section: &chat.Section{Fields: fields}}}
	if rb.Note != "" {
		blocks = append(blocks, chat.Block{Section: &chat.Section{Text: rb.Note}})
	}
	if state == Approval && rb.Need.Approvals > 0 && !dec.Satisfied {
		blocks = append(blocks, chat.Block{Actions: []chat.Button{{Text: "Approve rollback", Action: "rollback.approve", Value: wf.ID, Style: chat.StyleDanger}}})
	}
	blocks = append(blocks, chat.Block{Context: []string{"workflow `" + wf.ID + "`"}})
	return chat.Message{Text: commands.StripMarks(title) + " — " + commands.StripMarks(status), Blocks: blocks}
}

// ingressBackend is the service of rule 0, path 0 (the playbook's patch path).
