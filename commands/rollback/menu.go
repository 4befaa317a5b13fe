package rollback

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/history"
	"github.com/nexo-org/nexo-bot/i18n"
)

// Menu renders the history with a button per available path.
// The menu speaks the locale of t; its table tells the times in t's zone
// (a code block shows no Slack date tokens).
func Menu(ctx context.Context, d *commands.Deps, t i18n.T, service, envName, to string) (chat.Message, error) {
	svc, err := commands.ResolveService(d.Config, service)
	if err != nil {
		return chat.Message{}, err
	}
	env, err := commands.ResolveEnv(d.Config, envName)
	if err != nil {
		return chat.Message{}, err
	}
	rows, err := history.Of(ctx, d, svc.Name, env.Name)
	if err != nil {
		return chat.Message{}, err
	}
	var lines []string
	var target *history.Row
	for i := range rows {
		r := &rows[i]
		mark := ""
		if r.Current {
			mark = "  " + t.S("rollback.menu.current")
		}
		if r.Stable {
			mark = "  " + t.S("rollback.menu.stable")
		}
		id := "   "
		if r.InArgo {
			id = fmt.Sprintf("%-3d", r.ID)
		}
		lines = append(lines, fmt.Sprintf("%s %s  %s  %-18s %s%s", id, r.DeployedAt.In(t.Zone()).Format("2006-01-02 15:04"), commands.ShortSHA(r.Revision), r.Tag, commands.Clip(r.Subject, 50), mark))
		if (to != "" && (r.Tag == to || (r.InArgo && strconv.FormatInt(r.ID, 10) == to))) || (to == "" && r.Stable && target == nil) {
			target = r
		}
	}
	m := chat.Message{Text: t.S("rollback.menu.fallback", "Service", svc.Name, "Env", env.Name), Blocks: []chat.Block{
		{Section: &chat.Section{Text: t.S("rollback.menu.title", "Service", svc.Name, "Env", env.Name)}},
		{Code: strings.Join(lines, "\n")},
	}}
	if target == nil {
		m.Blocks = append(m.Blocks, chat.Block{Context: []string{t.S("rollback.menu.none")}})
		return m, nil
	}
	var btns []chat.Button
	if d.ArgoCD != nil && target.InArgo {
		btns = append(btns, chat.Button{Text: t.S("rollback.menu.argocd", "ID", target.ID, "Tag", target.Tag), Action: "rollback.run", Value: strings.Join([]string{svc.Name, env.Name, ViaArgoCD, strconv.FormatInt(target.ID, 10)}, "|"), Style: chat.StyleDanger})
	}
	btns = append(btns, chat.Button{Text: t.S("rollback.menu.gitops", "Tag", target.Tag), Action: "rollback.run", Value: strings.Join([]string{svc.Name, env.Name, ViaGitOps, target.Tag}, "|")})
	if env.BlueGreen != nil && d.Kube != nil {
		btns = append(btns, chat.Button{Text: t.S("rollback.menu.bluegreen"), Action: "rollback.run", Value: strings.Join([]string{svc.Name, env.Name, ViaBlueGreen, "-"}, "|")})
	}
	m.Blocks = append(m.Blocks,
		chat.Block{Context: []string{t.S("rollback.menu.paths", "Zone", t.Zone().String())}},
		chat.Block{Actions: btns})
	return m, nil
}
