package dora

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nexo-org/nexo-bot/chat"
	"github.com/nexo-org/nexo-bot/i18n"
)

const rule = "━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━"

// Title is the report's one-line title: "DORA Metrics - nexo-be production
// (Jan 2026)".
func Title(t i18n.T, r Report) string {
	return t.S("dora.title", "Service", r.Service, "Env", r.Env, "Period", PeriodLabel(t, r))
}

// PeriodLabel names the period: "Jan 2026" for one whole calendar month,
// "2026" for a whole year, otherwise "2026-01-05 → 2026-01-18" (last day
// inclusive), in the report's location.
func PeriodLabel(t i18n.T, r Report) string {
	loc := r.location()
	s, u := r.Since.In(loc), r.Until.In(loc)
	midnight := func(t time.Time) bool {
		return t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0
	}
	if midnight(s) && midnight(u) && s.Day() == 1 && u.Day() == 1 {
		if s.AddDate(0, 1, 0).Equal(u) {
			return t.Month(s.Month()) + " " + strconv.Itoa(s.Year())
		}
		if s.Month() == time.January && s.AddDate(1, 0, 0).Equal(u) {
			return s.Format("2006")
		}
	}
	last := r.Until.Add(-time.Nanosecond).In(loc)
	return s.Format("2006-01-02") + " → " + last.Format("2006-01-02")
}

func (r Report) location() *time.Location {
	if r.loc != nil {
		return r.loc
	}
	if loc, err := time.LoadLocation(r.Location); err == nil && r.Location != "" {
		return loc
	}
	return time.UTC
}

// Line values, as RenderText shows them.

// FrequencyText is "2.3 deploys/day" (or "no deployments").
func FrequencyText(t i18n.T, r Report) string {
	if r.NoDeployments {
		return t.S("dora.no_deployments")
	}
	pd := r.DeploymentFrequency.PerDay
	switch {
	case pd >= 0.95:
		return t.S("dora.per_day", "Value", t.Decimal(pd, 1))
	case pd*7 >= 0.95:
		return t.S("dora.per_week", "Value", t.Decimal(pd*7, 1))
	}
	return t.S("dora.per_month", "Value", t.Decimal(pd*30, 1))
}

// LeadTimeText is the median lead time ("45 minutes") or why it is missing.
func LeadTimeText(t i18n.T, r Report) string {
	switch {
	case r.NoDeployments:
		return t.S("dora.no_deployments")
	case r.LeadTime.Samples == 0:
		return t.S("dora.no_commit_data")
	}
	return HumanDuration(t, r.LeadTime.Median)
}

// RestoreText is the median time to restore ("18 minutes") or why it is
// missing.
func RestoreText(t i18n.T, r Report) string {
	x := r.TimeToRestore
	switch {
	case x.Resolved == 0 && x.Unresolved == 0:
		return t.S("dora.no_incidents")
	case x.Resolved == 0:
		return t.N("dora.unresolved", x.Unresolved)
	case x.Unresolved > 0:
		return t.S("dora.restore_unresolved", "Duration", HumanDuration(t, x.Median), "Unresolved", x.Unresolved)
	}
	return HumanDuration(t, x.Median)
}

// FailureText is "3.2%" (or "no deployments").
func FailureText(t i18n.T, r Report) string {
	if r.NoDeployments {
		return t.S("dora.no_deployments")
	}
	return t.Decimal(r.ChangeFailureRate.Rate*100, 1) + "%"
}

// HumanDuration writes a duration the way people say it: "40 seconds",
// "45 minutes", "5.5 hours", "3.2 days" ("5,5 horas" in pt-BR).
func HumanDuration(t i18n.T, d time.Duration) string {
	unit := func(n float64, id string, prec int) string {
		count := 2 // the plural form: one only for exactly 1
		if s := strconv.FormatFloat(n, 'f', prec, 64); s == "1" || s == "1.0" {
			count = 1
		}
		return t.N("dora.unit."+id, count, "Value", t.Decimal(n, prec))
	}
	switch {
	case d < time.Minute:
		return unit(float64(d/time.Second), "seconds", 0)
	case d < 2*time.Hour:
		return unit(float64(d/time.Minute), "minutes", 0)
	case d < 48*time.Hour:
		return unit(d.Hours(), "hours", 1)
	}
	return unit(d.Hours()/24, "days", 1)
}

