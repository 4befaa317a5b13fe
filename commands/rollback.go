package commands

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands/policy"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/integrations/gitops"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
	networkingv1 "k8s.io/api/networking/v1"
)

// RollbackKind is the workflow kind of the Argo CD and blue/green rollbacks
// (the GitOps revert is a change workflow with the rollback flavour).
const RollbackKind = "rollback"

// Rollback paths.
const (
	ViaArgoCD    = "argocd"
	ViaGitOps    = "gitops"
	ViaBlueGreen = "bluegreen"
)

// Rollback states.
const (
	RbCard     = "card"
	RbApproval = "approval"
	RbAct      = "act"
	RbFollow   = "follow"
	RbDone     = "done"
)

// Rollback is the payload of a rollback workflow.
type Rollback struct {
	Via       string             `json:"via"`
	Service   string             `json:"service"`
	Env       string             `json:"env"`
	Tag       string             `json:"tag"`     // target
	Current   string             `json:"current"` // running before
	HistoryID int64              `json:"history_id,omitempty"`
	Revision  string             `json:"revision,omitempty"` // target git revision (argocd)
	Incident  string             `json:"incident,omitempty"`
	Requester string             `json:"requester"`
	Need      policy.Requirement `json:"need"`
	Approvals []policy.Approval  `json:"approvals,omitempty"`

	AutoSyncWasOn bool       `json:"auto_sync_was_on,omitempty"`
	FromService   string     `json:"from_service,omitempty"` // blue/green: backend before
	ToService     string     `json:"to_service,omitempty"`
	SwitchTook    string     `json:"switch_took,omitempty"`
	RequestedAt   time.Time  `json:"requested_at"`
	StartedAt     *time.Time `json:"started_at,omitempty"`
	FinishedAt    *time.Time `json:"finished_at,omitempty"`
	Result        string     `json:"result,omitempty"`
	Note          string     `json:"note,omitempty"`
}

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

func init() {
	setupHooks = append(setupHooks, func(ctx context.Context, a *App) error {
		d := a.deps
		flow := &RollbackFlow{D: d}
		a.Rollback = flow
		d.Engine.Register(flow)
		a.Router.Register(RollbackSpec(d))
		a.Router.OnClick("rollback.run", func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
			parts := strings.Split(c.Value, "|")
			if len(parts) != 4 {
				return Refuse("That button is malformed."), nil
			}
			_, err := StartRollback(ctx, d, RollbackRequest{Service: parts[0], Env: parts[1], Via: parts[2], To: parts[3], Requester: c.UserID, Channel: c.ChannelID})
			if err != nil {
				return RefusalReply(err)
			}
			return nil, nil
		})
		a.Router.OnClick("rollback.start", func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
			parts := strings.Split(c.Value, "|")
			if len(parts) != 3 {
				return Refuse("That button is malformed."), nil
			}
			m, err := RollbackMenu(ctx, d, parts[0], parts[1], parts[2])
			if err != nil {
				return RefusalReply(err)
			}
			return Ephemeral(m), nil
		})
		a.Router.OnClick("rollback.approve", func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
			return ApproveRollback(ctx, d, c.Value, c.UserID)
		})
		return nil
	})
}

