package change

import (
	"fmt"
	"strings"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/policy"
	"github.com/nexo-org/nexo-bot/i18n"
)

// phases are the card's phase line, each labelled by change.card.phase.<state>.
var phases = []string{PR, Approval, Merge, Sync, Rollout, Watch, Done}

func phaseIndex(state string) int {
	for i, p := range phases {
		if p == state {
			return i
		}
	}
	return -1
}

// RenderCard renders a change's status card for a given state, in the
// locale of t (the workflow's channel).
func RenderCard(t i18n.T, id string, c *Change, state string) chat.Message {
	title := t.S("change.card.title."+noun(c.Flavor), "Service", c.Service, "Env", c.Env, "Tag", c.Tag)
	// The phase line: ✅ done phases, ⏳ the current one, ▫️ the rest.
	cur := phaseIndex(state)
	if state == Card {
		cur = 0
	}
	var steps []string
	for i, p := range phases {
		mark := ":white_small_square:"
		switch {
		case state == Failed || state == Rejected || state == commands.ResultSuperseded || state == commands.ResultCancelled:
			mark = ":white_small_square:"
			if c.MergedAt != nil && i <= phaseIndex(Merge) || c.PR > 0 && i == 0 {
				mark = ":white_check_mark:"
			}
		case i < cur || state == Done:
			mark = ":white_check_mark:"
		case i == cur:
			mark = ":hourglass_flowing_sand:"
		}
		steps = append(steps, mark+" "+t.S("change.card.phase."+p))
	}
	status := t.S("change.card.status.in_progress")
	switch state {
	case Done, Failed, Rejected, commands.ResultSuperseded, commands.ResultCancelled:
		status = t.S("change.card.status." + state)
	}
	dec := policy.Evaluate(c.Need, c.Approvals)
	approvals := fmt.Sprintf("%d/%d", len(dec.Counted), c.Need.Approvals+c.Need.ExtraApprovals)
	if len(dec.Counted) > 0 {
		approvals += " — " + commands.Mentions(dec.Counted)
	}
	if c.Need.Approvals+c.Need.ExtraApprovals == 0 {
		approvals = t.S("change.card.not_required", "Env", c.Env)
	}
	requester := chat.Mention(c.Requester)
	if c.Auto {
		requester = t.S("change.card.auto_requester")
	}
	fields := []string{
		t.S("change.card.requested_by", "Who", requester),
		t.S("change.card.approvals", "List", approvals),
		t.S("change.card.previous", "Tag", commands.OrDash(c.Previous)),
		t.S("change.card.pull_request", "Link", prLink(c)),
	}
	if c.FromEnv != "" {
		fields = append(fields, t.S("change.card.from", "Env", c.FromEnv))
	}
	if c.ErrorRate != nil {
		fields = append(fields, t.S("change.card.error_rate", "Rate", t.Decimal(*c.ErrorRate*100, 2)))
	}
	blocks := []chat.Block{
		{Section: &chat.Section{Text: "*" + title + "*\n" + status}},
		{Context: []string{strings.Join(steps, "  ")}},
		{Section: &chat.Section{Fields: fields}},
	}
	if c.Note != "" {
		blocks = append(blocks, chat.Block{Section: &chat.Section{Text: c.Note}})
	}
	if c.Freeze != "" {
		blocks = append(blocks, chat.Block{Context: []string{":snowflake: " + c.Freeze}})
	}
	if c.Gate != "" && state == Approval {
		blocks = append(blocks, chat.Block{Context: []string{t.S("change.card.gate", "Why", c.Gate)}})
	}
	if c.SkipSoak {
		blocks = append(blocks, chat.Block{Context: []string{t.S("change.card.soak_skipped", "Reason", c.Reason)}})
	}
	if len(c.Changelog) > 0 {
		blocks = append(blocks, chat.Block{Context: []string{t.S("change.card.changelog", "List", commands.Clip(strings.Join(c.Changelog, " · "), 600))}})
	}
	if state == PR || state == Approval || state == Card {
		btns := []chat.Button{}
		if c.Need.Approvals+c.Need.ExtraApprovals > 0 {
			btns = append(btns, chat.Button{Text: t.S("change.card.approve"), Action: "change.approve", Value: id, Style: chat.StylePrimary})
		}
		btns = append(btns, chat.Button{Text: t.S("change.card.reject"), Action: "change.reject", Value: id, Style: chat.StyleDanger})
		if c.PRURL != "" {
			btns = append(btns, chat.Button{Text: t.S("change.card.pr_button", "Number", c.PR), Action: "link.pr", URL: c.PRURL, Value: id})
		}
		btns = append(btns, cancelButton(t, id, c))
		blocks = append(blocks, chat.Block{Actions: btns})
	}
	if state == Merge || state == Sync || state == Rollout || state == Watch {
		blocks = append(blocks, chat.Block{Actions: []chat.Button{cancelButton(t, id, c)}})
	}
	blocks = append(blocks, chat.Block{Context: []string{t.S("change.card.context", "ID", id)}})
	text := fmt.Sprintf("%s — %s", commands.StripMarks(title), strings.Trim(commands.StripMarks(status), " "))
	return chat.Message{Text: text, Blocks: blocks}
}

func prLink(c *Change) string {
	if c.PRURL == "" {
		return "—"
	}
	return fmt.Sprintf("<%s|#%d>", c.PRURL, c.PR)
}

// cancelButton ends the change where it stands (commands.Cancel re-checks
// who may).
func cancelButton(t i18n.T, id string, c *Change) chat.Button {
	return chat.Button{Text: t.S("change.card.cancel"), Action: commands.ActionCancel, Value: id,
		Confirm: t.S("change.card.cancel_confirm", "What", What(c))}
}
