package rotation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/policy"
	"github.com/nexo-org/nexo-bot/commands/rotation/steps"
	"github.com/nexo-org/nexo-bot/integrations/dbrotate"
	"github.com/nexo-org/nexo-bot/integrations/secretstore"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/workflow"
)

// Flow is the rotate workflow: card → approval → run (one rotation
// step per workflow step, the steps.State persisted in the workflow's
// data) → done or failed.
type Flow struct {
	D *commands.Deps
	// DB changes and checks passwords (default dbrotate.Postgres{}).
	DB steps.DB
}

var (
	_ workflow.Definition = (*Flow)(nil)
	_ workflow.Failer     = (*Flow)(nil)
)

// Kind implements workflow.Definition.
func (f *Flow) Kind() string { return Kind }

// poll is the pause while a step waits (Deps.PollEvery, default 5s).
func (f *Flow) poll() time.Duration { return f.D.Poll(5 * time.Second) }

// retry is the pause after a failed attempt: two polls (default 10s).
func (f *Flow) retry() time.Duration { return 2 * f.poll() }

// Step implements workflow.Definition.
func (f *Flow) Step(ctx context.Context, wf *store.Workflow) (workflow.Outcome, error) {
	job, err := workflow.Decode[Job](wf)
	if err != nil {
		return workflow.Outcome{}, workflow.Permanent(err)
	}
	if job.Rotation == nil {
		return workflow.Outcome{}, workflow.Permanent(errors.New("the workflow has no rotation state"))
	}
	var out workflow.Outcome
	switch wf.State {
	case Card:
		if err := f.postCard(ctx, wf, &job); err != nil {
			return out, err
		}
		// The card was just posted with the approval view: no edit.
		if encErr := workflow.Encode(wf, job); encErr != nil {
			return out, workflow.Permanent(encErr)
		}
		return workflow.Outcome{Next: Approval}, nil
	case Approval:
		dec := policy.Evaluate(job.Need, job.Approvals)
		if !dec.Satisfied {
			out = workflow.Outcome{Park: true, Detail: f.D.T(wf.Channel).S("rotation.waiting", "Missing", dec.Missing)}
			break
		}
		now := f.D.Clock().Now()
		job.StartedAt = &now
		if len(dec.Counted) > 0 {
			f.reply(ctx, wf, &job, "start", "rotation.thread.approved", "By", commands.Mentions(dec.Counted))
		} else {
			f.reply(ctx, wf, &job, "start", "rotation.thread.starting")
		}
		out = workflow.Outcome{Next: Run}
	case Run:
		out, err = f.run(ctx, wf, &job)
	case Cancelled:
		now := f.D.Clock().Now()
		job.FinishedAt, job.Result = &now, ResultCancelled
		f.reply(ctx, wf, &job, "cancelled", "rotation.thread.cancelled", "By", chat.Mention(job.CancelledBy))
		out = workflow.Outcome{Done: true}
	default:
		return out, workflow.Permanent(fmt.Errorf("unknown state %q", wf.State))
	}
	if encErr := workflow.Encode(wf, job); encErr != nil {
		return out, workflow.Permanent(encErr)
	}
	if err == nil && wf.CardTS != "" {
		next := wf.State
		if out.Next != "" {
			next = out.Next
		}
		f.D.Cards().Update(wf.Channel, wf.CardTS, f.card(wf, &job, next))
	}
	return out, err
}

func (f *Flow) postCard(ctx context.Context, wf *store.Workflow, job *Job) error {
	if wf.CardTS != "" {
		return nil
	}
	ts, err := commands.PostOnce(ctx, f.D, wf.ID, "card", wf.Channel, "", f.card(wf, job, Approval))
	if err != nil {
		return err
	}
	wf.CardTS, wf.ThreadTS = ts, ts
	return nil
}

// Deps are the rotation's dependencies for this workflow.
func (f *Flow) deps(progress func(step, status string)) (steps.Deps, error) {
	d := f.D
	staged, ok := d.Secrets.(secretstore.Staged)
	if d.Secrets == nil || !ok {
		return steps.Deps{}, errors.New("secret rotation is no longer configured: no AWS Secrets Manager client")
	}
	if d.Kube == nil {
		return steps.Deps{}, errors.New("secret rotation is no longer configured: no Kubernetes access")
	}
	db := f.DB
	if db == nil {
		db = dbrotate.Postgres{}
	}
	return steps.Deps{Secrets: staged, DB: db, Cluster: d.Kube, Clock: d.Clock(), Log: d.Log, Progress: progress}, nil
}

