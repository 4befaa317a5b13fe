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
	"github.com/nexo-org/nexo-bot/integrations/github"
	"github.com/nexo-org/nexo-bot/store"
)

// DefaultPrevention is the Prevention checklist when nobody added follow-ups.
var DefaultPrevention = []string{
	"Add a test or a staging check that would have caught this",
	"Add or tune the alert so it fires earlier",
	"Update the runbook with what was learned",
}

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
// incident and its timeline (entries in time order).
func RenderPostmortem(s *State, entries []store.TimelineEntry) string {
	var b strings.Builder
	day := s.DeclaredAt.UTC().Format("2006-01-02")
	stamp := func(t time.Time) string {
		t = t.UTC()
		if t.Format("2006-01-02") != day {
			return t.Format("2006-01-02 15:04") + " UTC"
		}
		return t.Format("15:04") + " UTC"
	}
	fmt.Fprintf(&b, "# Incident: %s\n\n", commands.OneLine(s.Title))
	fmt.Fprintf(&b, "- Service: %s (%s)\n", s.Service, s.Env)
	fmt.Fprintf(&b, "- Severity: %s\n", commands.OrDash(s.Severity))
	fmt.Fprintf(&b, "- Declared: %s %s by %s\n", day, stamp(s.DeclaredAt), person(s.DeclaredBy))
	if s.Commander != "" {
		fmt.Fprintf(&b, "- Commander: %s\n", person(s.Commander))
	}
	if s.ResolvedAt != nil {
		fmt.Fprintf(&b, "- Resolved: %s (time to restore: %s)\n", stamp(*s.ResolvedAt), commands.Minutes(s.ResolvedAt.Sub(s.DeclaredAt)))
	}
	if s.Deployment != "" {
		fmt.Fprintf(&b, "- Deployment: %s\n", s.Deployment)
	}
	fmt.Fprintf(&b, "- Channel: #%s\n", s.ID)

	b.WriteString("\n## Timeline\n")
	sorted := append([]store.TimelineEntry(nil), entries...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Time.Before(sorted[j].Time) })
	for _, e := range sorted {
		text := commands.OneLine(e.Text)
		if e.Permalink != "" {
			text += " ([message](" + e.Permalink + "))"
		}
		fmt.Fprintf(&b, "- %s: %s\n", stamp(e.Time), text)
	}

	b.WriteString("\n## Root Cause\n")
	if s.RootCause != "" {
		b.WriteString(commands.OneLine(s.RootCause) + "\n")
	} else {
		b.WriteString("_To be written by the commander._\n")
	}
	var leads []string
	for _, e := range sorted {
		if e.Kind == "deploy" && strings.HasPrefix(e.Text, "Deploy ") {
			leads = append(leads, fmt.Sprintf("%s at %s, before the spike", e.Text, stamp(e.Time)))
		}
		if e.Kind == "logs" {
			leads = append(leads, e.Text)
		}
	}
	if len(leads) > 0 {
		b.WriteString("\nLeads found by nexo:\n")
		for _, l := range leads {
			b.WriteString("- " + commands.OneLine(l) + "\n")
		}
	}

	b.WriteString("\n## Resolution\n")
	n := 0
	for _, e := range sorted {
		switch e.Kind {
		case records.KindRollback, records.KindHotfix, records.KindPromote, records.KindFix, "backfill":
			n++
			fmt.Fprintf(&b, "%d. %s\n", n, commands.OneLine(e.Text))
		}
	}
	for _, e := range sorted {
		if e.Kind == "status" && strings.Contains(e.Text, "→ "+records.StatusResolved) && strings.Contains(e.Text, ": ") {
			n++
			_, note, _ := strings.Cut(e.Text, ": ")
			fmt.Fprintf(&b, "%d. %s\n", n, commands.OneLine(note))
		}
	}
	if n == 0 {
		b.WriteString("_To be written._\n")
	}

	b.WriteString("\n## Prevention\n")
	items := s.FollowUps
	if len(items) == 0 {
		items = DefaultPrevention
	}
	for _, f := range items {
		fmt.Fprintf(&b, "- [ ] %s\n", commands.OneLine(f))
	}

	b.WriteString("\n## Lessons Learned\n")
	var onset *time.Time
	for _, e := range sorted {
		if e.Kind == "onset" {
			t := e.Time
			onset = &t
			break
		}
	}
	if onset != nil && s.DeclaredAt.After(*onset) {
		fmt.Fprintf(&b, "- Detected %s after the error spike began (%s → declared %s)\n", commands.Minutes(s.DeclaredAt.Sub(*onset)), stamp(*onset), stamp(s.DeclaredAt))
	}
	if s.AckedAt != nil {
		fmt.Fprintf(&b, "- On-call acknowledged the page in %s\n", commands.Minutes(s.AckedAt.Sub(s.DeclaredAt)))
	}
	if s.ResolvedAt != nil {
		from, what := s.DeclaredAt, "declaration"
		if onset != nil {
			from, what = *onset, "spike"
		}
		fmt.Fprintf(&b, "- Recovered %s after the %s\n", commands.Minutes(s.ResolvedAt.Sub(from)), what)
	}
	b.WriteString("- _What went well, what did not, where we got lucky._\n")
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
	md := RenderPostmortem(s, entries)
	path := PostmortemPath(d.Config, s)
	date := s.DeclaredAt.UTC().Format("2006-01-02")
	if !s.PostmortemUp {
		name := path[strings.LastIndex(path, "/")+1:]
		if err := d.Chat.Upload(ctx, s.Channel, "", name, "Post-mortem draft: "+s.Title, []byte(md)); err != nil {
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
		_, err := d.Chat.Post(ctx, s.Channel, "", chat.Message{Text: ":memo: Post-mortem draft attached. The GitOps repo or GitHub is not configured, so no PR was opened: add it as `" + path + "` by hand."})
		return err
	}
	branch := "postmortem/" + s.ID
	msg := "docs: post-mortem do incident de " + date
	if _, err := d.GitOps.PushBranch(ctx, branch, map[string][]byte{path: []byte(md)}, msg); err != nil {
		return fmt.Errorf("pushing %s: %w", branch, err)
	}
	pr, err := d.GitHub.EnsurePR(ctx, github.PRSpec{Head: branch, Base: d.Config.GitOps.Branch, Title: msg,
		Body:   fmt.Sprintf("Post-mortem draft of incident `%s` (%s, %s %s), written by nexo from the incident's timeline.\nFill in Root Cause, Resolution and Lessons Learned, then merge.\n", s.ID, s.Title, s.Service, s.Env),
		Labels: []string{"postmortem"}})
	if err != nil {
		return fmt.Errorf("opening the post-mortem PR: %w", err)
	}
	s, err = mutate(ctx, d, id, func(x *State) error { x.Postmortem = pr.URL; return nil })
	if err != nil {
		return err
	}
	timeline(ctx, d, id, store.TimelineEntry{Key: "postmortem", Time: d.Clock().Now(), Kind: "postmortem", Actor: "nexo", Text: "Post-mortem PR opened: " + pr.URL})
	refreshCard(ctx, d, s)
	_, err = d.Chat.Post(ctx, s.Channel, "", chat.Message{Text: fmt.Sprintf(":memo: Post-mortem draft proposed: <%s|#%d> adds `%s`. Please complete Root Cause, Resolution and Lessons Learned.", pr.URL, pr.Number, path)})
	return err
}
