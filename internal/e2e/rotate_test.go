package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands/rotation"
	"github.com/nexo-org/nexo-bot/commands/rotation/rotationtest"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/dbrotate"
	"github.com/nexo-org/nexo-bot/integrations/dbrotate/pgtemp"
	"github.com/nexo-org/nexo-bot/integrations/secretstore/redact"
	"github.com/nexo-org/nexo-bot/integrations/secretstorefake"
	"github.com/nexo-org/nexo-bot/store"
)

// TestRotateSecretThroughSlack is playbook scenario 6 end to end, in each
// locale: the real bot over the fake Slack's socket mode, the real AWS SDK
// against the Secrets Manager fake (credentials from the environment, as
// in production), a throwaway PostgreSQL with password authentication, and
// a simulated cluster whose pods log in with the synced Secret.
func TestRotateSecretThroughSlack(t *testing.T) {
	EachLocale(t, func(t *testing.T, locale string) { rotateSecretThroughSlack(t, locale) })
}

func rotateSecretThroughSlack(t *testing.T, locale string) {
	const secretID = "nexo/production/database"
	const oldPassword = "e2e-Old/Pa55+word"
	pg := pgtemp.Start(t)
	pg.Exec(t, `CREATE ROLE nexo_user LOGIN PASSWORD '`+oldPassword+`'`)
	pg.Exec(t, `CREATE DATABASE nexo_prod OWNER nexo_user`)
	sm := secretstorefake.New()
	t.Cleanup(sm.Close)
	body, _ := json.Marshal(map[string]any{"host": pg.Host, "port": pg.Port, "database": "nexo_prod", "username": "nexo_user", "password": oldPassword, "sslmode": "disable"})
	sm.Seed(secretID, string(body))
	cluster := rotationtest.NewCluster(sm, secretID, "nexo-production", "nexo-be", Start.Add(-time.Hour))
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "e2e-example-secret-key")

	e := New(t, Options{Locale: locale, Mutate: func(c *config.Config) {
		c.AWS.Endpoint = sm.URL
		c.Services[0].Secrets = []config.Secret{{
			Name: "db", SecretID: "nexo/{env}/database", ExternalSecret: "nexo-be-db-credentials", KubernetesSecret: "nexo-be-db-credentials",
			SuccessLog: rotationtest.SuccessLine, MaxAge: config.Duration(30 * 24 * time.Hour), Charset: "base64",
		}}
	}})
	if e.Runtime.Deps.Secrets == nil {
		t.Fatal("the bot built no secret store from the config")
	}
	// No cluster to point a kubeconfig at: hand the simulated one to the
	// running bot before the first command reaches it.
	e.Runtime.Deps.Kube = cluster

	e.Command(Alice, "rotate-secret nexo-be prod db")
	e.Ephemeral(Alice, append(e.Words("rotation.requested", "Service", "nexo-be", "Env", "production", "Secret", "db"),
		e.Words("rotation.waits", "Count", 1, "Group", "sre-team")...)...)
	card := e.WaitFind(append(e.Words("rotation.card.title", "Secret", "db", "Service", "nexo-be", "Env", "production"), e.Words("rotation.card.waiting")...)...)

	e.Click(Alice, card, "rotate.approve")
	e.Ephemeral(Alice, e.Words("policy.own_approval")...)
	e.Click(Bob, card, "rotate.approve")

	var wf *store.Workflow
	e.Eventually("the rotation to finish", 10*time.Second, 120, func() bool {
		wfs := e.Workflows(rotation.Kind)
		if len(wfs) != 1 {
			return false
		}
		wf = wfs[0]
		return wf.Done
	})
	var job rotation.Job
	Decode(t, wf, &job)
	if job.Result != rotation.ResultDone {
		t.Fatalf("result %q: %s\n%s", job.Result, job.Summary, e.Dump())
	}
	what := i18n.M("rotation.summary.what", "Service", "nexo-be", "Env", "production", "SecretID", secretID)
	e.WaitFind(e.Words("rotation.summary.done", "What", what, "Version", job.Rotation.Token)...)
	cardDone := func() bool {
		cur, _ := e.Slack.Message(card.Channel, card.TS)
		return containsAll(Content(cur), append(e.Words("rotation.card.done"), "verify-logs"))
	}
	if !e.Slack.WaitFor(cardDone, 5*time.Second) {
		cur, _ := e.Slack.Message(card.Channel, card.TS)
		t.Fatalf("the card was not edited to the end:\n%s", Content(cur))
	}

	raw, _ := sm.Current(secretID)
	var m map[string]any
	_ = json.Unmarshal([]byte(raw), &m)
	newPassword := fmt.Sprint(m["password"])
	ctx := context.Background()
	conn := dbrotate.ConnInfo{Host: pg.Host, Port: pg.Port, Database: "nexo_prod", User: "nexo_user", SSLMode: "disable"}
	conn.Password = newPassword
	if err := dbrotate.CheckLogin(ctx, conn); err != nil {
		t.Fatalf("the new password does not log in: %v", err)
	}
	conn.Password = oldPassword
	if err := dbrotate.CheckLogin(ctx, conn); err == nil {
		t.Fatal("the old password still logs in")
	}
	if !cluster.Connected() || cluster.Data("password") != newPassword {
		t.Fatal("the pods do not run on the new password")
	}

	// Everything that left the bot: Slack calls (every parameter), the
	// messages and their revisions, ephemerals, logs, audit, workflows.
	var out strings.Builder
	calls, _ := json.Marshal(e.Slack.Calls())
	out.Write(calls)
	msgs, _ := json.Marshal(e.Slack.Messages(Channel))
	out.Write(msgs)
	for _, u := range []string{Alice, Bob} {
		eph, _ := json.Marshal(e.Slack.Ephemerals(u))
		out.Write(eph)
	}
	out.WriteString(e.Logs.String())
	audit, _ := e.Store.ListAudit(ctx, store.AuditFilter{})
	aj, _ := json.Marshal(audit)
	out.Write(aj)
	wfj, _ := json.Marshal(e.Workflows(""))
	out.Write(wfj)
	if !strings.Contains(out.String(), "rotate.approve") || !strings.Contains(out.String(), "chat.update") {
		t.Fatal("the capture misses outputs; the leak check would prove nothing")
	}
	if redact.Contains(out.String(), newPassword) || redact.Contains(out.String(), oldPassword) {
		t.Fatal("a password left the bot")
	}
}
