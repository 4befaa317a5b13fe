package cron

import (
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, s string) Schedule {
	t.Helper()
	sc, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return sc
}

func TestParseRefusesBadSchedules(t *testing.T) {
	for s, want := range map[string]string{
		"* * * *":        "needs 5 fields",
		"60 * * * *":     "minute field: 60 is outside 0-59",
		"* 24 * * *":     "hour field",
		"* * 0 * *":      "day of month field",
		"* * * 13 *":     "month field",
		"* * * * 8":      "day of week field",
		"*/0 * * * *":    "bad step",
		"5-1 * * * *":    "runs backwards",
		"x * * * *":      "is not a number",
		"0 22 * * FRI-X": "is not a number",
	} {
		_, err := Parse(s)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", s, err, want)
		}
	}
}

func TestMatches(t *testing.T) {
	utc := time.UTC
	cases := []struct {
		sched string
		at    time.Time
		want  bool
	}{
		{"0 18 * * fri", time.Date(2026, 12, 4, 18, 0, 0, 0, utc), true}, // a Friday
		{"0 18 * * fri", time.Date(2026, 12, 4, 18, 1, 0, 0, utc), false},
		{"0 18 * * 5", time.Date(2026, 12, 5, 18, 0, 0, 0, utc), false},
		{"*/15 9-17 * * mon-fri", time.Date(2026, 12, 2, 9, 45, 0, 0, utc), true},
		{"*/15 9-17 * * mon-fri", time.Date(2026, 12, 6, 9, 45, 0, 0, utc), false}, // Sunday
		{"0 0 * * 7", time.Date(2026, 12, 6, 0, 0, 0, 0, utc), true},               // 7 is Sunday
		{"0 0 20 12 *", time.Date(2026, 12, 20, 0, 0, 0, 0, utc), true},
		{"0 0 1 * mon", time.Date(2026, 12, 7, 0, 0, 0, 0, utc), true}, // either day field (Monday)
		{"0 0 1 * mon", time.Date(2026, 12, 1, 0, 0, 0, 0, utc), true}, // either day field (the 1st)
		{"0 0 1 * mon", time.Date(2026, 12, 2, 0, 0, 0, 0, utc), false},
		{"0 0 * dec *", time.Date(2026, 12, 2, 0, 0, 0, 0, utc), true},
	}
	for _, c := range cases {
		if got := mustParse(t, c.sched).Matches(c.at); got != c.want {
			t.Errorf("%q at %s: %v, want %v", c.sched, c.at, got, c.want)
		}
	}
}

func TestCoveringInTimeZone(t *testing.T) {
	sp, _ := time.LoadLocation("America/Sao_Paulo") // UTC-3, no DST since 2019
	sc := mustParse(t, "0 18 * * fri")
	// Friday 18:00 in São Paulo is 21:00 UTC.
	in := time.Date(2026, 12, 4, 22, 30, 0, 0, time.UTC)
	w, ok := sc.Covering(in, 64*time.Hour, sp)
	if !ok || !w.Start.Equal(time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)) || !w.End.Equal(w.Start.Add(64*time.Hour)) {
		t.Fatalf("Covering = %+v, %v", w, ok)
	}
	if _, ok := sc.Covering(time.Date(2026, 12, 4, 20, 59, 0, 0, time.UTC), 64*time.Hour, sp); ok {
		t.Fatal("covered before the window starts in São Paulo")
	}
	if _, ok := sc.Covering(w.End, 64*time.Hour, sp); ok {
		t.Fatal("the end is outside the window")
	}
	if _, ok := sc.Covering(w.End.Add(-time.Second), 64*time.Hour, sp); !ok {
		t.Fatal("a second before the end is inside")
	}
}

func TestCoveringAcrossDST(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	// 2026-03-08: clocks go 02:00 → 03:00 in New York.
	sc := mustParse(t, "0 1 * * *") // 01:00 every day, for 3 h of real time
	w, ok := sc.Covering(time.Date(2026, 3, 8, 3, 30, 0, 0, ny), 3*time.Hour, ny)
	if !ok {
		t.Fatal("not covered on the DST day")
	}
	if got := w.End.In(ny); got.Hour() != 5 || got.Minute() != 0 {
		t.Fatalf("the window ends at %s: 3 h of real time after 01:00 EST is 05:00 EDT", got)
	}
	// A start in the skipped hour does not happen that day.
	skipped := mustParse(t, "30 2 * * *")
	if _, ok := skipped.Covering(time.Date(2026, 3, 8, 3, 10, 0, 0, ny), time.Hour, ny); ok {
		t.Fatal("02:30 does not exist on 2026-03-08 in New York")
	}
	if _, ok := skipped.Covering(time.Date(2026, 3, 9, 3, 10, 0, 0, ny), time.Hour, ny); !ok {
		t.Fatal("02:30 exists the next day")
	}
	// Fall back (2026-11-01, 02:00 EDT → 01:00 EST): 01:30 happens twice;
	// the later one covers 02:15 EST.
	twice := mustParse(t, "30 1 * * *")
	at := time.Date(2026, 11, 1, 6, 45, 0, 0, time.UTC) // 01:45 EST, the second 01:45
	w, ok = twice.Covering(at, 30*time.Minute, ny)
	if !ok || !w.Start.Equal(time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC)) {
		t.Fatalf("Covering = %+v, %v: want the second 01:30 (06:30 UTC)", w, ok)
	}
}

func TestNext(t *testing.T) {
	sc := mustParse(t, "0 9 * * mon")
	got, ok := sc.Next(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), 8*24*time.Hour, time.UTC)
	if !ok || !got.Equal(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("Next = %s, %v", got, ok)
	}
	if _, ok := sc.Next(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), 24*time.Hour, time.UTC); ok {
		t.Fatal("found a start beyond the horizon")
	}
}