// Mark is the band's sign: ✅ for Elite and High, ⚠️ for Medium and Low,
// "–" for N/A.
func Mark(b Band) string {
	switch b {
	case Elite, High:
		return "✅"
	case Medium, Low:
		return "⚠️"
	}
	return "–"
}

// OverallText is "🏆 ELITE PERFORMER", "✅ HIGH PERFORMER", …
func OverallText(t i18n.T, b Band) string {
	switch b {
	case Elite:
		return t.S("dora.performer.elite")
	case High:
		return t.S("dora.performer.high")
	case Medium:
		return t.S("dora.performer.medium")
	case Low:
		return t.S("dora.performer.low")
	}
	return t.S("dora.performer.na")
}

// RenderText renders the report in the playbook's terminal layout, for
// the CLI: in English, the layout of the playbook's script.
//
//i18n:verbatim the CLI prints the playbook's terminal report
func RenderText(r Report) string {
	t := i18n.Default().In(i18n.English)
	var b strings.Builder
	b.WriteString(rule + "\n" + Title(t, r) + "\n" + rule + "\n\n")
	line := func(name, value string, band Band) {
		fmt.Fprintf(&b, "%-25s%-19s%s %s\n", name+":", value, Mark(band), band)
	}
	line("Deployment Frequency", FrequencyText(t, r), r.DeploymentFrequency.Band)
	line("Lead Time for Changes", LeadTimeText(t, r), r.LeadTime.Band)
	line("Time to Restore Service", RestoreText(t, r), r.TimeToRestore.Band)
	line("Change Failure Rate", FailureText(t, r), r.ChangeFailureRate.Band)
	fmt.Fprintf(&b, "\n%-25s%s\n", "Overall Performance:", OverallText(t, r.Overall))
	if r.NoDeployments {
		b.WriteString("\nNo deployments to " + r.Env + " in this period.\n")
		return b.String()
	}
	fmt.Fprintf(&b, "\n%s on %s · %d failed (%d superseded, %d rolled back, %d hotfixed, %d with incidents) · bands %s\n",
		t.N("dora.deployments", r.ChangeFailureRate.Deployments), t.N("dora.days", r.DeploymentFrequency.DeployDays), r.ChangeFailureRate.Failed,
		r.ChangeFailureRate.Superseded, r.ChangeFailureRate.RolledBack, r.ChangeFailureRate.Hotfixed, r.ChangeFailureRate.Incidents, r.Bands)
	if len(r.Fastest) > 0 {
		fmt.Fprintf(&b, "\nTop %d Fastest Deploys:\n", len(r.Fastest))
		names := make([]string, len(r.Fastest))
		width := 0
		for i, f := range r.Fastest {
			names[i] = f.Tag
			if r.Service == "all" {
				names[i] = f.Service + " " + names[i]
			}
			width = max(width, len([]rune(names[i])))
		}
		for i, f := range r.Fastest {
			fmt.Fprintf(&b, "%d. %-*s  (commit → prod: %s)\n", i+1, width, names[i], HumanDuration(t, f.LeadTime))
		}
	}
	return b.String()
}

// jsonReport is the stable JSON shape: durations in seconds.
type jsonReport struct {
	Service       string     `json:"service"`
	Env           string     `json:"env"`
	Since         string     `json:"since"`
	Until         string     `json:"until"`
	Location      string     `json:"location"`
	Bands         string     `json:"bands"`
	Period        string     `json:"period"`
	NoDeployments bool       `json:"no_deployments"`
	Overall       Band       `json:"overall"`
	Frequency     jsonDF     `json:"deployment_frequency"`
	LeadTime      jsonLT     `json:"lead_time"`
	Restore       jsonTTR    `json:"time_to_restore"`
	Failure       jsonCFR    `json:"change_failure_rate"`
	Fastest       []jsonFast `json:"fastest"`
	Weeks         []jsonWeek `json:"weeks"`
}

type jsonDF struct {
	Deployments        int     `json:"deployments"`
	PerDay             float64 `json:"per_day"`
	DeployDays         int     `json:"deploy_days"`
	MedianDaysPerWeek  int     `json:"median_deploy_days_per_week"`
	MedianDaysPerMonth int     `json:"median_deploy_days_per_month"`
	Band               Band    `json:"band"`
}

