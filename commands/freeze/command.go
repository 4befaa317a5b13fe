package freeze

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
)

// MaxAdHoc bounds an ad-hoc freeze: a longer one belongs in freezes:.
const MaxAdHoc = 90 * 24 * time.Hour

// FreezeSpec is `/nexo freeze [<env> <duration|until> --reason "…"]`.
func FreezeSpec(d *commands.Deps) *commands.Spec {
	return &commands.Spec{
		Name:    "freeze",
		Args:    []string{"env?", "duration|until…?"},
		Flags:   []commands.Flag{{Name: "reason", Value: "\"…\""}},
		Summary: "freeze.summary",
		Help:    "freeze.help",
		Run: func(ctx context.Context, r commands.Request) (*chat.Reply, error) {
			if len(r.Args.Words) == 0 {
				return List(ctx, d, r.ChannelID)
			}
			if len(r.Args.Words) < 2 {
				return nil, commands.Refuse("freeze.how_long", "Command", d.Config.Slack.Command, "Env", commands.Clip(r.Args.Words[0], 40))
			}
			return Freeze(ctx, d, r.UserID, r.ChannelID, r.Args.Words[0], strings.Join(r.Args.Words[1:], " "), r.Args.Flag("reason"))
		},
	}
}

// UnfreezeSpec is `/nexo unfreeze <env>`.
func UnfreezeSpec(d *commands.Deps) *commands.Spec {
	return &commands.Spec{
		Name:    "unfreeze",
		Args:    []string{"env"},
		Summary: "freeze.unfreeze_summary",
		Help:    "freeze.unfreeze_help",
		Run: func(ctx context.Context, r commands.Request) (*chat.Reply, error) {
			return Unfreeze(ctx, d, r.UserID, r.ChannelID, r.Args.Words[0])
		},
	}
}

// mayFreeze lets admins only; a refusal is audited as action.
func mayFreeze(ctx context.Context, d *commands.Deps, user, channel, action, env string) error {
	if err := (&commands.Authz{D: d}).AllowChange(ctx, user, channel, action, "", env); err != nil {
		return err
	}
	if !d.Members.IsAdmin(ctx, user) {
		why := &commands.Refusal{Msg: i18n.M("freeze.admins_only", "Command", action)}
		commands.Audit(ctx, d, user, action+".authz", "", env, channel, "refused", why.Error())
		return why
	}
	return nil
}

// parseEnd reads "<duration>" (30m, 4h, 3d) or a moment ("2026-12-24",
// "2026-12-24 18:00" in the config's timezone, RFC 3339) as the end of a
// freeze starting at now.
func parseEnd(s string, now time.Time, loc *time.Location) (time.Time, error) {
	if d, err := config.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, commands.Refuse("freeze.bad_end", "Value", commands.Clip(s, 40))
		}
		return now.Add(d), nil
	}
	t, err := config.ParseMoment(s, loc)
	if err != nil {
		return time.Time{}, commands.Refuse("freeze.bad_end", "Value", commands.Clip(s, 40))
	}
	return t, nil
}

// Freeze sets (or changes) env's ad-hoc freeze until end; admins only,
// audited, idempotent (the same freeze again changes nothing).
func Freeze(ctx context.Context, d *commands.Deps, user, channel, envName, endText, reason string) (*chat.Reply, error) {
	env, err := commands.ResolveEnv(d.Config, envName)
	if err != nil {
		return nil, err
	}
	if err := mayFreeze(ctx, d, user, channel, "freeze", env.Name); err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return nil, commands.Refuse("freeze.needs_reason", "Command", d.Config.Slack.Command, "Env", env.Name)
	}
	now := d.Clock().Now()
	end, err := parseEnd(strings.TrimSpace(endText), now, d.Config.Zone())
	if err != nil {
		return nil, err
	}
	t := d.T(channel)
	switch {
	case !end.After(now):
		return nil, commands.Refuse("freeze.end_past", "Until", i18n.Moment(end))
	case end.Sub(now) > MaxAdHoc:
		return nil, commands.Refuse("freeze.too_long", "Max", i18n.Span(MaxAdHoc))
	}
	end = end.Truncate(time.Minute)
	prev, err := adHoc(ctx, d.Store, env.Name)
	if err != nil {
		return nil, err
	}
	if prev != nil && now.Before(prev.Until) && prev.Until.Equal(end) && prev.Reason == reason {
		return commands.Ephemeral(chat.Message{Text: t.S("freeze.already", "Env", env.Name, "Until", i18n.Moment(end), "Reason", reason)}), nil
	}
	doc := AdHoc{Env: env.Name, Reason: reason, From: now, Until: end, By: user}
	if prev != nil && now.Before(prev.Until) {
		doc.From = prev.From
	}
	if err := d.Store.PutDoc(ctx, collection, env.Name, doc); err != nil {
		return nil, err
	}
	detail := fmt.Sprintf("until %s: %s", end.UTC().Format(time.RFC3339), reason)
	if prev != nil && now.Before(prev.Until) {
		detail += fmt.Sprintf(" (was until %s: %s)", prev.Until.UTC().Format(time.RFC3339), prev.Reason) //i18n:verbatim the audit log's detail, in English as every entry
	}
	commands.Audit(ctx, d, user, "freeze.set", "", env.Name, env.Name, "ok", detail)
	return commands.InChannel(chat.Message{Text: t.S("freeze.set", "User", chat.Mention(user), "Env", env.Name, "Until", i18n.Moment(end), "Reason", reason)}), nil
}

