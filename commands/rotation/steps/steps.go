// Package steps rotates a database password (playbook scenario 6) as a
// sequence of idempotent steps over a persisted State that holds no
// password: the new value is written to the secret manager as AWSPENDING
// before anything else changes, the database role is altered, AWSCURRENT is
// moved to the new version, the ExternalSecret is force-synced, the
// Deployment restarted, and the pods' logs checked. A failure after the
// database was altered runs a compensating path that restores the old
// password in the database and in the secret manager. See docs/rotation.md.
package steps

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/dbrotate"
	"github.com/nexo-org/nexo-bot/integrations/kube"
	"github.com/nexo-org/nexo-bot/integrations/secretstore"
	"github.com/nexo-org/nexo-bot/integrations/secretstore/redact"
	"github.com/nexo-org/nexo-bot/internal/text"
)

// Forward steps, in order.
const (
	StepPrepare     = "prepare"      // read the current secret, note the Kubernetes Secret's hash
	StepStageNew    = "stage-new"    // generate a password, write it as AWSPENDING
	StepAlterDB     = "alter-db"     // ALTER ROLE with the current credentials
	StepVerifyDB    = "verify-db"    // log in with the new password
	StepPromote     = "promote"      // move AWSCURRENT to the new version
	StepSync        = "sync"         // force-sync the ExternalSecret
	StepWaitSecret  = "wait-secret"  // wait for the Kubernetes Secret to change
	StepRestart     = "restart"      // rollout restart
	StepWaitRollout = "wait-rollout" // wait for the rollout to complete
	StepVerifyLogs  = "verify-logs"  // wait for the success line in the new pods' logs
)

// Compensating steps, run when a step fails after the database was altered.
const (
	StepRestoreDB    = "restore-db"    // set the old password back in the database
	StepRestoreStore = "restore-store" // move AWSCURRENT back to the old version
	StepResync       = "resync"        // force-sync the ExternalSecret again
	StepRestartAgain = "restart-again" // restart the pods onto the old password
)

var (
	forward  = []string{StepPrepare, StepStageNew, StepAlterDB, StepVerifyDB, StepPromote, StepSync, StepWaitSecret, StepRestart, StepWaitRollout, StepVerifyLogs}
	rollback = []string{StepRestoreDB, StepRestoreStore, StepResync, StepRestartAgain}
)

// Phase is where a rotation stands.
type Phase string

// Phases.
const (
	PhaseRunning     Phase = "running"
	PhaseRollingBack Phase = "rolling-back"
	PhaseDone        Phase = "done"        // rotated and verified
	PhaseRolledBack  Phase = "rolled-back" // failed, old password restored everywhere
	PhaseFailed      Phase = "failed"      // failed; see State.Failure for what is left to do
)

// Spec is what to rotate and where.
type Spec struct {
	Service string `json:"service"`
	Env     string `json:"env"`
	// SecretID is the Secrets Manager secret: a JSON object with host, port,
	// database (or dbname), username and password; other keys are kept.
	SecretID         string `json:"secret_id"`
	Namespace        string `json:"namespace"`
	ExternalSecret   string `json:"external_secret"`
	KubernetesSecret string `json:"kubernetes_secret"`
	Deployment       string `json:"deployment"`
	// Selector finds the Deployment's pods (default "app=<Deployment>").
	Selector string `json:"selector,omitempty"`
	// Container whose log is read (default: the pod's only/default one).
	Container string `json:"container,omitempty"`
	// SuccessLog is the line the pods print once connected (default
	// "Database connected successfully").
	SuccessLog string `json:"success_log,omitempty"`
	// Charset of the generated password: "base64" (default, 32 random bytes
	// in standard base64) or "urlsafe" (the same bytes, URL-safe, unpadded).
	Charset string `json:"charset,omitempty"`
	// SSLMode for the database connections (default: the secret's "sslmode"
	// key, else "prefer").
	SSLMode string `json:"sslmode,omitempty"`
	// Timeouts of the waits (defaults 5m, 10m, 5m).
	SyncTimeout    time.Duration `json:"sync_timeout,omitempty"`
	RolloutTimeout time.Duration `json:"rollout_timeout,omitempty"`
	LogTimeout     time.Duration `json:"log_timeout,omitempty"`
	// MaxAttempts of a failing step before giving up (default 3).
	MaxAttempts int `json:"max_attempts,omitempty"`
}