func (f *Flow) run(ctx context.Context, wf *store.Workflow, job *Job) (workflow.Outcome, error) {
	type event struct{ step, status string }
	var events []event
	deps, err := f.deps(func(step, status string) { events = append(events, event{step, status}) })
	if err != nil {
		// Nothing can be done without the integrations; the state is kept
		// and the step retried, so a fixed configuration resumes it.
		return workflow.Outcome{}, err
	}
	r := steps.New(deps, job.Rotation)
	if job.CancelledBy != "" {
		r.Abort(job.CancelledBy)
	}
	wasRollingBack := job.Rotation.Phase == steps.PhaseRollingBack
	done, stepErr := r.Step(ctx)
	job.Rotation = r.State()
	if job.CancelledBy != "" && !wasRollingBack && job.Rotation.Phase == steps.PhaseRollingBack {
		f.reply(ctx, wf, job, "rolling-back", "rotation.thread.restoring")
	}
	if !wasRollingBack && job.Rotation.Phase == steps.PhaseRollingBack {
		f.reply(ctx, wf, job, "rolling-back", "rotation.thread.step_failed", "Step", job.Rotation.FailedStep, "Failure", steps.Why(job.Rotation.FailureReason, job.Rotation.Failure))
	}
	detail := ""
	if n := len(events); n > 0 {
		detail = events[n-1].step + ": " + events[n-1].status
	}
	if r.Finished() {
		return f.finish(ctx, wf, job, r.Report())
	}
	switch {
	case stepErr != nil:
		return workflow.Outcome{Wait: f.retry(), Detail: detail}, nil
	case !done:
		return workflow.Outcome{Wait: f.poll(), Detail: detail}, nil
	}
	return workflow.Outcome{Detail: detail}, nil
}

func (f *Flow) finish(ctx context.Context, wf *store.Workflow, job *Job, rep steps.Report) (workflow.Outcome, error) {
	d := f.D
	now := d.Clock().Now()
	st := job.Rotation
	job.Summary = rep.Summary
	switch {
	case job.CancelledBy != "" && rep.Phase == steps.PhaseFailed && !st.Altered:
		f.reply(ctx, wf, job, "result", "rotation.thread.stopped_untouched", "By", chat.Mention(job.CancelledBy))
		commands.Audit(ctx, d, "nexo", "rotate.result", job.Service, job.Env, wf.ID, "cancelled", rep.Summary)
	case rep.Phase == steps.PhaseDone:
		rec := Record{Service: job.Service, Env: job.Env, Secret: job.Secret, SecretID: job.SecretID, RotatedAt: now, VersionID: st.Token, Workflow: wf.ID, By: job.Requester}
		if err := d.Store.PutDoc(ctx, RecordsCollection, RecordKey(job.Service, job.Env, job.Secret), rec); err != nil {
			return workflow.Outcome{}, err // retried; the rotation itself is finished and stays so
		}
		job.Result = ResultDone
		f.reply(ctx, wf, job, "result", "rotation.thread.done", "Summary", rep.Msg)
		commands.Audit(ctx, d, "nexo", "rotate.result", job.Service, job.Env, wf.ID, "ok", rep.Summary)
	case rep.Phase == steps.PhaseRolledBack:
		job.Result = ResultRolledBack
		f.reply(ctx, wf, job, "result", "rotation.thread.rolled_back", "Summary", rep.Msg)
		commands.Audit(ctx, d, "nexo", "rotate.result", job.Service, job.Env, wf.ID, "error", rep.Summary)
	default:
		job.Result = ResultFailed
		f.reply(ctx, wf, job, "result", "rotation.thread.failed", "Summary", rep.Msg, "Who", d.Members.Mentions(ctx, job.Need.Group))
		commands.Audit(ctx, d, "nexo", "rotate.result", job.Service, job.Env, wf.ID, "error", rep.Summary)
	}
	job.FinishedAt = &now
	next := Done
	if job.Result != ResultDone {
		next = Failed
	}
	if job.CancelledBy != "" && job.Result != ResultDone {
		job.Result, next = ResultCancelled, Cancelled
	}
	return workflow.Outcome{Next: next, Done: true, Detail: string(rep.Phase)}, nil
}

// Failed implements workflow.Failer: a permanent error ended the workflow.
func (f *Flow) Failed(ctx context.Context, wf *store.Workflow, err error) {
	job, derr := workflow.Decode[Job](wf)
	if derr != nil {
		return
	}
	ref := commands.NewRef()
	f.D.Log.Error("rotation stopped", "workflow", wf.ID, "ref", ref, "err", err)
	t := f.D.T(wf.Channel)
	text := t.S("rotation.thread.stopped_error", "Ref", ref)
	if job.Rotation != nil && job.Rotation.Altered {
		text += "\n" + t.S("rotation.thread.may_have_changed", "SecretID", job.SecretID, "Previous", commands.OrDash(job.Rotation.PreviousVersionID), "Version", job.Rotation.Token)
	}
	if _, perr := f.D.Chat.Post(ctx, wf.Channel, wf.ThreadTS, chat.Message{Text: text}); perr != nil {
		f.D.Log.Warn("thread reply", "workflow", wf.ID, "err", perr)
	}
	commands.Audit(ctx, f.D, "nexo", "rotate.result", job.Service, job.Env, wf.ID, "error", err.Error())
	if wf.CardTS != "" {
		job.Result = ResultFailed
		_ = f.D.Chat.Update(ctx, wf.Channel, wf.CardTS, f.card(wf, &job, Failed))
	}
}

// reply posts the catalog message id in wf's thread, once per key, in
// the locale of wf's channel.
func (f *Flow) reply(ctx context.Context, wf *store.Workflow, job *Job, key, id string, kv ...any) {
	commands.ThreadReply(ctx, f.D, wf, key, chat.Message{Text: f.D.T(wf.Channel).S(id, kv...)})
}
