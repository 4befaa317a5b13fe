package rollback

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/history"
)

// Menu renders the history with a button per available path.
func Menu(ctx context.Context, d *commands.Deps, service, envName, to string) (chat.Message, error) {
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
			mark = "  ← current"
		}
		if r.Stable {
			mark = "  ← last stable"
		}
		id := "   "
		if r.InArgo {
			id = fmt.Sprintf("%-3d", r.ID)
		}
		lines = append(lines, fmt.Sprintf("%s %s  %s  %-18s %s%s", id, r.DeployedAt.UTC().Format("2006-01-02T15:04Z"), commands.ShortSHA(r.Revision), r.Tag, commands.Clip(r.Subject, 50), mark))
		if (to != "" && (r.Tag == to || (r.InArgo && strconv.FormatInt(r.ID, 10) == to))) || (to == "" && r.Stable && target == nil) {
			target = r
		}
	}
	m := chat.Message{Text: fmt.Sprintf("Rollback options for %s in %s", svc.Name, env.Name), Blocks: []chat.Block{
		{Section: &chat.Section{Text: fmt.Sprintf(":rewind: *Rollback %s in %s*", svc.Name, env.Name)}},
		{Code: strings.Join(lines, "\n")},
	}}
	if target == nil {
		m.Blocks = append(m.Blocks, chat.Block{Context: []string{"No earlier version to roll back to was found in the history."}})
		return m, nil
	}
	var btns []chat.Button
	if d.ArgoCD != nil && target.InArgo {
		btns = append(btns, chat.Button{Text: fmt.Sprintf("Argo CD → #%d (%s)", target.ID, target.Tag), Action: "rollback.run", Value: strings.Join([]string{svc.Name, env.Name, ViaArgoCD, strconv.FormatInt(target.ID, 10)}, "|"), Style: chat.StyleDanger})
	}
	btns = append(btns, chat.Button{Text: "GitOps revert → " + target.Tag, Action: "rollback.run", Value: strings.Join([]string{svc.Name, env.Name, ViaGitOps, target.Tag}, "|")})
	if env.BlueGreen != nil && d.Kube != nil {
		btns = append(btns, chat.Button{Text: "Blue/green switch", Action: "rollback.run", Value: strings.Join([]string{svc.Name, env.Name, ViaBlueGreen, "-"}, "|")})
	}
	m.Blocks = append(m.Blocks,
		chat.Block{Context: []string{"Argo CD: fastest, turns auto-sync off. GitOps: a revert PR, auditable. Blue/green: instant, where configured."}},
		chat.Block{Actions: btns})
	return m, nil
}