// Entry is one line of the step log.
type Entry struct {
	At     time.Time `json:"at"`
	Step   string    `json:"step"`
	Status string    `json:"status"`
	// Reason is why the step failed, in nexo's words (nil: the error of
	// the system the step called, in Status).
	Reason *Reason `json:"reason,omitempty"`
}

// Reason is why a step failed in nexo's own words: a catalog message id
// and its data, kept with the state so that each reader sees it in their
// locale (the error's text, in English, goes to the log and the status).
type Reason struct {
	ID   string            `json:"id"`
	Args map[string]string `json:"args,omitempty"`
	// Within is the wait that ran out (a timeout), shown as a duration.
	Within time.Duration `json:"within,omitempty"`
}

// Msg is the reason as a catalog message.
func (r *Reason) Msg() i18n.Msg {
	keys := make([]string, 0, len(r.Args))
	for k := range r.Args {
		keys = append(keys, k)
	}
	var kv []any
	for _, k := range sortStrings(keys) {
		kv = append(kv, k, r.Args[k])
	}
	if r.Within > 0 {
		kv = append(kv, "Within", i18n.Span(r.Within))
	}
	return i18n.M(r.ID, kv...)
}

// Why is a failure for a reader: its Reason's message when nexo named
// it, else the error's text.
func Why(reason *Reason, text string) any {
	if reason != nil {
		return reason.Msg()
	}
	return text
}

// reasonError is an error with its Reason.
type reasonError struct {
	reason Reason
	err    error
}

func (e *reasonError) Error() string { return e.err.Error() }
func (e *reasonError) Unwrap() error { return e.err }

// because is err with the reason id and its data as key/value pairs.
func because(err error, id string, kv ...string) error {
	r := Reason{ID: id, Args: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		r.Args[kv[i]] = kv[i+1]
	}
	return &reasonError{reason: r, err: err}
}

// State is the persisted progress of a rotation. It holds no password, in
// clear or encrypted: the new password lives only in the secret manager
// (the version Token, labelled AWSPENDING until promoted), the old one in
// the version PreviousVersionID.
type State struct {
	ID   string `json:"id"`
	Spec Spec   `json:"spec"`
	// Token is the ClientRequestToken, hence the version id, of the new value.
	Token string `json:"token"`
	// PreviousVersionID is the version that was AWSCURRENT at the start.
	PreviousVersionID string `json:"previous_version_id,omitempty"`
	// SecretHashBefore is kube.Cluster.SecretDataHash of the Kubernetes
	// Secret before the sync (a SHA-256, never the data).
	SecretHashBefore string    `json:"secret_hash_before,omitempty"`
	Phase            Phase     `json:"phase"`
	Step             string    `json:"step"`
	Attempts         int       `json:"attempts,omitempty"`
	WaitSince        time.Time `json:"wait_since,omitzero"`
	RestartAt        time.Time `json:"restart_at,omitzero"`
	// What has been done, for the compensating path.
	Altered   bool `json:"altered,omitempty"`
	Promoted  bool `json:"promoted,omitempty"`
	Synced    bool `json:"synced,omitempty"`
	Restarted bool `json:"restarted,omitempty"`
	// FailedStep and Failure say why a rotation did not complete (scrubbed).
	FailedStep    string  `json:"failed_step,omitempty"`
	Failure       string  `json:"failure,omitempty"`
	FailureReason *Reason `json:"failure_reason,omitempty"`
	// RollbackStep and RollbackFailure say where the compensating path
	// itself failed (scrubbed): someone must make the database and
	// AWSCURRENT agree.
	RollbackStep    string  `json:"rollback_step,omitempty"`
	RollbackFailure string  `json:"rollback_failure,omitempty"`
	RollbackReason  *Reason `json:"rollback_reason,omitempty"`
	// StoppedBy is the user who stopped the rotation (Abort).
	StoppedBy string  `json:"stopped_by,omitempty"`
	Log       []Entry `json:"log,omitempty"`
}

