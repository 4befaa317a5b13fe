package i18n

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// When is a moment in a Slack message: Slack's date token, so each reader
// sees it in their own time zone, with the fallback (clients that do not
// render tokens, notifications) in the catalog's zone and locale.
func (t T) When(at time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", at.Unix(), t.DateTime(at))
}

// WhenTime is When with the time of day only ("10:35" in the reader's zone).
func (t T) WhenTime(at time.Time) string {
	return fmt.Sprintf("<!date^%d^{time}|%s>", at.Unix(), t.Clock(at))
}

// DateTime is a moment outside Slack (post-mortem files, the CLI, PR
// bodies): "18 Feb 2026 10:35 UTC" / "18 fev 2026 07:35 -03", in the
// catalog's zone.
func (t T) DateTime(at time.Time) string {
	at = at.In(t.Zone())
	return fmt.Sprintf("%d %s %d %s", at.Day(), t.month(at.Month()), at.Year(), t.Clock(at))
}

// Clock is the time of day with its zone: "10:35 UTC", "07:35 -03".
func (t T) Clock(at time.Time) string {
	return at.In(t.Zone()).Format("15:04 MST")
}

// Date is the ISO day in the catalog's zone: "2026-02-18".
func (t T) Date(at time.Time) string { return at.In(t.Zone()).Format("2006-01-02") }

func (t T) month(m time.Month) string {
	names := strings.Fields(t.S("time.months"))
	if len(names) != 12 {
		return m.String()[:3]
	}
	return names[m-1]
}

// Duration reads naturally: "45 s", "5 min", "2 h 5 min", "3 d 4 h".
func (t T) Duration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return t.N("time.seconds", int(d.Seconds()))
	case d < time.Hour:
		return t.N("time.minutes", int(d.Minutes()))
	case d < 48*time.Hour:
		h, m := int(d.Hours()), int(d.Minutes())%60
		if m == 0 {
			return t.N("time.hours", h)
		}
		return t.N("time.hours", h) + " " + t.N("time.minutes", m)
	}
	days, h := int(d.Hours())/24, int(d.Hours())%24
	if h == 0 {
		return t.N("time.days", days)
	}
	return t.N("time.days", days) + " " + t.N("time.hours", h)
}

// Ago is how long ago at was: "5 min ago" / "há 5 min"; "just now" / "agora"
// under a minute.
func (t T) Ago(now, at time.Time) string {
	d := now.Sub(at)
	if d < time.Minute {
		return t.S("time.just_now")
	}
	return t.S("time.ago", "Duration", t.Duration(d.Truncate(time.Minute)))
}

// Until is how long until at: "in 5 min" / "em 5 min".
func (t T) Until(now, at time.Time) string {
	return t.S("time.in", "Duration", t.Duration(at.Sub(now).Truncate(time.Minute)))
}

// Month is a month's short name: "Feb" / "fev".
func (t T) Month(m time.Month) string { return t.month(m) }

// Decimal writes f with prec decimals and the locale's separator:
// "5.5" / "5,5".
func (t T) Decimal(f float64, prec int) string {
	s := strconv.FormatFloat(f, 'f', prec, 64)
	if t.Locale == Portuguese {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}
