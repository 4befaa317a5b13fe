package commands

import (
	"context"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/store"
)

// IncidentNote adds an entry to a nexo incident's timeline and posts it in
// the incident's channel, when the incident exists in nexo. Changes,
// hotfixes and rollbacks that name an incident report through it; the note
// speaks the incident channel's locale, as its post-mortem does.
func IncidentNote(ctx context.Context, d *Deps, incident, kind, actor string, note i18n.Msg) {
	if incident == "" {
		return
	}
	var inc records.Incident
	if err := d.Store.GetDoc(ctx, records.IncidentsCollection, incident, &inc); err != nil {
		// Incidents are also known by their channel-less number ("456").
		if err := d.Store.GetDoc(ctx, records.IncidentsCollection, "inc-"+incident, &inc); err != nil {
			return
		}
	}
	text := d.T(inc.Channel).Msg(note)
	now := d.Clock().Now()
	_ = d.Store.AppendTimeline(ctx, inc.ID, store.TimelineEntry{Key: kind + ":" + text, Time: now, Kind: kind, Actor: actor, Text: text})
	if inc.Channel != "" {
		_, _ = d.Chat.Post(ctx, inc.Channel, "", chat.Message{Text: text})
	}
}