// Statuses of a step in the log and for Progress; a failure's status is
// the status, ": " and the (scrubbed) error.
const (
	StatusQueued   = "queued"
	StatusStarted  = "started"
	StatusDone     = "done"
	StatusWaiting  = "waiting"
	StatusRetrying = "retrying"
	StatusFailed   = "failed"
	StatusStopped  = "stopped"
)

// DB changes and checks database passwords (dbrotate.Postgres).
type DB interface {
	AlterPassword(ctx context.Context, conn dbrotate.ConnInfo, role, newPassword string) error
	CheckLogin(ctx context.Context, conn dbrotate.ConnInfo) error
}

// Clock tells the time (workflow.SystemClock and workflow.ManualClock fit).
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock.
type SystemClock struct{}

// Now is time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// Deps are the outside systems a rotation uses.
type Deps struct {
	Secrets secretstore.Staged
	DB      DB
	Cluster kube.Cluster
	Clock   Clock
	// Log gets step transitions (never values). Default: slog.Default().
	Log *slog.Logger
	// Progress is told each step's status ("started", "done", "waiting",
	// "retrying: …", "failed: …"); the text never contains a password.
	Progress func(step, status string)
}

// SpecError is a Spec that cannot be rotated: fields it lacks, or a
// charset nexo does not know.
type SpecError struct {
	Missing []string // the Spec's fields, by their config names
	Charset string
	err     error
}

func (e *SpecError) Error() string { return e.err.Error() }

// NewState validates spec, fills its defaults and starts a rotation.
func NewState(spec Spec, now time.Time) (*State, error) {
	missing := []string{}
	for name, v := range map[string]string{
		"service": spec.Service, "env": spec.Env, "secret_id": spec.SecretID, "namespace": spec.Namespace,
		"external_secret": spec.ExternalSecret, "kubernetes_secret": spec.KubernetesSecret, "deployment": spec.Deployment,
	} {
		if strings.TrimSpace(v) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		missing = sortStrings(missing)
		return nil, &SpecError{Missing: missing, err: fmt.Errorf("rotation: missing %s", strings.Join(missing, ", "))}
	}
	switch spec.Charset {
	case "":
		spec.Charset = "base64"
	case "base64", "urlsafe":
	default:
		return nil, &SpecError{Charset: spec.Charset, err: fmt.Errorf("rotation: charset %q: want base64 or urlsafe", spec.Charset)}
	}
	if spec.Selector == "" {
		spec.Selector = "app=" + spec.Deployment
	}
	if spec.SuccessLog == "" {
		spec.SuccessLog = "Database connected successfully" //i18n:verbatim the line the service's pods log once connected: data to look for, not a sentence for people
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&spec.SyncTimeout, 5*time.Minute)
	def(&spec.RolloutTimeout, 10*time.Minute)
	def(&spec.LogTimeout, 5*time.Minute)
	if spec.MaxAttempts <= 0 {
		spec.MaxAttempts = 3
	}
	token := newUUID()
	return &State{
		ID: "rot-" + token[:8], Spec: spec, Token: token, Phase: PhaseRunning, Step: StepPrepare,
		Log: []Entry{{At: now, Step: StepPrepare, Status: StatusQueued}},
	}, nil
}

// Rotation runs a State's steps with Deps. It keeps the passwords it reads
// only in memory, to scrub every text it emits.
type Rotation struct {
	deps  Deps
	state *State
	known []string
}

// New binds a State (new or resumed from the store) to its dependencies.
func New(deps Deps, st *State) *Rotation {
	if deps.Clock == nil {
		deps.Clock = SystemClock{}
	}
	if deps.Log == nil {
		deps.Log = slog.Default()
	}
	return &Rotation{deps: deps, state: st}
}

// State is the rotation's state, to persist after each Step.
func (r *Rotation) State() *State { return r.state }

// Finished reports whether the rotation reached a final phase.
func (r *Rotation) Finished() bool {
	switch r.state.Phase {
	case PhaseDone, PhaseRolledBack, PhaseFailed:
		return true
	}
	return false
}

