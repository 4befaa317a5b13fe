package incident

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/github"
	"github.com/nexo-org/nexo-bot/store"
)

// DefaultPrevention is the Prevention checklist when nobody added
// follow-ups (catalog ids).
var DefaultPrevention = []string{"incident.pm.prevention_test", "incident.pm.prevention_alert", "incident.pm.prevention_runbook"}

// PostmortemPath is where the draft goes in the GitOps repo
// (incidents.postmortem_path, default "incidents/{date}-{slug}.md").
func PostmortemPath(cfg *config.Config, s *State) string {
	slug := s.Slug
	if slug == "" {
		slug = Slug(s.Title, 60)
	}
	return config.Expand(cfg.Incidents.PostmortemPath, s.Service, s.Env, "date", s.DeclaredAt.UTC().Format("2006-01-02"), "slug", slug, "id", s.ID)
}

// RenderPostmortem drafts the post-mortem in the playbook's format from the
// incident and its timeline (entries in time order), for t's readers: the
// playbook's headings, the rest in t's locale, times in the config's
// timezone (the file is read outside Slack).
func RenderPostmortem(t i18n.T, s *State, entries []store.TimelineEntry) string {
	var b strings.Builder
	line := func(id string, kv ...any) { b.WriteString(t.S(id, kv...) + "\n") }
	day := t.Date(s.DeclaredAt)
	stamp := func(at time.Time) string {
		if t.Date(at) != day {
			return t.Date(at) + " " + t.Clock(at)
		}
		return t.Clock(at)
	}
	line("incident.pm.title", "Title", oneLine(s.Title))
	b.WriteString("\n")
	line("incident.pm.service", "Service", s.Service, "Env", s.Env)
	line("incident.pm.severity", "Severity", commands.OrDash(s.Severity))
	line("incident.pm.declared", "At", day+" "+t.Clock(s.DeclaredAt), "By", person(s.DeclaredBy))
	if s.Commander != "" {
		line("incident.pm.commander", "User", person(s.Commander))
	}
	if s.ResolvedAt != nil {
		line("incident.pm.resolved", "At", stamp(*s.ResolvedAt), "Duration", i18n.Span(s.ResolvedAt.Sub(s.DeclaredAt)))
	}
	if s.Deployment != "" {
		line("incident.pm.deployment", "ID", s.Deployment)
	}
	line("incident.pm.channel", "Channel", s.ID)

	b.WriteString("\n")
	line("incident.pm.h_timeline")
	sorted := append([]store.TimelineEntry(nil), entries...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Time.Before(sorted[j].Time) })
	for _, e := range sorted {
		text := oneLine(e.Text)
		if e.Permalink != "" {
			text += " ([" + t.S("incident.pm.message_link") + "](" + e.Permalink + "))"
		}
		fmt.Fprintf(&b, "- %s: %s\n", stamp(e.Time), text)
	}

	b.WriteString("\n")
	line("incident.pm.h_root_cause")
	if s.RootCause != "" {
		b.WriteString(oneLine(s.RootCause) + "\n")
	} else {
		line("incident.pm.root_cause_todo")
	}
	var leads []string
	for _, e := range sorted {
		if e.Kind == "deploy" {
			leads = append(leads, t.S("incident.pm.lead_deploy", "Text", e.Text, "At", stamp(e.Time)))
		}
		if e.Kind == "logs" {
			leads = append(leads, e.Text)
		}
	}
	if len(leads) > 0 {
		b.WriteString("\n")
		line("incident.pm.leads")
		for _, l := range leads {
			b.WriteString("- " + oneLine(l) + "\n")
		}
	}

	b.WriteString("\n")
	line("incident.pm.h_resolution")
	n := 0
	for _, e := range sorted {
		switch e.Kind {
		case records.KindRollback, records.KindHotfix, records.KindPromote, records.KindFix, "backfill":
			n++
			fmt.Fprintf(&b, "%d. %s\n", n, oneLine(e.Text))
		}
	}
	// The note given on resolve ends the status line (incident.timeline.status_note).
	resolved := "→ " + statusName(t, records.StatusResolved) + " "
	for _, e := range sorted {
		if e.Kind == "status" && strings.Contains(e.Text, resolved) && strings.Contains(e.Text, ": ") {
			n++
			_, note, _ := strings.Cut(e.Text, ": ")
			fmt.Fprintf(&b, "%d. %s\n", n, oneLine(note))
		}
	}
	if n == 0 {
		line("incident.pm.resolution_todo")
	}

	b.WriteString("\n")
	line("incident.pm.h_prevention")
	items := s.FollowUps
	if len(items) == 0 {
		for _, id := range DefaultPrevention {
			items = append(items, t.S(id))
		}
	}
	for _, f := range items {
		fmt.Fprintf(&b, "- [ ] %s\n", oneLine(f))
	}

	b.WriteString("\n")
	line("incident.pm.h_lessons")
	var onset *time.Time
	for _, e := range sorted {
		if e.Kind == "onset" {
			at := e.Time
			onset = &at
			break
		}
	}
	if onset != nil && s.DeclaredAt.After(*onset) {
		line("incident.pm.detected", "Duration", i18n.Span(s.DeclaredAt.Sub(*onset)), "Onset", stamp(*onset), "Declared", stamp(s.DeclaredAt))
	}
	if s.AckedAt != nil {
		line("incident.pm.acked", "Duration", i18n.Span(s.AckedAt.Sub(s.DeclaredAt)))
	}
	if s.ResolvedAt != nil {
		if onset != nil {
			line("incident.pm.recovered_spike", "Duration", i18n.Span(s.ResolvedAt.Sub(*onset)))
		} else {
			line("incident.pm.recovered_declaration", "Duration", i18n.Span(s.ResolvedAt.Sub(s.DeclaredAt)))
		}
	}
	line("incident.pm.lessons_todo")
	return b.String()
}

