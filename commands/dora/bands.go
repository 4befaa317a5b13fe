package dora

import (
	"fmt"
	"time"
)

// Band is a DORA performance level. The zero value is NA (not measured).
type Band int

// Bands, worst to best.
const (
	NA Band = iota
	Low
	Medium
	High
	Elite
)

// String is the band's display name ("Elite", "N/A").
func (b Band) String() string {
	switch b {
	case Low:
		return "Low"
	case Medium:
		return "Medium"
	case High:
		return "High"
	case Elite:
		return "Elite"
	}
	return "N/A"
}

// MarshalText writes the band as lower-case text ("elite", "na").
func (b Band) MarshalText() ([]byte, error) {
	switch b {
	case NA:
		return []byte("na"), nil
	case Low, Medium, High, Elite:
		return []byte(map[Band]string{Low: "low", Medium: "medium", High: "high", Elite: "elite"}[b]), nil
	}
	return nil, fmt.Errorf("dora: invalid band %d", int(b))
}

// UnmarshalText reads what MarshalText writes (a report read back from the
// bot's API).
func (b *Band) UnmarshalText(text []byte) error {
	for _, c := range []Band{NA, Low, Medium, High, Elite} {
		if m, _ := c.MarshalText(); string(m) == string(text) {
			*b = c
			return nil
		}
	}
	return fmt.Errorf("dora: unknown band %q", text)
}

const (
	hour  = time.Hour
	day   = 24 * time.Hour
	week  = 7 * day
	month = 30 * day
)

// Table is one year's benchmark thresholds. Exact-threshold behaviour:
// deployment frequency counts are "at least" (≥), durations are "strictly
// less than" (<), change failure rates are "at most" (≤). A later threshold
// equal to the one before it makes that band unreachable for the metric
// (the 2024 clusters, see docs/dora.md).
type Table struct {
	Name string
	// Deployment frequency. A team is Elite when its median number of
	// deployment days per ISO week is ≥ EliteDaysPerWeek; High when the
	// median per week is ≥ HighDaysPerWeek (if > 0) or, when
	// HighDaysPerWeek is 0, the median per calendar month is
	// ≥ HighDaysPerMonth; Medium when the median per month is
	// ≥ MediumDaysPerMonth (if > 0) or else the deployment days per six
	// months are ≥ MediumDaysPerSixMonths; Low otherwise.
	EliteDaysPerWeek       int
	HighDaysPerWeek        int
	HighDaysPerMonth       int
	MediumDaysPerMonth     int
	MediumDaysPerSixMonths int
	// LeadTime and Restore are the Elite, High and Medium upper bounds
	// (exclusive); anything at or above the last is Low.
	LeadTime [3]time.Duration
	Restore  [3]time.Duration
	// FailurePermille are the Elite, High and Medium upper bounds of the
	// change failure rate in thousandths (inclusive); above the last is Low.
	FailurePermille [3]int
}

// eliteDaysPerWeek is nexo's "on demand": a deployment on every working day
// of the median week. DevLake uses 7 (every calendar day); see docs/dora.md.
const eliteDaysPerWeek = 5

// Tables are the benchmark tables by name.
var Tables = map[string]Table{
	"2021": {
		Name:                   "2021",
		EliteDaysPerWeek:       eliteDaysPerWeek,
		HighDaysPerMonth:       1,
		MediumDaysPerSixMonths: 1,
		LeadTime:               [3]time.Duration{hour, week, 180 * day},
		Restore:                [3]time.Duration{hour, day, week},
		FailurePermille:        [3]int{150, 200, 300},
	},
	"2023": {
		Name:               "2023",
		EliteDaysPerWeek:   eliteDaysPerWeek,
		HighDaysPerWeek:    1,
		MediumDaysPerMonth: 1,
		LeadTime:           [3]time.Duration{day, week, month},
		Restore:            [3]time.Duration{hour, day, week},
		FailurePermille:    [3]int{50, 100, 150},
	},
	"2024": {
		Name:               "2024",
		EliteDaysPerWeek:   eliteDaysPerWeek,
		HighDaysPerWeek:    1,
		MediumDaysPerMonth: 1,
		LeadTime:           [3]time.Duration{day, week, month},
		// The 2024 Medium cluster recovers as fast as High (< 1 day) and
		// fails less often (10 % against 20 %): a team gets the best
		// cluster whose reported value it matches, so Medium is never
		// reached through these two metrics alone.
		Restore:         [3]time.Duration{hour, day, day},
		FailurePermille: [3]int{50, 200, 200},
	},
}

// DefaultBands is the table used when Input.Bands is empty.
const DefaultBands = "2023"

// DeployFrequencyBand rates deployment frequency from the median deployment
// days per week and per month and the deployment days per six months.
func (t Table) DeployFrequencyBand(medianPerWeek, medianPerMonth int, perSixMonths float64) Band {
	switch {
	case medianPerWeek >= t.EliteDaysPerWeek:
		return Elite
	case t.HighDaysPerWeek > 0 && medianPerWeek >= t.HighDaysPerWeek:
		return High
	case t.HighDaysPerWeek == 0 && medianPerMonth >= t.HighDaysPerMonth:
		return High
	case t.MediumDaysPerMonth > 0 && medianPerMonth >= t.MediumDaysPerMonth:
		return Medium
	case t.MediumDaysPerMonth == 0 && perSixMonths >= float64(t.MediumDaysPerSixMonths):
		return Medium
	}
	return Low
}

// LeadTimeBand rates a median lead time for changes.
func (t Table) LeadTimeBand(d time.Duration) Band { return durationBand(t.LeadTime, d) }

// RestoreBand rates a median time to restore service.
func (t Table) RestoreBand(d time.Duration) Band { return durationBand(t.Restore, d) }

func durationBand(b [3]time.Duration, d time.Duration) Band {
	switch {
	case d < b[0]:
		return Elite
	case d < b[1]:
		return High
	case d < b[2]:
		return Medium
	}
	return Low
}

// FailureBand rates failed out of total deployments, exactly (no floating
// point at the thresholds): 1 failure in 20 deployments is 5 % and Elite in
// the 2023 table.
func (t Table) FailureBand(failed, total int) Band {
	if total <= 0 {
		return NA
	}
	f := int64(failed) * 1000
	n := int64(total)
	switch {
	case f <= int64(t.FailurePermille[0])*n:
		return Elite
	case f <= int64(t.FailurePermille[1])*n:
		return High
	case f <= int64(t.FailurePermille[2])*n:
		return Medium
	}
	return Low
}

// overallBand is the median of the rated bands, ties to the lower one (for
// four bands: the second worst). NA bands are ignored; all NA gives NA.
func overallBand(bands ...Band) Band {
	var rated []Band
	for _, b := range bands {
		if b != NA {
			rated = append(rated, b)
		}
	}
	if len(rated) == 0 {
		return NA
	}
	for i := 1; i < len(rated); i++ { // insertion sort, at most 4
		for j := i; j > 0 && rated[j] < rated[j-1]; j-- {
			rated[j], rated[j-1] = rated[j-1], rated[j]
		}
	}
	return rated[(len(rated)-1)/2]
}