// Step runs one attempt of the current step. done is true when that step
// completed (the state moved on); false with a nil error means it is
// waiting (call again after a poll interval). An error is this attempt's
// failure: after Spec.MaxAttempts the rotation moves to its compensating
// path (or to PhaseFailed) by itself. Errors never contain a password.
func (r *Rotation) Step(ctx context.Context) (done bool, err error) {
	if r.Finished() {
		return true, nil
	}
	st := r.state
	step := st.Step
	if st.Attempts == 0 && st.WaitSince.IsZero() {
		r.progress(step, StatusStarted)
	}
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic in step %s: %v", step, p)
			}
		}()
		done, err = r.run(ctx, step)
	}()
	err = r.scrub(err)
	switch {
	case err != nil:
		why := r.reason(err)
		st.Attempts++
		if st.Attempts < st.Spec.MaxAttempts {
			r.progressWhy(step, StatusRetrying+": "+err.Error(), why)
			return false, err
		}
		r.progressWhy(step, StatusFailed+": "+err.Error(), why)
		r.fail(step, err, why)
		return false, err
	case !done:
		if st.WaitSince.IsZero() {
			st.WaitSince = r.deps.Clock.Now()
		}
		r.progress(step, StatusWaiting)
		return false, nil
	}
	r.progress(step, StatusDone)
	r.advance()
	return true, nil
}