func person(user string) string {
	if user == "" {
		return "nexo"
	}
	return chat.Mention(user)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Postmortem drafts the post-mortem of a resolved incident, uploads it to
// the channel and proposes it as a PR to the GitOps repo. Every step is
// idempotent (the timer retries it after a failure).
func Postmortem(ctx context.Context, d *commands.Deps, id string) error {
	s, err := Load(ctx, d, id)
	if err != nil {
		return err
	}
	if s.ResolvedAt == nil {
		return nil
	}
	syncDeploysIntoTimeline(ctx, d, s, *s.ResolvedAt)
	entries, err := d.Store.ListTimeline(ctx, id)
	if err != nil {
		return err
	}
	t := d.T(s.Channel)
	md := RenderPostmortem(t, s, entries)
	path := PostmortemPath(d.Config, s)
	date := s.DeclaredAt.UTC().Format("2006-01-02")
	if !s.PostmortemUp {
		name := path[strings.LastIndex(path, "/")+1:]
		if err := d.Chat.Upload(ctx, s.Channel, "", name, t.S("incident.pm.upload_title", "Title", s.Title), []byte(md)); err != nil {
			return fmt.Errorf("uploading the post-mortem: %w", err)
		}
		if _, err := mutate(ctx, d, id, func(x *State) error { x.PostmortemUp = true; x.PostmortemMD = path; return nil }); err != nil {
			return err
		}
	}
	if s.Postmortem != "" {
		return nil
	}
	if d.GitOps == nil || d.GitHub == nil {
		_, err := d.Chat.Post(ctx, s.Channel, "", chat.Message{Text: t.S("incident.pm.no_pr", "Path", path)})
		return err
	}
	branch := "postmortem/" + s.ID
	msg := "docs: post-mortem do incident de " + date //i18n:verbatim git text
	if _, err := d.GitOps.PushBranch(ctx, branch, map[string][]byte{path: []byte(md)}, msg); err != nil {
		return fmt.Errorf("pushing %s: %w", branch, err)
	}
	pr, err := d.GitHub.EnsurePR(ctx, github.PRSpec{Head: branch, Base: d.Config.GitOps.Branch, Title: msg,
		Body:   fmt.Sprintf("Post-mortem draft of incident `%s` (%s, %s %s), written by nexo from the incident's timeline.\nFill in Root Cause, Resolution and Lessons Learned, then merge.\n", s.ID, s.Title, s.Service, s.Env), //i18n:verbatim git text
		Labels: []string{"postmortem"}})
	if err != nil {
		return fmt.Errorf("opening the post-mortem PR: %w", err)
	}
	s, err = mutate(ctx, d, id, func(x *State) error { x.Postmortem = pr.URL; return nil })
	if err != nil {
		return err
	}
	timeline(ctx, d, id, store.TimelineEntry{Key: "postmortem", Time: d.Clock().Now(), Kind: "postmortem", Actor: "nexo", Text: t.S("incident.timeline.postmortem", "URL", pr.URL)})
	refreshCard(ctx, d, s)
	_, err = d.Chat.Post(ctx, s.Channel, "", chat.Message{Text: t.S("incident.pm.proposed", "URL", pr.URL, "Number", pr.Number, "Path", path)})
	return err
}
