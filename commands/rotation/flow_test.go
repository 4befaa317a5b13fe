package rotation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/chat/chattest"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/rotation"
	"github.com/nexo-org/nexo-bot/commands/rotation/rotationtest"
	"github.com/nexo-org/nexo-bot/commands/rotation/steps"
	"github.com/nexo-org/nexo-bot/commands/scenarios"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/integrations/dbrotate"
	"github.com/nexo-org/nexo-bot/integrations/dbrotate/pgtemp"
	"github.com/nexo-org/nexo-bot/integrations/secretstore"
	"github.com/nexo-org/nexo-bot/integrations/secretstore/redact"
	"github.com/nexo-org/nexo-bot/integrations/secretstorefake"
	"github.com/nexo-org/nexo-bot/store"
	"github.com/nexo-org/nexo-bot/store/boltstore"
	"github.com/nexo-org/nexo-bot/workflow"
)

// Users and channel of the rotation tests.
const (
	rotRequester = "U0ALICE01" // sre-team
	rotSRE       = "U0BOB0001" // sre-team
	rotDev       = "U0CAROL01" // platform-team only
	rotChannel   = "C0DEPLOYS"
	rotSecretID  = "nexo/production/database"
	rotOld       = `Old+Pa55/w0rd='x"`
)

const rotConfig = `
slack:
  channel: C0DEPLOYS
gitops:
  repo_url: https://github.com/nexo-org/nexo-gitops.git
kubernetes:
  namespace: nexo-{env}
aws:
  region: us-east-1
services:
  - name: nexo-be
    secrets:
      - name: db
        secret_id: nexo/{env}/database
        external_secret: nexo-be-db-credentials
        max_age: 30d
  - name: nexo-fe
groups:
  platform-team: [U0PLATF01, U0CAROL01]
  sre-team: [U0ALICE01, U0BOB0001]
`

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rotEnv is nexo wired with a real PostgreSQL (pgtemp, password auth), the
// Secrets Manager fake through the real SDK, a simulated cluster whose pods
// log in to that PostgreSQL, a bbolt store and a manual clock.
type rotEnv struct {
	t       *testing.T
	pg      *pgtemp.Server
	fake    *secretstorefake.Server
	cluster *rotationtest.Cluster
	clock   *workflow.ManualClock
	store   store.Store
	chat    *chattest.Recorder
	logs    *syncBuffer
	deps    *commands.Deps
	router  *commands.Router
}

func newRotEnv(t *testing.T, mutate func(*config.Config)) *rotEnv {
	t.Helper()
	e := &rotEnv{t: t, pg: pgtemp.Start(t), fake: secretstorefake.New(), chat: chattest.New(0), logs: &syncBuffer{}}
	t.Cleanup(e.fake.Close)
	e.pg.Exec(t, `CREATE ROLE nexo_user LOGIN PASSWORD '`+strings.ReplaceAll(rotOld, `'`, `''`)+`'`)
	e.pg.Exec(t, `CREATE DATABASE nexo_prod OWNER nexo_user`)
	body, _ := json.Marshal(map[string]any{
		"engine": "postgres", "host": e.pg.Host, "port": fmt.Sprint(e.pg.Port), "database": "nexo_prod",
		"username": "nexo_user", "password": rotOld, "sslmode": "disable",
	})
	e.fake.Seed(rotSecretID, string(body))
	// The fake stamps versions with the wall clock; start near it.
	e.clock = workflow.NewManualClock(time.Now().UTC().Truncate(time.Second))
	e.cluster = rotationtest.NewCluster(e.fake, rotSecretID, "nexo-production", "nexo-be", e.clock.Now().Add(-time.Hour))
	if !e.cluster.Connected() {
		t.Fatalf("pods do not connect before the rotation: %s", e.cluster.PodLog(e.cluster.PodNames()[0]))
	}
	aws, err := secretstore.NewAWS(context.Background(), secretstore.AWSOptions{
		Region: "us-east-1", Endpoint: e.fake.URL, AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "example-secret-key",
		Timeout: 5 * time.Second, MaxAttempts: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "nexo.db"))
	if err != nil {
		t.Fatal(err)
	}
	e.store = st
	t.Cleanup(func() { st.Close() })
	cfg, err := config.Parse([]byte(rotConfig))
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(cfg)
	}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	engine := workflow.New(st, e.clock, log, "test")
	e.deps = &commands.Deps{Config: cfg, Store: st, Chat: e.chat, Engine: engine, Log: log, Kube: e.cluster, Secrets: aws}
	e.deps.PollEvery = 5 * time.Second
	e.router, err = scenarios.Setup(context.Background(), e.deps)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(engine.Wait)
	return e
}

