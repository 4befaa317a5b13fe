// Package digest posts the weekly DORA digest (dora.digest) to each team's
// channel: the week's four metrics of every service against the week
// before, from the sources `/nexo dora` reads.
package digest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/commands/dora"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/store"
)

// Timer is the weekly digest's timer kind and id (one schedule).
const Timer = "dora.digest"

// collection holds the digest's next due time ("next").
const collection = "dora-digest"

// missedGrace: a digest that fell due while no replica ran is
// posted when one starts, if it is not older than this.
const missedGrace = 24 * time.Hour

// servicesPerMessage bounds the services of one message (Slack
// allows 50 blocks; the header and the two context lines take three).
const servicesPerMessage = 40

// Register handles the digest's timer and schedules it at start.
func Register(r *commands.Router, d *commands.Deps) {
	d.Engine.HandleTimer(Timer, func(ctx context.Context, t store.Timer) error { return fired(ctx, d, t) })
	r.OnStart(func(ctx context.Context) error { return Schedule(ctx, d) })
}

type nextDoc struct {
	Due time.Time `json:"due"`
}

// Schedule schedules the next digest of dora.digest (in dora.Location),
// or cancels it when dora.digest is empty. A digest that fell due less
// than a day ago and was not posted (no replica ran then) is kept due, so
// it is posted now. Every replica does this at start; they all schedule
// the same timer.
func Schedule(ctx context.Context, d *commands.Deps) error {
	st := d.Engine.Store()
	if d.Config.DORA.Digest == "" {
		if err := st.CancelTimer(ctx, Timer); err != nil {
			return err
		}
		return st.DeleteDoc(ctx, collection, "next")
	}
	w, err := config.ParseWeekly(d.Config.DORA.Digest)
	if err != nil {
		return fmt.Errorf("dora.digest: %w", err) // config validation refuses it first
	}
	loc, now := dora.Location(d.Config), d.Clock().Now()
	due := w.Next(now, loc)
	var next nextDoc
	err = st.GetDoc(ctx, collection, "next", &next)
	switch {
	case err == nil:
		if w.Is(next.Due, loc) && next.Due.Before(due) && now.Sub(next.Due) <= missedGrace {
			due = next.Due
		}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	if err := st.PutDoc(ctx, collection, "next", nextDoc{Due: due}); err != nil {
		return err
	}
	return d.Engine.Schedule(ctx, Timer, due, Timer, nil)
}

// fired posts every team's digest of the week before the timer's
// day, each once (PostOnce with the timer's key, so a timer handled twice
// posts once), then schedules the next one, within dora.Timeout. An error
// leaves the timer to be handled again; what was posted is not posted
// again.
func fired(ctx context.Context, d *commands.Deps, t store.Timer) error {
	ctx, cancel := context.WithTimeout(ctx, dora.Timeout)
	defer cancel()
	cfg := d.Config
	if cfg.DORA.Digest == "" {
		return nil // switched off since it was scheduled
	}
	w, err := config.ParseWeekly(cfg.DORA.Digest)
	if err != nil {
		return nil
	}
	loc := dora.Location(cfg)
	due := t.Due.In(loc)
	digests, err := Build(ctx, d, time.Date(due.Year(), due.Month(), due.Day(), 0, 0, 0, 0, loc))
	if err != nil {
		return err
	}
	var failed error
	for _, g := range digests {
		for i, m := range Messages(d.T(g.Channel), g, d.Config.Slack.Command) {
			key := fmt.Sprintf("%s-%s-%d", commands.TimerPostKey(t), g.Channel, i+1)
			if _, err := commands.PostOnce(ctx, d, Timer, key, g.Channel, "", m); err != nil {
				dora.Logger(d).Warn("dora digest: post", "channel", g.Channel, "err", err)
				failed = errors.Join(failed, err)
			}
		}
	}
	if failed != nil {
		return failed
	}
	from := d.Clock().Now()
	if t.Due.After(from) {
		from = t.Due
	}
	next := w.Next(from, loc)
	if err := d.Engine.Store().PutDoc(ctx, collection, "next", nextDoc{Due: next}); err != nil {
		return err
	}
	return d.Engine.Schedule(ctx, Timer, next, Timer, nil)
}

// Digest is one team channel's figures for a week and the week before.
type Digest struct {
	// Channel is where it is posted: the services' channel
	// (config.ServiceChannel).
	Channel string
	Env     string
	// Since and Until bound the week (Until exclusive); the week before
	// ends at Since.
	Since, Until time.Time
	Location     *time.Location
	Bands        string
	// Rows are the channel's services, in config order.
	Rows []Row
	// Notes say what the figures lack (as `/nexo dora` notes do).
	Notes []i18n.Msg
}

// Row is one service's week and the week before.
type Row struct {
	Service        string
	Week, Previous dora.Report
}

// Build computes one digest per team channel: the configured services
// grouped by their channel (services.channel, else slack.channel), each
// measured in dora.env over the 7 days before until (a local midnight)
// and the 7 days before those, from the sources `/nexo dora` reads.
func Build(ctx context.Context, d *commands.Deps, until time.Time) ([]Digest, error) {
	cfg := d.Config
	loc := dora.Location(cfg)
	env := cfg.DORA.Env
	if e, ok := cfg.Env(env); ok {
		env = e.Name
	}
	since := until.AddDate(0, 0, -7)
	before := since.AddDate(0, 0, -7)
	services := cfg.ServiceNames()
	src, err := dora.Gather(ctx, d, services, env, before, until)
	if err != nil {
		return nil, err
	}
	var out []Digest
	byChannel := map[string]int{}
	for _, svc := range services {
		ch := cfg.ServiceChannel(svc)
		if ch == "" {
			dora.Logger(d).Warn("dora digest: no channel for the service (services.channel or slack.channel)", "service", svc)
			continue
		}
		i, ok := byChannel[ch]
		if !ok {
			i = len(out)
			byChannel[ch] = i
			out = append(out, Digest{Channel: ch, Env: env, Since: since, Until: until, Location: loc, Bands: cfg.DORA.Bands, Notes: src.Notes})
		}
		row := Row{Service: svc}
		for _, p := range []struct {
			r      *dora.Report
			from   time.Time
			before time.Time
		}{{&row.Week, since, until}, {&row.Previous, before, since}} {
			*p.r, err = dora.Compute(dora.Input{Service: svc, Env: env, Since: p.from, Until: p.before, Location: loc,
				Deployments: src.Deployments, Incidents: src.Incidents, Bands: cfg.DORA.Bands})
			if err != nil {
				return nil, err
			}
		}
		out[i].Rows = append(out[i].Rows, row)
	}
	return out, nil
}

// Messages renders a digest in t's locale: a header, one section
// per service with each metric, its value the week before and whether
// that is better or worse, and a context line; several messages when the
// channel has more than 40 services. command is the slash command
// ("/nexo"). Every sentence comes from the catalog (dora.digest.*).
func Messages(t i18n.T, g Digest, command string) []chat.Message {
	last := g.Until.AddDate(0, 0, -1)
	period := t.S("dora.digest.period", "Since", g.Since.In(g.Location).Format("2006-01-02"), "Last", last.In(g.Location).Format("2006-01-02"),
		"Bands", g.Bands, "Zone", g.Location.String())
	overall := func(b dora.Band) string {
		switch b {
		case dora.Elite:
			return t.S("dora.digest.overall.elite")
		case dora.High:
			return t.S("dora.digest.overall.high")
		case dora.Medium:
			return t.S("dora.digest.overall.medium")
		case dora.Low:
			return t.S("dora.digest.overall.low")
		}
		return t.S("dora.digest.overall.na")
	}
	// trend is "↑ from 3 (better)", "same as the week before", or the value
	// the week before when the two cannot be compared.
	trend := func(now, before float64, beforeText string, lowerIsBetter, comparable bool) string {
		switch {
		case !comparable:
			return t.S("dora.digest.week_before", "Before", beforeText)
		case now == before:
			return t.S("dora.digest.same")
		}
		better := (now < before) == lowerIsBetter
		switch {
		case now > before && better:
			return t.S("dora.digest.up_better", "Before", beforeText)
		case now > before:
			return t.S("dora.digest.up_worse", "Before", beforeText)
		case better:
			return t.S("dora.digest.down_better", "Before", beforeText)
		}
		return t.S("dora.digest.down_worse", "Before", beforeText)
	}
	// the week's values read as the report's card does
	percent := func(r dora.Report) string { return dora.FailureText(t, r) }
	lead := func(r dora.Report) string { return dora.LeadTimeText(t, r) }
	restore := func(r dora.Report) string { return dora.RestoreText(t, r) }
	section := func(r Row) string {
		w, p := r.Week, r.Previous
		text := t.S("dora.digest.service", "Service", r.Service, "Overall", overall(w.Overall))
		if p.Overall != w.Overall {
			text = t.S("dora.digest.service_was", "Service", r.Service, "Overall", overall(w.Overall), "Before", overall(p.Overall))
		}
		wd, pd := w.ChangeFailureRate.Deployments, p.ChangeFailureRate.Deployments
		if wd == 0 && pd == 0 && w.TimeToRestore.Resolved+w.TimeToRestore.Unresolved+p.TimeToRestore.Resolved+p.TimeToRestore.Unresolved == 0 {
			return text + "\n" + t.S("dora.digest.quiet")
		}
		cfr := percent(w)
		if wd > 0 {
			cfr = t.S("dora.digest.failed_of", "Rate", cfr, "Failed", w.ChangeFailureRate.Failed, "Deployments", wd)
		}
		deploys := t.S("dora.digest.no_deployments_week", "Trend", trend(0, float64(pd), strconv.Itoa(pd), false, true))
		if wd > 0 {
			deploys = t.S("dora.digest.deployments", "Deployments", wd, "Days", t.N("dora.days", w.DeploymentFrequency.DeployDays),
				"Trend", trend(float64(wd), float64(pd), strconv.Itoa(pd), false, true))
		}
		lines := []string{text, deploys,
			t.S("dora.digest.lead_time", "Value", lead(w),
				"Trend", trend(float64(w.LeadTime.Median), float64(p.LeadTime.Median), lead(p), true, w.LeadTime.Samples > 0 && p.LeadTime.Samples > 0)),
			t.S("dora.digest.failure_rate", "Value", cfr,
				"Trend", trend(w.ChangeFailureRate.Rate, p.ChangeFailureRate.Rate, percent(p), true, wd > 0 && pd > 0)),
			t.S("dora.digest.restore", "Value", restore(w),
				"Trend", trend(float64(w.TimeToRestore.Median), float64(p.TimeToRestore.Median), restore(p), true, w.TimeToRestore.Resolved > 0 && p.TimeToRestore.Resolved > 0)),
		}
		return strings.Join(lines, "\n")
	}
	footer := append([]string{t.S("dora.digest.footer", "Command", command)}, dora.NotesIn(t, g.Notes)...)
	pages := max(1, (len(g.Rows)+servicesPerMessage-1)/servicesPerMessage)
	out := make([]chat.Message, 0, pages)
	for p := range pages {
		head := t.S("dora.digest.title", "Env", g.Env)
		if pages > 1 {
			head = t.S("dora.digest.title_page", "Env", g.Env, "Page", p+1, "Pages", pages)
		}
		m := chat.Message{Text: head + ": " + period, Blocks: []chat.Block{{Header: head}, {Context: []string{period}}}}
		for _, r := range g.Rows[p*servicesPerMessage : min((p+1)*servicesPerMessage, len(g.Rows))] {
			m.Blocks = append(m.Blocks, chat.Block{Section: &chat.Section{Text: section(r)}})
		}
		m.Blocks = append(m.Blocks, chat.Block{Context: footer})
		out = append(out, m)
	}
	return out
}
