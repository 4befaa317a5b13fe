package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/nexo-org/nexo-bot/chat"
)

func (r *Router) helpSpec() *Spec {
	return &Spec{
		Name:    "help",
		Args:    []string{"command?"},
		Summary: "List the commands, or explain one",
		Help:    "`help` lists every command; `help promote` explains one with its options and an example.",
		Run: func(ctx context.Context, req Request) (*chat.Reply, error) {
			topic := ""
			if len(req.Args.Words) > 0 {
				topic = strings.ToLower(req.Args.Words[0])
			}
			return r.helpReply(topic)
		},
	}
}

func (r *Router) helpReply(topic string) (*chat.Reply, error) {
	cmd := r.cfg.Slack.Command
	if topic != "" {
		s, ok := r.byName[topic]
		if !ok {
			return nil, Refusalf("There is no `%s` command.%s", clip(topic, 40), didYouMean(topic, r.names(), "`%s help %s`", cmd))
		}
		blocks := []chat.Block{
			{Header: fmt.Sprintf("%s %s", cmd, s.Name)},
			{Section: &chat.Section{Text: fmt.Sprintf("`%s %s`\n%s", cmd, s.Usage(), s.Summary)}},
		}
		if s.Help != "" {
			blocks = append(blocks, chat.Block{Section: &chat.Section{Text: s.Help}})
		}
		if len(s.Subcommands) > 0 {
			var subs []string
			for _, sub := range s.Subcommands {
				subs = append(subs, fmt.Sprintf("`%s %s %s` — %s", cmd, s.Name, sub.Usage(), sub.Summary))
			}
			blocks = append(blocks, chat.Block{Section: &chat.Section{Text: strings.Join(subs, "\n")}})
		}
		if len(s.Aliases) > 0 {
			blocks = append(blocks, chat.Block{Context: []string{"Also: " + strings.Join(s.Aliases, ", ")}})
		}
		return Ephemeral(chat.Message{Text: fmt.Sprintf("%s %s — %s", cmd, s.Usage(), s.Summary), Blocks: blocks}), nil
	}
	var lines []string
	for _, s := range r.specs {
		lines = append(lines, fmt.Sprintf("`%s %s` — %s", cmd, s.Usage(), s.Summary))
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
		{Header: "nexo — the playbook, in Slack"},
		{Section: &chat.Section{Text: strings.Join(lines, "\n")}},
		{Context: []string{"Environments: " + strings.Join(envs, " → "), "Services: " + strings.Join(r.cfg.ServiceNames(), ", "), fmt.Sprintf("`%s help <command>` for details", cmd)}},
	}
	return Ephemeral(chat.Message{Text: "nexo commands", Blocks: blocks}), nil
}
