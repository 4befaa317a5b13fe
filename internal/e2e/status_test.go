package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/i18n"
)

// The status card, in each locale: English on bbolt, Portuguese on Redis
// (the store and the locale are independent; two runs cover both).
func TestStatusCardOnBothStores(t *testing.T) {
	EachLocale(t, func(t *testing.T, locale string) {
		redis := locale == i18n.Portuguese
		e := New(t, Options{Redis: redis, Locale: locale})
		e.Argo.SetHealth("nexo-be-staging", "Degraded", "Deployment nexo-be: 0/2 ready")
		env := e.Command(Carol, "status nexo-be")
		card := e.WaitFind(e.Words("views.status.title", "Service", "nexo-be")...)
		text := Content(card)
		for _, want := range append([]string{
			"*develop*  `2026.02.17`", "*qa*  `2026.02.17`", "*staging*  `2026.02.10`", "*production*  `2026.02.10`",
			"Healthy · Synced", "Degraded",
		}, e.Words("views.status.deployed")...) {
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
			if containsAll(m.Text, e.Words("views.status.fallback", "Service", "nexo-be")) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d status replies for one envelope delivered twice", n)
		}
		// A single env, by alias.
		e.Command(Carol, "status nexo-be prod")
		e.WaitFind(e.Words("views.status.fallback", "Service", "nexo-be", "Rows", "production 2026.02.10")...)
		// Unknown input: an ephemeral in the reader's language, nothing posted.
		before := len(e.Slack.Messages(Channel))
		e.Command(Carol, "stauts nexo-be")
		e.Ephemeral(Carol, e.Words("core.did_you_mean", "Word", "status")...)
		e.Command(Carol, "status nexo-bee")
		e.Ephemeral(Carol, e.Words("core.did_you_mean", "Word", "nexo-be")...)
		e.Command(Carol, "status nexo-be prd")
		e.Ephemeral(Carol, append(e.Words("core.resolve.unknown_env", "Name", "prd"), "prod")...)
		if after := len(e.Slack.Messages(Channel)); after != before {
			t.Fatalf("bad input posted %d messages in the channel", after-before)
		}
		e.Command(Carol, "help")
		e.Ephemeral(Carol, append(e.Words("views.status.summary"), "promote", "rollback", "status")...)
		e.Command(Carol, "help promote")
		e.Ephemeral(Carol, append(e.Words("change.promote.summary"), "--skip-soak")...)
		e.Command(Carol, "help status")
		e.Ephemeral(Carol, e.Words("views.status.help", "Command", e.Config.Slack.Command)...)
	})
}
