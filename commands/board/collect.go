package board

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/policy"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/store"
)

// changeKind is the workflow kind of GitOps changes, and approvalStates
// the states in which a change takes approvals (commands/change's Card,
// PR and Approval; the approval code re-checks them on every click).
const changeKind = "change"

var approvalStates = []string{"card", "pr", "approval"}

// collectWorkers bounds the git and Argo CD reads run at once.
const collectWorkers = 8

// callTimeout bounds one read of git or Argo CD.
const callTimeout = 10 * time.Second

// changeData is what the board reads of a change's payload.
type changeData struct {
	Service     string             `json:"service"`
	Env         string             `json:"env"`
	Requester   string             `json:"requester"`
	Need        policy.Requirement `json:"need"`
	Approvals   []policy.Approval  `json:"approvals"`
	GateOpensAt *time.Time         `json:"gate_opens_at"`
}

// Collect reads the whole board: Outline, then Fill for every service.
func Collect(ctx context.Context, d *commands.Deps, links *Links) Board {
	b := Outline(ctx, d, links)
	Fill(ctx, d, &b, nil)
	return b
}

// Outline reads what the store knows: the open changes (with their
// threads' links, cached by workflow id in links), and per service and
// environment its open change and freeze. Tags and Argo CD are Fill's.
func Outline(ctx context.Context, d *commands.Deps, links *Links) Board {
	cfg := d.Config
	b := Board{Now: d.Clock().Now(), Branch: cfg.GitOps.Branch, Apps: cfg.AppName("<service>", "<env>")}
	open := map[string]*Change{}
	if wfs, err := d.Store.ListWorkflows(ctx, store.WorkflowFilter{Kind: changeKind, OpenOnly: true}); err != nil {
		d.Log.Warn("board: listing open changes", "err", err)
	} else {
		for _, wf := range wfs {
			c, ok := readChange(ctx, d, wf, links)
			if !ok {
				continue
			}
			b.Open = append(b.Open, c)
		}
		for i := range b.Open {
			open[b.Open[i].Service+"/"+b.Open[i].Env] = &b.Open[i]
		}
		links.Keep(b.Open)
	}
	for _, svc := range cfg.Services {
		s := Service{Name: svc.Name, Envs: make([]Env, len(cfg.Environments))}
		for i, env := range cfg.Environments {
			e := &s.Envs[i]
			e.Name, e.NoGitOps, e.NoArgoCD = env.Name, d.GitOps == nil, d.ArgoCD == nil
			if c := open[svc.Name+"/"+env.Name]; c != nil {
				cp := *c
				e.Change = &cp
			}
			if d.Freezes != nil {
				if fz, err := d.Freezes.Active(ctx, "", env.Name, b.Now); err == nil && fz != nil {
					e.Frozen, e.Reason, e.Until = true, fz.Reason, fz.End
				}
			}
		}
		b.Services = append(b.Services, s)
	}
	return b
}

// Fill reads the tag in git and the Argo CD application of every
// environment of the services named (nil: all), collectWorkers at a time,
// after one fetch of the GitOps repo. What fails to read is logged and
// shown as unknown, never as its error text.
func Fill(ctx context.Context, d *commands.Deps, b *Board, services map[string]bool) {
	if d.GitOps != nil {
		sctx, cancel := context.WithTimeout(ctx, callTimeout)
		if err := d.GitOps.Sync(sctx); err != nil {
			d.Log.Warn("board: fetching the GitOps repo", "err", err)
		}
		cancel()
	}
	sem := make(chan struct{}, collectWorkers)
	var wg sync.WaitGroup
	for si := range b.Services {
		s := &b.Services[si]
		if services != nil && !services[s.Name] {
			continue
		}
		for i := range s.Envs {
			wg.Add(1)
			go func(service string, e *Env) {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				readEnv(ctx, d, service, e.Name, e)
			}(s.Name, &s.Envs[i])
		}
	}
	wg.Wait()
}

// readEnv reads one environment's tag and Argo CD application.
func readEnv(ctx context.Context, d *commands.Deps, service, env string, e *Env) {
	if !e.NoGitOps {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		tag, err := commands.ReadTag(cctx, d, service, env)
		cancel()
		if err != nil {
			d.Log.Debug("board: reading a tag", "service", service, "env", env, "err", err)
		} else {
			e.Tag, e.GitOK = tag, true
		}
	}
	if !e.NoArgoCD {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		app, err := d.ArgoCD.GetApp(cctx, d.Config.AppName(service, env), "")
		cancel()
		if err != nil {
			d.Log.Debug("board: reading an Argo CD app", "service", service, "env", env, "err", err)
			return
		}
		e.ArgoOK = true
		e.Sync, e.Health = app.Status.Sync.Status, app.Status.Health.Status
		if h := argocd.LastHistory(app); h != nil {
			e.Since = h.DeployedAt
		}
	}
}

// readChange reads an open change for the board.
func readChange(ctx context.Context, d *commands.Deps, wf *store.Workflow, links *Links) (Change, bool) {
	var cd changeData
	if err := json.Unmarshal(wf.Data, &cd); err != nil {
		d.Log.Warn("board: reading a change", "workflow", wf.ID, "err", err)
		return Change{}, false
	}
	c := Change{
		ID: wf.ID, Service: cd.Service, Env: cd.Env, State: wf.State, Requester: cd.Requester,
		Group: cd.Need.Group, ExtraGroup: cd.Need.ExtraGroup,
	}
	if desc, err := commands.Describe(d, wf); err == nil {
		c.What = desc.What
	}
	if cd.GateOpensAt != nil {
		c.GateOpensAt = *cd.GateOpensAt
	}
	dec := policy.Evaluate(cd.Need, cd.Approvals)
	c.Open = slices.Contains(approvalStates, wf.State) && (cd.Need.Approvals > 0 || cd.Need.ExtraApprovals > 0) && !dec.Satisfied
	for _, a := range cd.Approvals {
		c.Approved = append(c.Approved, a.User)
	}
	c.URL = links.Get(ctx, d, wf)
	return c, true
}

// Links caches the permalinks of the open changes' threads
// (chat.getPermalink once per change).
type Links struct {
	mu   sync.Mutex
	urls map[string]string
}

// Get is wf's thread link, "" while it has no card.
func (l *Links) Get(ctx context.Context, d *commands.Deps, wf *store.Workflow) string {
	if wf.CardTS == "" || d.Chat == nil {
		return ""
	}
	l.mu.Lock()
	url, ok := l.urls[wf.ID]
	l.mu.Unlock()
	if ok {
		return url
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	url, err := d.Chat.Permalink(cctx, wf.Channel, wf.CardTS)
	if err != nil {
		d.Log.Debug("board: a thread's permalink", "workflow", wf.ID, "err", err)
		return ""
	}
	l.mu.Lock()
	if l.urls == nil {
		l.urls = map[string]string{}
	}
	l.urls[wf.ID] = url
	l.mu.Unlock()
	return url
}

// Keep forgets the links of changes no longer open (the cache stays as
// small as the open changes).
func (l *Links) Keep(open []Change) {
	l.mu.Lock()
	defer l.mu.Unlock()
	keep := map[string]bool{}
	for _, c := range open {
		keep[c.ID] = true
	}
	for id := range l.urls {
		if !keep[id] {
			delete(l.urls, id)
		}
	}
}
