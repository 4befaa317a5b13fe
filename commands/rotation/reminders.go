package rotation

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/commands"
	"github.com/nexo-org/nexo-bot/config"
	"github.com/nexo-org/nexo-bot/i18n"
	"github.com/nexo-org/nexo-bot/integrations/secretstore"
	"github.com/nexo-org/nexo-bot/store"
)

// ScheduleReminders schedules the weekly reminder unless one is
// already planned: the next due time is kept in the store, so a restart
// re-arms the same time instead of pushing it back. The first one is the
// next Monday 09:00 UTC.
func ScheduleReminders(ctx context.Context, d *commands.Deps) error {
	var next struct {
		Due time.Time `json:"due"`
	}
	err := d.Store.GetDoc(ctx, reminderCollection, "next", &next)
	switch {
	case errors.Is(err, store.ErrNotFound):
		next.Due = nextMonday9(d.Clock().Now())
		if err := d.Store.PutDoc(ctx, reminderCollection, "next", next); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	return d.Engine.Schedule(ctx, ReminderTimer, next.Due, ReminderTimer, nil)
}

func nextMonday9(now time.Time) time.Time {
	t := now.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 9, 0, 0, 0, time.UTC)
	for day.Weekday() != time.Monday || !day.After(t) {
		day = day.AddDate(0, 0, 1)
	}
	return day
}

func reminderFired(ctx context.Context, d *commands.Deps, t store.Timer) error {
	if _, err := Reminders(ctx, d); err != nil {
		return err
	}
	now := d.Clock().Now()
	due := t.Due.Add(ReminderEvery)
	if !due.After(now) {
		due = nextMonday9(now)
	}
	if err := d.Store.PutDoc(ctx, reminderCollection, "next", struct {
		Due time.Time `json:"due"`
	}{due}); err != nil {
		return err
	}
	return d.Engine.Schedule(ctx, ReminderTimer, due, ReminderTimer, nil)
}

// StaleSecret is a configured secret older than its max_age.
type StaleSecret struct {
	Service, Env, Secret, SecretID string
	// Since is the last rotation by nexo, else the creation of the current
	// version in Secrets Manager; zero when unknown.
	Since time.Time
	// ByNexo is true when Since is a rotation by nexo.
	ByNexo bool
	MaxAge time.Duration
}

// StaleSecrets lists every configured secret (service × environment ×
// secret) whose last rotation by nexo, or the creation of its current
// version when nexo never rotated it, is older than its max_age. Secrets
// that do not exist in Secrets Manager for an environment are skipped.
func StaleSecrets(ctx context.Context, d *commands.Deps) ([]StaleSecret, error) {
	cfg := d.Config
	now := d.Clock().Now()
	dated, _ := d.Secrets.(secretstore.Dated)
	var out []StaleSecret
	for si := range cfg.Services {
		svc := &cfg.Services[si]
		for xi := range svc.Secrets {
			sec := &svc.Secrets[xi]
			for _, env := range cfg.Environments {
				s := StaleSecret{Service: svc.Name, Env: env.Name, Secret: sec.Name, MaxAge: sec.MaxAge.D(),
					SecretID: config.Expand(sec.SecretID, svc.Name, env.Name, "secret", sec.Name)}
				if s.MaxAge <= 0 {
					s.MaxAge = 30 * 24 * time.Hour
				}
				var rec Record
				err := d.Store.GetDoc(ctx, RecordsCollection, RecordKey(svc.Name, env.Name, sec.Name), &rec)
				switch {
				case err == nil:
					s.Since, s.ByNexo = rec.RotatedAt, true
				case !errors.Is(err, store.ErrNotFound):
					return nil, err
				case dated != nil:
					cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
					created, err := dated.CurrentCreated(cctx, s.SecretID)
					cancel()
					if errors.Is(err, secretstore.ErrNotFound) {
						continue
					}
					if err == nil {
						s.Since = created
					} else {
						d.Log.Warn("rotation reminder: secret age unknown", "secret_id", s.SecretID, "err", err)
					}
				}
				if s.Since.IsZero() || now.Sub(s.Since) > s.MaxAge {
					out = append(out, s)
				}
			}
		}
	}
	return out, nil
}

// Reminders posts, in each service's channel, the secrets due for
// rotation, and returns how many there were. It does nothing when no
// secret store is configured (nothing could be rotated).
func Reminders(ctx context.Context, d *commands.Deps) (int, error) {
	if d.Secrets == nil {
		return 0, nil
	}
	stale, err := StaleSecrets(ctx, d)
	if err != nil {
		return 0, err
	}
	now := d.Clock().Now()
	byChannel := map[string][]StaleSecret{}
	var channels []string
	for _, s := range stale {
		ch := d.Config.ServiceChannel(s.Service)
		if _, ok := byChannel[ch]; !ok {
			channels = append(channels, ch)
		}
		byChannel[ch] = append(byChannel[ch], s)
	}
	var errs []error
	for _, ch := range channels {
		t := d.T(ch)
		var lines []string
		for _, s := range byChannel[ch] {
			lines = append(lines, reminderLine(t, d.Config.Slack.Command, s, now))
		}
		head := t.N("rotation.reminder.head", len(lines))
		m := chat.Message{Text: head, Blocks: []chat.Block{
			{Section: &chat.Section{Text: "*" + head + "*\n" + strings.Join(lines, "\n")}},
			{Context: []string{t.S("rotation.reminder.context")}},
		}}
		if _, err := d.Chat.Post(ctx, ch, "", m); err != nil {
			errs = append(errs, err)
		}
	}
	return len(stale), errors.Join(errs...)
}

// reminderLine is one stale secret for a reader: how old it is (in whole
// days, or hours under a day), when it was written (a Slack date token),
// its policy, and the command that rotates it.
func reminderLine(t i18n.T, command string, s StaleSecret, now time.Time) string {
	age := i18n.M("rotation.reminder.never")
	ago := i18n.M("time.ago", "Duration", i18n.Span(wholeAge(now.Sub(s.Since))))
	switch {
	case s.ByNexo:
		age = i18n.M("rotation.reminder.rotated", "Ago", ago, "When", i18n.Moment(s.Since))
	case !s.Since.IsZero():
		age = i18n.M("rotation.reminder.written", "Ago", ago, "When", i18n.Moment(s.Since))
	}
	return t.S("rotation.reminder.line", "Service", s.Service, "Env", s.Env, "Secret", s.Secret, "SecretID", s.SecretID,
		"Age", age, "Policy", i18n.Span(wholeAge(s.MaxAge)), "Command", command)
}

// wholeAge rounds an age down to whole days, or whole hours under a day
// (whole minutes under an hour).
func wholeAge(d time.Duration) time.Duration {
	switch {
	case d >= 24*time.Hour:
		return d.Truncate(24 * time.Hour)
	case d >= time.Hour:
		return d.Truncate(time.Hour)
	}
	return d.Truncate(time.Minute)
}
