package dora

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"image"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands/records"
	"github.com/nexo-org/nexo-bot/i18n"
)

// eliteMonth is a January in which nexo-be deploys 2-3 times every weekday
// with short lead times, one incident restored in 18 minutes and one
// failure in 50 deployments.
func eliteMonth() Input {
	var deps []records.Deployment
	n := 0
	for d := 1; d <= 31; d++ {
		day := time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC)
		if day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
			continue
		}
		per := 2 + d%2
		for k := 0; k < per; k++ {
			n++
			when := day.Add(time.Duration(10+3*k) * time.Hour)
			lead := time.Duration(20+(n*7)%90) * time.Minute
			dep := deploy("", when.Format(time.RFC3339), lead)
			dep.ID = "wf-" + when.Format("0102-15")
			dep.Tag = when.Format("2006.01.02") + map[int]string{0: "", 1: "-b", 2: "-c"}[k]
			deps = append(deps, dep)
		}
	}
	return Input{
		Service: "nexo-be", Since: at("2026-01-01T00:00:00Z"), Until: at("2026-02-01T00:00:00Z"),
		Deployments: deps,
		Incidents:   []records.Incident{incident("inc-1", "2026-01-20T14:00:00Z", 18*time.Minute)},
	}
}

func TestRenderTextPlaybookLayout(t *testing.T) {
	r := mustCompute(t, eliteMonth())
	text := RenderText(r)
	for _, want := range []string{
		rule + "\nDORA Metrics - nexo-be production (Jan 2026)\n" + rule + "\n",
		"Deployment Frequency:    " + FrequencyText(en, r),
		"Time to Restore Service: 18 minutes",
		"✅ Elite",
		"Overall Performance:     🏆 ELITE PERFORMER",
		"Top 5 Fastest Deploys:\n1. 2026.",
		"1. 2026.01.07-c  (commit → prod: 21 minutes)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	// 22 weekdays × 2-3 deployments; 1 incident → 1 of them failed.
	if r.DeploymentFrequency.Band != Elite || r.ChangeFailureRate.Failed != 1 || r.Overall != Elite {
		t.Errorf("report = %+v", r)
	}
	if got := strings.Count(text, "\n"); got < 15 {
		t.Errorf("text has %d lines:\n%s", got, text)
	}
}

func TestHumanDuration(t *testing.T) {
	cases := map[time.Duration]string{
		40 * time.Second:             "40 seconds",
		time.Minute:                  "1 minute",
		45 * time.Minute:             "45 minutes",
		119 * time.Minute:            "119 minutes",
		5*time.Hour + 30*time.Minute: "5.5 hours",
		3*24*time.Hour + 4*time.Hour + 48*time.Minute: "3.2 days",
	}
	for d, want := range cases {
		if got := HumanDuration(en, d); got != want {
			t.Errorf("HumanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestPeriodLabel(t *testing.T) {
	cases := []struct{ since, until, want string }{
		{"2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "Jan 2026"},
		{"2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z", "2026"},
		{"2026-01-05T00:00:00Z", "2026-01-19T00:00:00Z", "2026-01-05 → 2026-01-18"},
	}
	for _, c := range cases {
		r := Report{Since: at(c.since), Until: at(c.until), Location: "UTC"}
		if got := PeriodLabel(en, r); got != c.want {
			t.Errorf("PeriodLabel(%s, %s) = %q, want %q", c.since, c.until, got, c.want)
		}
	}
}

func TestRenderJSONAndCSV(t *testing.T) {
	r := mustCompute(t, fixture())
	js, err := RenderJSON(r)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Service  string `json:"service"`
		Overall  string `json:"overall"`
		LeadTime struct {
			MedianSeconds float64 `json:"median_seconds"`
			Band          string  `json:"band"`
		} `json:"lead_time"`
		Failure struct {
			Rate   float64 `json:"rate"`
			Failed int     `json:"failed"`
		} `json:"change_failure_rate"`
		Fastest []struct {
			Tag             string  `json:"tag"`
			LeadTimeSeconds float64 `json:"lead_time_seconds"`
		} `json:"fastest"`
		Weeks []struct {
			Start       string `json:"start"`
			Deployments int    `json:"deployments"`
		} `json:"weeks"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	if doc.Service != "nexo-be" || doc.Overall != "high" || doc.LeadTime.MedianSeconds != 1800 || doc.LeadTime.Band != "elite" ||
		doc.Failure.Failed != 4 || doc.Failure.Rate != 0.4444 || len(doc.Fastest) != 5 || doc.Fastest[0].LeadTimeSeconds != 600 ||
		len(doc.Weeks) != 2 || doc.Weeks[1].Start != "2026-01-12" || doc.Weeks[0].Deployments != 6 {
		t.Errorf("json = %s", js)
	}

	c, err := RenderCSV(r)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(c)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 7 || strings.Join(rows[0], ",") != "service,env,since,until,metric,value,unit,band,samples" {
		t.Fatalf("csv = %q", rows)
	}
	byMetric := map[string][]string{}
	for _, row := range rows[1:] {
		byMetric[row[4]] = row
	}
	if row := byMetric["lead_time_for_changes"]; row[5] != "1800" || row[7] != "Elite" || row[8] != "8" {
		t.Errorf("lead row = %q", row)
	}
	if row := byMetric["change_failure_rate"]; row[5] != "44.44" || row[7] != "Low" {
		t.Errorf("cfr row = %q", row)
	}
	if row := byMetric["time_to_restore_service"]; row[5] != "2400" || row[8] != "3" {
		t.Errorf("restore row = %q", row)
	}

	// Empty period: values are blank, not zero or NaN.
	in := fixture()
	in.Since, in.Until = at("2026-03-01T00:00:00Z"), at("2026-04-01T00:00:00Z")
	c, _ = RenderCSV(mustCompute(t, in))
	if !strings.Contains(string(c), "deployment_frequency,,deploys_per_day,N/A,0") || strings.Contains(string(c), "NaN") {
		t.Errorf("empty csv = %s", c)
	}
}

func TestCard(t *testing.T) {
	r := mustCompute(t, fixture())
	m := Card(en, r)
	if len(m.Blocks) < 4 || m.Blocks[0].Header != "DORA Metrics - nexo-be production (2026-01-05 → 2026-01-18)" {
		t.Fatalf("card = %+v", m)
	}
	f := m.Blocks[1].Section.Fields
	if len(f) != 4 || !strings.Contains(f[0], "*Deployment frequency*") || !strings.Contains(f[3], "44.4%  ⚠️ Low") {
		t.Errorf("fields = %q", f)
	}
	plain := m.PlainText()
	for _, want := range []string{"✅ HIGH PERFORMER", "1. `2026.01.d7`  commit → prod: 10 minutes", "DORA 2023 bands · UTC"} {
		if !strings.Contains(plain, want) {
			t.Errorf("card lacks %q:\n%s", want, plain)
		}
	}
	if len(m.Blocks[len(m.Blocks)-1].Context) == 0 {
		t.Error("card has no context line")
	}
}

// The card speaks the channel's language: Portuguese words, plurals and
// the decimal comma; the DORA band names stay DORA's.
func TestCardInPortuguese(t *testing.T) {
	r := mustCompute(t, fixture())
	plain := Card(i18n.Default().In(i18n.Portuguese), r).PlainText()
	for _, want := range []string{"Métricas DORA - nexo-be production (2026-01-05 → 2026-01-18)", "*Frequência de deploy*",
		"44,4%  ⚠️ Low", "✅ DESEMPENHO ALTO", "commit → prod: 10 minutos", "Faixas DORA 2023 · UTC"} {
		if !strings.Contains(plain, want) {
			t.Errorf("card lacks %q:\n%s", want, plain)
		}
	}
	if got := HumanDuration(i18n.Default().In(i18n.Portuguese), 90*time.Minute+30*time.Second); got != "90 minutos" {
		t.Errorf("90m30s = %q", got)
	}
	if got := HumanDuration(i18n.Default().In(i18n.Portuguese), 5*time.Hour+30*time.Minute); got != "5,5 horas" {
		t.Errorf("5h30m = %q", got)
	}
}

func TestChartPNG(t *testing.T) {
	r := mustCompute(t, eliteMonth())
	b, err := ChartPNG(en, r)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds() != image.Rect(0, 0, chartW, chartH) {
		t.Fatalf("bounds = %v", img.Bounds())
	}
	// One bar per week: count bar-coloured columns crossing a line just
	// above the x axis, grouped into runs.
	// Jan 2026 touches 5 ISO weeks; the first (Dec 29 – Jan 4) and the
	// last (Jan 26 – Feb 1) are cut by the period and drawn lighter.
	if whole, partial := colourRuns(img, plotB-2, colBar), colourRuns(img, plotB-2, colBarPartial); whole != 3 || partial != 2 || len(r.Weeks) != 5 {
		t.Errorf("bars = %d whole + %d partial, weeks %d; want 3 + 2, 5", whole, partial, len(r.Weeks))
	}
	// The tallest week reaches the top tick area, the lead line is drawn.
	if count(img, colLine) < 200 {
		t.Error("no lead time line")
	}
	// No deployments: no bars, a message instead.
	in := eliteMonth()
	in.Deployments = nil
	b, err = ChartPNG(en, mustCompute(t, in))
	if err != nil {
		t.Fatal(err)
	}
	img, _ = png.Decode(bytes.NewReader(b))
	if colourRuns(img, plotB-2, colBar)+colourRuns(img, plotB-2, colBarPartial) != 0 {
		t.Error("bars drawn for an empty period")
	}
}

func colourRuns(img image.Image, y int, c interface{ RGBA() (r, g, b, a uint32) }) int {
	runs, in := 0, false
	for x := plotL; x <= plotR; x++ {
		same := sameColour(img.At(x, y), c)
		if same && !in {
			runs++
		}
		in = same
	}
	return runs
}

func count(img image.Image, c interface{ RGBA() (r, g, b, a uint32) }) int {
	n := 0
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			if sameColour(img.At(x, y), c) {
				n++
			}
		}
	}
	return n
}

func sameColour(a, b interface{ RGBA() (r, g, b, a uint32) }) bool {
	r1, g1, b1, _ := a.RGBA()
	r2, g2, b2, _ := b.RGBA()
	return r1 == r2 && g1 == g2 && b1 == b2
}
