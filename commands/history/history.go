// Package history is the deploy history of a service in an environment:
// Argo CD's status.history joined with the git log of the values file. The
// rollback menu, `/nexo history` and incident investigations read it.
package history

import (
	"context"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/integrations/gitops"
)

// Row is one line of `/nexo rollback` without --via (and `/nexo history`).
type Row struct {
	ID         int64 // Argo CD history id (when InArgo)
	InArgo     bool  // the row is an Argo CD status.history entry
	Revision   string
	Tag        string
	DeployedAt time.Time
	Subject    string // git commit subject
	Current    bool
	Stable     bool // the last stable version before the current one
}

// Of joins Argo CD's status.history with the git log of the values
// file: newest first, the current one and the last stable marked.
func Of(ctx context.Context, d *commands.Deps, service, env string) ([]Row, error) {
	if err := d.GitOps.Sync(ctx); err != nil {
		return nil, err
	}
	path := d.Config.ValuesPath(service, env)
	current, err := commands.ReadTag(ctx, d, service, env)
	if err != nil {
		return nil, err
	}
	var rows []Row
	tagAt := map[string]string{}
	tagOf := func(rev string) string {
		if t, ok := tagAt[rev]; ok {
			return t
		}
		doc, err := d.GitOps.ShowFile(ctx, rev, path)
		t := ""
		if err == nil {
			t, _ = gitops.GetTag(doc, d.Config.GitOps.TagKey)
		}
		tagAt[rev] = t
		return t
	}
	if d.ArgoCD != nil {
		app, err := d.ArgoCD.GetApp(ctx, d.Config.AppName(service, env), "")
		if err != nil {
			return nil, err
		}
		for i := len(app.Status.History) - 1; i >= 0; i-- {
			h := app.Status.History[i]
			rows = append(rows, Row{ID: h.ID, InArgo: true, Revision: h.Revision, Tag: tagOf(h.Revision), DeployedAt: h.DeployedAt})
		}
		if len(rows) > 0 {
			rows[0].Current = true
		}
	}
	commits, err := d.GitOps.Log(ctx, path, 20)
	if err != nil {
		return nil, err
	}
	byRev := map[string]int{}
	for i, r := range rows {
		byRev[r.Revision] = i
	}
	for _, c := range commits {
		if i, ok := byRev[c.SHA]; ok {
			rows[i].Subject = c.Subject
			continue
		}
		if d.ArgoCD == nil {
			rows = append(rows, Row{Revision: c.SHA, Tag: tagOf(c.SHA), DeployedAt: c.Time, Subject: c.Subject})
		}
	}
	if d.ArgoCD == nil && len(rows) > 0 {
		rows[0].Current = true
	}
	for i := range rows {
		if !rows[i].Current && rows[i].Tag != "" && rows[i].Tag != current {
			rows[i].Stable = true
			break
		}
	}
	return rows, nil
}