// Run drives Step until the rotation finishes, sleeping poll between
// attempts and calling save (if not nil) after each one. It returns the
// final report; the error is the failure when the rotation did not complete.
func (r *Rotation) Run(ctx context.Context, poll time.Duration, sleep func(context.Context, time.Duration) error, save func(context.Context, *State) error) (Report, error) {
	if sleep == nil {
		sleep = sleepCtx
	}
	for !r.Finished() {
		done, _ := r.Step(ctx)
		if save != nil {
			if err := save(ctx, r.state); err != nil {
				return r.Report(), fmt.Errorf("rotation: save state: %w", r.scrub(err))
			}
		}
		if !done && !r.Finished() {
			if err := sleep(ctx, poll); err != nil {
				return r.Report(), err
			}
		}
	}
	rep := r.Report()
	if r.state.Phase != PhaseDone {
		return rep, errors.New(rep.Summary)
	}
	return rep, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Report summarises a rotation for a person.
type Report struct {
	Phase Phase `json:"phase"`
	// Summary is Msg in English (logs, audit, errors).
	Summary string   `json:"summary"`
	Msg     i18n.Msg `json:"-"`
	Steps   []Entry  `json:"steps"`
}

// Report describes where the rotation stands.
func (r *Rotation) Report() Report {
	st := r.state
	msg := Summary(st)
	for i := 1; i < len(msg.KV); i += 2 {
		if v, ok := msg.KV[i].(string); ok {
			msg.KV[i] = redact.String(v, r.known...)
		}
	}
	return Report{Phase: st.Phase, Summary: redact.String(i18n.Default().In(i18n.English).Msg(msg), r.known...), Msg: msg, Steps: append([]Entry(nil), st.Log...)}
}

// Summary says where a rotation stands, as a catalog message: done (the
// new version), rolled back (the failed step, its error and what was
// restored), failed (what is left to do by hand), or still running. Its
// data is the state's (version ids, step names, scrubbed errors): never a
// password.
func Summary(st *State) i18n.Msg {
	what := i18n.M("rotation.summary.what", "Service", st.Spec.Service, "Env", st.Spec.Env, "SecretID", st.Spec.SecretID)
	by := ""
	if st.StoppedBy != "" {
		by = chat.Mention(st.StoppedBy)
	}
	switch st.Phase {
	case PhaseDone:
		return i18n.M("rotation.summary.done", "What", what, "Version", st.Token)
	case PhaseRolledBack:
		restored := i18n.Msg{}
		switch {
		case st.Restarted:
			restored = i18n.M("rotation.summary.resynced_restarted")
		case st.Synced:
			restored = i18n.M("rotation.summary.resynced")
		}
		if by != "" {
			return i18n.M("rotation.summary.stopped_rolled_back", "What", what, "Step", st.FailedStep, "By", by, "Previous", st.PreviousVersionID, "Restored", restored)
		}
		return i18n.M("rotation.summary.rolled_back", "What", what, "Step", st.FailedStep, "Failure", Why(st.FailureReason, st.Failure), "Previous", st.PreviousVersionID, "Restored", restored)
	case PhaseFailed:
		switch {
		case st.RollbackStep != "":
			return i18n.M("rotation.summary.rollback_failed", "What", what, "Step", st.FailedStep, "Failure", Why(st.FailureReason, st.Failure),
				"RollbackStep", st.RollbackStep, "RollbackFailure", Why(st.RollbackReason, st.RollbackFailure), "Previous", st.PreviousVersionID)
		case by != "" && !st.Altered:
			return i18n.M("rotation.summary.stopped_untouched", "What", what, "Step", st.FailedStep, "By", by)
		case !st.Altered:
			return i18n.M("rotation.summary.failed_untouched", "What", what, "Step", st.FailedStep, "Failure", Why(st.FailureReason, st.Failure))
		}
		return i18n.M("rotation.summary.failed", "What", what, "Step", st.FailedStep, "Failure", Why(st.FailureReason, st.Failure))
	}
	return i18n.M("rotation.summary.running", "What", what, "Phase", string(st.Phase), "Step", st.Step)
}

func (r *Rotation) advance() {
	st := r.state
	st.Attempts, st.WaitSince = 0, time.Time{}
	list := forward
	if st.Phase == PhaseRollingBack {
		list = rollback
	}
	for i, s := range list {
		if s == st.Step && i+1 < len(list) {
			st.Step = list[i+1]
			return
		}
	}
	if st.Phase == PhaseRollingBack {
		st.Phase = PhaseRolledBack
		r.deps.Log.Warn("rotation rolled back", "rotation", st.ID, "service", st.Spec.Service, "env", st.Spec.Env, "failed_step", st.FailedStep)
	} else {
		st.Phase = PhaseDone
		r.deps.Log.Info("rotation done", "rotation", st.ID, "service", st.Spec.Service, "env", st.Spec.Env)
	}
	st.Step = ""
}

// Abort stops a running rotation at the step it stands on, for user by:
// with the database changed already it takes the compensating path,
// otherwise it ends failed with nothing changed. A rotation rolling back
// or finished is left as it is.
func (r *Rotation) Abort(by string) {
	st := r.state
	if st.Phase != PhaseRunning {
		return
	}
	step := st.Step
	st.StoppedBy = by
	r.progress(step, StatusStopped)
	r.fail(step, fmt.Errorf("stopped by %s", by), nil)
}

func (r *Rotation) fail(step string, err error, why *Reason) {
	st := r.state
	st.Attempts, st.WaitSince = 0, time.Time{}
	switch {
	case st.Phase == PhaseRollingBack:
		st.Phase = PhaseFailed
		st.RollbackStep, st.RollbackFailure, st.RollbackReason = step, err.Error(), why
		st.Step = ""
		r.deps.Log.Error("rotation rollback failed", "rotation", st.ID, "step", step, "err", err.Error())
	case st.Altered:
		st.FailedStep, st.Failure, st.FailureReason = step, err.Error(), why
		st.Phase, st.Step = PhaseRollingBack, rollback[0]
		r.deps.Log.Warn("rotation failed after the database was changed, rolling back", "rotation", st.ID, "step", step, "err", err.Error())
	default:
		st.FailedStep, st.Failure, st.FailureReason = step, err.Error(), why
		st.Phase, st.Step = PhaseFailed, ""
		r.deps.Log.Error("rotation failed", "rotation", st.ID, "step", step, "err", err.Error())
	}
}

func (r *Rotation) progress(step, status string) { r.progressWhy(step, status, nil) }

// progressWhy logs a step's status with the reason it failed.
func (r *Rotation) progressWhy(step, status string, why *Reason) {
	status = redact.String(status, r.known...)
	r.state.Log = append(r.state.Log, Entry{At: r.deps.Clock.Now(), Step: step, Status: status, Reason: why})
	r.deps.Log.Info("rotation step", "rotation", r.state.ID, "service", r.state.Spec.Service, "env", r.state.Spec.Env, "step", step, "status", status)
	if r.deps.Progress != nil {
		r.deps.Progress(step, status)
	}
}

func (r *Rotation) scrub(err error) error { return redact.Error(err, r.known...) }

// reason is err's Reason, its data scrubbed; nil when nexo did not name it.
func (r *Rotation) reason(err error) *Reason {
	var re *reasonError
	if !errors.As(err, &re) {
		// Raw error text never reaches people: a sentence and a
		// reference that is in the log line.
		ref := text.Ref()
		r.deps.Log.Warn("rotation step error", "rotation", r.state.ID, "ref", ref, "err", err.Error())
		return &Reason{ID: "rotation.failure.unexpected", Args: map[string]string{"Ref": ref}}
	}
	why := Reason{ID: re.reason.ID, Within: re.reason.Within, Args: map[string]string{}}
	for k, v := range re.reason.Args {
		why.Args[k] = redact.String(v, r.known...)
	}
	return &why
}

func (r *Rotation) remember(secrets ...string) {
	for _, s := range secrets {
		if s != "" {
			r.known = append(r.known, s)
		}
	}
}

func (r *Rotation) run(ctx context.Context, step string) (bool, error) {
	switch step {
	case StepPrepare:
		return r.prepare(ctx)
	case StepStageNew:
		return r.stageNew(ctx)
	case StepAlterDB:
		return r.alterDB(ctx)
	case StepVerifyDB:
		return r.verifyDB(ctx)
	case StepPromote:
		return r.promote(ctx)
	case StepSync:
		return r.sync(ctx)
	case StepResync:
		if !r.state.Synced {
			return true, nil
		}
		return true, r.deps.Cluster.ForceSyncExternalSecret(ctx, r.state.Spec.Namespace, r.state.Spec.ExternalSecret, r.deps.Clock.Now())
	case StepWaitSecret:
		return r.waitSecret(ctx)
	case StepRestart, StepRestartAgain:
		return r.restart(ctx, step)
	case StepWaitRollout:
		return r.waitRollout(ctx)
	case StepVerifyLogs:
		return r.verifyLogs(ctx)
	case StepRestoreDB:
		return r.restoreDB(ctx)
	case StepRestoreStore:
		return r.restoreStore(ctx)
	}
	return false, fmt.Errorf("unknown step %q", step)
}

// credentials is a parsed database secret.
type credentials struct {
	fields map[string]any
	conn   dbrotate.ConnInfo
}

func (r *Rotation) parse(raw string) (credentials, error) {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return credentials{}, because(errors.New("the secret is not a JSON object"), "rotation.failure.not_json") // the decoder's error may quote the value
	}
	get := func(keys ...string) string {
		for _, k := range keys {
			switch v := m[k].(type) {
			case string:
				return v
			case json.Number:
				return v.String()
			}
		}
		return ""
	}
	c := dbrotate.ConnInfo{Host: get("host"), Database: get("database", "dbname"), User: get("username", "user"), Password: get("password")}
	r.remember(c.Password)
	c.SSLMode = r.state.Spec.SSLMode
	if c.SSLMode == "" {
		c.SSLMode = get("sslmode")
	}
	port := get("port")
	if port == "" {
		port = "5432"
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return credentials{}, because(fmt.Errorf("the secret's port %q is not a port", port), "rotation.failure.bad_port", "Port", port)
	}
	c.Port = p
	var missing []string
	for k, v := range map[string]string{"host": c.Host, "database": c.Database, "username": c.User, "password": c.Password} {
		if v == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		missing = sortStrings(missing)
		return credentials{}, because(fmt.Errorf("the secret lacks %s", strings.Join(missing, ", ")), "rotation.failure.lacks", "Fields", strings.Join(missing, ", "))
	}
	return credentials{fields: m, conn: c}, nil
}

