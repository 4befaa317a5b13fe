package steps_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands/rotation/rotationtest"
	"github.com/nexo-org/nexo-bot/commands/rotation/steps"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/dbrotate"
	"github.com/nexo-org/nexo-bot/integrations/dbrotate/pgtemp"
	"github.com/nexo-org/nexo-bot/integrations/secretstore"
	"github.com/nexo-org/nexo-bot/integrations/secretstore/redact"
	"github.com/nexo-org/nexo-bot/integrations/secretstorefake"
)

const (
	secretID    = "nexo/production/database"
	oldPassword = `Old+Pa55/w0rd='x"` // quotes and base64 characters on purpose
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return nil
}

// env is a full rotation set-up: a throwaway PostgreSQL with password
// authentication, the Secrets Manager fake reached through the real SDK,
// and a simulated cluster whose pods log in to that PostgreSQL.
type env struct {
	pg      *pgtemp.Server
	fake    *secretstorefake.Server
	store   *secretstore.AWS
	cluster *rotationtest.Cluster
	clock   *clock
	first   string // the version id before the rotation

	// captured output
	logs     bytes.Buffer
	progress []string
	states   []string
	errs     []string
}

func setup(t *testing.T) *env {
	t.Helper()
	e := &env{pg: pgtemp.Start(t), fake: secretstorefake.New(), clock: &clock{now: time.Date(2026, 2, 3, 10, 0, 0, 0, time.UTC)}}
	t.Cleanup(e.fake.Close)
	e.pg.Exec(t, `CREATE ROLE nexo_user LOGIN PASSWORD '`+strings.ReplaceAll(oldPassword, `'`, `''`)+`'`)
	e.pg.Exec(t, `CREATE DATABASE nexo_prod OWNER nexo_user`)
	body, _ := json.Marshal(map[string]any{
		"engine": "postgres", "host": e.pg.Host, "port": fmt.Sprint(e.pg.Port), "database": "nexo_prod",
		"username": "nexo_user", "password": oldPassword,
	})
	e.first = e.fake.Seed(secretID, string(body))
	var err error
	e.store, err = secretstore.NewAWS(context.Background(), secretstore.AWSOptions{
		Region: "eu-west-1", Endpoint: e.fake.URL, AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "example-secret-key",
		Timeout: 5 * time.Second, MaxAttempts: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.cluster = rotationtest.NewCluster(e.fake, secretID, "nexo-production", "nexo-be", e.clock.Now().Add(-time.Hour))
	if !e.cluster.Connected() {
		t.Fatalf("pods do not connect before the rotation: %v", e.cluster.PodLog(e.cluster.PodNames()[0]))
	}
	return e
}

func (e *env) rotation(t *testing.T, spec steps.Spec) *steps.Rotation {
	t.Helper()
	st, err := steps.NewState(spec, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return steps.New(steps.Deps{
		Secrets: e.store, DB: dbrotate.Postgres{}, Cluster: e.cluster, Clock: e.clock,
		Log:      slog.New(slog.NewJSONHandler(&e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Progress: func(step, status string) { e.progress = append(e.progress, step+": "+status) },
	}, st)
}

func spec() steps.Spec {
	return steps.Spec{
		Service: "nexo-be", Env: "production", SecretID: secretID, Namespace: "nexo-production",
		ExternalSecret: "nexo-be-db-credentials", KubernetesSecret: "nexo-be-db-credentials", Deployment: "nexo-be",
		SSLMode: "disable", SyncTimeout: time.Minute, RolloutTimeout: time.Minute, LogTimeout: time.Minute,
	}
}

// run drives the rotation, capturing every state it would persist, every
// error and any panic.
func (e *env) run(t *testing.T, r *steps.Rotation) (rep steps.Report, err error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			e.errs = append(e.errs, fmt.Sprint(p))
			t.Errorf("panic: %v", p)
		}
	}()
	save := func(_ context.Context, st *steps.State) error {
		b, err := json.Marshal(st)
		if err != nil {
			return err
		}
		e.states = append(e.states, string(b))
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	rep, err = r.Run(ctx, 5*time.Second, e.clock.sleep, save)
	if err != nil {
		e.errs = append(e.errs, err.Error())
	}
	repJSON, _ := json.Marshal(rep)
	e.errs = append(e.errs, string(repJSON))
	return rep, err
}

func (e *env) captured() string {
	return e.logs.String() + "\n" + strings.Join(e.progress, "\n") + "\n" + strings.Join(e.states, "\n") + "\n" + strings.Join(e.errs, "\n")
}

func (e *env) conn(password string) dbrotate.ConnInfo {
	return dbrotate.ConnInfo{Host: e.pg.Host, Port: e.pg.Port, Database: "nexo_prod", User: "nexo_user", Password: password, SSLMode: "disable"}
}

func passwordOf(t *testing.T, secretJSON string) string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal([]byte(secretJSON), &m); err != nil {
		t.Fatal(err)
	}
	return m["password"]
}

func TestFullRotationLeaksNothing(t *testing.T) {
	e := setup(t)
	r := e.rotation(t, spec())
	rep, err := e.run(t, r)
	if err != nil || rep.Phase != steps.PhaseDone {
		t.Fatalf("rotation: %v (%s)\n%s", err, rep.Summary, strings.Join(e.progress, "\n"))
	}
	ctx := context.Background()
	cur, vid := e.fake.Current(secretID)
	newPassword := passwordOf(t, cur)
	if vid == e.first || newPassword == oldPassword || len(newPassword) != 44 {
		t.Fatalf("store not rotated: version %s, password length %d", vid, len(newPassword))
	}
	var kept map[string]string
	_ = json.Unmarshal([]byte(cur), &kept)
	if kept["engine"] != "postgres" || kept["host"] != e.pg.Host || kept["username"] != "nexo_user" {
		t.Fatalf("other keys not kept: %v", kept)
	}
	if err := dbrotate.CheckLogin(ctx, e.conn(newPassword)); err != nil {
		t.Fatalf("new password does not log in: %v", err)
	}
	if err := dbrotate.CheckLogin(ctx, e.conn(oldPassword)); err == nil {
		t.Fatal("old password still logs in")
	}
	if e.cluster.Data("password") != newPassword {
		t.Fatal("the Kubernetes Secret was not synced")
	}
	if len(e.cluster.Restarts()) != 1 || e.cluster.Syncs() != 1 {
		t.Fatalf("restarts %d, syncs %d; want 1 and 1", len(e.cluster.Restarts()), e.cluster.Syncs())
	}
	if n := e.fake.CallCount(secretstorefake.TargetPutSecretValue); n != 1 {
		t.Fatalf("%d PutSecretValue calls, want 1", n)
	}

	out := e.captured()
	for _, want := range []string{steps.StepAlterDB, steps.StepVerifyLogs, `"phase":"done"`, "rotation step"} {
		if !strings.Contains(out, want) {
			t.Fatalf("capture misses %q: the leak check would be looking at nothing", want)
		}
	}
	if redact.Contains(out, newPassword) {
		t.Fatal("the new password (or an encoding of it) leaked")
	}
	if redact.Contains(out, oldPassword) {
		t.Fatal("the old password (or an encoding of it) leaked")
	}
}

func TestPromoteFailureAfterAlterRestoresOldPassword(t *testing.T) {
	e := setup(t)
	e.fake.FailNext(secretstorefake.TargetUpdateSecretVersionStage, 100)
	r := e.rotation(t, spec())
	rep, err := e.run(t, r)
	if err == nil || rep.Phase != steps.PhaseRolledBack {
		t.Fatalf("want a rolled-back rotation, got %v %s", err, rep.Phase)
	}
	ctx := context.Background()
	if err := dbrotate.CheckLogin(ctx, e.conn(oldPassword)); err != nil {
		t.Fatalf("old password does not log in after the rollback: %v", err)
	}
	pending, err := e.store.GetVersion(ctx, secretID, r.State().Token)
	if err != nil {
		t.Fatal(err)
	}
	newPassword := passwordOf(t, pending)
	if err := dbrotate.CheckLogin(ctx, e.conn(newPassword)); err == nil {
		t.Fatal("the new password still logs in after the rollback")
	}
	if cur, vid := e.fake.Current(secretID); vid != e.first || passwordOf(t, cur) != oldPassword {
		t.Fatalf("AWSCURRENT is %s, want the old version %s", vid, e.first)
	}
	for _, want := range []string{"promote", "rolled back", "old password is set again"} {
		if !strings.Contains(rep.Summary, want) {
			t.Fatalf("report %q does not say %q", rep.Summary, want)
		}
	}
	if len(e.cluster.Restarts()) != 0 {
		t.Fatal("pods restarted although the rotation never reached the restart")
	}
	if redact.Contains(e.captured(), newPassword) || redact.Contains(e.captured(), oldPassword) {
		t.Fatal("a password leaked on the failure path")
	}
}

func TestSyncTimeoutRollsBackStoreAndDB(t *testing.T) {
	e := setup(t)
	e.cluster.SetESOBroken(true)
	r := e.rotation(t, spec())
	rep, err := e.run(t, r)
	if err == nil || rep.Phase != steps.PhaseRolledBack || r.State().FailedStep != steps.StepWaitSecret {
		t.Fatalf("want a rollback from wait-secret, got %v %s %s", err, rep.Phase, r.State().FailedStep)
	}
	if _, vid := e.fake.Current(secretID); vid != e.first {
		t.Fatalf("AWSCURRENT not moved back: %s", vid)
	}
	if err := dbrotate.CheckLogin(context.Background(), e.conn(oldPassword)); err != nil {
		t.Fatalf("old password: %v", err)
	}
	if e.cluster.Syncs() != 2 || !strings.Contains(rep.Summary, "re-synced") || !strings.Contains(rep.Summary, "did not change within 1 min") {
		t.Fatalf("syncs %d, summary %q", e.cluster.Syncs(), rep.Summary)
	}
	// The reason is kept with the state and read in each reader's locale,
	// after a restart too (the state as stored).
	raw, err := json.Marshal(r.State())
	if err != nil {
		t.Fatal(err)
	}
	var stored steps.State
	if err := json.Unmarshal(raw, &stored); err != nil {
		t.Fatal(err)
	}
	pt := i18n.Default().In(i18n.Portuguese)
	for _, got := range []string{pt.Msg(rep.Msg), pt.Msg(steps.Summary(&stored))} {
		want := "A rotação de nexo-be production (" + secretID + ") falhou em wait-secret (o Secret nexo-be-db-credentials do Kubernetes não mudou em 1 min) e foi revertida: a senha antiga está de volta no banco e a AWSCURRENT é a versão " + e.first + "; o ExternalSecret foi sincronizado de novo."
		if got != want {
			t.Fatalf("pt-BR summary\n%s\nwant\n%s", got, want)
		}
	}
	var failed *steps.Entry
	for i := range stored.Log {
		if stored.Log[i].Step == steps.StepWaitSecret && strings.HasPrefix(stored.Log[i].Status, steps.StatusFailed) {
			failed = &stored.Log[i]
		}
	}
	if failed == nil || failed.Reason == nil || pt.Msg(failed.Reason.Msg()) != "o Secret nexo-be-db-credentials do Kubernetes não mudou em 1 min" {
		t.Fatalf("the failed step's log entry: %+v", failed)
	}
}

func TestResumeFromPersistedStateDoesNotRepeat(t *testing.T) {
	e := setup(t)
	r := e.rotation(t, spec())
	ctx := context.Background()
	for r.State().Step != steps.StepVerifyDB { // stop after alter-db, as a crash would
		if _, err := r.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := json.Marshal(r.State())
	var st steps.State
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	// A new process: a new Rotation from the stored state. Re-running the
	// earlier steps (as a retried step would) must change nothing.
	st.Step = steps.StepStageNew
	r2 := steps.New(steps.Deps{Secrets: e.store, DB: dbrotate.Postgres{}, Cluster: e.cluster, Clock: e.clock}, &st)
	rep, err := r2.Run(ctx, time.Second, e.clock.sleep, nil)
	if err != nil || rep.Phase != steps.PhaseDone {
		t.Fatalf("resumed rotation: %v %s", err, rep.Summary)
	}
	if n := len(e.fake.Versions(secretID)); n != 2 {
		t.Fatalf("%d versions, want 2 (the retry staged a second password)", n)
	}
	cur, _ := e.fake.Current(secretID)
	if err := dbrotate.CheckLogin(ctx, e.conn(passwordOf(t, cur))); err != nil {
		t.Fatalf("current password does not log in: %v", err)
	}
}

func TestBadSpecChangesNothing(t *testing.T) {
	if _, err := steps.NewState(steps.Spec{Service: "nexo-be"}, time.Now()); err == nil || !strings.Contains(err.Error(), "secret_id") {
		t.Fatalf("missing fields: %v", err)
	}
	s := spec()
	s.Charset = "hex"
	if _, err := steps.NewState(s, time.Now()); err == nil {
		t.Fatal("unknown charset accepted")
	}
}

func TestMalformedSecretFailsBeforeTouchingTheDB(t *testing.T) {
	e := setup(t)
	e.fake.Seed(secretID, `{"host":"h","username":"nexo_user","password":"`+oldPassword+`"`) // truncated JSON
	r := e.rotation(t, spec())
	rep, err := e.run(t, r)
	if err == nil || rep.Phase != steps.PhaseFailed || r.State().Altered {
		t.Fatalf("want failed before alter, got %v %s", err, rep.Phase)
	}
	if err := dbrotate.CheckLogin(context.Background(), e.conn(oldPassword)); err != nil {
		t.Fatalf("database changed: %v", err)
	}
	if redact.Contains(e.captured(), oldPassword) {
		t.Fatal("password leaked from a malformed secret")
	}
}
