package dora

import (
	"fmt"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands/records"
)

const ns = time.Nanosecond

func TestDurationBandEdges(t *testing.T) {
	h, d := time.Hour, 24*time.Hour
	cases := []struct {
		table, metric string
		v             time.Duration
		want          Band
	}{
		// 2023 lead time: < 1 day Elite, < 1 week High, < 30 days Medium.
		{"2023", "lead", d - ns, Elite}, {"2023", "lead", d, High},
		{"2023", "lead", 7*d - ns, High}, {"2023", "lead", 7 * d, Medium},
		{"2023", "lead", 30*d - ns, Medium}, {"2023", "lead", 30 * d, Low},
		// 2021 lead time: < 1 hour, < 1 week, < 180 days.
		{"2021", "lead", h - ns, Elite}, {"2021", "lead", h, High},
		{"2021", "lead", 7*d - ns, High}, {"2021", "lead", 7 * d, Medium},
		{"2021", "lead", 180*d - ns, Medium}, {"2021", "lead", 180 * d, Low},
		// 2024 lead time: as 2023.
		{"2024", "lead", d - ns, Elite}, {"2024", "lead", d, High},
		{"2024", "lead", 7 * d, Medium}, {"2024", "lead", 30 * d, Low},
		// Restore 2023 and 2021: < 1 hour, < 1 day, < 1 week.
		{"2023", "restore", h - ns, Elite}, {"2023", "restore", h, High},
		{"2023", "restore", d - ns, High}, {"2023", "restore", d, Medium},
		{"2023", "restore", 7*d - ns, Medium}, {"2023", "restore", 7 * d, Low},
		{"2021", "restore", h, High}, {"2021", "restore", d, Medium}, {"2021", "restore", 7 * d, Low},
		// Restore 2024: Medium shares High's "< 1 day", so a day is Low.
		{"2024", "restore", h - ns, Elite}, {"2024", "restore", h, High},
		{"2024", "restore", d - ns, High}, {"2024", "restore", d, Low},
	}
	for _, c := range cases {
		tb := Tables[c.table]
		got := tb.LeadTimeBand(c.v)
		if c.metric == "restore" {
			got = tb.RestoreBand(c.v)
		}
		if got != c.want {
			t.Errorf("%s %s %v = %s, want %s", c.table, c.metric, c.v, got, c.want)
		}
	}
}

func TestFailureBandEdges(t *testing.T) {
	cases := []struct {
		table         string
		failed, total int
		want          Band
	}{
		{"2023", 0, 20, Elite}, {"2023", 1, 20, Elite}, {"2023", 51, 1000, High},
		{"2023", 2, 20, High}, {"2023", 101, 1000, Medium},
		{"2023", 3, 20, Medium}, {"2023", 151, 1000, Low},
		{"2021", 3, 20, Elite}, {"2021", 151, 1000, High},
		{"2021", 4, 20, High}, {"2021", 201, 1000, Medium},
		{"2021", 6, 20, Medium}, {"2021", 301, 1000, Low},
		{"2024", 1, 20, Elite}, {"2024", 51, 1000, High},
		{"2024", 4, 20, High}, {"2024", 201, 1000, Low},
		// Thirds are not exactly representable: 1/3 > 30 % stays Low.
		{"2021", 1, 3, Low},
		{"2023", 0, 0, NA},
	}
	for _, c := range cases {
		if got := Tables[c.table].FailureBand(c.failed, c.total); got != c.want {
			t.Errorf("%s %d/%d = %s, want %s", c.table, c.failed, c.total, got, c.want)
		}
	}
}

func TestDeployFrequencyBandEdges(t *testing.T) {
	cases := []struct {
		table       string
		week, month int
		six         float64
		want        Band
	}{
		{"2023", 5, 20, 100, Elite}, {"2023", 4, 20, 100, High},
		{"2023", 1, 4, 20, High}, {"2023", 0, 1, 6, Medium},
		{"2023", 0, 0, 5, Low},
		{"2024", 5, 20, 100, Elite}, {"2024", 4, 20, 100, High}, {"2024", 1, 4, 20, High},
		{"2024", 0, 1, 6, Medium}, {"2024", 0, 0, 5, Low},
		// 2021: High is a deploy day in the median month, Medium one in six months.
		{"2021", 5, 20, 100, Elite}, {"2021", 4, 20, 100, High},
		{"2021", 0, 1, 6, High}, {"2021", 0, 0, 1, Medium}, {"2021", 0, 0, 0.99, Low},
	}
	for _, c := range cases {
		if got := Tables[c.table].DeployFrequencyBand(c.week, c.month, c.six); got != c.want {
			t.Errorf("%s week=%d month=%d six=%v = %s, want %s", c.table, c.week, c.month, c.six, got, c.want)
		}
	}
}

