package rollback

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/policy"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/argocd"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

// Flow runs the Argo CD and blue/green rollbacks.
type Flow struct {
	D *commands.Deps
	// HTTP checks the blue/green health URL.
	HTTP *http.Client
}

// Kind implements workflow.Definition.
func (f *Flow) Kind() string { return Kind }

// Step implements workflow.Definition.
func (f *Flow) Step(ctx context.Context, wf *store.Workflow) (workflow.Outcome, error) {
	rb, err := workflow.Decode[Rollback](wf)
	if err != nil {
		return workflow.Outcome{}, workflow.Permanent(err)
	}
	var out workflow.Outcome
	switch wf.State {
	case Card:
		if wf.CardTS == "" {
			ts, err := commands.PostOnce(ctx, f.D, wf.ID, "card", wf.Channel, "", f.card(wf, &rb, Approval))
			if err != nil {
				return out, err
			}
			wf.CardTS, wf.ThreadTS = ts, ts
		}
		out = workflow.Outcome{Next: Approval}
	case Approval:
		dec := policy.Evaluate(rb.Need, rb.Approvals)
		if !dec.Satisfied {
			rb.Note = f.D.T(wf.Channel).S("rollback.waiting", "Missing", dec.Missing)
			out = workflow.Outcome{Park: true, Detail: rb.Note}
			break
		}
		now := f.D.Clock().Now()
		rb.StartedAt = &now
		out = workflow.Outcome{Next: Act}
	case Act:
		out, err = f.act(ctx, wf, &rb)
	case Follow:
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

func (f *Flow) poll() time.Duration { return f.D.Poll(5 * time.Second) }

func (f *Flow) act(ctx context.Context, wf *store.Workflow, rb *Rollback) (workflow.Outcome, error) {
	d := f.D
	t := d.T(wf.Channel)
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
			return workflow.Outcome{Next: Follow, Wait: f.poll()}, nil
		}
		if app.AutoSyncEnabled() {
			rb.AutoSyncWasOn = true
			if _, err := d.ArgoCD.SetAutoSync(ctx, name, false); err != nil {
				return workflow.Outcome{}, err
			}
			f.reply(ctx, wf, rb, "autosync", t.S("rollback.note.autosync_off", "App", name))
		}
		_, err = d.ArgoCD.Rollback(ctx, name, rb.HistoryID)
		if argocd.IsAutoSyncRollbackRefusal(err) {
			// The policy changed under us: turn it off again and retry.
			return workflow.Outcome{}, fmt.Errorf("argocd still has auto-sync on: %w", err)
		}
		if argocd.IsOperationInProgress(err) {
			rb.Note = t.S("rollback.note.busy")
			return workflow.Outcome{Wait: f.poll(), Detail: rb.Note}, nil
		}
		if err != nil {
			return workflow.Outcome{}, err
		}
		rb.Note = t.S("rollback.note.rolling_back", "App", name, "ID", rb.HistoryID, "Tag", rb.Tag)
		return workflow.Outcome{Next: Follow, Wait: f.poll()}, nil
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
				return workflow.Outcome{}, workflow.Permanent(commands.Refuse("rollback.refuse.not_bluegreen", "Namespace", ns, "Ingress", ing, "Current", cur, "Service", rb.Service))
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
				healthNote = t.S("rollback.note.health_failed", "Why", commands.Clip(err.Error(), 120))
			} else {
				healthNote = t.S("rollback.note.health_ok", "URL", env.BlueGreen.HealthURL)
			}
		}
		rb.SwitchTook = time.Since(start).Round(time.Millisecond).String()
		rb.Note = t.S("rollback.note.switched", "Ingress", ing, "From", rb.FromService, "To", rb.ToService, "Took", rb.SwitchTook, "Health", healthNote)
		return f.finish(ctx, wf, rb, records.ResultSuccess)
	}
	return workflow.Outcome{}, workflow.Permanent(fmt.Errorf("unknown path %q", rb.Via))
}