func (e *rotEnv) command(user, text string) *chat.Reply {
	e.t.Helper()
	r, err := e.router.HandleCommand(context.Background(), chat.Command{UserID: user, ChannelID: rotChannel, Text: text})
	if err != nil {
		e.t.Fatalf("%s: %v", text, err)
	}
	e.deps.Engine.Wait()
	return r
}

func (e *rotEnv) click(user, action, value string) *chat.Reply {
	e.t.Helper()
	r, err := e.router.HandleClick(context.Background(), chat.Click{UserID: user, ChannelID: rotChannel, Action: action, Value: value})
	if err != nil {
		e.t.Fatalf("click %s: %v", action, err)
	}
	e.deps.Engine.Wait()
	return r
}

func (e *rotEnv) workflow(id string) (*store.Workflow, rotation.Job) {
	e.t.Helper()
	wf, err := e.store.GetWorkflow(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	job, err := workflow.Decode[rotation.Job](wf)
	if err != nil {
		e.t.Fatal(err)
	}
	return wf, job
}

func (e *rotEnv) only() *store.Workflow {
	e.t.Helper()
	wfs, err := e.store.ListWorkflows(context.Background(), store.WorkflowFilter{Kind: rotation.Kind})
	if err != nil || len(wfs) != 1 {
		e.t.Fatalf("rotate workflows: %d, %v", len(wfs), err)
	}
	return wfs[0]
}

// runToEnd moves the clock and fires due timers until the workflow ends.
func (e *rotEnv) runToEnd(id string) (*store.Workflow, rotation.Job) {
	e.t.Helper()
	ctx := context.Background()
	for i := 0; i < 200; i++ {
		wf, job := e.workflow(id)
		if wf.Done {
			e.deps.Cards().Flush() // the card's last edit is sent in the background
			return wf, job
		}
		e.clock.Advance(5 * time.Second)
		e.deps.Engine.FireDue(ctx)
		e.deps.Engine.Wait()
	}
	wf, _ := e.workflow(id)
	e.t.Fatalf("workflow %s did not end: state %s, steps %+v", id, wf.State, wf.Steps)
	return nil, rotation.Job{}
}

func (e *rotEnv) conn(password string) dbrotate.ConnInfo {
	return dbrotate.ConnInfo{Host: e.pg.Host, Port: e.pg.Port, Database: "nexo_prod", User: "nexo_user", Password: password, SSLMode: "disable"}
}

func (e *rotEnv) currentPassword() string {
	e.t.Helper()
	raw, _ := e.fake.Current(rotSecretID)
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		e.t.Fatal(err)
	}
	return fmt.Sprint(m["password"])
}