type jsonLT struct {
	MedianSeconds float64 `json:"median_seconds"`
	Samples       int     `json:"samples"`
	Band          Band    `json:"band"`
}

type jsonTTR struct {
	MedianSeconds float64 `json:"median_seconds"`
	Resolved      int     `json:"resolved"`
	Unresolved    int     `json:"unresolved"`
	Band          Band    `json:"band"`
}

type jsonCFR struct {
	Rate        float64 `json:"rate"`
	Failed      int     `json:"failed"`
	Deployments int     `json:"deployments"`
	Superseded  int     `json:"superseded"`
	RolledBack  int     `json:"rolled_back"`
	Hotfixed    int     `json:"hotfixed"`
	Incidents   int     `json:"incidents"`
	Band        Band    `json:"band"`
}

type jsonFast struct {
	ID              string  `json:"id"`
	Service         string  `json:"service"`
	Tag             string  `json:"tag"`
	DeployedAt      string  `json:"deployed_at"`
	LeadTimeSeconds float64 `json:"lead_time_seconds"`
}

type jsonWeek struct {
	Start                 string  `json:"start"`
	Deployments           int     `json:"deployments"`
	DeployDays            int     `json:"deploy_days"`
	MedianLeadTimeSeconds float64 `json:"median_lead_time_seconds"`
	LeadSamples           int     `json:"lead_samples"`
	Whole                 bool    `json:"whole"`
}

// RenderJSON renders the report as indented JSON (durations in seconds,
// times RFC 3339, bands lower-case).
func RenderJSON(r Report) ([]byte, error) {
	j := jsonReport{
		Service: r.Service, Env: r.Env, Since: r.Since.Format(time.RFC3339), Until: r.Until.Format(time.RFC3339),
		Location: r.Location, Bands: r.Bands, Period: PeriodLabel(i18n.Default().In(i18n.English), r), NoDeployments: r.NoDeployments, Overall: r.Overall,
		Frequency: jsonDF{Deployments: r.DeploymentFrequency.Deployments, PerDay: round(r.DeploymentFrequency.PerDay, 3),
			DeployDays: r.DeploymentFrequency.DeployDays, MedianDaysPerWeek: r.DeploymentFrequency.MedianDaysPerWeek,
			MedianDaysPerMonth: r.DeploymentFrequency.MedianDaysPerMonth, Band: r.DeploymentFrequency.Band},
		LeadTime: jsonLT{MedianSeconds: r.LeadTime.Median.Seconds(), Samples: r.LeadTime.Samples, Band: r.LeadTime.Band},
		Restore: jsonTTR{MedianSeconds: r.TimeToRestore.Median.Seconds(), Resolved: r.TimeToRestore.Resolved,
			Unresolved: r.TimeToRestore.Unresolved, Band: r.TimeToRestore.Band},
		Failure: jsonCFR{Rate: round(r.ChangeFailureRate.Rate, 4), Failed: r.ChangeFailureRate.Failed,
			Deployments: r.ChangeFailureRate.Deployments, Superseded: r.ChangeFailureRate.Superseded, RolledBack: r.ChangeFailureRate.RolledBack,
			Hotfixed: r.ChangeFailureRate.Hotfixed, Incidents: r.ChangeFailureRate.Incidents, Band: r.ChangeFailureRate.Band},
		Fastest: []jsonFast{}, Weeks: []jsonWeek{},
	}
	for _, f := range r.Fastest {
		j.Fastest = append(j.Fastest, jsonFast{ID: f.ID, Service: f.Service, Tag: f.Tag,
			DeployedAt: f.DeployedAt.Format(time.RFC3339), LeadTimeSeconds: f.LeadTime.Seconds()})
	}
	for _, w := range r.Weeks {
		j.Weeks = append(j.Weeks, jsonWeek{Start: w.Start.Format("2006-01-02"), Deployments: w.Deployments,
			DeployDays: w.DeployDays, MedianLeadTimeSeconds: w.MedianLeadTime.Seconds(), LeadSamples: w.LeadSamples, Whole: w.Whole})
	}
	return json.MarshalIndent(j, "", "  ")
}

func round(f float64, digits int) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', digits, 64), 64)
	return v
}

