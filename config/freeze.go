package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/internal/cron"
)

// Freeze is one entry of freezes: a period when ordinary changes
// (promotions, backfills, fix PRs, auto-promotions) into an environment
// are held; hotfixes and rollbacks pass and say so. Either a dated range
// (From/Until) or a recurring window (Schedule + Duration).
type Freeze struct {
	// Env is the environment (name or alias).
	Env string `yaml:"env"`
	// Reason is shown with every refusal and on the status cards.
	Reason string `yaml:"reason"`
	// From and Until are a dated range: "2026-12-20", "2026-12-20 18:00"
	// (in Timezone) or RFC 3339. A date alone is 00:00 of that day.
	From  string `yaml:"from"`
	Until string `yaml:"until"`
	// Schedule is when a recurring window starts (five-field cron, on the
	// wall clock of Timezone), and Duration how long it lasts (≤ 31d).
	Schedule string   `yaml:"schedule"`
	Duration Duration `yaml:"duration"`
	// Timezone is an IANA name (default the config's timezone).
	Timezone string `yaml:"timezone"`
}

// Zone is the freeze's time zone (def when unset or unknown).
func (f *Freeze) Zone(def *time.Location) *time.Location {
	if f.Timezone == "" {
		return def
	}
	if z, err := time.LoadLocation(f.Timezone); err == nil {
		return z
	}
	return def
}

// Range is a dated freeze's [from, until) in zone loc.
func (f *Freeze) Range(loc *time.Location) (from, until time.Time, err error) {
	if from, err = ParseMoment(f.From, loc); err != nil {
		return from, until, fmt.Errorf("from: %w", err)
	}
	if until, err = ParseMoment(f.Until, loc); err != nil {
		return from, until, fmt.Errorf("until: %w", err)
	}
	return from, until, nil
}

// Cron is a recurring freeze's schedule.
func (f *Freeze) Cron() (cron.Schedule, error) { return cron.Parse(f.Schedule) }

// ParseMoment reads "2006-01-02", "2006-01-02 15:04" (in loc) or RFC 3339.
func ParseMoment(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date (use 2026-12-20, \"2026-12-20 18:00\" or RFC 3339)", s)
}

func (c *Config) validateFreezes(p *Problems) {
	def := c.Zone()
	for i, f := range c.Freezes {
		path := fmt.Sprintf("freezes[%d]", i)
		if f.Env == "" {
			p.add(path+".env", "required: the environment the freeze holds")
		} else if _, ok := c.Env(f.Env); !ok {
			p.add(path+".env", "%q is not an environment (environments: %s)", f.Env, strings.Join(c.EnvNames(), ", "))
		}
		if strings.TrimSpace(f.Reason) == "" {
			p.add(path+".reason", "required: it is shown with every refusal")
		}
		if f.Timezone != "" {
			if _, err := time.LoadLocation(f.Timezone); err != nil {
				p.add(path+".timezone", "not a time zone: %q (use an IANA name such as America/Sao_Paulo or UTC)", f.Timezone)
			}
		}
		dated, recurring := f.From != "" || f.Until != "", f.Schedule != "" || f.Duration != 0
		switch {
		case dated && recurring:
			p.add(path, "use either from/until (a dated range) or schedule/duration (a recurring window), not both")
		case dated:
			if f.From == "" || f.Until == "" {
				p.add(path, "a dated range needs both from and until")
				continue
			}
			from, until, err := f.Range(f.Zone(def))
			if err != nil {
				p.add(path+"."+strings.SplitN(err.Error(), ":", 2)[0], "%s", strings.TrimSpace(strings.SplitN(err.Error(), ":", 2)[1]))
				continue
			}
			if !until.After(from) {
				p.add(path+".until", "must be after from (%s)", f.From)
			}
		case recurring:
			if _, err := f.Cron(); err != nil {
				p.add(path+".schedule", "%s", err.Error())
			}
			if d := f.Duration.D(); d <= 0 || d > cron.MaxWindow {
				p.add(path+".duration", "must be between 1m and 31d, got %s (a longer freeze is a dated range)", d)
			}
		default:
			p.add(path, "needs from/until (a dated range) or schedule/duration (a recurring window)")
		}
	}
}
