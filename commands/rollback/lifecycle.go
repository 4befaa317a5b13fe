package rollback

import (
	"context"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

// lifecycle is commands.Lifecycle for the Argo CD and blue/green rollbacks.
type lifecycle struct{ f *Flow }

// What names a rollback for people.
func What(rb *Rollback) i18n.Msg {
	if rb.Tag != "" {
		return i18n.M("rollback.what_to", "Service", rb.Service, "Env", rb.Env, "Via", rb.Via, "Tag", rb.Tag)
	}
	return i18n.M("rollback.what", "Service", rb.Service, "Env", rb.Env, "Via", rb.Via)
}

// Describe implements commands.Lifecycle: a rollback is an emergency,
// acting on the cluster from its act step on.
func (l lifecycle) Describe(wf *store.Workflow) (commands.Described, error) {
	rb, err := workflow.Decode[Rollback](wf)
	if err != nil {
		return commands.Described{}, err
	}
	return commands.Described{Service: rb.Service, Env: rb.Env, What: What(&rb), Requester: rb.Requester, ApproverGroup: rb.Need.Group,
		Emergency: true, Merged: wf.State == Act || wf.State == Follow}, nil
}

// End implements commands.Lifecycle. Before it acts nothing was done.
// Stopped in its act step (not halfway: the caller holds the lease), an
// Argo CD rollback whose auto-sync nexo had turned off turns it on again;
// a blue/green switch that happened is said as it is. Following Argo CD,
// the rollback was sent already: nexo stops following it.
func (l lifecycle) End(ctx context.Context, wf *store.Workflow, e commands.Ending) error {
	f, d := l.f, l.f.D
	rb, err := workflow.Decode[Rollback](wf)
	if err != nil {
		return err
	}
	t := d.T(wf.Channel)
	done := t.S("rollback.note.nothing_changed")
	switch {
	case wf.State == Act && rb.Via == ViaArgoCD && rb.AutoSyncWasOn && d.ArgoCD != nil:
		if _, err := d.ArgoCD.SetAutoSync(ctx, d.Config.AppName(rb.Service, rb.Env), true); err != nil {
			return err
		}
		done = t.S("rollback.note.autosync_back", "App", d.Config.AppName(rb.Service, rb.Env))
	case wf.State == Act && rb.Via == ViaBlueGreen && d.Kube != nil && rb.ToService != "":
		env, _ := d.Config.Env(rb.Env)
		if ing, err := d.Kube.Ingress(ctx, d.Config.Namespace(rb.Service, rb.Env), config.Expand(env.BlueGreen.Ingress, rb.Service, rb.Env)); err == nil && ingressBackend(ing) == rb.ToService {
			done = t.S("rollback.note.ingress_already", "Service", rb.ToService)
		}
	case wf.State == Follow:
		done = t.S("rollback.note.follow_stopped", "ID", rb.HistoryID)
	}
	now := d.Clock().Now()
	rb.Result, rb.FinishedAt = e.Result, &now
	rb.Note = e.Sentence(t) + " — " + done
	if err := commands.SaveEnded(ctx, d, wf, e, func(wf *store.Workflow) error { return workflow.Encode(wf, rb) }); err != nil {
		return err
	}
	if err := f.record(ctx, wf, &rb); err != nil {
		return err
	}
	if wf.CardTS != "" {
		d.Cards().Update(wf.Channel, wf.CardTS, f.card(wf, &rb, wf.State))
	}
	f.reply(ctx, wf, &rb, "ended", ":stop_sign: "+commands.TitleCase(rb.Note))
	commands.IncidentNote(ctx, d, rb.Incident, "rollback", rb.Requester, i18n.M("rollback.incident_note", "Via", rb.Via, "Note", rb.Note))
	return nil
}
