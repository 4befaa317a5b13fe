package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseWeekly(t *testing.T) {
	good := map[string]Weekly{
		"Mon 09:00":      {time.Monday, 9, 0},
		"monday 9:00":    {time.Monday, 9, 0},
		"FRI 17:30":      {time.Friday, 17, 30},
		"  sun   00:00 ": {time.Sunday, 0, 0},
		"Saturday 23:59": {time.Saturday, 23, 59},
	}
	for s, want := range good {
		got, err := ParseWeekly(s)
		if err != nil || got != want {
			t.Errorf("ParseWeekly(%q) = %+v, %v; want %+v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "Mon", "09:00", "Mon 9", "Mon 24:00", "Mon 09:60", "Mon 09:5", "Mon 009:00", "Mond 09:00", "Moonday 09:00", "Mon 09:00 UTC", "Mon -1:00", "Seg 09:00"} {
		if _, err := ParseWeekly(s); err == nil || !strings.Contains(err.Error(), `such as "Mon 09:00"`) {
			t.Errorf("ParseWeekly(%q) = %v, want a refusal naming the form", s, err)
		}
	}
	if got := (Weekly{time.Monday, 9, 5}).String(); got != "Mon 09:05" {
		t.Errorf("String = %q", got)
	}
}

func TestWeeklyNext(t *testing.T) {
	w := Weekly{time.Monday, 9, 0}
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := map[string]string{
		"2026-02-18T10:00:00Z": "2026-02-23T09:00:00Z", // a Wednesday
		"2026-02-23T08:59:59Z": "2026-02-23T09:00:00Z",
		"2026-02-23T09:00:00Z": "2026-03-02T09:00:00Z", // strictly after
		"2026-02-22T23:00:00Z": "2026-02-23T09:00:00Z",
	}
	for from, want := range cases {
		if got := w.Next(at(from), time.UTC); !got.Equal(at(want)) {
			t.Errorf("Next(%s) = %s, want %s", from, got, want)
		}
	}
	if !w.Is(at("2026-02-23T09:00:00Z"), time.UTC) || w.Is(at("2026-02-23T09:00:01Z"), time.UTC) || w.Is(at("2026-02-24T09:00:00Z"), time.UTC) {
		t.Error("Is")
	}
	// In a zone with daylight saving time the local time is kept.
	sp, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	got := w.Next(at("2026-03-06T12:00:00Z"), sp) // DST starts on Sunday 2026-03-08
	if got.In(sp).Hour() != 9 || got.In(sp).Weekday() != time.Monday || !got.Equal(at("2026-03-09T13:00:00Z")) {
		t.Errorf("Next across DST = %s", got)
	}
}

func TestDORADigestAndRefreshAreValidated(t *testing.T) {
	c, err := Parse([]byte("services: [{name: nexo-be}]\ndora: {digest: \"Mon 09:00\"}\n"))
	if err != nil || c.DORA.Digest != "Mon 09:00" || c.DORA.MetricsRefresh.D() != time.Minute {
		t.Fatalf("digest %q refresh %s: %v", c.DORA.Digest, c.DORA.MetricsRefresh, err)
	}
	for yaml, want := range map[string]string{
		"dora: {digest: \"Monday 9am\"}":   `dora.digest: must be a weekday and a 24-hour time such as "Mon 09:00", got "Monday 9am"`,
		"dora: {digest: \"every monday\"}": `dora.digest: must be a weekday`,
		"dora: {metrics_refresh: 5s}":      `dora.metrics_refresh: must be at least 10s`,
	} {
		if _, err := Parse([]byte("services: [{name: nexo-be}]\n" + yaml + "\n")); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want %q, got %v", yaml, want, err)
		}
	}
}
