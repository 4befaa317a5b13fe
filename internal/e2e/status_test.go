package e2e

import (
	"strings"
	"testing"
	"time"
)

func TestStatusCardOnBothStores(t *testing.T) {
	for _, st := range []struct {
		name  string
		redis bool
	}{{"bolt", false}, {"redis", true}} {
		t.Run(st.name, func(t *testing.T) {
			e := New(t, Options{Redis: st.redis})
			e.Argo.SetHealth("nexo-be-staging", "Degraded", "Deployment nexo-be: 0/2 ready")
			env := e.Command(Carol, "status nexo-be")
			card := e.WaitFind("nexo-be", "across environments")
			text := Content(card)
			for _, want := range []string{
				"*develop*  `2026.02.17`", "*qa*  `2026.02.17`", "*staging*  `2026.02.10`", "*production*  `2026.02.10`",
				"Healthy · Synced", "Degraded", "deployed",
			} {
				if !strings.Contains(text, want) {
					t.Errorf("status card lacks %q:\n%s", want, text)
				}
			}
			// Slack redelivers the same envelope: one reply, not two.
			e.Slack.Redeliver(env)
			if _, err := e.Slack.WaitAck(env, 3*time.Second); err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond)
			n := 0
			for _, m := range e.Slack.Messages(Channel) {
				if strings.Contains(m.Text, "nexo-be status") {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("%d status replies for one envelope delivered twice", n)
			}
			// A single env, by alias.
			e.Command(Carol, "status nexo-be prod")
			e.WaitFind("nexo-be status: production 2026.02.10")
			// Unknown input: an ephemeral, nothing posted.
			before := len(e.Slack.Messages(Channel))
			e.Command(Carol, "stauts nexo-be")
			e.Ephemeral(Carol, "Did you mean `status`?")
			e.Command(Carol, "status nexo-bee")
			e.Ephemeral(Carol, "Did you mean `nexo-be`?")
			e.Command(Carol, "status nexo-be prd")
			e.Ephemeral(Carol, "Unknown environment", "prod")
			if after := len(e.Slack.Messages(Channel)); after != before {
				t.Fatalf("bad input posted %d messages in the channel", after-before)
			}
			e.Command(Carol, "help")
			e.Ephemeral(Carol, "promote", "rollback", "status")
			e.Command(Carol, "help promote")
			e.Ephemeral(Carol, "--skip-soak")
		})
	}
}