// RollbackSpec is `/nexo rollback <svc> <env> [--to <version|history-id>] [--via argocd|gitops|bluegreen]`.
func RollbackSpec(d *Deps) *Spec {
	return &Spec{
		Name:     "rollback",
		Usage:    "rollback <service> <env> [--to <version|history-id>] [--via argocd|gitops|bluegreen]",
		Summary:  "Roll back: Argo CD history (fast), a GitOps revert PR (auditable) or a blue/green switch (instant)",
		Help:     "Without `--via`, shows the history (Argo CD and the git log of the values file, current and last stable marked) with a button per path.\n`--via argocd` turns auto-sync off first (Argo CD refuses otherwise) and rolls back to the history id; `--via gitops` opens `rollback/<svc>-<env>-<tag>`; `--via bluegreen` switches the Ingress to the other colour.\nProduction needs 1 sre-team approval by default.",
		Flags:    []string{"to", "via", "incident"},
		Mutating: true,
		Run: func(ctx context.Context, r Request) (*chat.Reply, error) {
			if len(r.Args.Words) != 2 {
				return Refuse("Usage: `%s rollback <service> <env> [--to <version|history-id>] [--via argocd|gitops|bluegreen]`", d.Config.Slack.Command), nil
			}
			via := strings.ToLower(r.Args.Flag("via"))
			if via == "" {
				m, err := RollbackMenu(ctx, d, r.Args.Words[0], r.Args.Words[1], r.Args.Flag("to"))
				if err != nil {
					return RefusalReply(err)
				}
				return InChannel(m), nil
			}
			_, err := StartRollback(ctx, d, RollbackRequest{Service: r.Args.Words[0], Env: r.Args.Words[1], Via: via, To: r.Args.Flag("to"), Incident: r.Args.Flag("incident"), Requester: r.UserID, Channel: r.ChannelID})
			if err != nil {
				return RefusalReply(err)
			}
			return nil, nil
		},
	}
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

// RollbackMenu renders the history with a button per available path.
func RollbackMenu(ctx context.Context, d *Deps, service, envName, to string) (chat.Message, error) {
	svc, err := ResolveService(d.Config, service)
	if err != nil {
		return chat.Message{}, err
	}
	env, err := ResolveEnv(d.Config, envName)
	if err != nil {
		return chat.Message{}, err
	}
	rows, err := History(ctx, d, svc.Name, env.Name)
	if err != nil {
		return chat.Message{}, err
	}
	var lines []string
	var target *HistoryRow
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
		lines = append(lines, fmt.Sprintf("%s %s  %s  %-18s %s%s", id, r.DeployedAt.UTC().Format("2006-01-02T15:04Z"), short(r.Revision), r.Tag, clip(r.Subject, 50), mark))
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

// RollbackRequest asks for a rollback.
type RollbackRequest struct {
	Service, Env, Via, To string
	Incident              string
	Requester, Channel    string
}

// StartRollback validates and starts a rollback on one path.
func StartRollback(ctx context.Context, d *Deps, rr RollbackRequest) (*store.Workflow, error) {
	cfg := d.Config
	svc, env, err := ResolveTarget(cfg, rr.Service, rr.Env)
	if err != nil {
		return nil, err
	}
	need := rollbackNeed(env, rr.Requester)
	rows, err := History(ctx, d, svc.Name, env.Name)
	if err != nil {
		return nil, err
	}
	current, err := ReadTag(ctx, d, svc.Name, env.Name)
	if err != nil {
		return nil, err
	}
	channel := rr.Channel
	if channel == "" {
		channel = cfg.ServiceChannel(svc.Name)
	}
	var target *HistoryRow
	for i := range rows {
		r := &rows[i]
		if rr.To == "" || rr.To == "-" {
			if r.Stable {
				target = r
				break
			}
			continue
		}
		if r.Tag == rr.To || (r.InArgo && strconv.FormatInt(r.ID, 10) == rr.To) {
			target = r
			break
		}
	}
	switch rr.Via {
	case ViaGitOps:
		tag := rr.To
		if target != nil {
			tag = target.Tag
		}
		if tag == "" || tag == "-" {
			return nil, Refusalf("No earlier version of %s in %s was found; say which with `--to <version>`.", svc.Name, env.Name)
		}
		if err := ValidateTag(cfg, tag); err != nil {
			return nil, err
		}
		if tag == current {
			return nil, Refusalf("%s already runs `%s` in %s in git.", svc.Name, tag, env.Name)
		}
		if err := RequireImage(ctx, d, svc.Name, tag); err != nil {
			return nil, err
		}
		c := Change{
			Flavor: records.KindRollback, Service: svc.Name, Env: env.Name, Tag: tag, Previous: current,
			Incident: rr.Incident, Requester: rr.Requester, RequestedAt: d.Clock().Now(), Need: need,
			Branch:  fmt.Sprintf("rollback/%s-%s-%s", svc.Name, BranchEnv(cfg, env.Name), tag),
			Subject: fmt.Sprintf("rollback(%s): %s → %s", svc.Name, env.Name, tag),
		}
		c.Labels, c.Teams = PRLabelsAndTeams(cfg, env, records.KindRollback)
		c.Body = fmt.Sprintf("Reason: %s caused problems in %s; back to %s.\nIncident: %s\nApproved by: (filled in when approved in Slack)\n\nRequested-by: %s via nexo\n",
			current, env.Name, tag, orDash(rr.Incident), rr.Requester)
		wf, err := startChange(ctx, d, "rollback", c, channel)
		if err != nil {
			return nil, err
		}
		Audit(ctx, d, rr.Requester, "rollback.request", svc.Name, env.Name, wf.ID, "ok", "gitops "+current+" → "+tag)
		return wf, nil
	case ViaArgoCD:
		if d.ArgoCD == nil {
			return nil, Refusalf("Argo CD is not configured (argocd.server).")
		}
		if target == nil || !target.InArgo {
			return nil, Refusalf("No Argo CD history entry matches `%s` for %s. Use `%s rollback %s %s` to see the history.", orDash(rr.To), d.Config.AppName(svc.Name, env.Name), cfg.Slack.Command, svc.Name, env.Name)
		}
		if target.Current {
			return nil, Refusalf("History entry %d (`%s`) is what %s runs now.", target.ID, target.Tag, d.Config.AppName(svc.Name, env.Name))
		}
		rb := Rollback{Via: ViaArgoCD, Service: svc.Name, Env: env.Name, Tag: target.Tag, Current: current, HistoryID: target.ID, Revision: target.Revision}
		return startRollbackWF(ctx, d, rb, need, rr, channel)
	case ViaBlueGreen:
		if env.BlueGreen == nil {
			return nil, Refusalf("%s has no blue/green setup (environments[].bluegreen in the config).", env.Name)
		}
		if d.Kube == nil {
			return nil, Refusalf("Kubernetes is not configured.")
		}
		rb := Rollback{Via: ViaBlueGreen, Service: svc.Name, Env: env.Name, Current: current}
		return startRollbackWF(ctx, d, rb, need, rr, channel)
	}
	return nil, Refusalf("`--via %s` is not a rollback path: use argocd, gitops or bluegreen.", clip(rr.Via, 20))
}

func rollbackNeed(env *config.Environment, requester string) policy.Requirement {
	n := 0
	if env.Policy.Approvals > 0 {
		n = 1
	}
	if env.Policy.RollbackApprovals != nil {
		n = *env.Policy.RollbackApprovals
	}
	return policy.Requirement{Approvals: n, Group: env.Policy.ApproverGroup, Requester: requester}
}

func startRollbackWF(ctx context.Context, d *Deps, rb Rollback, need policy.Requirement, rr RollbackRequest, channel string) (*store.Workflow, error) {
	rb.Need, rb.Requester, rb.Incident, rb.RequestedAt = need, rr.Requester, rr.Incident, d.Clock().Now()
	wf := &store.Workflow{ID: workflow.NewID("rollback"), Kind: RollbackKind, LockKey: LockKey(rb.Service, rb.Env), State: RbCard, Channel: channel, CreatedBy: rr.Requester}
	if err := workflow.Encode(wf, rb); err != nil {
		return nil, err
	}
	if err := startLocked(ctx, d, wf, rb.Service, rb.Env); err != nil {
		return nil, err
	}
	Audit(ctx, d, rr.Requester, "rollback.request", rb.Service, rb.Env, wf.ID, "ok", rb.Via+" "+rb.Current+" → "+orDash(rb.Tag))
	return wf, nil
}

func startLocked(ctx context.Context, d *Deps, wf *store.Workflow, service, env string) error {
	err := d.Engine.Start(ctx, wf)
	var locked *workflow.ErrLocked
	if errors.As(err, &locked) {
		return Refusalf("A change of %s in %s is already open: %s. Finish or reject it first.", service, env, ThreadLink(ctx, d, locked.Open))
	}
	return err
}

// ApproveRollback records an approval of an Argo CD / blue-green rollback.
func ApproveRollback(ctx context.Context, d *Deps, id, user string) (*chat.Reply, error) {
	return recordApproval[Rollback](ctx, d, approvalSpec{kind: RollbackKind, noun: "rollback", action: "rollback.approve", open: []string{RbCard, RbApproval}}, id, user)
}

// RollbackFlow runs the Argo CD and blue/green rollbacks.
type RollbackFlow struct {
	D *Deps
	// PollEvery is how often Argo CD is polled after the rollback.
	PollEvery time.Duration
	// HTTP checks the blue/green health URL.
	HTTP *http.Client
}

// Kind implements workflow.Definition.
func (f *RollbackFlow) Kind() string { return RollbackKind }

// Step implements workflow.Definition.
func (f *RollbackFlow) Step(ctx context.Context, wf *store.Workflow) (workflow.Outcome, error) {
	rb, err := workflow.Decode[Rollback](wf)
	if err != nil {
		return workflow.Outcome{}, workflow.Permanent(err)
	}
	var out workflow.Outcome
	switch wf.State {
	case RbCard:
		if wf.CardTS == "" {
			ts, err := PostOnce(ctx, f.D, wf.ID, "card", wf.Channel, "", f.card(wf, &rb, RbApproval))
			if err != nil {
				return out, err
			}
			wf.CardTS, wf.ThreadTS = ts, ts
		}
		out = workflow.Outcome{Next: RbApproval}
	case RbApproval:
		dec := policy.Evaluate(rb.Need, rb.Approvals)
		if !dec.Satisfied {
			rb.Note = "waiting for " + dec.Missing
			out = workflow.Outcome{Park: true, Detail: rb.Note}
			break
		}
		now := f.D.Clock().Now()
		rb.StartedAt = &now
		out = workflow.Outcome{Next: RbAct}
	case RbAct:
		out, err = f.act(ctx, wf, &rb)
	case RbFollow:
		out, err = f.follow(ctx, wf, &rb)
	default:
		return out, workflow.Permanent(fmt.Errorf("unknown state %q", wf.State))
	}
	if encErr := workflow.Encode(wf, rb); encErr != nil {
		return out, workflow.Permanent(encErr)
	}
	if err == nil && (out.Next != "" || out.Done || out.Park) {
		next := wf.State
		if out.Next != "" {
			next = out.Next
		}
		if wf.CardTS != "" {
			f.D.Cards().Update(wf.Channel, wf.CardTS, f.card(wf, &rb, next))
		}
	}
	return out, err
}

func (f *RollbackFlow) poll() time.Duration {
	if f.PollEvery > 0 {
		return f.PollEvery
	}
	return 5 * time.Second
}

func (f *RollbackFlow) act(ctx context.Context, wf *store.Workflow, rb *Rollback) (workflow.Outcome, error) {
	d := f.D
	switch rb.Via {
	case ViaArgoCD:
		name := d.Config.AppName(rb.Service, rb.Env)
		app, err := d.ArgoCD.GetApp(ctx, name, "")
		if err != nil {
			return workflow.Outcome{}, err
		}
		if op := app.Status.OperationState; op != nil && ((op.SyncResult != nil && op.SyncResult.Revision == rb.Revision) ||
			(op.Phase == "Running" && op.Operation != nil && op.Operation.Sync != nil && op.Operation.Sync.Revision == rb.Revision)) {
			// Already rolled back or rolling back (a re-run after a crash). Not
			// status.sync.revision: after a rollback argocd-server compares
			// with git's target, so that is not rb.Revision.
			return workflow.Outcome{Next: RbFollow, Wait: f.poll()}, nil
		}
		if app.AutoSyncEnabled() {
			rb.AutoSyncWasOn = true
			if _, err := d.ArgoCD.SetAutoSync(ctx, name, false); err != nil {
				return workflow.Outcome{}, err
			}
			f.reply(ctx, wf, rb, "autosync", fmt.Sprintf(":pause_button: Auto-sync of %s turned off (Argo CD refuses a rollback while it is on).", name))
		}
		_, err = d.ArgoCD.Rollback(ctx, name, rb.HistoryID)
		var apiErr *argocd.APIError
		if errors.As(err, &apiErr) && strings.Contains(apiErr.Message, "auto-sync is enabled") {
			// The policy changed under us: turn it off again and retry.
			return workflow.Outcome{}, fmt.Errorf("argocd still has auto-sync on: %s", apiErr.Message)
		}
		if errors.As(err, &apiErr) && strings.Contains(apiErr.Message, "another operation is already in progress") {
			rb.Note = "waiting: Argo CD is running another operation"
			return workflow.Outcome{Wait: f.poll(), Detail: rb.Note}, nil
		}
		if err != nil {
			return workflow.Outcome{}, err
		}
		rb.Note = fmt.Sprintf("rolling back %s to history #%d (`%s`)", name, rb.HistoryID, rb.Tag)
		return workflow.Outcome{Next: RbFollow, Wait: f.poll()}, nil
	case ViaBlueGreen:
		env, _ := d.Config.Env(rb.Env)
		ns := d.Config.Namespace(rb.Service, rb.Env)
		ing := config.Expand(env.BlueGreen.Ingress, rb.Service, rb.Env)
		obj, err := d.Kube.Ingress(ctx, ns, ing)
		if err != nil {
			return workflow.Outcome{}, err
		}
		cur := ingressBackend(obj)
		if rb.ToService == "" {
			to, ok := otherColour(rb.Service, cur)
			if !ok {
				return workflow.Outcome{}, workflow.Permanent(Refusalf("Ingress %s/%s points at `%s`, which is neither %s-blue nor %s-green.", ns, ing, cur, rb.Service, rb.Service))
			}
			rb.FromService, rb.ToService = cur, to
		}
		start := time.Now()
		if cur != rb.ToService {
			if _, err := d.Kube.SwitchIngressBackend(ctx, ns, ing, rb.ToService); err != nil {
				return workflow.Outcome{}, err
			}
		}
		healthNote := ""
		if env.BlueGreen.HealthURL != "" {
			if err := f.checkHealth(ctx, env.BlueGreen.HealthURL); err != nil {
				healthNote = " — health check failed: " + clip(err.Error(), 120)
			} else {
				healthNote = " — " + env.BlueGreen.HealthURL + " answers 200"
			}
		}
		rb.SwitchTook = time.Since(start).Round(time.Millisecond).String()
		rb.Note = fmt.Sprintf("Ingress %s switched `%s` → `%s` in %s%s", ing, rb.FromService, rb.ToService, rb.SwitchTook, healthNote)
		return f.finish(ctx, wf, rb, records.ResultSuccess)
	}
	return workflow.Outcome{}, workflow.Permanent(fmt.Errorf("unknown path %q", rb.Via))
}

func (f *RollbackFlow) follow(ctx context.Context, wf *store.Workflow, rb *Rollback) (workflow.Outcome, error) {
	d := f.D
	name := d.Config.AppName(rb.Service, rb.Env)
	app, err := d.ArgoCD.GetApp(ctx, name, "")
	if err != nil {
		return workflow.Outcome{}, err
	}
	op := app.Status.OperationState
	onTarget := op != nil && op.SyncResult != nil && op.SyncResult.Revision == rb.Revision
	switch {
	case onTarget && op.Phase == "Succeeded" && app.Status.Health.Status == "Healthy":
		rb.Note = fmt.Sprintf("%s is Healthy on history #%d (`%s`)", name, rb.HistoryID, rb.Tag)
		out, err := f.finish(ctx, wf, rb, records.ResultSuccess)
		m := chat.Message{Text: ":warning: Auto-sync is off and git no longer matches the cluster.", Blocks: []chat.Block{
			{Section: &chat.Section{Text: fmt.Sprintf(":warning: *Auto-sync of %s is off* and git still says `%s` while the cluster runs `%s`. Open the GitOps revert so git and cluster agree again, then turn auto-sync back on.", name, rb.Current, rb.Tag)}},
			{Actions: []chat.Button{{Text: "Open GitOps revert → " + rb.Tag, Action: "rollback.run", Value: strings.Join([]string{rb.Service, rb.Env, ViaGitOps, rb.Tag}, "|"), Style: chat.StylePrimary}}},
		}}
		f.replyMsg(ctx, wf, rb, "drift", m)
		return out, err
	case onTarget && (op.Phase == "Failed" || op.Phase == "Error"), onTarget && app.Status.Health.Status == "Degraded":
		rb.Note = fmt.Sprintf("rollback of %s did not become Healthy: %s %s", name, app.Status.Health.Status, op.Message)
		return f.finish(ctx, wf, rb, records.ResultFailed)
	}
	if rb.StartedAt != nil && d.Clock().Now().Sub(*rb.StartedAt) > d.Config.ArgoCD.SyncTimeout.D() {
		rb.Note = "timed out waiting for the rollback to become Healthy"
		return f.finish(ctx, wf, rb, records.ResultFailed)
	}
	rb.Note = fmt.Sprintf("rolling back: %s / %s", app.Status.Sync.Status, app.Status.Health.Status)
	return workflow.Outcome{Wait: f.poll(), Detail: rb.Note}, nil
}

func (f *RollbackFlow) finish(ctx context.Context, wf *store.Workflow, rb *Rollback, result string) (workflow.Outcome, error) {
	d := f.D
	now := d.Clock().Now()
	rb.FinishedAt = &now
	rb.Result = result
	var approvers []string
	for _, a := range rb.Approvals {
		approvers = append(approvers, a.User)
	}
	dep := records.Deployment{ID: wf.ID, Service: rb.Service, Env: rb.Env, Tag: rb.Tag, Previous: rb.Current, Kind: records.KindRollback, Result: result,
		Incident: rb.Incident, Requester: rb.Requester, Approvers: approvers, RequestedAt: rb.RequestedAt, FinishedAt: &now}
	if result == records.ResultSuccess {
		dep.HealthyAt = &now
	}
	if err := d.Store.PutDoc(ctx, records.DeploymentsCollection, wf.ID, dep); err != nil {
		return workflow.Outcome{}, err
	}
	icon := ":white_check_mark:"
	if result != records.ResultSuccess {
		icon = ":x:"
	}
	f.reply(ctx, wf, rb, "result", icon+" "+rb.Note)
	IncidentNote(ctx, d, rb.Incident, "rollback", rb.Requester, "Rollback "+rb.Via+": "+rb.Note)
	return workflow.Outcome{Next: RbDone, Done: true}, nil
}

func (f *RollbackFlow) checkHealth(ctx context.Context, url string) error {
	client := f.HTTP
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

func (f *RollbackFlow) reply(ctx context.Context, wf *store.Workflow, rb *Rollback, key, text string) {
	f.replyMsg(ctx, wf, rb, key, chat.Message{Text: text})
}

func (f *RollbackFlow) replyMsg(ctx context.Context, wf *store.Workflow, rb *Rollback, key string, m chat.Message) {
	ThreadReply(ctx, f.D, wf, key, m)
}

func (f *RollbackFlow) card(wf *store.Workflow, rb *Rollback, state string) chat.Message {
	title := fmt.Sprintf(":rewind: Rollback %s in %s via %s", rb.Service, rb.Env, rb.Via)
	if rb.Tag != "" {
		title += fmt.Sprintf(" → `%s`", rb.Tag)
	}
	status := map[string]string{RbApproval: ":hourglass_flowing_sand: waiting for approval", RbAct: ":hourglass_flowing_sand: rolling back", RbFollow: ":hourglass_flowing_sand: following Argo CD", RbDone: ":white_check_mark: done"}[state]
	if rb.Result == records.ResultFailed {
		status = ":x: failed"
	}
	dec := policy.Evaluate(rb.Need, rb.Approvals)
	fields := []string{"*Requested by*\n" + chat.Mention(rb.Requester), fmt.Sprintf("*Approvals*\n%d/%d", len(dec.Counted), rb.Need.Approvals), "*Running before*\n`" + orDash(rb.Current) + "`"}
	if rb.Via == ViaArgoCD {
		fields = append(fields, fmt.Sprintf("*History id*\n#%d", rb.HistoryID))
	}
	blocks := []chat.Block{{Section: &chat.Section{Text: "*" + title + "*\n" + status}}, {Section: &chat.Section{Fields: fields}}}
	if rb.Note != "" {
		blocks = append(blocks, chat.Block{Section: &chat.Section{Text: rb.Note}})
	}
	if state == RbApproval && rb.Need.Approvals > 0 && !dec.Satisfied {
		blocks = append(blocks, chat.Block{Actions: []chat.Button{{Text: "Approve rollback", Action: "rollback.approve", Value: wf.ID, Style: chat.StyleDanger}}})
	}
	blocks = append(blocks, chat.Block{Context: []string{"workflow `" + wf.ID + "`"}})
	return chat.Message{Text: stripMarks(title) + " — " + stripMarks(status), Blocks: blocks}
}

// ingressBackend is the service of rule 0, path 0 (the playbook's patch path).
func ingressBackend(ing *networkingv1.Ingress) string {
	if len(ing.Spec.Rules) == 0 || ing.Spec.Rules[0].HTTP == nil || len(ing.Spec.Rules[0].HTTP.Paths) == 0 {
		return ""
	}
	b := ing.Spec.Rules[0].HTTP.Paths[0].Backend
	if b.Service == nil {
		return ""
	}
	return b.Service.Name
}

func otherColour(service, cur string) (string, bool) {
	switch cur {
	case service + "-blue":
		return service + "-green", true
	case service + "-green":
		return service + "-blue", true
	}
	return "", false
}
