package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Weekly is a weekday and a time of day, such as dora.digest's "Mon 09:00".
type Weekly struct {
	Day          time.Weekday
	Hour, Minute int
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseWeekly reads "<weekday> <HH:MM>": an English weekday, in full or its
// first three letters, any case, and a 24-hour time ("Mon 09:00",
// "friday 17:30").
func ParseWeekly(s string) (Weekly, error) {
	bad := fmt.Errorf("must be a weekday and a 24-hour time such as \"Mon 09:00\", got %q", s)
	f := strings.Fields(s)
	if len(f) != 2 {
		return Weekly{}, bad
	}
	name := strings.ToLower(f[0])
	day, ok := weekdays[name]
	if !ok && len(name) > 3 {
		if day, ok = weekdays[name[:3]]; ok && name != strings.ToLower(day.String()) {
			ok = false
		}
	}
	if !ok {
		return Weekly{}, bad
	}
	hh, mm, found := strings.Cut(f[1], ":")
	h, herr := strconv.Atoi(hh)
	m, merr := strconv.Atoi(mm)
	if !found || herr != nil || merr != nil || len(hh) > 2 || len(mm) != 2 || h < 0 || h > 23 || m < 0 || m > 59 {
		return Weekly{}, bad
	}
	return Weekly{Day: day, Hour: h, Minute: m}, nil
}

// String is "Mon 09:00".
func (w Weekly) String() string {
	return fmt.Sprintf("%s %02d:%02d", w.Day.String()[:3], w.Hour, w.Minute)
}

// Next is the first time after t (strictly) that is w in loc.
func (w Weekly) Next(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	day := time.Date(l.Year(), l.Month(), l.Day(), w.Hour, w.Minute, 0, 0, loc)
	for i := 0; i < 8; i++ {
		if day.Weekday() == w.Day && day.After(t) {
			return day
		}
		day = time.Date(day.Year(), day.Month(), day.Day()+1, w.Hour, w.Minute, 0, 0, loc)
	}
	return day // not reached: one of eight days matches
}

// Is tells whether t is an occurrence of w in loc.
func (w Weekly) Is(t time.Time, loc *time.Location) bool {
	l := t.In(loc)
	return l.Weekday() == w.Day && l.Hour() == w.Hour && l.Minute() == w.Minute && l.Second() == 0 && l.Nanosecond() == 0
}
