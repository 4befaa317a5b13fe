package change

import (
	"fmt"
	"strings"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/policy"
)

var phases = []struct{ state, label string }{
	{PR, "PR opened"},
	{Approval, "approved"},
	{Merge, "merged"},
	{Sync, "syncing"},
	{Rollout, "healthy"},
	{Watch, "monitoring"},
	{Done, "done"},
}

func phaseIndex(state string) int {
	for i, p := range phases {
		if p.state == state {
			return i
		}
	}
	return -1
}

// RenderCard renders a change's status card for a given state.
func RenderCard(d *commands.Deps, id string, c *Change, state string) chat.Message {
	title := fmt.Sprintf("%s %s → %s `%s`", flavorTitle(c.Flavor), c.Service, c.Env, c.Tag)
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
		steps = append(steps, mark+" "+p.label)
	}
	status := map[string]string{Done: ":white_check_mark: *Done*", Failed: ":x: *Failed*", Rejected: ":no_entry: *Rejected*",
		commands.ResultSuperseded: ":fast_forward: *Superseded*", commands.ResultCancelled: ":stop_sign: *Cancelled*"}[state]
	if status == "" {
		status = ":hourglass_flowing_sand: *In progress*"
	}
	dec := policy.Evaluate(c.Need, c.Approvals)
	approvals := fmt.Sprintf("%d/%d", len(dec.Counted), c.Need.Approvals+c.Need.ExtraApprovals)
	if len(dec.Counted) > 0 {
		approvals += " — " + commands.Mentions(dec.Counted)
	}
	if c.Need.Approvals+c.Need.ExtraApprovals == 0 {
		approvals = "not required in " + c.Env
	}
	requester := chat.Mention(c.Requester)
	if c.Auto {
		requester = "nexo (auto-promotion)"
	}
	fields := []string{
		"*Requested by*\n" + requester,
		"*Approvals*\n" + approvals,
		"*Previous*\n`" + commands.OrDash(c.Previous) + "`",
		"*Pull request*\n" + prLink(c),
	}
	if c.FromEnv != "" {
		fields = append(fields, "*From*\n"+c.FromEnv)
	}
	if c.ErrorRate != nil {
		fields = append(fields, fmt.Sprintf("*Error rate*\n%.2f%%", *c.ErrorRate*100))
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
		blocks = append(blocks, chat.Block{Context: []string{":lock: Gate: " + c.Gate}})
	}
	if c.SkipSoak {
		blocks = append(blocks, chat.Block{Context: []string{":warning: Soak skipped: " + c.Reason}})
	}
	if len(c.Changelog) > 0 {
		blocks = append(blocks, chat.Block{Context: []string{"Changelog: " + commands.Clip(strings.Join(c.Changelog, " · "), 600)}})
	}
	if state == PR || state == Approval || state == Card {
		btns := []chat.Button{}
		if c.Need.Approvals+c.Need.ExtraApprovals > 0 {
			btns = append(btns, chat.Button{Text: "Approve", Action: "change.approve", Value: id, Style: chat.StylePrimary})
		}
		btns = append(btns, chat.Button{Text: "Reject", Action: "change.reject", Value: id, Style: chat.StyleDanger})
		if c.PRURL != "" {
			btns = append(btns, chat.Button{Text: fmt.Sprintf("PR #%d", c.PR), Action: "link.pr", URL: c.PRURL, Value: id})
		}
		btns = append(btns, cancelButton(id, c))
		blocks = append(blocks, chat.Block{Actions: btns})
	}
	if state == Merge || state == Sync || state == Rollout || state == Watch {
		blocks = append(blocks, chat.Block{Actions: []chat.Button{cancelButton(id, c)}})
	}
	blocks = append(blocks, chat.Block{Context: []string{"workflow `" + id + "`"}})
	text := fmt.Sprintf("%s — %s", commands.StripMarks(title), strings.Trim(commands.StripMarks(status), " "))
	return chat.Message{Text: text, Blocks: blocks}
}

func flavorTitle(f string) string {
	switch f {
	case "hotfix":
		return ":fire: Hotfix"
	case "rollback":
		return ":rewind: Rollback"
	case "fix":
		return ":wrench: Fix"
	case "backfill":
		return ":arrow_backward: Backfill"
	}
	return ":rocket: Promote"
}

func prLink(c *Change) string {
	if c.PRURL == "" {
		return "—"
	}
	return fmt.Sprintf("<%s|#%d>", c.PRURL, c.PR)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func stripMarks(s string) string {
	for _, r := range []string{":rocket: ", ":fire: ", ":rewind: ", ":wrench: ", ":arrow_backward: ", ":white_check_mark: ", ":x: ", ":no_entry: ", ":hourglass_flowing_sand: ", "*", "`"} {
		s = strings.ReplaceAll(s, r, "")
	}
	return s
}

// cancelButton ends the change where it stands (commands.Cancel re-checks
// who may).
func cancelButton(id string, c *Change) chat.Button {
	return chat.Button{Text: "Cancel", Action: commands.ActionCancel, Value: id,
		Confirm: "Cancel the " + commands.English().Msg(What(c)) + "? Before its merge the PR is closed; after it, nexo stops following the rollout."}
}
