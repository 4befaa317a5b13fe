package rotation

import (
	"context"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

// lifecycle is commands.Lifecycle for rotations.
type lifecycle struct{ f *Flow }

// What names a rotation for people.
func What(j *Job) i18n.Msg {
	return i18n.M("rotation.what", "Secret", j.Secret, "Service", j.Service, "Env", j.Env)
}

// Describe implements commands.Lifecycle.
func (l lifecycle) Describe(wf *store.Workflow) (commands.Described, error) {
	job, err := workflow.Decode[Job](wf)
	if err != nil {
		return commands.Described{}, err
	}
	return commands.Described{Service: job.Service, Env: job.Env, What: What(&job), Requester: job.Requester,
		ApproverGroup: job.Need.Group, Merged: wf.State == Run}, nil
}

// End implements commands.Lifecycle. Before it starts, nothing was
// changed and the rotation ends at once. Running, it cannot stop where it
// is: it is asked to stop at its next step, and takes the compensating
// path (the old password back in PostgreSQL and Secrets Manager, the pods
// restarted onto it) when the database was changed already.
func (l lifecycle) End(ctx context.Context, wf *store.Workflow, e commands.Ending) error {
	f, d := l.f, l.f.D
	job, err := workflow.Decode[Job](wf)
	if err != nil {
		return err
	}
	if job.CancelledBy != "" {
		return commands.Refuse("rotation.stopping_already", "By", chat.Mention(job.CancelledBy))
	}
	job.CancelledBy = e.By
	if wf.State == Run {
		if err := commands.SaveWorkflow(ctx, d, wf, func(wf *store.Workflow) error {
			j, err := workflow.Decode[Job](wf)
			if err != nil {
				return err
			}
			j.CancelledBy = e.By
			return workflow.Encode(wf, j)
		}); err != nil {
			return err
		}
		f.reply(ctx, wf, &job, "cancel", "rotation.thread.stop_asked", "By", chat.Mention(e.By))
		d.Engine.Kick(wf.ID)
		return nil
	}
	now := d.Clock().Now()
	job.FinishedAt, job.Result = &now, ResultCancelled
	if err := commands.SaveEnded(ctx, d, wf, e, func(wf *store.Workflow) error { return workflow.Encode(wf, job) }); err != nil {
		return err
	}
	if wf.CardTS != "" {
		d.Cards().Update(wf.Channel, wf.CardTS, f.card(wf, &job, Cancelled))
	}
	f.reply(ctx, wf, &job, "cancelled", "rotation.thread.cancelled", "By", chat.Mention(e.By))
	return nil
}
