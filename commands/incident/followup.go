package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/pagerduty"
	"github.com/nexo-org/nexo-bot/store"
)

// registerFollowUps wires the incident's timers, buttons, events
// and the deploy hook.
func registerFollowUps(r *commands.Router, d *commands.Deps) {
	d.Engine.HandleTimer(InvestigateTimer, func(ctx context.Context, t store.Timer) error {
		return withIncident(ctx, d, t, func(s *State) error { return RunInvestigation(ctx, d, s.ID) })
	})
	d.Engine.HandleTimer(RepageTimer, func(ctx context.Context, t store.Timer) error {
		return withIncident(ctx, d, t, func(s *State) error {
			if !s.Open() || s.AckedBy != "" {
				return nil
			}
			pageOnCall(ctx, d, s.ID, true)
			return nil
		})
	})
	d.Engine.HandleTimer(RemindTimer, func(ctx context.Context, t store.Timer) error {
		return withIncident(ctx, d, t, func(s *State) error { return remindUpdate(ctx, d, s, commands.TimerPostKey(t)) })
	})
	d.Engine.HandleTimer(NudgeTimer, func(ctx context.Context, t store.Timer) error {
		return withIncident(ctx, d, t, func(s *State) error { return nudge(ctx, d, s, commands.TimerPostKey(t)) })
	})
	d.Engine.HandleTimer(PostmortemTimer, func(ctx context.Context, t store.Timer) error {
		return withIncident(ctx, d, t, func(s *State) error { return Postmortem(ctx, d, s.ID) })
	})
	r.OnClick("incident.status", func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
		id, st, ok := strings.Cut(c.Value, "|")
		if !ok || !commands.SafeIncident.MatchString(id) {
			return nil, commands.Refuse("incident.refuse.malformed_button")
		}
		if err := SetStatus(ctx, d, id, c.UserID, st, ""); err != nil {
			return nil, err
		}
		return nil, nil
	})
	r.OnClick("incident.ack", func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
		if !commands.SafeIncident.MatchString(c.Value) {
			return nil, commands.Refuse("incident.refuse.malformed_button")
		}
		return AcknowledgePage(ctx, d, c.Value, c.UserID)
	})
	r.OnClick("incident.declare", func(ctx context.Context, c chat.Click) (*chat.Reply, error) {
		return DeclareFromAlert(ctx, d, c.Value, c.UserID, c.ChannelID)
	})
	r.OnEvent(func(ctx context.Context, e chat.Event) error { return HandleEvent(ctx, d, e) })
	d.OnDeployFinished(func(ctx context.Context, e commands.DeployFinished) {
		if e.Incident != "" {
			return // commands.IncidentNote already posts changes that name their incident
		}
		NoteDeploy(ctx, d, e.WorkflowID, e.Flavor, e.Service, e.Env, e.Tag, e.Result, e.Actor)
	})
}

