package rollback

import (
	"fmt"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/policy"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/store"
)

// card is the rollback's status card, in the locale of its channel.
func (f *Flow) card(wf *store.Workflow, rb *Rollback, state string) chat.Message {
	return RenderCard(f.D.T(wf.Channel), wf, rb, state)
}

// RenderCard renders a rollback's status card for a state, in the locale of t.
func RenderCard(t i18n.T, wf *store.Workflow, rb *Rollback, state string) chat.Message {
	title := t.S("rollback.card.title", "Service", rb.Service, "Env", rb.Env, "Via", rb.Via)
	if rb.Tag != "" {
		title = t.S("rollback.card.title_to", "Service", rb.Service, "Env", rb.Env, "Via", rb.Via, "Tag", rb.Tag)
	}
	status := ""
	switch state {
	case Approval, Act, Follow, Done, commands.ResultCancelled, commands.ResultSuperseded:
		status = t.S("rollback.card.status." + state)
	}
	if rb.Result == records.ResultFailed {
		status = t.S("rollback.card.status.failed")
	}
	dec := policy.Evaluate(rb.Need, rb.Approvals)
	approvals := fmt.Sprintf("%d/%d", len(dec.Counted), rb.Need.Approvals)
	if len(dec.Counted) > 0 {
		approvals += " — " + commands.Mentions(dec.Counted)
	}
	if rb.Need.Approvals == 0 {
		approvals = t.S("rollback.card.not_required", "Env", rb.Env)
	}
	fields := []string{t.S("rollback.card.requested_by", "Who", chat.Mention(rb.Requester)), t.S("rollback.card.approvals", "List", approvals),
		t.S("rollback.card.running_before", "Tag", commands.OrDash(rb.Current))}
	if rb.Via == ViaArgoCD {
		fields = append(fields, t.S("rollback.card.history_id", "ID", rb.HistoryID))
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
		btns = append(btns, chat.Button{Text: t.S("rollback.card.approve"), Action: "rollback.approve", Value: wf.ID, Style: chat.StyleDanger})
	}
	if !wf.Done && (state == Card || state == Approval || state == Act || state == Follow) {
		btns = append(btns, chat.Button{Text: t.S("rollback.card.cancel"), Action: commands.ActionCancel, Value: wf.ID, Confirm: t.S("rollback.card.cancel_confirm", "What", What(rb))})
	}
	if len(btns) > 0 {
		blocks = append(blocks, chat.Block{Actions: btns})
	}
	blocks = append(blocks, chat.Block{Context: []string{t.S("rollback.card.context", "ID", wf.ID)}})
	return chat.Message{Text: commands.StripMarks(title) + " — " + commands.StripMarks(status), Blocks: blocks}
}

// ingressBackend is the service of rule 0, path 0 (the playbook's patch path).
