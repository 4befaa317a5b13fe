package commands

import (
	"context"
	"time"

	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/gitops"
)

// HistoryRow is one line of `/nexo rollback` without --via (and `/nexo history`).
type HistoryRow struct {
	ID         int64 // Argo CD history id (when InArgo)
	InArgo     bool  // the row is an Argo CD status.history entry
	Revision   string
	Tag        string
	DeployedAt time.Time
	Subject    string // git commit subject
	Current    bool
	Stable     bool // the last stable version before the current one
}

// History joins Argo CD's status.history with the git log of the values
// file: newest first, the current one and the last stable marked.
func History(ctx context.Context, d *Deps, service, env string) ([]HistoryRow, error) {
	if err := d.GitOps.Sync(ctx); err != nil {
		return nil, err
	}
	path := d.Config.ValuesPath(service, env)
	current, err := ReadTag(ctx, d, service, env)
	if err != nil {
		return nil, err
	}
	var rows []HistoryRow
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
			rows = append(rows, HistoryRow{ID: h.ID, InArgo: true, Revision: h.Revision, Tag: tagOf(h.Revision), DeployedAt: h.DeployedAt})
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
			rows = append(rows, HistoryRow{Revision: c.SHA, Tag: tagOf(c.SHA), DeployedAt: c.Time, Subject: c.Subject})
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

// LastHistory is the newest entry of an app's deployment history.
func LastHistory(app *argocd.Application) *argocd.RevisionHistory {
	var last *argocd.RevisionHistory
	for i := range app.Status.History {
		h := &app.Status.History[i]
		if last == nil || h.ID > last.ID {
			last = h
		}
	}
	return last
}