// Unfreeze lifts env's ad-hoc freeze; admins only, audited. A freeze
// from the config stays (it is changed in nexo.yaml).
func Unfreeze(ctx context.Context, d *commands.Deps, user, channel, envName string) (*chat.Reply, error) {
	env, err := commands.ResolveEnv(d.Config, envName)
	if err != nil {
		return nil, err
	}
	if err := mayFreeze(ctx, d, user, channel, "unfreeze", env.Name); err != nil {
		return nil, err
	}
	now := d.Clock().Now()
	prev, err := adHoc(ctx, d.Store, env.Name)
	if err != nil {
		return nil, err
	}
	t := d.T(channel)
	cfgHeld := configAt(d.Config, env.Name, now)
	if prev == nil || !now.Before(prev.Until) {
		if len(cfgHeld) > 0 {
			return nil, commands.Refuse("freeze.config_only", "Env", env.Name, "Until", i18n.Moment(latest(cfgHeld).End), "Reason", latest(cfgHeld).Reason)
		}
		return commands.Ephemeral(chat.Message{Text: t.S("freeze.not_frozen", "Env", env.Name)}), nil
	}
	if err := d.Store.DeleteDoc(ctx, collection, env.Name); err != nil {
		return nil, err
	}
	commands.Audit(ctx, d, user, "freeze.lift", "", env.Name, env.Name, "ok",
		fmt.Sprintf("was until %s: %s", prev.Until.UTC().Format(time.RFC3339), prev.Reason)) //i18n:verbatim the audit log's detail, in English as every entry
	text := t.S("freeze.lifted", "User", chat.Mention(user), "Env", env.Name)
	if len(cfgHeld) > 0 {
		text += " " + t.S("freeze.still_config", "Until", i18n.Moment(latest(cfgHeld).End), "Reason", latest(cfgHeld).Reason)
	}
	return commands.InChannel(chat.Message{Text: text}), nil
}

// entry is one line of the listing.
type entry struct {
	env        string
	start, end time.Time
	reason     string
	source     string
	by         string
}

// List is every freeze in force or starting within two weeks, per env.
func List(ctx context.Context, d *commands.Deps, channel string) (*chat.Reply, error) {
	now := d.Clock().Now()
	t := d.T(channel)
	var entries []entry
	for _, e := range d.Config.Environments {
		a, err := adHoc(ctx, d.Store, e.Name)
		if err != nil {
			return nil, err
		}
		if a != nil && now.Before(a.Until) {
			entries = append(entries, entry{env: e.Name, start: a.From, end: a.Until, reason: a.Reason, source: commands.FreezeAdHoc, by: a.By})
		}
		entries = append(entries, configEntries(d.Config, e.Name, now)...)
	}
	if len(entries) == 0 {
		return commands.Ephemeral(chat.Message{Text: t.S("freeze.none", "Command", d.Config.Slack.Command)}), nil
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].start.Before(entries[j].start) })
	var lines []string
	for _, en := range entries {
		id := "freeze.line_upcoming"
		if !now.Before(en.start) {
			id = "freeze.line_active"
		}
		line := t.S(id, "Env", en.env, "From", i18n.Moment(en.start), "Until", i18n.Moment(en.end), "Reason", en.reason)
		if en.source == commands.FreezeAdHoc {
			line += " " + t.S("freeze.by", "User", chat.Mention(en.by))
		} else {
			line += " " + t.S("freeze.from_config")
		}
		lines = append(lines, "• "+line)
	}
	title := t.S("freeze.list_title")
	body := strings.Join(lines, "\n")
	return commands.Ephemeral(chat.Message{
		Text: title + "\n" + body,
		Blocks: []chat.Block{
			{Section: &chat.Section{Text: title}},
			{Section: &chat.Section{Text: body}},
			{Context: []string{t.S("freeze.list_context", "Command", d.Config.Slack.Command)}},
		},
	}), nil
}

// configEntries are env's config freezes in force at now or starting
// within the listing's horizon.
func configEntries(cfg *config.Config, env string, now time.Time) []entry {
	var out []entry
	for _, f := range configFreezes(cfg, env, now, upcomingHorizon) {
		out = append(out, entry{env: env, start: f.Start, end: f.End, reason: f.Reason, source: f.Source})
	}
	return out
}
