package change

import (
	"context"
	"fmt"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/store"
)

// reverts implements commands.Changes for the rollback scenario.
type reverts struct{ d *commands.Deps }

// StartRevert opens the GitOps revert of a rollback: branch
// `rollback/<svc>-<env>-<tag>`, the env's rollback approvals, then merge,
// sync and rollout like any change. The caller checked the tag.
func (r reverts) StartRevert(ctx context.Context, rr commands.RevertRequest) (*store.Workflow, error) {
	d := r.d
	cfg := d.Config
	svc, env, err := commands.ResolveTarget(cfg, rr.Service, rr.Env)
	if err != nil {
		return nil, err
	}
	c := Change{
		Flavor: records.KindRollback, Service: svc.Name, Env: env.Name, Tag: rr.Tag, Previous: rr.Current,
		Incident: rr.Incident, Requester: rr.Requester, RequestedAt: d.Clock().Now(), Need: commands.RollbackNeed(env, rr.Requester),
		Branch:  fmt.Sprintf("rollback/%s-%s-%s", svc.Name, commands.BranchEnv(cfg, env.Name), rr.Tag),
		Subject: fmt.Sprintf("rollback(%s): %s → %s", svc.Name, env.Name, rr.Tag), //i18n:verbatim git text
	}
	c.Labels, c.Teams = PRLabelsAndTeams(cfg, env, records.KindRollback)
	c.Body = fmt.Sprintf("Reason: %s caused problems in %s; back to %s.\nIncident: %s\nApproved by: (filled in when approved in Slack)\n\nRequested-by: %s via nexo\n", //i18n:verbatim git text
		rr.Current, env.Name, rr.Tag, commands.OrDash(rr.Incident), rr.Requester)
	wf, err := startEmergency(ctx, d, "rollback", c, rr.Channel, rr.Supersede, rr.Offer)
	if err != nil {
		return nil, err
	}
	commands.Audit(ctx, d, rr.Requester, "rollback.request", svc.Name, env.Name, wf.ID, "ok", "gitops "+rr.Current+" → "+rr.Tag)
	return wf, nil
}