// withIncident decodes a timer's incident id and loads the incident; a
// vanished incident ends the timer.
func withIncident(ctx context.Context, d *commands.Deps, t store.Timer, fn func(s *State) error) error {
	var id string
	if err := json.Unmarshal(t.Payload, &id); err != nil {
		return nil
	}
	s, err := Load(ctx, d, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return fn(s)
}

// pageOnCall pages on-call through PagerDuty (dedup key = incident id) and
// posts the page with an Acknowledge button; without a pager it mentions the
// on-call group. again marks a re-page after nobody acknowledged.
func pageOnCall(ctx context.Context, d *commands.Deps, id string, again bool) {
	cfg := d.Config
	s, err := mutate(ctx, d, id, func(s *State) error {
		s.Pages++
		return nil
	})
	if err != nil {
		d.Log.Warn("incident page", "incident", id, "err", err)
		return
	}
	group := d.Members.Mentions(ctx, cfg.Incidents.OnCallGroup)
	t := d.T(s.Channel)
	variant := func(id string) string { // the re-page says so
		if again {
			return id + "_again"
		}
		return id
	}
	after := i18n.Span(cfg.Incidents.RepageAfter.D())
	var text string
	if d.Pager != nil {
		sev := "critical"
		if s.Severity != "P0" {
			sev = "error"
		}
		_, perr := d.Pager.Send(ctx, pagerduty.Event{Action: "trigger", DedupKey: s.ID, Summary: fmt.Sprintf("[%s] %s — %s %s", commands.OrDash(s.Severity), s.Title, s.Service, s.Env), //i18n:verbatim PagerDuty's summary, for the pager
			Source: "nexo", Severity: sev, Details: map[string]string{"incident": s.ID, "service": s.Service, "env": s.Env, "page": strconv.Itoa(s.Pages)}})
		if perr != nil {
			ref := commands.NewRef()
			d.Log.Warn("incident page failed", "incident", id, "ref", ref, "err", perr)
			text = t.S(variant("incident.page.failed"), "After", after, "Ref", ref, "Mentions", group)
		} else {
			text = t.S(variant("incident.page.sent"), "After", after, "Group", cfg.Incidents.OnCallGroup, "Mentions", group)
		}
	} else {
		text = t.S(variant("incident.page.no_pager"), "After", after, "Mentions", group)
	}
	m := chat.Message{Text: text, Blocks: []chat.Block{
		{Section: &chat.Section{Text: text}},
		{Actions: []chat.Button{{Text: t.S("incident.button.ack"), Action: "incident.ack", Value: s.ID, Style: chat.StylePrimary}}},
	}}
	ts, err := d.Chat.Post(ctx, s.Channel, "", m)
	if err == nil {
		_, _ = mutate(ctx, d, id, func(x *State) error { x.PageTS = ts; return nil })
	}
	now := d.Clock().Now()
	timeline(ctx, d, id, store.TimelineEntry{Key: fmt.Sprintf("page:%d", s.Pages), Time: now, Kind: "page", Actor: "nexo", Text: t.S("incident.timeline.paged", "Page", s.Pages)})
	commands.Audit(ctx, d, "nexo", "incident.page", s.Service, s.Env, id, "ok", fmt.Sprintf("page %d", s.Pages))
	if s.Pages < 4 && cfg.Incidents.RepageAfter.D() > 0 {
		_ = d.Engine.Schedule(ctx, fmt.Sprintf("%s/repage", id), now.Add(cfg.Incidents.RepageAfter.D()), RepageTimer, id)
	}
}

// AcknowledgePage records who acknowledged the page and stops re-paging.
func AcknowledgePage(ctx context.Context, d *commands.Deps, id, user string) (*chat.Reply, error) {
	now := d.Clock().Now().UTC()
	s, err := mutate(ctx, d, id, func(s *State) error {
		if s.AckedBy != "" {
			return commands.Refuse("incident.refuse.already_acked", "User", chat.Mention(s.AckedBy))
		}
		s.AckedBy, s.AckedAt = user, &now
		return nil
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, commands.Refuse("incident.refuse.gone")
		}
		return nil, err
	}
	_ = d.Store.CancelTimer(ctx, id+"/repage")
	if d.Pager != nil {
		if _, err := d.Pager.Send(ctx, pagerduty.Event{Action: "acknowledge", DedupKey: s.ID}); err != nil {
			d.Log.Warn("pagerduty acknowledge", "incident", id, "err", err)
		}
	}
	t := d.T(s.Channel)
	text := t.S("incident.page.acked", "User", chat.Mention(user))
	if s.PageTS != "" {
		_ = d.Chat.Update(ctx, s.Channel, s.PageTS, chat.Message{Text: text})
	} else {
		_, _ = d.Chat.Post(ctx, s.Channel, "", chat.Message{Text: text})
	}
	timeline(ctx, d, id, store.TimelineEntry{Key: "ack", Time: now, Kind: "ack", Actor: user, Text: t.S("incident.timeline.acked", "User", chat.Mention(user))})
	commands.Audit(ctx, d, user, "incident.ack", s.Service, s.Env, id, "ok", "")
	refreshCard(ctx, d, s)
	return nil, nil
}

// resolvePage resolves the PagerDuty incident after nexo's is resolved.
func resolvePage(ctx context.Context, d *commands.Deps, s *State) {
	if d.Pager == nil || s.Pages == 0 {
		return
	}
	if _, err := d.Pager.Send(ctx, pagerduty.Event{Action: "resolve", DedupKey: s.ID}); err != nil {
		d.Log.Warn("pagerduty resolve", "incident", s.ID, "err", err)
	}
}

// scheduleFollowUps sets the update reminder (P0/P1) and the nudge (while
// commander or severity is unset).
func scheduleFollowUps(ctx context.Context, d *commands.Deps, s *State) {
	now := d.Clock().Now()
	if s.Urgent() && d.Config.Incidents.UpdateReminder.D() > 0 {
		_ = d.Engine.Schedule(ctx, s.ID+"/remind", now.Add(d.Config.Incidents.UpdateReminder.D()), RemindTimer, s.ID)
	}
	if s.Commander == "" || s.Severity == "" {
		_ = d.Engine.Schedule(ctx, s.ID+"/nudge", now.Add(NudgeEvery), NudgeTimer, s.ID)
	}
}

func cancelFollowUps(ctx context.Context, d *commands.Deps, s *State) {
	for _, t := range []string{"/remind", "/nudge", "/repage"} {
		_ = d.Store.CancelTimer(ctx, s.ID+t)
	}
}

// remindUpdate asks the commander for a status update when none was
// posted for update_reminder, and schedules the next check.
func remindUpdate(ctx context.Context, d *commands.Deps, s *State, postKey string) error {
	if !s.Open() || !s.Urgent() {
		return nil
	}
	every := d.Config.Incidents.UpdateReminder.D()
	now := d.Clock().Now()
	next := s.LastUpdateAt.Add(every)
	if !next.After(now) {
		who := d.Members.Mentions(ctx, d.Config.Incidents.OnCallGroup)
		if s.Commander != "" {
			who = chat.Mention(s.Commander)
		}
		if _, err := commands.PostOnce(ctx, d, s.ID, postKey, s.Channel, "", chat.Message{Text: d.T(s.Channel).S("incident.post.remind",
			"Who", who, "Duration", i18n.Span(now.Sub(s.LastUpdateAt)), "Severity", s.Severity, "Command", d.Config.Slack.Command)}); err != nil {
			return err
		}
		next = now.Add(every)
	}
	return d.Engine.Schedule(ctx, s.ID+"/remind", next, RemindTimer, s.ID)
}

// nudge reminds to set the commander or the severity while unset.
func nudge(ctx context.Context, d *commands.Deps, s *State, postKey string) error {
	if !s.Open() || (s.Commander != "" && s.Severity != "") {
		return nil
	}
	id := "incident.post.nudge_both"
	switch {
	case s.Commander != "":
		id = "incident.post.nudge_severity"
	case s.Severity != "":
		id = "incident.post.nudge_commander"
	}
	if _, err := commands.PostOnce(ctx, d, s.ID, postKey, s.Channel, "", chat.Message{Text: d.T(s.Channel).S(id, "Command", d.Config.Slack.Command)}); err != nil {
		return err
	}
	return d.Engine.Schedule(ctx, s.ID+"/nudge", d.Clock().Now().Add(NudgeEvery), NudgeTimer, s.ID)
}

// NoteDeploy posts a finished deploy, rollback or hotfix of
// service in env in every open incident of that service and env, and adds
// it to their timelines (key "deployment:<id>", idempotent).
func NoteDeploy(ctx context.Context, d *commands.Deps, depID, kind, service, env, tag, result, actor string) {
	incs, err := OpenFor(ctx, d, service, env)
	if err != nil || len(incs) == 0 {
		return
	}
	now := d.Clock().Now()
	for _, s := range incs {
		t := d.T(s.Channel)
		text := t.S("incident.timeline.deploy", "Kind", kindName(t, kind), "Service", service, "Env", env, "Tag", tag, "Result", resultName(t, result))
		before, _ := d.Store.ListTimeline(ctx, s.ID)
		timeline(ctx, d, s.ID, store.TimelineEntry{Key: "deployment:" + depID, Time: now, Kind: kind, Actor: actor, Text: text})
		if hasKey(before, "deployment:"+depID) {
			continue
		}
		_, _ = d.Chat.Post(ctx, s.Channel, "", chat.Message{Text: ":package: " + text})
	}
}

func hasKey(entries []store.TimelineEntry, key string) bool {
	for _, e := range entries {
		if e.Key == key {
			return true
		}
	}
	return false
}

// HandleEvent handles channel events: in an incident channel, messages
// are remembered (for :pushpin: reactions), and a pin or a :pushpin:
// reaction puts the message into the timeline at its original time, with
// its permalink.
func HandleEvent(ctx context.Context, d *commands.Deps, e chat.Event) error {
	if e.ChannelID == "" || e.TS == "" {
		return nil
	}
	pin := e.Type == "pin_added" || (e.Type == "reaction_added" && (e.Reaction == "pushpin" || e.Reaction == "round_pushpin"))
	if e.Type != "message" && !pin {
		return nil
	}
	s, err := ByChannel(ctx, d, e.ChannelID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	msgKey := e.ChannelID + "/" + e.TS
	if e.Type == "message" {
		if strings.TrimSpace(e.Text) == "" {
			return nil
		}
		return d.Store.PutDoc(ctx, IncidentMessagesCollection, msgKey, map[string]string{"user": e.UserID, "text": commands.Clip(e.Text, 2000)})
	}
	text := strings.TrimSpace(e.Text)
	author := ""
	var saved map[string]string
	if err := d.Store.GetDoc(ctx, IncidentMessagesCollection, msgKey, &saved); err == nil {
		if text == "" {
			text = saved["text"]
		}
		author = saved["user"]
	}
	when := SlackTime(e.TS)
	if when.IsZero() {
		when = e.Time
	}
	if when.IsZero() {
		when = d.Clock().Now()
	}
	link, err := d.Chat.Permalink(ctx, e.ChannelID, e.TS)
	if err != nil {
		d.Log.Warn("permalink", "channel", e.ChannelID, "ts", e.TS, "err", err)
		link = ""
	}
	if text == "" {
		text = d.T(s.Channel).S("incident.timeline.pinned")
	}
	if author == "" {
		author = e.UserID
	}
	timeline(ctx, d, s.ID, store.TimelineEntry{Key: "pin:" + e.TS, Time: when.UTC(), Kind: "pin", Actor: author, Text: commands.Clip(strings.Join(strings.Fields(text), " "), 300), Permalink: link})
	return nil
}

// SlackTime turns a Slack ts ("1769941875.000200") into its time; zero when malformed.
func SlackTime(ts string) time.Time {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || s <= 0 {
		return time.Time{}
	}
	var ns int64
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		f, err := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
		if err != nil {
			return time.Time{}
		}
		ns = f
	}
	return time.Unix(s, ns).UTC()
}

// syncDeploysIntoTimeline adds the deployments of the incident's service
// and env that finished between the declaration and now and are not yet
// in the timeline (e.g. an Argo CD rollback started from the Rollback button).
func syncDeploysIntoTimeline(ctx context.Context, d *commands.Deps, s *State, until time.Time) {
	docs, err := d.Store.ListDocs(ctx, records.DeploymentsCollection)
	if err != nil {
		return
	}
	for _, doc := range docs {
		var dep records.Deployment
		if doc.Decode(&dep) != nil || dep.Service != s.Service || dep.Env != s.Env || dep.Result == records.ResultPending || dep.Incident == s.ID {
			continue
		}
		at := dep.DeployedAt()
		if dep.FinishedAt != nil {
			at = *dep.FinishedAt
		}
		if at.Before(s.DeclaredAt) || at.After(until) {
			continue
		}
		t := d.T(s.Channel)
		text := t.S("incident.timeline.deploy", "Kind", kindName(t, dep.Kind), "Service", dep.Service, "Env", dep.Env, "Tag", dep.Tag, "Result", resultName(t, dep.Result))
		if dep.Kind == records.KindRollback {
			text = t.S("incident.timeline.rollback", "Tag", dep.Tag, "Result", resultName(t, dep.Result))
		}
		timeline(ctx, d, s.ID, store.TimelineEntry{Key: "deployment:" + dep.ID, Time: at, Kind: dep.Kind, Actor: dep.Requester, Text: text})
	}
}