func (r *Rotation) version(ctx context.Context, versionID string) (credentials, error) {
	raw, err := r.deps.Secrets.GetVersion(ctx, r.state.Spec.SecretID, versionID)
	if err != nil {
		return credentials{}, err
	}
	return r.parse(raw)
}

// both reads the old and the new credentials from the secret manager.
func (r *Rotation) both(ctx context.Context) (old, cur credentials, err error) {
	if old, err = r.version(ctx, r.state.PreviousVersionID); err != nil {
		return old, cur, fmt.Errorf("read the previous version: %w", err)
	}
	if cur, err = r.version(ctx, r.state.Token); err != nil {
		return old, cur, fmt.Errorf("read the new version: %w", err)
	}
	return old, cur, nil
}

func (r *Rotation) prepare(ctx context.Context) (bool, error) {
	st := r.state
	if st.PreviousVersionID == "" {
		raw, vid, err := r.deps.Secrets.Get(ctx, st.Spec.SecretID)
		if err != nil {
			return false, err
		}
		if _, err := r.parse(raw); err != nil {
			return false, err
		}
		if vid == st.Token {
			return false, because(errors.New("the new version is already AWSCURRENT but the rotation has no record of the previous one"), "rotation.failure.no_previous")
		}
		st.PreviousVersionID = vid
	}
	h, err := r.deps.Cluster.SecretDataHash(ctx, st.Spec.Namespace, st.Spec.KubernetesSecret)
	if err != nil {
		return false, err
	}
	st.SecretHashBefore = h
	return true, nil
}

