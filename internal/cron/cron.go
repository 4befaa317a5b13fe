// Package cron reads the standard five-field cron schedules (minute, hour,
// day of month, month, day of week) that nexo's freezes: and Argo CD's
// sync windows use, and finds the windows they open: a Schedule and a
// duration make a window that starts at every matching minute, evaluated
// on the wall clock of a time zone.
package cron

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed five-field cron expression.
type Schedule struct {
	minute, hour, dom, month, dow uint64 // bit sets
	domStar, dowStar              bool
	src                           string
}

// MaxWindow bounds a window's duration: a longer one is a dated range.
const MaxWindow = 31 * 24 * time.Hour

var fields = []struct {
	name     string
	min, max int
	names    []string
}{
	{"minute", 0, 59, nil},
	{"hour", 0, 23, nil},
	{"day of month", 1, 31, nil},
	{"month", 1, 12, []string{"", "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{"day of week", 0, 7, []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// Parse reads "m h dom mon dow" (numbers, *, ranges a-b, steps */n and
// a-b/n, lists, month and weekday names; 7 is Sunday too).
func Parse(s string) (Schedule, error) {
	parts := strings.Fields(s)
	if len(parts) != 5 {
		return Schedule{}, fmt.Errorf("%q is not a cron schedule: it needs 5 fields (minute hour day-of-month month day-of-week), it has %d", s, len(parts))
	}
	sc := Schedule{src: strings.Join(parts, " ")}
	sets := []*uint64{&sc.minute, &sc.hour, &sc.dom, &sc.month, &sc.dow}
	for i, p := range parts {
		bits, err := parseField(p, i)
		if err != nil {
			return Schedule{}, fmt.Errorf("%q: %s field: %w", s, fields[i].name, err)
		}
		*sets[i] = bits
	}
	if sc.dow&(1<<7) != 0 {
		sc.dow |= 1
	}
	sc.domStar = parts[2] == "*" || parts[2] == "?"
	sc.dowStar = parts[4] == "*" || parts[4] == "?"
	return sc, nil
}

func parseField(s string, i int) (uint64, error) {
	f := fields[i]
	var bits uint64
	for _, item := range strings.Split(s, ",") {
		rng, stepS, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepS)
			if err != nil || n < 1 {
				return 0, fmt.Errorf("bad step %q", stepS)
			}
			step = n
		}
		lo, hi := f.min, f.max
		switch {
		case rng == "*" || rng == "?":
			if i == 4 {
				hi = 6
			}
		default:
			a, b, isRange := strings.Cut(rng, "-")
			var err error
			if lo, err = value(a, f.min, f.max, f.names); err != nil {
				return 0, err
			}
			hi = lo
			if isRange {
				if hi, err = value(b, f.min, f.max, f.names); err != nil {
					return 0, err
				}
				if hi < lo {
					return 0, fmt.Errorf("range %q runs backwards", rng)
				}
			} else if hasStep {
				hi = f.max
			}
		}
		for v := lo; v <= hi; v += step {
			bits |= 1 << v
		}
	}
	return bits, nil
}

func value(s string, min, max int, names []string) (int, error) {
	for i, n := range names {
		if n != "" && strings.EqualFold(s, n) {
			return i, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if v < min || v > max {
		return 0, fmt.Errorf("%d is outside %d-%d", v, min, max)
	}
	return v, nil
}

// String is the schedule as written.
func (s Schedule) String() string { return s.src }

// Matches reports whether the minute of t (on t's own wall clock) is one
// the schedule starts at. As in cron, when both day fields are restricted
// a day matching either is enough.
func (s Schedule) Matches(t time.Time) bool {
	if s.minute&(1<<t.Minute()) == 0 || s.hour&(1<<t.Hour()) == 0 || s.month&(1<<int(t.Month())) == 0 {
		return false
	}
	dom, dow := s.dom&(1<<t.Day()) != 0, s.dow&(1<<int(t.Weekday())) != 0
	switch {
	case s.domStar || s.dowStar:
		return dom && dow
	default:
		return dom || dow
	}
}

// Window is one occurrence of a schedule: [Start, End).
type Window struct {
	Start, End time.Time
}

// Covering is the latest occurrence of the schedule, with duration d on
// the wall clock of loc, that contains at; ok is false when none does.
// Minutes are walked in absolute time, so across a DST change a start in
// the skipped hour does not happen and one in the repeated hour happens
// twice, and a window lasts d of real time.
func (s Schedule) Covering(at time.Time, d time.Duration, loc *time.Location) (Window, bool) {
	if d <= 0 {
		return Window{}, false
	}
	if d > MaxWindow {
		d = MaxWindow
	}
	t := at.Truncate(time.Minute)
	for back := time.Duration(0); back < d+time.Minute; back += time.Minute {
		start := t.Add(-back)
		if !start.Add(d).After(at) {
			break
		}
		if start.After(at) {
			continue
		}
		if s.Matches(start.In(loc)) {
			return Window{Start: start, End: start.Add(d)}, true
		}
	}
	return Window{}, false
}

// Next is the first start of the schedule after at and within horizon;
// ok is false when there is none.
func (s Schedule) Next(at time.Time, horizon time.Duration, loc *time.Location) (time.Time, bool) {
	t := at.Truncate(time.Minute).Add(time.Minute)
	for end := at.Add(horizon); !t.After(end); t = t.Add(time.Minute) {
		if s.Matches(t.In(loc)) {
			return t, true
		}
	}
	return time.Time{}, false
}
