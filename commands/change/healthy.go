package change

import (
	"context"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
)

// HealthySince is when tag became Healthy in env: from nexo's deployment
// records first, else from Argo CD (the app runs the tag and is Healthy since
// its last deploy). Zero when it is not Healthy there on that tag.
func HealthySince(ctx context.Context, d *commands.Deps, service, env, tag string) (time.Time, error) {
	var since time.Time
	docs, err := d.Store.ListDocs(ctx, records.DeploymentsCollection)
	if err != nil {
		return since, err
	}
	var latest *records.Deployment
	for _, doc := range docs {
		var dep records.Deployment
		if doc.Decode(&dep) != nil || dep.Service != service || dep.Env != env || dep.Result != records.ResultSuccess {
			continue
		}
		if latest == nil || dep.DeployedAt().After(latest.DeployedAt()) {
			dd := dep
			latest = &dd
		}
	}
	if d.ArgoCD == nil {
		if latest != nil && latest.Tag == tag && latest.HealthyAt != nil {
			return *latest.HealthyAt, nil
		}
		return since, nil
	}
	app, err := d.ArgoCD.GetApp(ctx, d.Config.AppName(service, env), "")
	if err != nil {
		return since, err
	}
	if app.Status.Health.Status != "Healthy" || !argocd.RunsTag(app, tag) {
		return since, nil
	}
	if latest != nil && latest.Tag == tag && latest.HealthyAt != nil {
		return *latest.HealthyAt, nil
	}
	if h := argocd.LastHistory(app); h != nil {
		return h.DeployedAt, nil
	}
	return since, nil
}