// captured is every output nexo produced: chat, audit, stored workflows
// and documents, logs.
func (e *rotEnv) captured() string {
	e.t.Helper()
	ctx := context.Background()
	var b strings.Builder
	b.WriteString(e.chat.AllJSON())
	audit, err := e.store.ListAudit(ctx, store.AuditFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	aj, _ := json.Marshal(audit)
	b.Write(aj)
	wfs, err := e.store.ListWorkflows(ctx, store.WorkflowFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	wj, _ := json.Marshal(wfs)
	b.Write(wj)
	for _, coll := range []string{rotation.RecordsCollection} {
		docs, err := e.store.ListDocs(ctx, coll)
		if err != nil {
			e.t.Fatal(err)
		}
		dj, _ := json.Marshal(docs)
		b.Write(dj)
	}
	b.WriteString(e.logs.String())
	return b.String()
}

func auditActions(t *testing.T, st store.Store) []string {
	t.Helper()
	entries, err := st.ListAudit(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(entries) - 1; i >= 0; i-- { // oldest first
		a := entries[i]
		out = append(out, a.Actor+" "+a.Action+" "+a.Outcome)
	}
	return out
}

func TestRotateSecretThroughSlack(t *testing.T) {
	e := newRotEnv(t, nil)

	r := e.command(rotRequester, "rotate-secret nexo-be prod db")
	if r == nil || !r.Ephemeral || !strings.Contains(r.Message.Text, "1 approval from sre-team") {
		t.Fatalf("request reply: %+v", r)
	}
	wf := e.only()
	if wf.State != rotation.Approval || wf.CardTS == "" {
		t.Fatalf("after the request: state %s, card %q", wf.State, wf.CardTS)
	}
	card := e.chat.Card(wf.CardTS).PlainText()
	if !strings.Contains(card, "Waiting for approval") || !strings.Contains(card, "[Approve]") || !strings.Contains(card, rotSecretID) {
		t.Fatalf("card:\n%s", card)
	}

	// The requester cannot approve; nor can someone outside sre-team.
	if r := e.click(rotRequester, "rotate.approve", wf.ID); r == nil || !strings.Contains(r.Message.Text, "does not count") {
		t.Fatalf("self-approval: %+v", r)
	}
	if r := e.click(rotDev, "rotate.approve", wf.ID); r == nil || !strings.Contains(r.Message.Text, "Only members of sre-team") {
		t.Fatalf("platform-team approval: %+v", r)
	}
	if wf, _ := e.workflow(wf.ID); wf.State != rotation.Approval {
		t.Fatalf("refused approvals moved the workflow to %s", wf.State)
	}
	if got := e.currentPassword(); got != rotOld {
		t.Fatal("the secret changed before approval")
	}

	if r := e.click(rotSRE, "rotate.approve", wf.ID); r != nil {
		t.Fatalf("SRE approval refused: %+v", r)
	}
	wf, job := e.runToEnd(wf.ID)
	if wf.State != rotation.Done || job.Result != rotation.ResultDone || job.Rotation.Phase != steps.PhaseDone {
		t.Fatalf("state %s, result %s, phase %s: %s", wf.State, job.Result, job.Rotation.Phase, job.Summary)
	}

	// The new password logs in, the old one does not, the pods use the new one.
	newPassword := e.currentPassword()
	if newPassword == rotOld || len(newPassword) != 44 {
		t.Fatalf("the secret was not rotated (len %d)", len(newPassword))
	}
	ctx := context.Background()
	if err := dbrotate.CheckLogin(ctx, e.conn(newPassword)); err != nil {
		t.Fatalf("new password: %v", err)
	}
	if err := dbrotate.CheckLogin(ctx, e.conn(rotOld)); err == nil || !dbrotate.IsAuthFailure(err) {
		t.Fatalf("old password still logs in (err %v)", err)
	}
	if e.cluster.Data("password") != newPassword || !e.cluster.Connected() || len(e.cluster.Restarts()) != 1 {
		t.Fatalf("cluster: synced %v, connected %v, restarts %d", e.cluster.Data("password") == newPassword, e.cluster.Connected(), len(e.cluster.Restarts()))
	}

	// The card shows every step done; the thread says it is done.
	card = e.chat.Card(wf.CardTS).PlainText()
	for _, want := range []string{"Done", ":white_check_mark: prepare", ":white_check_mark: alter-db", ":white_check_mark: verify-logs"} {
		if !strings.Contains(card, want) {
			t.Fatalf("final card lacks %q:\n%s", want, card)
		}
	}
	if strings.Contains(card, "[Approve]") {
		t.Fatalf("final card still offers Approve:\n%s", card)
	}
	thread := strings.Join(e.chat.Thread(wf.ThreadTS), "\n")
	if !strings.Contains(thread, "Approved by <@"+rotSRE+">") || !strings.Contains(thread, "Rotated the database password of nexo-be production") {
		t.Fatalf("thread:\n%s", thread)
	}

	// The rotation is recorded for the reminders.
	var rec rotation.Record
	if err := e.store.GetDoc(ctx, rotation.RecordsCollection, rotation.RecordKey("nexo-be", "production", "db"), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Workflow != wf.ID || rec.VersionID != job.Rotation.Token || rec.By != rotRequester || rec.RotatedAt.IsZero() {
		t.Fatalf("record %+v", rec)
	}

	want := []string{
		rotRequester + " rotate.request ok",
		rotRequester + " rotate.approve refused",
		rotDev + " rotate.approve refused",
		rotSRE + " rotate.approve ok",
		"nexo rotate.result ok",
	}
	if got := auditActions(t, e.store); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Neither password appears anywhere nexo wrote, in any spelling.
	out := e.captured()
	if !strings.Contains(out, wf.ID) || !strings.Contains(out, "rotation step") {
		t.Fatal("the capture is missing outputs; the leak check would prove nothing")
	}
	if redact.Contains(out, newPassword) {
		t.Fatal("the new password appears in nexo's output")
	}
	if redact.Contains(out, rotOld) {
		t.Fatal("the old password appears in nexo's output")
	}

	// A second rotation may start now that the first one is closed.
	if r := e.command(rotRequester, "rotate-secret nexo-be production db"); r == nil || strings.Contains(r.Message.Text, "already open") {
		t.Fatalf("second request: %+v", r)
	}
}

func TestRotateSecretRollsBackWhenPromoteFails(t *testing.T) {
	e := newRotEnv(t, nil)
	e.command(rotRequester, "rotate-secret nexo-be production db")
	wf := e.only()
	// Moving AWSCURRENT fails for good (three attempts, one SDK try each).
	e.fake.FailNext(secretstorefake.TargetUpdateSecretVersionStage, 3)
	e.click(rotSRE, "rotate.approve", wf.ID)
	wf, job := e.runToEnd(wf.ID)
	if wf.State != rotation.Failed || job.Result != rotation.ResultRolledBack || job.Rotation.FailedStep != steps.StepPromote {
		t.Fatalf("state %s, result %s, failed step %s: %s", wf.State, job.Result, job.Rotation.FailedStep, job.Summary)
	}
	ctx := context.Background()
	if err := dbrotate.CheckLogin(ctx, e.conn(rotOld)); err != nil {
		t.Fatalf("the old password was not restored: %v", err)
	}
	if e.currentPassword() != rotOld || !e.cluster.Connected() {
		t.Fatal("AWSCURRENT or the pods do not hold the old password")
	}
	thread := strings.Join(e.chat.Thread(wf.ThreadTS), "\n")
	for _, want := range []string{"Step `promote` failed", "restoring the old one", ":rewind: Rotation of nexo-be production (" + rotSecretID + ") failed at promote", "rolled back"} {
		if !strings.Contains(thread, want) {
			t.Fatalf("thread lacks %q:\n%s", want, thread)
		}
	}
	card := e.chat.Card(wf.CardTS).PlainText()
	if !strings.Contains(card, "Failed and rolled back") || !strings.Contains(card, ":white_check_mark: restore-db") || !strings.Contains(card, ":x: promote") {
		t.Fatalf("card:\n%s", card)
	}
	var staged string
	for _, v := range e.fake.Versions(rotSecretID) {
		if v.ID == job.Rotation.Token {
			staged = v.Value
		}
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(staged), &m); err != nil {
		t.Fatalf("the staged version is not readable: %v", err)
	}
	newPassword := fmt.Sprint(m["password"])
	if newPassword == rotOld || newPassword == "" {
		t.Fatal("no new password was staged")
	}
	if err := dbrotate.CheckLogin(ctx, e.conn(newPassword)); err == nil {
		t.Fatal("the abandoned new password still logs in")
	}
	out := e.captured()
	if redact.Contains(out, newPassword) || redact.Contains(out, rotOld) {
		t.Fatal("a password appears in nexo's output after a rollback")
	}
	if got := auditActions(t, e.store); got[len(got)-1] != "nexo rotate.result error" {
		t.Fatalf("audit: %v", got)
	}
	if _, err := e.store.ListDocs(ctx, rotation.RecordsCollection); err != nil {
		t.Fatal(err)
	}
	var rec rotation.Record
	if err := e.store.GetDoc(ctx, rotation.RecordsCollection, rotation.RecordKey("nexo-be", "production", "db"), &rec); err == nil {
		t.Fatal("a rolled-back rotation was recorded as a success")
	}
}

func TestRotateSecretRefusals(t *testing.T) {
	e := newRotEnv(t, nil)
	cases := []struct{ text, want string }{
		{"rotate-secret nexo-be production", "Usage"},
		{"rotate-secret nexo-bx production db", "Did you mean `nexo-be`"},
		{"rotate-secret nexo-be prodd db", "Unknown environment"},
		{"rotate-secret nexo-be production dbx", "has no secret `dbx`"},
		{"rotate-secret nexo-fe production db", "no rotatable secrets"},
	}
	for _, c := range cases {
		r := e.command(rotRequester, c.text)
		if r == nil || !r.Ephemeral || !strings.Contains(r.Message.Text, c.want) {
			t.Errorf("%q: reply %+v, want %q", c.text, r, c.want)
		}
	}
	if wfs, _ := e.store.ListWorkflows(context.Background(), store.WorkflowFilter{Kind: rotation.Kind}); len(wfs) != 0 {
		t.Fatalf("refusals started %d workflows", len(wfs))
	}

	// Not configured: no secret store, or no Kubernetes.
	secrets, kube := e.deps.Secrets, e.deps.Kube
	e.deps.Secrets = nil
	if r := e.command(rotRequester, "rotate-secret nexo-be production db"); r == nil || !strings.Contains(r.Message.Text, "not configured") {
		t.Fatalf("no secret store: %+v", r)
	}
	e.deps.Secrets, e.deps.Kube = secrets, nil
	if r := e.command(rotRequester, "rotate-secret nexo-be production db"); r == nil || !strings.Contains(r.Message.Text, "not configured") {
		t.Fatalf("no kubernetes: %+v", r)
	}
	e.deps.Kube = kube

	// One open rotation per secret; cancel frees it.
	e.command(rotRequester, "rotate-secret nexo-be production db")
	wf := e.only()
	if r := e.command(rotSRE, "rotate-secret nexo-be production db"); r == nil || !strings.Contains(r.Message.Text, "already open") {
		t.Fatalf("second open rotation: %+v", r)
	}
	if r := e.click(rotDev, commands.ActionCancel, wf.ID); r == nil || !strings.Contains(r.Message.Text, "Only the requester") {
		t.Fatalf("cancel by an outsider: %+v", r)
	}
	if r := e.click(rotRequester, commands.ActionCancel, wf.ID); r == nil || !strings.Contains(r.Message.Text, "Cancelled the rotation of secret `db`") {
		t.Fatalf("cancel by the requester: %+v", r)
	}
	wf, job := e.workflow(wf.ID)
	if !wf.Done || job.Result != rotation.ResultCancelled || e.currentPassword() != rotOld {
		t.Fatalf("after cancel: done %v, result %s", wf.Done, job.Result)
	}
	if r := e.click(rotSRE, "rotate.approve", wf.ID); r == nil || !strings.Contains(r.Message.Text, "past approval") {
		t.Fatalf("approval after cancel: %+v", r)
	}
	refused := 0
	for _, a := range auditActions(t, e.store) {
		if strings.HasSuffix(a, "rotate.request refused") {
			refused++
		}
	}
	// 4 bad inputs (a usage error is not audited), 2 not configured, 1 already open.
	if refused != 7 {
		t.Fatalf("%d refused requests audited, want 7: %v", refused, auditActions(t, e.store))
	}
}

func TestRotationApprovalsPerEnvironment(t *testing.T) {
	e := newRotEnv(t, func(c *config.Config) {
		two := 2
		for i := range c.Environments {
			if c.Environments[i].Name == "production" {
				c.Environments[i].Policy.RotationApprovals = &two
			}
		}
	})
	e.command(rotDev, "rotate-secret nexo-be production db")
	wf := e.only()
	e.click(rotSRE, "rotate.approve", wf.ID)
	if wf, job := e.workflow(wf.ID); wf.State != rotation.Approval || len(job.Approvals) != 1 {
		t.Fatalf("one of two approvals moved it to %s", wf.State)
	}
	e.click(rotRequester, "rotate.approve", wf.ID)
	if wf, _ := e.workflow(wf.ID); wf.State != rotation.Run && !wf.Done {
		t.Fatalf("two approvals: state %s", wf.State)
	}
	// The QA environment has no approver group: sre-team (hotfix.approver_group) decides.
	need := rotation.Need(e.deps.Config, &e.deps.Config.Environments[1], rotDev)
	if need.Approvals != 1 || need.Group != "sre-team" {
		t.Fatalf("qa need %+v", need)
	}
}

func TestRotationReminders(t *testing.T) {
	e := newRotEnv(t, nil)
	ctx := context.Background()

	// Fresh secret: nothing to say.
	if n, err := rotation.Reminders(ctx, e.deps); err != nil || n != 0 {
		t.Fatalf("fresh secret: %d stale, %v", n, err)
	}
	// 31 days later the production secret, never rotated by nexo, is due
	// (its age comes from Secrets Manager's CreatedDate); the other
	// environments have no secret and are skipped.
	e.clock.Advance(31*24*time.Hour + time.Hour)
	n, err := rotation.Reminders(ctx, e.deps)
	if err != nil || n != 1 {
		t.Fatalf("31 days: %d stale, %v", n, err)
	}
	posts := e.chat.TopLevel(rotChannel)
	last := posts[len(posts)-1].Msg.PlainText()
	for _, want := range []string{"1 database secret due for rotation", "nexo-be production `db`", "never rotated by nexo; current value written 31 days ago", "policy 30 days", "/nexo rotate-secret nexo-be production db"} {
		if !strings.Contains(last, want) {
			t.Fatalf("reminder lacks %q:\n%s", want, last)
		}
	}

	// A recorded rotation resets the age.
	rec := rotation.Record{Service: "nexo-be", Env: "production", Secret: "db", SecretID: rotSecretID, RotatedAt: e.clock.Now().Add(-24 * time.Hour)}
	if err := e.store.PutDoc(ctx, rotation.RecordsCollection, rotation.RecordKey("nexo-be", "production", "db"), rec); err != nil {
		t.Fatal(err)
	}
	if n, err := rotation.Reminders(ctx, e.deps); err != nil || n != 0 {
		t.Fatalf("rotated yesterday: %d stale, %v", n, err)
	}
	rec.RotatedAt = e.clock.Now().Add(-45 * 24 * time.Hour)
	_ = e.store.PutDoc(ctx, rotation.RecordsCollection, rotation.RecordKey("nexo-be", "production", "db"), rec)
	stale, err := rotation.StaleSecrets(ctx, e.deps)
	if err != nil || len(stale) != 1 || !stale[0].ByNexo || stale[0].SecretID != rotSecretID {
		t.Fatalf("rotated 45 days ago: %+v, %v", stale, err)
	}

	// The weekly timer fires by itself (first on a Monday at 09:00 UTC) and re-arms.
	before := len(e.chat.TopLevel(rotChannel))
	e.clock.Advance(8 * 24 * time.Hour)
	e.deps.Engine.FireDue(ctx)
	e.deps.Engine.Wait()
	posts = e.chat.TopLevel(rotChannel)
	if len(posts) != before+1 || !strings.Contains(posts[len(posts)-1].Msg.PlainText(), "last rotated by nexo 53 days ago") {
		t.Fatalf("timer reminder: %d posts (before %d)", len(posts), before)
	}
	e.deps.Engine.FireDue(ctx) // nothing due until next week
	if got := len(e.chat.TopLevel(rotChannel)); got != before+1 {
		t.Fatalf("the reminder fired twice in one week (%d posts)", got)
	}
	e.clock.Advance(7 * 24 * time.Hour)
	e.deps.Engine.FireDue(ctx)
	if got := len(e.chat.TopLevel(rotChannel)); got != before+2 {
		t.Fatalf("the reminder did not re-arm (%d posts)", got)
	}
	// A restart (Setup again) does not push the next reminder back.
	if _, err := scenarios.Setup(ctx, e.deps); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(7 * 24 * time.Hour)
	e.deps.Engine.FireDue(ctx)
	if got := len(e.chat.TopLevel(rotChannel)); got != before+3 {
		t.Fatalf("after a restart the reminder did not fire on time (%d posts)", got)
	}
}

// An approval that lands while the card is being posted makes the engine
// re-run the card step (its write loses the compare-and-swap); the card must
// not be posted twice.
func TestRotateCardPostedOnceWhenAClickRaces(t *testing.T) {
	e := newRotEnv(t, nil)
	posting, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.chat.BeforePost = func() {
		once.Do(func() {
			close(posting)
			<-release
		})
	}
	ctx := context.Background()
	if _, err := e.router.HandleCommand(ctx, chat.Command{UserID: rotRequester, ChannelID: rotChannel, Text: "rotate-secret nexo-be production db"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-posting:
	case <-time.After(10 * time.Second):
		t.Fatal("the card was never posted")
	}
	wf := e.only()
	if r, err := e.router.HandleClick(ctx, chat.Click{UserID: rotSRE, ChannelID: rotChannel, Action: "rotate.approve", Value: wf.ID}); err != nil || r != nil {
		t.Fatalf("approval during the post: %+v, %v", r, err)
	}
	close(release)
	e.deps.Engine.Wait()
	wf, job := e.runToEnd(wf.ID)
	if cards := e.chat.TopLevel(rotChannel); len(cards) != 1 {
		t.Fatalf("%d cards posted, want 1", len(cards))
	}
	if job.Result != rotation.ResultDone || len(job.Approvals) != 1 {
		t.Fatalf("result %q, approvals %d: %s", job.Result, len(job.Approvals), job.Summary)
	}
	if thread := e.chat.Thread(wf.CardTS); len(thread) == 0 {
		t.Fatal("the thread hangs off another message than the card")
	}
}

// A secret is named by any of its names: the configured one, its
// secret_id, the id's last segment, or its ExternalSecret; otherwise the
// refusal suggests the nearest.
func TestRotateSecretByAnyOfItsNames(t *testing.T) {
	for _, name := range []string{"db", "DB", "database", "nexo/production/database", "nexo-be-db-credentials"} {
		t.Run(name, func(t *testing.T) {
			e := newRotEnv(t, nil)
			r := e.command(rotRequester, "rotate-secret nexo-be production "+name)
			if r == nil || !strings.Contains(r.Message.Text, "Rotation `rotate-") {
				t.Fatalf("%q: %+v", name, r)
			}
			if _, job := e.workflow(e.only().ID); job.Secret != "db" || job.SecretID != "nexo/production/database" {
				t.Fatalf("%q resolved to %+v", name, job)
			}
		})
	}
	e := newRotEnv(t, nil)
	r := e.command(rotRequester, "rotate-secret nexo-be production databse")
	if r == nil || !strings.Contains(r.Message.Text, "Did you mean `database`?") || !strings.Contains(r.Message.Text, "`db` (nexo/production/database)") {
		t.Fatalf("typo: %+v", r)
	}
}

// A pt-BR channel follows a rotation in Portuguese: the request's answer,
// the card and its buttons, the refusals, the failed step and the rollback
// in the thread, the steps' statuses, and the weekly reminder. The steps'
// ids (promote, restore-db) and the secret manager's labels stay as they
// are in docs/rotation.md.
func TestRotationSpeaksTheChannelsLocale(t *testing.T) {
	e := newRotEnv(t, func(c *config.Config) { c.Slack.ChannelLocales = map[string]string{rotChannel: "pt-BR"} })
	if r := e.command(rotRequester, "rotate-secret nexo-be production dbx"); r == nil || !strings.Contains(r.Message.Text, "nexo-be não tem o segredo `dbx` em production. Você quis dizer `db`?") {
		t.Fatalf("refusal: %+v", r)
	}
	r := e.command(rotRequester, "rotate-secret nexo-be production db")
	if r == nil || !strings.Contains(r.Message.Text, "de nexo-be production `db` pedida. Ela aguarda 1 aprovação de sre-team.") {
		t.Fatalf("request reply: %+v", r)
	}
	wf := e.only()
	card := e.chat.Card(wf.CardTS).PlainText()
	for _, want := range []string{":key: Rotacionar `db` de nexo-be em production", "*Aguardando aprovação*", "0/1 de sre-team", "*Pedido por*", "[Aprovar]", "[Cancelar]", "a senha nunca é mostrada"} {
		if !strings.Contains(card, want) {
			t.Fatalf("card lacks %q:\n%s", want, card)
		}
	}
	if r := e.click(rotRequester, "rotate.approve", wf.ID); r == nil || !strings.Contains(r.Message.Text, "sua aprovação não conta") {
		t.Fatalf("self-approval: %+v", r)
	}
	e.fake.FailNext(secretstorefake.TargetUpdateSecretVersionStage, 3)
	e.click(rotSRE, "rotate.approve", wf.ID)
	wf, job := e.runToEnd(wf.ID)
	if job.Result != rotation.ResultRolledBack {
		t.Fatalf("result %s: %s", job.Result, job.Summary)
	}
	thread := strings.Join(e.chat.Thread(wf.ThreadTS), "\n")
	for _, want := range []string{":key: Aprovada por <@" + rotSRE + ">; iniciando a rotação.", "O passo `promote` falhou:", "o nexo está restaurando a antiga",
		":rewind: A rotação de nexo-be production (" + rotSecretID + ") falhou em promote", "e foi revertida: a senha antiga está de volta no banco"} {
		if !strings.Contains(thread, want) {
			t.Fatalf("thread lacks %q:\n%s", want, thread)
		}
	}
	card = e.chat.Card(wf.CardTS).PlainText()
	for _, want := range []string{"*Falhou e foi revertida*", "*Rollback*", ":white_check_mark: restore-db", ":x: promote — falhou: ", "A rotação de nexo-be production"} {
		if !strings.Contains(card, want) {
			t.Fatalf("final card lacks %q:\n%s", want, card)
		}
	}
	// The audit keeps English whatever the channel speaks.
	audit, err := e.store.ListAudit(context.Background(), store.AuditFilter{Service: "nexo-be"})
	if err != nil || len(audit) == 0 || !strings.Contains(audit[0].Detail, "Rotation of nexo-be production") {
		t.Fatalf("audit %+v, %v", audit, err)
	}
	for _, s := range []string{thread, card} {
		if strings.Contains(s, "⟦") || strings.Contains(s, "Waiting") || strings.Contains(s, "failed at") {
			t.Fatalf("not all Portuguese:\n%s", s)
		}
	}

	// A month later the secret is due: the reminder says so in Portuguese.
	e.clock.Advance(31*24*time.Hour + time.Hour)
	if n, err := rotation.Reminders(context.Background(), e.deps); err != nil || n != 1 {
		t.Fatalf("31 days: %d stale, %v", n, err)
	}
	posts := e.chat.TopLevel(rotChannel)
	last := posts[len(posts)-1].Msg.PlainText()
	for _, want := range []string{":key: 1 segredo de banco com rotação vencida", "nunca rotacionado pelo nexo; valor atual gravado há 31 dias (<!date^", "política 30 dias", "Lembrete semanal."} {
		if !strings.Contains(last, want) {
			t.Fatalf("reminder lacks %q:\n%s", want, last)
		}
	}
}