// TestBandEdgesThroughCompute drives the thresholds end to end.
func TestBandEdgesThroughCompute(t *testing.T) {
	week := func(days int, perDay int) []records.Deployment {
		var out []records.Deployment
		for d := 0; d < days; d++ {
			for k := 0; k < perDay; k++ {
				when := at("2026-01-05T09:00:00Z").AddDate(0, 0, d).Add(time.Duration(k) * time.Minute)
				out = append(out, deploy(fmt.Sprintf("w%d-%d", d, k), when.Format(time.RFC3339), time.Hour))
			}
		}
		return out
	}
	in := Input{Service: "nexo-be", Since: at("2026-01-05T00:00:00Z"), Until: at("2026-01-12T00:00:00Z")}

	// Exactly 5 deploy days in the only week: Elite; 4: High.
	in.Deployments = week(5, 4) // 20 deployments
	if b := mustCompute(t, in).DeploymentFrequency.Band; b != Elite {
		t.Errorf("5 deploy days: %s, want Elite", b)
	}
	in.Deployments = week(4, 5)
	if b := mustCompute(t, in).DeploymentFrequency.Band; b != High {
		t.Errorf("4 deploy days: %s, want High", b)
	}

	// 1 failure in 20 deployments is exactly 5 %: Elite in 2023, Elite in
	// 2021; 2 in 20 is 10 %: High in 2023, Elite in 2021.
	in.Deployments = week(5, 4)
	in.Deployments[0].RolledBackBy = "rb"
	for bands, want := range map[string]Band{"2023": Elite, "2021": Elite, "2024": Elite} {
		in.Bands = bands
		if b := mustCompute(t, in).ChangeFailureRate.Band; b != want {
			t.Errorf("%s 1/20: %s, want %s", bands, b, want)
		}
	}
	in.Deployments[1].RolledBackBy = "rb"
	for bands, want := range map[string]Band{"2023": High, "2021": Elite, "2024": High} {
		in.Bands = bands
		if b := mustCompute(t, in).ChangeFailureRate.Band; b != want {
			t.Errorf("%s 2/20: %s, want %s", bands, b, want)
		}
	}

	// A lead time of exactly one hour: High in 2021, Elite in 2023.
	in.Deployments = week(1, 1)
	for bands, want := range map[string]Band{"2023": Elite, "2021": High} {
		in.Bands = bands
		if b := mustCompute(t, in).LeadTime.Band; b != want {
			t.Errorf("%s lead 1h: %s, want %s", bands, b, want)
		}
	}

	// A restore of exactly one hour: High in every table.
	in.Incidents = []records.Incident{incident("i", "2026-01-06T10:00:00Z", time.Hour)}
	for _, bands := range []string{"2021", "2023", "2024"} {
		in.Bands = bands
		if b := mustCompute(t, in).TimeToRestore.Band; b != High {
			t.Errorf("%s restore 1h: %s, want High", bands, b)
		}
	}
}

func TestOverallBand(t *testing.T) {
	cases := []struct {
		in   []Band
		want Band
	}{
		{[]Band{Elite, Elite, Elite, Elite}, Elite},
		{[]Band{Elite, Elite, Elite, Low}, Elite}, // sorted L E E E: second worst
		{[]Band{Elite, High, Elite, Low}, High},
		{[]Band{Elite, Low, Medium, Low}, Low},
		{[]Band{Elite, NA, NA, Low}, Low}, // tie → lower
		{[]Band{High, NA, Medium, NA}, Medium},
		{[]Band{High, Elite, Medium, NA}, High}, // three: the middle one
		{[]Band{NA, NA, NA, NA}, NA},
	}
	for _, c := range cases {
		if got := overallBand(c.in...); got != c.want {
			t.Errorf("overall%v = %s, want %s", c.in, got, c.want)
		}
	}
}
