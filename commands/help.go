package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/i18n"
)

func (r *Router) helpSpec() *Spec {
	return &Spec{
		Name:    "help",
		Args:    []string{"command?"},
		Summary: "core.help.summary",
		Help:    "core.help.help",
		Run: func(ctx context.Context, req Request) (*chat.Reply, error) {
			topic := ""
			if len(req.Args.Words) > 0 {
				topic = strings.ToLower(req.Args.Words[0])
			}
			return r.helpReply(r.localize(req.ChannelID), topic)
		},
	}
}

// helpReply lists the commands, or explains one, in the reader's locale:
// command words stay as they are typed.
func (r *Router) helpReply(t i18n.T, topic string) (*chat.Reply, error) {
	cmd := r.cfg.Slack.Command
	if topic != "" {
		s, ok := r.byName[topic]
		if !ok {
			hint := i18n.Msg{}
			if best := closest(topic, r.names()); best != "" {
				hint = i18n.M("core.did_you_mean", "Word", cmd+" help "+best)
			}
			return nil, Refuse("core.help.no_such", "Name", clip(topic, 40), "Hint", hint)
		}
		blocks := []chat.Block{
			{Header: fmt.Sprintf("%s %s", cmd, s.Name)},
			{Section: &chat.Section{Text: fmt.Sprintf("`%s %s`\n%s", cmd, s.UsageIn(t), t.S(s.Summary))}},
		}
		if s.Help != "" {
			blocks = append(blocks, chat.Block{Section: &chat.Section{Text: t.S(s.Help, append([]any{"Command", cmd}, s.HelpData...)...)}})
		}
		if len(s.Subcommands) > 0 {
			var subs []string
			for _, sub := range s.Subcommands {
				subs = append(subs, fmt.Sprintf("`%s %s %s` — %s", cmd, s.Name, sub.UsageIn(t), t.S(sub.Summary)))
			}
			blocks = append(blocks, chat.Block{Section: &chat.Section{Text: strings.Join(subs, "\n")}})
		}
		if len(s.Aliases) > 0 {
			blocks = append(blocks, chat.Block{Context: []string{t.S("core.help.aliases", "List", strings.Join(s.Aliases, ", "))}})
		}
		return Ephemeral(chat.Message{Text: fmt.Sprintf("%s %s — %s", cmd, s.UsageIn(t), t.S(s.Summary)), Blocks: blocks}), nil
	}
	var lines []string
	for _, s := range r.specs {
		lines = append(lines, fmt.Sprintf("`%s %s` — %s", cmd, s.UsageIn(t), t.S(s.Summary)))
	}
	envs := make([]string, 0, len(r.cfg.Environments))
	for _, e := range r.cfg.Environments {
		n := e.Name
		if len(e.Aliases) > 0 {
			n += " (" + strings.Join(e.Aliases, ", ") + ")"
		}
		envs = append(envs, n)
	}
	blocks := []chat.Block{
		{Header: t.S("core.help.title")},
		{Section: &chat.Section{Text: strings.Join(lines, "\n")}},
		{Context: []string{
			t.S("core.help.envs", "List", strings.Join(envs, " → ")),
			t.S("core.help.services", "List", strings.Join(r.cfg.ServiceNames(), ", ")),
			t.S("core.help.details", "Command", cmd),
		}},
	}
	return Ephemeral(chat.Message{Text: t.S("core.help.fallback"), Blocks: blocks}), nil
}
