package commands_test

import (
	"strings"
	"testing"

	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/commandstest"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/i18n"
)

// A change reports to its incident in the incident channel's language,
// whatever the language of the channel the change runs in: the timeline
// and the post the incident's people read speak theirs.
func TestIncidentNoteSpeaksTheIncidentChannelsLocale(t *testing.T) {
	r := commandstest.NewRig(t, commandstest.Options{NoArgo: true})
	r.Cfg.Slack.ChannelLocales = map[string]string{"C0INC456": "pt-BR"}
	inc := records.Incident{ID: "inc-456", Title: "checkout fora", Service: "nexo-fe", Env: "production", Channel: "C0INC456"}
	if err := r.Store.PutDoc(r.Ctx, records.IncidentsCollection, inc.ID, inc); err != nil {
		t.Fatal(err)
	}
	note := i18n.M("change.incident_note", "Flavor", i18n.M("change.flavor.fix"), "Service", "nexo-fe", "Env", "production", "Tag", "2026.02.13", "Result", "success")
	commands.IncidentNote(r.Ctx, r.Deps, "456", "deploy", "U0PAULA01", note)
	commands.IncidentNote(r.Ctx, r.Deps, "456", "deploy", "U0PAULA01", note) // the same note twice is one entry

	want := "Correção nexo-fe production → `2026.02.13`: success"
	got := r.Chat.In("C0INC456")
	if !strings.Contains(got, want) {
		t.Fatalf("incident channel got %q, want %q", got, want)
	}
	entries, err := r.Store.ListTimeline(r.Ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Text != want {
		t.Fatalf("timeline %+v, want one entry %q", entries, want)
	}
	if r.Chat.In("C0DEPLOYS") != "" {
		t.Fatalf("the note reached the deploy channel: %q", r.Chat.In("C0DEPLOYS"))
	}
}