// RenderCSV renders one row per metric plus the overall rating:
// service,env,since,until,metric,value,unit,band,samples.
func RenderCSV(r Report) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	since, until := r.Since.Format(time.RFC3339), r.Until.Format(time.RFC3339)
	row := func(metric, value, unit string, band Band, samples int) {
		_ = w.Write([]string{r.Service, r.Env, since, until, metric, value, unit, band.String(), strconv.Itoa(samples)})
	}
	_ = w.Write([]string{"service", "env", "since", "until", "metric", "value", "unit", "band", "samples"})
	f := func(v float64, p int) string { return strconv.FormatFloat(v, 'f', p, 64) }
	empty := func(ok bool, v string) string {
		if !ok {
			return ""
		}
		return v
	}
	row("deployment_frequency", empty(!r.NoDeployments, f(r.DeploymentFrequency.PerDay, 3)), "deploys_per_day",
		r.DeploymentFrequency.Band, r.DeploymentFrequency.Deployments)
	row("median_deploy_days_per_week", empty(!r.NoDeployments, strconv.Itoa(r.DeploymentFrequency.MedianDaysPerWeek)), "days",
		r.DeploymentFrequency.Band, len(r.Weeks))
	row("lead_time_for_changes", empty(r.LeadTime.Samples > 0, f(r.LeadTime.Median.Seconds(), 0)), "seconds",
		r.LeadTime.Band, r.LeadTime.Samples)
	row("time_to_restore_service", empty(r.TimeToRestore.Resolved > 0, f(r.TimeToRestore.Median.Seconds(), 0)), "seconds",
		r.TimeToRestore.Band, r.TimeToRestore.Resolved)
	row("change_failure_rate", empty(!r.NoDeployments, f(r.ChangeFailureRate.Rate*100, 2)), "percent",
		r.ChangeFailureRate.Band, r.ChangeFailureRate.Deployments)
	row("overall", "", "", r.Overall, 0)
	w.Flush()
	return buf.Bytes(), w.Error()
}

// Card is the Slack message: a header, the four metrics as fields, the
// overall rating, the fastest deployments and a context line, in t's
// locale.
func Card(t i18n.T, r Report) chat.Message {
	field := func(id, value string, band Band) string {
		return fmt.Sprintf("*%s*\n%s  %s %s", t.S("dora.metric."+id), value, Mark(band), band)
	}
	title := Title(t, r)
	overall := OverallText(t, r.Overall)
	m := chat.Message{
		Text: title + ": " + overall,
		Blocks: []chat.Block{
			{Header: title},
			{Section: &chat.Section{Fields: []string{
				field("frequency", FrequencyText(t, r), r.DeploymentFrequency.Band),
				field("lead_time", LeadTimeText(t, r), r.LeadTime.Band),
				field("restore", RestoreText(t, r), r.TimeToRestore.Band),
				field("failure_rate", FailureText(t, r), r.ChangeFailureRate.Band),
			}}},
			{Section: &chat.Section{Text: t.S("dora.overall", "Overall", overall)}},
		},
	}
	if r.NoDeployments {
		m.Blocks = append(m.Blocks, chat.Block{Section: &chat.Section{Text: t.S("dora.no_deployments_to", "Env", r.Env)}})
	} else if len(r.Fastest) > 0 {
		lines := []string{t.S("dora.fastest", "Count", len(r.Fastest))}
		for i, f := range r.Fastest {
			name := "`" + f.Tag + "`"
			if r.Service == "all" {
				name = f.Service + " " + name
			}
			lines = append(lines, t.S("dora.fastest_line", "N", i+1, "Name", name, "LeadTime", HumanDuration(t, f.LeadTime)))
		}
		m.Blocks = append(m.Blocks, chat.Block{Section: &chat.Section{Text: strings.Join(lines, "\n")}})
	}
	m.Blocks = append(m.Blocks, chat.Block{Context: []string{
		t.S("dora.summary_line", "Deployments", t.N("dora.deployments", r.ChangeFailureRate.Deployments),
			"Days", t.N("dora.days", r.DeploymentFrequency.DeployDays), "Failed", r.ChangeFailureRate.Failed,
			"Resolved", t.N("dora.incidents", r.TimeToRestore.Resolved)),
		t.S("dora.bands_line", "Bands", r.Bands, "Zone", r.Location),
	}})
	return m
}
