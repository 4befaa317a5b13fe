// Package diagnose is playbook scenario 4: why a deploy failed, from Argo
// CD, the pods, their events, the rollout and the registry, as one verdict
// with its evidence and the fix as a button.
package diagnose

import (
	"context"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
)

// Register adds `/nexo diagnose`. Its Fix buttons (commands.ActionFixTag)
// are handled by commands/change, which owns fix PRs.
func Register(r *commands.Router, d *commands.Deps) { r.Register(Spec(d)) }

// Spec is `/nexo diagnose <service> <env>`.
func Spec(d *commands.Deps) *commands.Spec {
	return &commands.Spec{
		Name:     "diagnose",
		Aliases:  []string{"why"},
		Args:     []string{"service", "env"},
		Summary:  "diagnose.summary",
		Help:     "diagnose.help",
		HelpData: []any{"LogLines", CrashLogLines},
		Run: func(ctx context.Context, r commands.Request) (*chat.Reply, error) {
			svc, env, err := commands.ResolveTarget(d.Config, r.Args.Words[0], r.Args.Words[1])
			if err != nil {
				return nil, err
			}
			if d.Kube == nil && d.ArgoCD == nil {
				return nil, commands.Refuse("diagnose.no_sources")
			}
			f := Gather(ctx, d, svc.Name, env.Name)
			return commands.InChannel(Card(d.T(r.ChannelID), f, Judge(f))), nil
		},
	}
}