func (r *Rotation) stageNew(ctx context.Context) (bool, error) {
	st := r.state
	if raw, err := r.deps.Secrets.GetVersion(ctx, st.Spec.SecretID, st.Token); err == nil {
		if _, err := r.parse(raw); err != nil { // staged by an earlier attempt
			return false, err
		}
		return true, nil
	}
	old, err := r.version(ctx, st.PreviousVersionID)
	if err != nil {
		return false, err
	}
	pw, err := generate(st.Spec.Charset)
	if err != nil {
		return false, err
	}
	r.remember(pw)
	fields := map[string]any{}
	for k, v := range old.fields {
		fields[k] = v
	}
	fields["password"] = pw
	body, err := json.Marshal(fields)
	if err != nil {
		return false, errors.New("encode the new secret")
	}
	if _, err := r.deps.Secrets.PutStaged(ctx, st.Spec.SecretID, string(body), st.Token, secretstore.StagePending); err != nil {
		return false, err
	}
	return true, nil
}

func (r *Rotation) alterDB(ctx context.Context) (bool, error) {
	old, cur, err := r.both(ctx)
	if err != nil {
		return false, err
	}
	// From here on the database may hold the new password (even if the call
	// fails after the server committed), so a failure compensates.
	r.state.Altered = true
	err = r.deps.DB.AlterPassword(ctx, old.conn, old.conn.User, cur.conn.Password)
	if err != nil && dbrotate.IsAuthFailure(err) {
		// An earlier attempt already changed it: log in with the new one.
		err = r.deps.DB.AlterPassword(ctx, cur.conn, cur.conn.User, cur.conn.Password)
	}
	return err == nil, err
}

func (r *Rotation) verifyDB(ctx context.Context) (bool, error) {
	_, cur, err := r.both(ctx)
	if err != nil {
		return false, err
	}
	if err := r.deps.DB.CheckLogin(ctx, cur.conn); err != nil {
		return false, because(fmt.Errorf("the new password does not log in: %w", err), "rotation.failure.new_login", "Error", err.Error())
	}
	return true, nil
}

func (r *Rotation) promote(ctx context.Context) (bool, error) {
	r.state.Promoted = true // the call may succeed even if its answer is lost
	if err := r.deps.Secrets.Promote(ctx, r.state.Spec.SecretID, r.state.Token); err != nil {
		return false, err
	}
	return true, nil
}

func (r *Rotation) sync(ctx context.Context) (bool, error) {
	st := r.state
	st.Synced = true
	return true, r.deps.Cluster.ForceSyncExternalSecret(ctx, st.Spec.Namespace, st.Spec.ExternalSecret, r.deps.Clock.Now())
}

func (r *Rotation) waitSecret(ctx context.Context) (bool, error) {
	st := r.state
	h, err := r.deps.Cluster.SecretDataHash(ctx, st.Spec.Namespace, st.Spec.KubernetesSecret)
	if err != nil {
		return false, err
	}
	if h != st.SecretHashBefore {
		return true, nil
	}
	return false, r.timedOut(st.Spec.SyncTimeout, fmt.Errorf("the Kubernetes Secret %s did not change", st.Spec.KubernetesSecret),
		"rotation.failure.secret_unchanged", "Secret", st.Spec.KubernetesSecret)
}