func (f *Flow) follow(ctx context.Context, wf *store.Workflow, rb *Rollback) (workflow.Outcome, error) {
	d := f.D
	t := d.T(wf.Channel)
	name := d.Config.AppName(rb.Service, rb.Env)
	app, err := d.ArgoCD.GetApp(ctx, name, "")
	if err != nil {
		return workflow.Outcome{}, err
	}
	op := app.Status.OperationState
	onTarget := op != nil && op.SyncResult != nil && op.SyncResult.Revision == rb.Revision
	switch {
	case onTarget && op.Phase == "Succeeded" && app.Status.Health.Status == "Healthy":
		rb.Note = t.S("rollback.note.healthy", "App", name, "ID", rb.HistoryID, "Tag", rb.Tag)
		out, err := f.finish(ctx, wf, rb, records.ResultSuccess)
		m := chat.Message{Text: t.S("rollback.drift.fallback"), Blocks: []chat.Block{
			{Section: &chat.Section{Text: t.S("rollback.drift.text", "App", name, "Git", rb.Current, "Running", rb.Tag)}},
			{Actions: []chat.Button{{Text: t.S("rollback.drift.button", "Tag", rb.Tag), Action: "rollback.run", Value: strings.Join([]string{rb.Service, rb.Env, ViaGitOps, rb.Tag}, "|"), Style: chat.StylePrimary}}},
		}}
		f.replyMsg(ctx, wf, rb, "drift", m)
		return out, err
	case onTarget && (op.Phase == "Failed" || op.Phase == "Error"), onTarget && app.Status.Health.Status == "Degraded":
		rb.Note = t.S("rollback.note.not_healthy", "App", name, "Health", app.Status.Health.Status, "Message", op.Message)
		return f.finish(ctx, wf, rb, records.ResultFailed)
	}
	if rb.StartedAt != nil && d.Clock().Now().Sub(*rb.StartedAt) > d.Config.ArgoCD.SyncTimeout.D() {
		rb.Note = t.S("rollback.note.timed_out")
		return f.finish(ctx, wf, rb, records.ResultFailed)
	}
	rb.Note = t.S("rollback.note.progress", "Sync", app.Status.Sync.Status, "Health", app.Status.Health.Status)
	return workflow.Outcome{Wait: f.poll(), Detail: rb.Note}, nil
}

func (f *Flow) finish(ctx context.Context, wf *store.Workflow, rb *Rollback, result string) (workflow.Outcome, error) {
	d := f.D
	now := d.Clock().Now()
	rb.FinishedAt = &now
	rb.Result = result
	if err := f.record(ctx, wf, rb); err != nil {
		return workflow.Outcome{}, err
	}
	icon := ":white_check_mark:"
	if result != records.ResultSuccess {
		icon = ":x:"
	}
	f.reply(ctx, wf, rb, "result", icon+" "+rb.Note)
	commands.IncidentNote(ctx, d, rb.Incident, "rollback", rb.Requester, i18n.M("rollback.incident_note", "Via", rb.Via, "Note", rb.Note))
	return workflow.Outcome{Next: Done, Done: true}, nil
}

func (f *Flow) reply(ctx context.Context, wf *store.Workflow, rb *Rollback, key, text string) {
	f.replyMsg(ctx, wf, rb, key, chat.Message{Text: text})
}

func (f *Flow) replyMsg(ctx context.Context, wf *store.Workflow, rb *Rollback, key string, m chat.Message) {
	commands.ThreadReply(ctx, f.D, wf, key, m)
}

// record writes the rollback's deployment record (DORA's memory).
func (f *Flow) record(ctx context.Context, wf *store.Workflow, rb *Rollback) error {
	var approvers []string
	for _, a := range rb.Approvals {
		approvers = append(approvers, a.User)
	}
	dep := records.Deployment{ID: wf.ID, Service: rb.Service, Env: rb.Env, Tag: rb.Tag, Previous: rb.Current, Kind: records.KindRollback, Result: rb.Result,
		Incident: rb.Incident, Requester: rb.Requester, Approvers: approvers, RequestedAt: rb.RequestedAt, FinishedAt: rb.FinishedAt}
	if rb.Result == records.ResultSuccess {
		dep.HealthyAt = rb.FinishedAt
	}
	return f.D.Store.PutDoc(ctx, records.DeploymentsCollection, wf.ID, dep)
}
