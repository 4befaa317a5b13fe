package dorametrics

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands/dora"
)

// dashboardPath is the Grafana dashboard of the DORA gauges.
const dashboardPath = "../../deploy/grafana/nexo-dora.json"

type panel struct {
	ID          int    `json:"id"`
	Type        string `json:"type"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Datasource  *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	FieldConfig struct {
		Defaults struct {
			Thresholds struct {
				Steps []struct {
					Color string   `json:"color"`
					Value *float64 `json:"value"`
				} `json:"steps"`
			} `json:"thresholds"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
}

type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
			Query      any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

var metricName = regexp.MustCompile(`\bnexo_[a-z0-9_]+`)

func loadDashboard(t *testing.T) (dashboard, []byte) {
	t.Helper()
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s does not parse: %v", dashboardPath, err)
	}
	return d, raw
}

// Every metric the dashboard names is one nexo exports, so the two cannot
// drift apart; every figure has a panel; every panel reads the chosen
// Prometheus.
func TestDashboardQueriesOnlyExportedMetrics(t *testing.T) {
	d, raw := loadDashboard(t)
	if d.UID != "nexo-dora" || d.SchemaVersion < 41 || len(d.Panels) == 0 {
		t.Fatalf("uid %q, schemaVersion %d, %d panels", d.UID, d.SchemaVersion, len(d.Panels))
	}
	exported := map[string]bool{}
	for _, n := range Names() {
		exported[n] = true
	}
	named := metricName.FindAllString(string(raw), -1)
	if len(named) == 0 {
		t.Fatal("the dashboard names no nexo metric")
	}
	for _, n := range named {
		if !exported[n] {
			t.Errorf("the dashboard queries %s, which nexo does not export (exported: %v)", n, Names())
		}
	}
	queried := map[string]bool{}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || p.Datasource.Type != "prometheus" {
			t.Errorf("panel %q does not read the dashboard's Prometheus variable: %+v", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, n := range metricName.FindAllString(tg.Expr, -1) {
				queried[n] = true
			}
			if strings.Contains(tg.Expr, "nexo_dora_") && !strings.Contains(tg.Expr, "refresh") &&
				(!strings.Contains(tg.Expr, `service=~"$service"`) || !strings.Contains(tg.Expr, `env=~"$env"`)) {
				t.Errorf("panel %q does not filter by the service and env variables: %s", p.Title, tg.Expr)
			}
		}
	}
	for _, n := range Names() {
		if !queried[n] {
			t.Errorf("no panel shows %s", n)
		}
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type + " " + v.Definition
	}
	for _, name := range []string{"datasource", "service", "env"} {
		if _, ok := vars[name]; !ok {
			t.Errorf("no %q variable", name)
		}
	}
	if !strings.Contains(vars["service"], "label_values("+Deployments+", service)") || !strings.Contains(vars["env"], Deployments) {
		t.Errorf("variables: %q", vars)
	}
}

// The thresholds of each metric's panel are the bands' boundaries in the
// default table (commands/dora/bands.go).
func TestDashboardThresholdsAreTheBandBoundaries(t *testing.T) {
	d, _ := loadDashboard(t)
	table := dora.Tables[dora.DefaultBands]
	secs := func(ds [3]time.Duration) []float64 {
		return []float64{ds[0].Seconds(), ds[1].Seconds(), ds[2].Seconds()}
	}
	want := map[string][]float64{
		LeadTime:          secs(table.LeadTime),
		TimeToRestore:     secs(table.Restore),
		ChangeFailureRate: {float64(table.FailurePermille[0]) / 1000, float64(table.FailurePermille[1]) / 1000, float64(table.FailurePermille[2]) / 1000},
		DeployDaysPerWeek: {float64(table.HighDaysPerWeek), float64(table.EliteDaysPerWeek)},
		Band:              {float64(dora.Low), float64(dora.Medium), float64(dora.High), float64(dora.Elite)},
	}
	for metric, bounds := range want {
		found := 0
		for _, p := range d.Panels {
			if len(p.Targets) == 0 || !slices.Contains(metricName.FindAllString(p.Targets[0].Expr, -1), metric) {
				continue
			}
			found++
			steps := p.FieldConfig.Defaults.Thresholds.Steps
			var got []float64
			for i, s := range steps {
				switch {
				case i == 0 && s.Value != nil:
					t.Errorf("panel %q: the first step must be the base (null)", p.Title)
				case i > 0 && s.Value == nil:
					t.Errorf("panel %q: step %d has no value", p.Title, i)
				case i > 0:
					got = append(got, *s.Value)
				}
			}
			if !slices.Equal(got, bounds) {
				t.Errorf("panel %q (%s): thresholds %v, want the band boundaries %v", p.Title, metric, got, bounds)
			}
		}
		if found == 0 {
			t.Errorf("no panel of %s", metric)
		}
	}
}