// timedOut is an error once the current wait has lasted longer than d
// (what did not happen, and the Reason's id and data); a timeout is final,
// not retried.
func (r *Rotation) timedOut(d time.Duration, what error, id string, kv ...string) error {
	st := r.state
	if st.WaitSince.IsZero() || r.deps.Clock.Now().Sub(st.WaitSince) < d {
		return nil
	}
	st.Attempts = st.Spec.MaxAttempts
	err := because(fmt.Errorf("%w within %s", what, d), id, kv...).(*reasonError)
	err.reason.Within = d
	return err
}

func (r *Rotation) restart(ctx context.Context, step string) (bool, error) {
	st := r.state
	if step == StepRestartAgain {
		if !st.Restarted {
			return true, nil
		}
		return true, r.deps.Cluster.RolloutRestart(ctx, st.Spec.Namespace, st.Spec.Deployment, r.deps.Clock.Now())
	}
	if st.RestartAt.IsZero() { // the same annotation value on a retry: no second restart
		st.RestartAt = r.deps.Clock.Now().UTC().Truncate(time.Second)
	}
	st.Restarted = true
	return true, r.deps.Cluster.RolloutRestart(ctx, st.Spec.Namespace, st.Spec.Deployment, st.RestartAt)
}

func (r *Rotation) waitRollout(ctx context.Context) (bool, error) {
	st := r.state
	rs, err := r.deps.Cluster.RolloutStatus(ctx, st.Spec.Namespace, st.Spec.Deployment)
	if err != nil {
		return false, err
	}
	if rs.Done {
		return true, nil
	}
	if rs.Failed {
		st.Attempts = st.Spec.MaxAttempts
		return false, because(fmt.Errorf("the rollout failed: %s", rs.Message), "rotation.failure.rollout_failed", "Message", rs.Message)
	}
	return false, r.timedOut(st.Spec.RolloutTimeout, fmt.Errorf("the rollout did not complete (%s)", rs.Message), "rotation.failure.rollout_incomplete", "Message", rs.Message)
}

func (r *Rotation) verifyLogs(ctx context.Context) (bool, error) {
	st := r.state
	pods, err := r.deps.Cluster.Pods(ctx, st.Spec.Namespace, st.Spec.Selector)
	if err != nil {
		return false, err
	}
	fresh, ok := 0, 0
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.CreationTimestamp.Time.Before(st.RestartAt) {
			continue
		}
		fresh++
		logs, err := r.deps.Cluster.Logs(ctx, st.Spec.Namespace, p.Name, st.Spec.Container, false, 200, 0)
		if err != nil {
			return false, err
		}
		if strings.Contains(logs, st.Spec.SuccessLog) {
			ok++
		}
	}
	if fresh > 0 && ok == fresh {
		return true, nil
	}
	return false, r.timedOut(st.Spec.LogTimeout, fmt.Errorf("%d of %d new pods logged %q", ok, fresh, st.Spec.SuccessLog),
		"rotation.failure.logs_missing", "Logged", strconv.Itoa(ok), "Fresh", strconv.Itoa(fresh), "Line", st.Spec.SuccessLog)
}

func (r *Rotation) restoreDB(ctx context.Context) (bool, error) {
	old, cur, err := r.both(ctx)
	if err != nil {
		return false, err
	}
	err = r.deps.DB.AlterPassword(ctx, cur.conn, cur.conn.User, old.conn.Password)
	if err != nil && dbrotate.IsAuthFailure(err) {
		// The new password does not log in: never set, or already restored.
		err = r.deps.DB.CheckLogin(ctx, old.conn)
	}
	if err != nil {
		return false, err
	}
	if err := r.deps.DB.CheckLogin(ctx, old.conn); err != nil {
		return false, because(fmt.Errorf("the old password does not log in after the restore: %w", err), "rotation.failure.old_login", "Error", err.Error())
	}
	return true, nil
}

func (r *Rotation) restoreStore(ctx context.Context) (bool, error) {
	// Promoting the old version is a no-op when it is still AWSCURRENT.
	return true, r.deps.Secrets.Promote(ctx, r.state.Spec.SecretID, r.state.PreviousVersionID)
}

// generate returns 32 random bytes as a password.
func generate(charset string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	if charset == "urlsafe" {
		return base64.RawURLEncoding.EncodeToString(b), nil
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}
