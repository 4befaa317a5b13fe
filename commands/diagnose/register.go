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
		Name:    "diagnose",
		Aliases: []string{"why"},
		Args:    []string{"service", "env"},
		Summary: "Why a deploy failed: Argo CD, pods, events, rollout, registry — one verdict, then the evidence",
		Help: "Reads the Argo CD app `<service>-<env>`, the pods labelled `app=<service>` in the env's namespace, its events (Warnings first) and the Deployment's rollout, then names the cause: " +
			"ImagePullBackOff (and whether the tag exists in the registry, with a *Fix tag* button opening the fix PR), CrashLoopBackOff (the previous container's last 50 log lines), OOMKilled (memory limit against use), Pending (scheduling events), CreateContainerConfigError (the missing Secret or ConfigMap), ComparisonError, or Healthy with the last deploy.\n" +
			"Read only: the fix PR goes through the env's approvals like a promotion.\nExample: `/nexo diagnose nexo-be staging`",
		Run: func(ctx context.Context, r commands.Request) (*chat.Reply, error) {
			svc, env, err := commands.ResolveTarget(d.Config, r.Args.Words[0], r.Args.Words[1])
			if err != nil {
				return nil, err
			}
			if d.Kube == nil && d.ArgoCD == nil {
				return nil, commands.Refusalf("Neither Kubernetes nor Argo CD is configured, so there is nothing to diagnose from.")
			}
			f := Gather(ctx, d, svc.Name, env.Name)
			return commands.InChannel(Card(d.Config, f, Judge(f))), nil
		},
	}
}
